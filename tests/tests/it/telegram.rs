//! The Telegram front-end: the real teloxide client, our poller, inbox and outbox driver (long
//! polling and webhook) against the fake Bot API (`mentorops_tests::fake_telegram`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mentorops_bot::telegram::{self, Telegram, Tuning};
use mentorops_core::command::registry::menus;
use mentorops_core::db::Backend;
use mentorops_core::settings::TelegramSettings;
use mentorops_core::status::UserStatus;
use mentorops_core::store::outbox;
use mentorops_tests::fake_telegram::{BOT_NAME, Call, Fake, chat_of, person};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::matching::{ANA, LEE, MARIA, pending_of, persona_of};
use crate::support::TestApp;

// ---------------------------------------------------------------------------------------------
// Helpers

fn quick() -> Tuning {
    Tuning {
        poll_timeout: Duration::from_secs(1),
        ..Tuning::default()
    }
}

struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        let r = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the front-end stops within 10 s")
            .expect("task");
        assert!(r.is_ok(), "the front-end ended with {r:?}");
    }
}

fn start_polling(app: &TestApp, fake: &Fake) -> Running {
    let stop = CancellationToken::new();
    let front = Telegram::new(app.shared_engine(), fake.settings()).tuning(quick());
    let task = tokio::spawn(front.run(stop.clone()));
    Running { stop, task }
}

/// Waits (up to 10 s) until `check` gives something.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `n`-th (1-based) accepted message to `chat`, once it is there.
async fn nth_message(fake: &Fake, chat: i64, n: usize) -> Value {
    until(&format!("message {n} to {chat}"), || {
        fake.to_chat("sendmessage", chat).get(n - 1).cloned()
    })
    .await
}

