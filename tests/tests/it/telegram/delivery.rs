//! Telegram messages from the outbox: 429s waited out, one message a second per chat and the
//! overall limit kept, each message once and in order, none to a deactivated person.

use std::time::{Duration, Instant};

use mentorops_bot::telegram;
use mentorops_core::store::outbox;

use crate::fakes::telegram::{Call, Fake, chat_of};
use crate::support::TestApp;
use crate::support::telegram::text_of;

/// The front-end's delivery to `fake`, on the test's engine: each call is one pass over what is
/// due, and says how many messages went out.
fn delivery(app: &TestApp, fake: &Fake) -> impl AsyncFn() -> usize + use<> {
    let bot = telegram::bot_from_settings(&fake.settings()).expect("bot");
    let engine = app.shared_engine();
    async move || {
        telegram::deliver_due(engine.clone(), bot.clone())
            .await
            .expect("delivery")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_burst_is_delivered_once_each_and_spread_out() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    for (name, email, phone, chat) in [
        ("Ana Lima", "ana@example.org", "+14155550801", "8001"),
        ("Bo Gone", "bo@example.org", "+14155550802", "8002"),
    ] {
        app.admin(&format!(
            "/user_add \"{name}\" {email} {phone} mentee program:Spring"
        ))
        .await;
        app.link_chat(email, chat).await;
    }
    let ana = app.user_id("ana@example.org").await;
    let bo = app.user_id("bo@example.org").await;
    let mut ids = Vec::new();
    for (i, (user, chat)) in [(ana, "8001"), (ana, "8001"), (bo, "8002"), (ana, "8001")]
        .into_iter()
        .enumerate()
    {
        let text = format!("burst message {i}");
        ids.push(
            app.queue_chat("telegram", user, chat, &text, &format!("burst-{i}"))
                .await,
        );
    }
    app.admin("/deactivate bo@example.org").await;

    let fake = Fake::start().await;
    fake.too_many("sendMessage", 1, 1);
    let deliver = delivery(&app, &fake);
    let started = Instant::now();
    let sent = deliver().await;
    assert_eq!(sent, 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry_after honoured"
    );

    let to_ana: Vec<Call> = fake
        .calls("sendmessage")
        .into_iter()
        .filter(|c| chat_of(&c.body) == Some(8001))
        .collect();
    assert_eq!(to_ana.len(), 4, "one 429, then three accepted: {to_ana:?}");
    assert!(to_ana[0].rejected && to_ana[1..].iter().all(|c| !c.rejected));
    let texts: Vec<String> = to_ana[1..].iter().map(|c| text_of(&c.body)).collect();
    assert_eq!(
        texts,
        ["burst message 0", "burst message 1", "burst message 3"],
        "each once, in order"
    );
    for pair in to_ana[1..].windows(2) {
        assert!(
            pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(900),
            "at most one message a second to a chat"
        );
    }
    assert!(
        fake.to_chat("sendmessage", 8002).is_empty(),
        "never to a deactivated user"
    );
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let mut states = Vec::new();
    for id in &ids {
        let row = outbox::get(&mut c, *id).await.expect("get").expect("row");
        states.push((row.status, row.attempts));
    }
    drop(c);
    assert_eq!(
        states,
        [
            ("sent".to_string(), 1),
            ("sent".to_string(), 1),
            ("failed".to_string(), 1),
            ("sent".to_string(), 1)
        ]
    );
    // A second pass finds nothing to send.
    assert_eq!(deliver().await, 0);
    assert_eq!(fake.calls("sendmessage").len(), 4);
    app.finish().await;
}

/// A burst much larger than Telegram's overall limit (about 30 messages/s): 240 reminders to
/// 120 linked people are spread over at least 239 intervals of the pace (8.5 s at 28/s), and
/// each message is sent exactly once. (10 000 reminders go the same way in about 6 minutes;
/// this keeps the test short.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_burst_respects_the_overall_limit_and_loses_or_doubles_nothing() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let mut ids = Vec::new();
    for (i, (uid, chat)) in app
        .linked_telegram_people(120, 90_000, "example.org", 87_000_000)
        .await
        .into_iter()
        .enumerate()
    {
        for n in 0..2 {
            let text = format!("reminder {n} to {i}");
            ids.push(
                app.queue_telegram(uid, chat, &text, &format!("burst-{i}-{n}"))
                    .await,
            );
        }
    }
    let fake = Fake::start().await;
    let deliver = delivery(&app, &fake);
    let started = Instant::now();
    let sent = deliver().await;
    let took = started.elapsed();
    assert_eq!(sent, ids.len());
    assert!(
        took >= Duration::from_secs_f64(239.0 / telegram::OUTBOX_PER_SECOND as f64 - 0.05),
        "240 messages at {}/s, evenly spread, take 239 intervals, took {took:?}",
        telegram::OUTBOX_PER_SECOND
    );
    let calls = fake.calls("sendmessage");
    assert_eq!(calls.len(), ids.len(), "each message sent once");
    let mut texts: Vec<String> = calls.iter().map(|c| text_of(&c.body)).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), ids.len(), "no message doubled");
    // The pace itself is checked exactly, on a paused clock, in the bot crate's unit tests;
    // arrival times at this fake are too noisy on a busy machine to count per second here.
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    for id in &ids {
        let row = outbox::get(&mut c, *id).await.expect("get").expect("row");
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1));
    }
    drop(c);
    assert_eq!(deliver().await, 0, "a second pass finds nothing to send");
    app.finish().await;
}
