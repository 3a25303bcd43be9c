//! DMs from the outbox, through serenity's REST client pointed at the fake REST API: offers
//! with their buttons, closed DMs failed for good, Discord's rate limits kept, each message once
//! and in order.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fakes::discord_rest::FakeRest;
use crate::support::discord::endpoint::ana_maria_and_lee_linked;
use crate::support::discord::rest;
use crate::support::{TestApp, ana_chooses_maria};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_reach_discord_accounts_as_dms_with_buttons_and_closed_dms_fail_for_good() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let (ana, ep) = ana_maria_and_lee_linked(&app).await;
    let fake = FakeRest::default();
    fake.closed.lock().expect("lock").push("8003".into());
    let (url, server) = fake.start().await;
    let rest = rest(&url);

    let offer = ana_chooses_maria(&app, &ana).await;
    // A message for Lee, whose DMs are closed.
    let lee = app.user_id("lee@example.org").await;
    app.queue_chat("discord", lee, "8003", "hello Lee", "test:lee")
        .await;
    assert_eq!(app.chat_rows("discord", "pending").await.len(), 2);

    let engine = app.shared_engine();
    let sent = mentorops_bot::discord::deliver_due(engine.clone(), rest.clone())
        .await
        .expect("delivery");
    assert_eq!(sent, 1);
    let to_maria = fake.messages_to("8002");
    assert_eq!(to_maria.len(), 1, "{to_maria:?}");
    let ids: Vec<&str> = to_maria[0]["components"][0]["components"]
        .as_array()
        .map(|b| b.iter().filter_map(|b| b["custom_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids,
        [
            format!("/accept {}", offer.id),
            format!("/decline {}", offer.id),
            format!("/decline {} pause:2", offer.id)
        ]
    );
    assert!(
        !to_maria[0]["content"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(to_maria[0]["allowed_mentions"]["parse"], json!([]));
    let sent_rows = app.chat_rows("discord", "sent").await;
    assert_eq!(sent_rows.len(), 1);
    assert_eq!(sent_rows[0].recipient, "8002");
    let failed = app.chat_rows("discord", "failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].recipient, "8003");
    assert!(
        failed[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("Cannot send messages"),
        "{:?}",
        failed[0].last_error
    );
    // Every call went to the fake, with the bot token.
    let calls = fake.calls.lock().expect("lock").clone();
    assert!(!calls.is_empty());
    assert!(
        calls
            .iter()
            .all(|(_, p, auth)| p.starts_with("/api/v10/")
                && auth.as_deref() == Some("Bot test-token")),
        "{calls:?}"
    );
    // A second pass sends nothing again.
    let again = mentorops_bot::discord::deliver_due(engine.clone(), rest.clone())
        .await
        .expect("delivery");
    assert_eq!(again, 0);
    assert_eq!(fake.messages_to("8002").len(), 1);
    server.abort();
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dms_follow_discords_rate_limits_and_arrive_once_each_in_order() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    app.admin("/user_add \"Maria Mentor\" maria@example.org +14155550601 mentor program:Spring")
        .await;
    let maria = app.user_id("maria@example.org").await;
    let fake = FakeRest::default();
    *fake.scripted_429.lock().expect("lock") = 1;
    let (url, server) = fake.start().await;
    let rest = rest(&url);
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        mentorops_core::store::links::insert_link(
            &mut c,
            "discord",
            "8002",
            None,
            maria,
            app.engine.now(),
        )
        .await
        .expect("link");
    }
    for i in 0..6 {
        app.queue_chat(
            "discord",
            maria,
            "8002",
            &format!("message {i}"),
            &format!("test:{i}"),
        )
        .await;
    }
    let engine = app.shared_engine();
    let started = Instant::now();
    let sent = mentorops_bot::discord::deliver_due(engine.clone(), rest.clone())
        .await
        .expect("delivery");
    assert_eq!(sent, 6);
    let got: Vec<String> = fake
        .messages_to("8002")
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .collect();
    let want: Vec<String> = (0..6).map(|i| format!("message {i}")).collect();
    assert_eq!(got, want, "each once, in order");
    // The DM channel is opened once for the six messages.
    let opened = fake
        .calls
        .lock()
        .expect("lock")
        .iter()
        .filter(|(m, p, _)| m == "POST" && p == "/api/v10/users/@me/channels")
        .count();
    assert_eq!(opened, 1);
    // The scripted 429 was waited out (0.3 s) and the bucket headers kept: never an overrun.
    assert_eq!(*fake.overruns.lock().expect("lock"), 0);
    assert_eq!(*fake.scripted_429.lock().expect("lock"), 0);
    // Six at two per half second, after a 0.3 s wait: at least 1.3 s.
    assert!(
        started.elapsed() >= Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.chat_rows("discord", "sent").await.len(), 6);
    server.abort();
    app.finish().await;
}