fn text_of(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

async fn start_app() -> TestApp {
    TestApp::start(Backend::Sqlite).await.expect("sqlite")
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_changes_a_status_from_telegram_and_the_core_refuses_strangers() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    let code = app.code_for("pm@example.org").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    fake.text(5001, &format!("/link {code}"));
    let linked = nth_message(&fake, 5001, 1).await;
    assert!(text_of(&linked).starts_with("Linked!"), "{linked}");

    fake.text(
        5001,
        &format!("/status@{BOT_NAME} ana@example.org A reason:\"called her\""),
    );
    let done = nth_message(&fake, 5001, 2).await;
    assert!(!text_of(&done).starts_with('✗'), "{done}");
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);

    // A command for another bot is not ours, in a private chat as in a group: nothing runs,
    // nothing is answered (the next answer is the next command's).
    fake.text(5001, "/status@other_bot ana@example.org SI");
    fake.text(5001, "/help status");
    let next = nth_message(&fake, 5001, 3).await;
    assert!(text_of(&next).contains("/status"), "{next}");
    assert!(!text_of(&next).starts_with('✗'), "{next}");
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);

    // An unlinked account is answered by the core; nothing changes.
    fake.text(5002, "/status ana@example.org SI");
    let refused = nth_message(&fake, 5002, 1).await;
    assert!(
        text_of(&refused).contains("needs a linked account"),
        "{refused}"
    );
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);
    // Plain text gets the core's hint.
    fake.text(5002, "hello");
    let hint = nth_message(&fake, 5002, 2).await;
    assert!(text_of(&hint).contains("/help"), "{hint}");
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_accepts_an_offer_with_the_inline_button_and_other_presses_change_nothing() {
    let app = start_app().await;
    app.with_program().await;
    let p = |name: &str,
             email: &str,
             phone: &str,
             role: &str,
             answers: &'static [&'static str],
             chat: &str| {
        let (name, email, phone, role, chat) = (
            name.to_string(),
            email.to_string(),
            phone.to_string(),
            role.to_string(),
            chat.to_string(),
        );
        let app = &app;
        async move {
            app.ready_person(&name, &email, &phone, &role, answers, &chat)
                .await
        }
    };
    p(
        "Ana Mentee",
        "ana@example.org",
        "+14155550501",
        "mentee",
        ANA,
        "7001",
    )
    .await;
    p(
        "Maria Mentor",
        "maria@example.org",
        "+14155550601",
        "mentor",
        MARIA,
        "7002",
    )
    .await;
    p(
        "Lee Mentor",
        "lee@example.org",
        "+14155550602",
        "mentor",
        LEE,
        "7003",
    )
    .await;
    let maria = persona_of(&app, "maria@example.org").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    // Ana chooses from Telegram; the offer reaches Maria as a DM with two buttons.
    fake.text(7001, "/mentors");
    nth_message(&fake, 7001, 1).await;
    fake.text(7001, &format!("/choose #{maria}"));
    let chosen = nth_message(&fake, 7001, 2).await;
    assert!(text_of(&chosen).contains("Maria Mentor"), "{chosen}");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let prompt = until("the offer prompt to Maria", || {
        fake.to_chat("sendmessage", 7002)
            .into_iter()
            .find(|m| !m["reply_markup"].is_null())
    })
    .await;
    let buttons: Vec<String> = prompt["reply_markup"]["inline_keyboard"]
        .as_array()
        .expect("keyboard")
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| b["callback_data"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        buttons,
        [
            format!("/accept {}", offer.id),
            format!("/decline {}", offer.id)
        ]
    );
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");

    // Lee presses Maria's button: told why, nothing changes, her message stays as it was.
    let press = fake.press(7003, &prompt, 555, &buttons[0]);
    let answer = until("the answer to Lee", || {
        fake.calls("answercallbackquery")
            .into_iter()
            .find(|c| c.body["callback_query_id"] == json!(press))
    })
    .await;
    assert!(
        answer.body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("made to someone else"),
        "{:?}",
        answer.body
    );
    assert_eq!(answer.body["show_alert"], json!(true));
    assert_eq!(matches().await, 0);
    assert!(fake.calls("editmessagetext").is_empty());

    // Maria presses it: paired, the callback answered, the message edited, keyboard gone
    // (the edit meets a 429 first and is sent again after retry_after).
    fake.too_many("editMessageText", 1, 1);
    let press = fake.press(7002, &prompt, 555, &buttons[0]);
    let edit = until("the edit of Maria's message", || {
        fake.to_chat("editmessagetext", 7002).into_iter().next()
    })
    .await;
    assert_eq!(edit["message_id"], json!(555));
    let edits = fake.calls("editmessagetext");
    assert!(edits[0].rejected && !edits[1].rejected, "{edits:?}");
    assert!(
        text_of(&edit).contains("Accepted — you are now paired with Ana Mentee"),
        "{edit}"
    );
    assert!(text_of(&edit).starts_with(text_of(&prompt).as_str()));
    assert!(edit["reply_markup"].is_null(), "keyboard removed: {edit}");
    let answer = fake
        .calls("answercallbackquery")
        .into_iter()
        .find(|c| c.body["callback_query_id"] == json!(press))
        .expect("answered");
    assert!(
        answer.body["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Accepted"),
        "{:?}",
        answer.body
    );
    assert_eq!(matches().await, 1);

    // A second press: the core refuses, the message shows why, still one match.
    let press = fake.press(7002, &prompt, 555, &buttons[0]);
    let answer = until("the answer to the second press", || {
        fake.calls("answercallbackquery")
            .into_iter()
            .find(|c| c.body["callback_query_id"] == json!(press))
    })
    .await;
    assert!(
        answer.body["text"]
            .as_str()
            .unwrap_or_default()
            .contains("You accepted this offer on"),
        "{:?}",
        answer.body
    );
    let edit = until("the refusal shown", || {
        fake.to_chat("editmessagetext", 7002).get(1).cloned()
    })
    .await;
    assert!(
        text_of(&edit).contains("⚠️ You accepted this offer on"),
        "{edit}"
    );
    assert_eq!(matches().await, 1);
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_runs_only_requests_with_the_secret() {
    let app = start_app().await;
    let fake = Fake::start().await;
    let secret = "s3cret_webhook-TOKEN";
    let settings = TelegramSettings {
        mode: Some("webhook".into()),
        webhook_secret: Some(SecretString::from(secret)),
        webhook_url: Some("https://bot.example.test/tg/hook".into()),
        webhook_addr: Some("127.0.0.1:0".into()),
        ..fake.settings()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let front = Telegram::new(app.shared_engine(), settings).tuning(quick());
    let running = Running {
        stop: stop.clone(),
        task: tokio::spawn(front.run_webhook_on(listener, stop)),
    };
    let set = until("setWebhook", || fake.calls("setwebhook").into_iter().next()).await;
    assert_eq!(set.body["url"], json!("https://bot.example.test/tg/hook"));
    assert_eq!(set.body["secret_token"], json!(secret));

    let update = |n: i64| {
        json!({
            "update_id": n,
            "message": {
                "message_id": n, "date": 1_790_000_000,
                "chat": {"id": 6001, "type": "private", "first_name": "U"},
                "from": person(6001), "text": "/help",
            }
        })
    };
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/tg/hook");
    let post = |secret: Option<&str>, n: i64| {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(update(n).to_string());
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        async move { req.send().await.expect("post").status() }
    };
    assert_eq!(post(None, 1).await, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(Some("s3cret_webhook-TOKEm"), 2).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(Some("s3cret_webhook-TOKEN-and-more"), 3).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        fake.to_chat("sendmessage", 6001).is_empty(),
        "nothing ran without the secret"
    );
    assert_eq!(post(Some(secret), 4).await, reqwest::StatusCode::OK);
    let reply = nth_message(&fake, 6001, 1).await;
    assert!(text_of(&reply).contains("/link"), "{reply}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.to_chat("sendmessage", 6001).len(), 1);
    running.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_burst_is_delivered_once_each_and_spread_out() {
    let app = start_app().await;
    app.with_program().await;
    for (name, email, phone, chat) in [
        ("Ana Lima", "ana@example.org", "+14155550801", "8001"),
        ("Bo Gone", "bo@example.org", "+14155550802", "8002"),
    ] {
        app.admin(&format!(
            "/user_add \"{name}\" {email} {phone} mentee program:Spring"
        ))
        .await;
        let code = app.code_for(email).await;
        assert!(
            app.run(&app.chat(chat), &format!("/link {code}"))
                .await
                .is_ok()
        );
    }
    let ana = app.user_id("ana@example.org").await;
    let bo = app.user_id("bo@example.org").await;
    let mut ids = Vec::new();
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        for (i, (user, chat)) in [(ana, "8001"), (ana, "8001"), (bo, "8002"), (ana, "8001")]
            .into_iter()
            .enumerate()
        {
            let m = outbox::NewMessage {
                channel: outbox::chat_channel("telegram"),
                kind: "test",
                recipient_user_id: Some(user),
                recipient: chat.into(),
                subject: String::new(),
                body_text: format!("burst message {i}"),
                body_html: None,
                buttons: Vec::new(),
                idempotency_key: format!("burst-{i}"),
            };
            ids.push(
                outbox::insert(&mut c, &m, app.engine.now())
                    .await
                    .expect("insert")
                    .expect("new row"),
            );
        }
    }
    app.admin("/deactivate bo@example.org").await;

    let fake = Fake::start().await;
    fake.too_many("sendMessage", 1, 1);
    let bot = telegram::bot_from_settings(&fake.settings()).expect("bot");
    let engine = app.shared_engine();
    let started = Instant::now();
    let sent = telegram::deliver_due(engine.clone(), bot.clone())
        .await
        .expect("delivery");
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
    assert_eq!(
        telegram::deliver_due(engine.clone(), bot.clone())
            .await
            .expect("again"),
        0
    );
    assert_eq!(fake.calls("sendmessage").len(), 4);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_csv_is_imported_and_an_export_comes_back_as_a_document() {
    let app = start_app().await;
    app.with_program().await;
    let code = mentorops_core::bootstrap::new_link_code(&app.engine, "admin@example.org")
        .await
        .expect("code");
    assert!(
        app.run(&app.chat("9001"), &format!("/link {code}"))
            .await
            .is_ok()
    );
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);
    let csv = "name,email,phone,role,program\n\
               Cleo Csv,cleo@example.org,+14155550901,mentee,Spring\n\
               Dan Csv,dan@example.org,+14155550902,mentor,Spring\n";
    fake.document(9001, "/user_import", "people.csv", csv.as_bytes());
    let reply = nth_message(&fake, 9001, 1).await;
    assert!(text_of(&reply).starts_with("Imported 2"), "{reply}");
    assert_eq!(fake.calls("getfile").len(), 1);
    assert_eq!(app.user("dan@example.org").await.full_name, "Dan Csv");

    fake.text(9001, "/export format:json");
    let doc = until("the export document", || {
        fake.to_chat("senddocument", 9001).into_iter().next()
    })
    .await;
    let file = &doc["document"];
    assert!(
        file["filename"]
            .as_str()
            .unwrap_or_default()
            .starts_with("mentorops-export-"),
        "{doc}"
    );
    assert!(
        file["content"]
            .as_str()
            .unwrap_or_default()
            .contains("cleo@example.org"),
        "{doc}"
    );
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_menus_are_published_from_the_registry() {
    let app = start_app().await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);
    let menu = |audience: &str| -> Value {
        let (_, specs) = menus()
            .into_iter()
            .find(|(a, _)| *a == audience)
            .expect("audience");
        Value::Array(
            specs
                .iter()
                .map(|c| json!({"command": c.name, "description": c.about.chars().take(256).collect::<String>()}))
                .collect(),
        )
    };
    let default = until("the default menu", || {
        fake.calls("setmycommands")
            .into_iter()
            .find(|c| c.body["scope"].is_null())
    })
    .await;
    assert_eq!(default.body["commands"], menu("unlinked"));

    let code = mentorops_core::bootstrap::new_link_code(&app.engine, "admin@example.org")
        .await
        .expect("code");
    fake.text(9100, &format!("/link {code}"));
    let chat = until("the admin's chat menu", || {
        fake.calls("setmycommands")
            .into_iter()
            .find(|c| c.body["scope"] == json!({"type": "chat", "chat_id": 9100}))
    })
    .await;
    assert_eq!(chat.body["commands"], menu("super_admin"));
    // Published once: another command with the same menu does not publish it again.
    fake.text(9100, "/me");
    nth_message(&fake, 9100, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.calls("setmycommands").len(), 2);
    for (_, specs) in menus() {
        for c in specs {
            assert!(
                c.name.len() <= 32
                    && c.name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
        }
    }
    bot.stop().await;
    app.finish().await;
}

#[test]
fn webhook_mode_needs_a_secret_an_address_and_an_https_url() {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};
    use mentorops_core::settings::Settings;
    let check = |pairs: &[(&str, &str)]| {
        let mut f = Figment::new()
            .merge(Toml::string(include_str!("../../../config/default.toml")))
            .merge(Serialized::default("database.url", "sqlite://x.db"));
        for (k, v) in pairs {
            f = f.merge(Serialized::default(k, v));
        }
        Settings::from_figment(f).err().map(|e| e.to_string())
    };
    let good = [
        ("telegram.mode", "webhook"),
        ("telegram.webhook_secret", "abc_DEF-1"),
        ("telegram.webhook_addr", "0.0.0.0:8443"),
        ("telegram.webhook_url", "https://bot.example.org/telegram"),
    ];
    assert_eq!(check(&good), None);
    assert_eq!(check(&[("telegram.mode", "polling")]), None);
    let e = check(&[("telegram.mode", "push")]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__MODE"), "{e}");
    let e = check(&good[..1]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_SECRET"), "{e}");
    let e =
        check(&[good[0], good[1], ("telegram.webhook_addr", "8443"), good[3]]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_ADDR"), "{e}");
    let e = check(&[
        good[0],
        good[1],
        good[2],
        ("telegram.webhook_url", "http://x/y"),
    ])
    .unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_URL"), "{e}");
    let e = check(&[
        good[0],
        ("telegram.webhook_secret", "has space"),
        good[2],
        good[3],
    ])
    .unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_SECRET"), "{e}");
}

/// A burst much larger than Telegram's overall limit (about 30 messages/s): 240 reminders to
/// 120 linked people are spread over at least 239 intervals of the pace (8.5 s at 28/s), and
/// each message is sent exactly once. (10 000 reminders go the same way in about 6 minutes;
/// this keeps the test short.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_burst_respects_the_overall_limit_and_loses_or_doubles_nothing() {
    let app = start_app().await;
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
    let bot = telegram::bot_from_settings(&fake.settings()).expect("bot");
    let engine = app.shared_engine();
    let started = Instant::now();
    let sent = telegram::deliver_due(engine.clone(), bot.clone())
        .await
        .expect("delivery");
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
    assert_eq!(
        telegram::deliver_due(engine.clone(), bot.clone())
            .await
            .expect("again"),
        0
    );
    app.finish().await;
}

/// An update that cannot be read is answered once, recorded as handled, and does not hold up
/// the chat's next one (docs/chat-edge.md: poison updates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_update_is_answered_once_and_the_chat_goes_on() {
    let app = start_app().await;
    let fake = Fake::start().await;
    fake.push_update(json!({
        "message": {"chat": {"id": 7001, "type": "private"}, "what": "not a message"}
    }));
    fake.text(7001, "/help");
    let running = start_polling(&app, &fake);
    let first = nth_message(&fake, 7001, 1).await;
    assert!(
        text_of(&first).contains("could not read that message"),
        "{first}"
    );
    let second = nth_message(&fake, 7001, 2).await;
    assert!(text_of(&second).contains("/help"), "{second}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        fake.to_chat("sendmessage", 7001).len(),
        2,
        "each answered once"
    );
    running.stop().await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM chat_inbox WHERE state = 'done'")
            .await,
        2
    );
    app.finish().await;
}

/// A flood from one chat is served in order, one at a time, while other chats are answered
/// at once: each chat is a lane of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_chat_is_served_in_order_without_starving_the_others() {
    let app = start_app().await;
    let fake = Fake::start().await;
    let flood = 150;
    for n in 0..flood {
        fake.text(7100, &format!("/help f{n}"));
    }
    for chat in 0..20 {
        fake.text(7200 + chat, &format!("/help other{chat}"));
    }
    let started = Instant::now();
    let running = start_polling(&app, &fake);
    for chat in 0..20 {
        let m = nth_message(&fake, 7200 + chat, 1).await;
        assert!(text_of(&m).contains(&format!("/other{chat}:")), "{m}");
    }
    let others_in = started.elapsed();
    let flooded = fake.to_chat("sendmessage", 7100);
    assert!(
        flooded.len() < flood / 2,
        "the others waited for the flood: {} of {flood} flood replies came first",
        flooded.len()
    );
    // The flood's commands all run (its replies are paced one a second to that chat).
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .count("SELECT COUNT(*) AS n FROM chat_inbox WHERE state = 'new'")
        .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the flood was not all handled in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await;
    let flooded = fake.to_chat("sendmessage", 7100);
    for (n, m) in flooded.iter().enumerate() {
        assert!(
            text_of(m).contains(&format!("/f{n}:")),
            "flood reply {n} in order: {m}"
        );
    }
    eprintln!(
        "20 other chats answered in {others_in:?}; {} flood replies by then",
        flooded.len()
    );
    app.finish().await;
}
