//! The chat edge with real `mentorops run` processes (docs/chat-edge.md): a fake Bot API that
//! hands out an update until it is confirmed, PostgreSQL, and processes killed with SIGKILL.
//! What must hold: every command runs once however often Telegram hands it out, every reply
//! and message arrives once and in order however many processes deliver, and a crash loses
//! neither.
//!
//! One window is left open, and the tests measure it rather than hide it: a message Telegram
//! accepted just before its sender was killed (before the sender could write down "sent") is
//! sent again by whoever takes the row over — the Bot API has no idempotency key. The tests
//! allow a repeat only for a message first accepted within [`IN_FLIGHT`] of the kill.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::fakes::telegram::{Fake, TOKEN, chat_of};
use mentorops_core::db::Backend;
use mentorops_core::store::outbox;
use serde_json::Value;

use crate::support::wait::until;
use crate::support::{TestApp, uuid_like};

/// How long before a SIGKILL a message may have been accepted and not yet marked sent.
const IN_FLIGHT: Duration = Duration::from_millis(250);

const SECRET: &str = "chat_edge_test_secret";

/// A PostgreSQL test app on the system clock (the processes use it too).
async fn app() -> Option<TestApp> {
    TestApp::start_live(Backend::Postgres, &[]).await
}

/// `mentorops run` as a process of its own on this app's database, with the fake Bot API.
fn spawn_run(
    app: &TestApp,
    fake: &Fake,
    name: &str,
    env: &[(&str, String)],
) -> tokio::process::Child {
    use secrecy::ExposeSecret;
    let data = app.dir.path().join(name);
    std::fs::create_dir_all(&data).expect("data dir");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mentorops-test-worker"));
    cmd.arg("run")
        .env(
            "MENTOROPS__DATABASE__URL",
            app.engine.settings().database.url.expose_secret(),
        )
        .env("MENTOROPS__DATABASE__MAX_CONNECTIONS", "10")
        .env("MENTOROPS__APP__DATA_DIR", &data)
        .env("MENTOROPS__QUEUE__HEALTH_ADDR", "127.0.0.1:0")
        .env("MENTOROPS__QUEUE__NAME", format!("t{}", uuid_like()))
        .env("MENTOROPS__TELEGRAM__TOKEN", TOKEN)
        .env("MENTOROPS__TELEGRAM__API_URL", &fake.url)
        .env("MENTOROPS__CHAT__LEASE_SECS", "5")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("start mentorops run")
}

/// Webhook mode on a free loopback port; the port.
fn webhook_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("MENTOROPS__TELEGRAM__MODE", "webhook".into()),
        (
            "MENTOROPS__TELEGRAM__WEBHOOK_ADDR",
            format!("127.0.0.1:{port}"),
        ),
        (
            "MENTOROPS__TELEGRAM__WEBHOOK_URL",
            "https://bot.example.invalid/telegram".into(),
        ),
        ("MENTOROPS__TELEGRAM__WEBHOOK_SECRET", SECRET.into()),
    ]
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Accepted `sendMessage` texts per chat, in the order the fake took them, with when.
fn replies(fake: &Fake) -> BTreeMap<i64, Vec<(String, Instant)>> {
    let mut out: BTreeMap<i64, Vec<(String, Instant)>> = BTreeMap::new();
    for c in fake
        .calls("sendmessage")
        .into_iter()
        .filter(|c| !c.rejected)
    {
        if let Some(chat) = chat_of(&c.body) {
            let text = c.body["text"].as_str().unwrap_or_default().to_string();
            out.entry(chat).or_default().push((text, c.at));
        }
    }
    out
}

/// `got` with repeats removed, after checking each repeat is one the kill at `killed` allows:
/// its first copy was accepted within [`IN_FLIGHT`] before it. Returns the texts once each, in
/// the order first seen, and how many repeats there were.
fn once_each(got: &[(String, Instant)], killed: Option<Instant>) -> (Vec<String>, usize) {
    let mut first: HashMap<&str, Instant> = HashMap::new();
    let mut out = Vec::new();
    let mut repeats = 0;
    for (text, at) in got {
        match first.get(text.as_str()) {
            None => {
                first.insert(text, *at);
                out.push(text.clone());
            }
            Some(first_at) => {
                let allowed = killed
                    .is_some_and(|k| *first_at <= k && k.duration_since(*first_at) <= IN_FLIGHT);
                assert!(
                    allowed,
                    "'{text}' arrived twice ({:?} apart), and its first copy was not in flight at a kill ({:?})",
                    at.duration_since(*first_at),
                    killed.map(|k| if k > *first_at {
                        format!("{:?} before", k.duration_since(*first_at))
                    } else {
                        format!("{:?} after", first_at.duration_since(k))
                    })
                );
                repeats += 1;
            }
        }
    }
    (out, repeats)
}

/// `n` program managers of Spring, each linked to Telegram chat `base + i`.
async fn linked_staff(app: &TestApp, n: i64, base: i64) {
    for i in 0..n {
        let email = format!("pm{i}@example.org");
        app.admin(&format!(
            "/staff_add \"Pm Number{i}\" {email} +55119{:08} program_manager program:Spring",
            86_000_000 + i
        ))
        .await;
        app.link_chat(&email, &(base + i).to_string()).await;
    }
}

async fn mentees_added(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM users WHERE email LIKE 'm%@burst.example.org'")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_burst_loses_and_doubles_no_command_and_no_reply() {
    let Some(app) = app().await else { return };
    app.with_program().await;
    let (chats, per_chat) = (20i64, 5i64);
    linked_staff(&app, chats, 41_000).await;
    let fake = Fake::start().await;
    let command = |chat: i64, n: i64| {
        format!(
            "/user_add \"Mentee C{chat}n{n}\" m{chat}n{n}@burst.example.org +55119{:08} mentee program:Spring",
            87_500_000 + chat * 100 + n
        )
    };
    for n in 0..per_chat {
        for chat in 0..chats {
            fake.text(41_000 + chat, &command(chat, n));
        }
    }
    let mut first = spawn_run(&app, &fake, "first", &[]);
    // Into the burst: some commands ran, some replies went out, the rest is in flight.
    until(
        Duration::from_secs(60),
        "the first commands to run",
        async || (mentees_added(&app).await >= 10).then_some(()),
    )
    .await;
    first.kill().await.expect("SIGKILL");
    let killed = Instant::now();
    let ran_before = mentees_added(&app).await;
    let replied_before: usize = replies(&fake).values().map(Vec::len).sum();
    assert!(
        (ran_before as usize) < (chats * per_chat) as usize
            || replied_before < (chats * per_chat) as usize,
        "the kill came after everything was done: the test proves nothing"
    );

    let mut second = spawn_run(&app, &fake, "second", &[]);
    let all = (chats * per_chat) as usize;
    until(Duration::from_secs(90), "every reply", async || {
        let got: usize = replies(&fake)
            .values()
            .map(|r| once_each(r, Some(killed)).0.len())
            .sum();
        (got >= all).then_some(())
    })
    .await;
    // Let any stray repeat show before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    second.kill().await.expect("stop");

    assert_eq!(
        mentees_added(&app).await,
        chats * per_chat,
        "each command applied once"
    );
    let mut repeats = 0;
    for chat in 0..chats {
        let got = replies(&fake).remove(&(41_000 + chat)).unwrap_or_default();
        let (texts, r) = once_each(&got, Some(killed));
        repeats += r;
        assert_eq!(texts.len(), per_chat as usize, "chat {chat}: {texts:?}");
        for (n, text) in texts.iter().enumerate() {
            assert!(
                !text.starts_with('✗') && text.contains(&format!("m{chat}n{n}@burst.example.org")),
                "chat {chat}, reply {n} is the command's own and in order: {text}"
            );
        }
    }
    eprintln!(
        "killed after {ran_before} commands and {replied_before} replies; repeats in flight at the kill: {repeats}"
    );
    let waiting = app
        .count("SELECT COUNT(*) AS n FROM chat_inbox WHERE state <> 'done'")
        .await;
    assert_eq!(waiting, 0, "every update recorded as handled");
    app.finish().await;
}

/// `people` linked people with `per_person` messages each in the Telegram outbox; their chat ids.
async fn queued_messages(app: &TestApp, people: i64, per_person: i64) -> Vec<i64> {
    let mut chats = Vec::new();
    for (i, (uid, chat)) in app
        .linked_telegram_people(people, 93_000, "many.example.org", 88_000_000)
        .await
        .into_iter()
        .enumerate()
    {
        for n in 0..per_person {
            let text = format!("message {n:02} to {i}");
            app.queue_telegram(uid, chat, &text, &format!("many-{i}-{n}"))
                .await;
        }
        chats.push(chat);
    }
    chats
}

/// POSTs a Telegram update to a replica's webhook, as Telegram does.
async fn post_update(client: &reqwest::Client, port: u16, update: &Value) -> u16 {
    client
        .post(format!("http://127.0.0.1:{port}/telegram"))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("content-type", "application/json")
        .body(update.to_string())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn help_update(id: i64, chat: i64, text: &str) -> Value {
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": id,
            "date": 1_790_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "U"},
            "from": {"id": chat, "is_bot": false, "first_name": "U"},
            "text": text,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_webhook_replicas_deliver_each_message_once_in_order_even_when_one_is_killed() {
    let Some(app) = app().await else { return };
    let (people, per_person) = (100i64, 10i64);
    let chats = queued_messages(&app, people, per_person).await;
    let fake = Fake::start().await;
    let ports = [free_port(), free_port(), free_port()];
    let mut replicas = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        replicas.push(spawn_run(
            &app,
            &fake,
            &format!("replica{i}"),
            &webhook_env(*port),
        ));
    }
    // Every replica takes updates: 30 commands, ten through each.
    let client = reqwest::Client::new();
    for i in 0..30i64 {
        let port = ports[(i % 3) as usize];
        let update = help_update(5_000 + i, 60_000 + i, &format!("/help w{i}"));
        until(
            Duration::from_secs(30),
            "a replica's webhook to take an update",
            async || (post_update(&client, port, &update).await == 200).then_some(()),
        )
        .await;
    }
    // Halfway through the outbox, one replica dies.
    until(Duration::from_secs(60), "half the messages", async || {
        let sent: usize = replies(&fake).values().map(Vec::len).sum();
        (sent >= (people * per_person / 2) as usize).then_some(())
    })
    .await;
    replicas[0].kill().await.expect("SIGKILL");
    let killed = Instant::now();
    until(Duration::from_secs(90), "every message sent", async || {
        let pending = app
            .count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'chat:telegram' AND status <> 'sent'")
            .await;
        (pending == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in replicas.iter_mut().skip(1) {
        r.kill().await.expect("stop");
    }
    let got = replies(&fake);
    let mut repeats = 0;
    for (i, chat) in chats.iter().enumerate() {
        let (texts, r) = once_each(
            got.get(chat).map(Vec::as_slice).unwrap_or(&[]),
            Some(killed),
        );
        repeats += r;
        let expected: Vec<String> = (0..per_person)
            .map(|n| format!("message {n:02} to {i}"))
            .collect();
        assert_eq!(texts, expected, "person {i}: each once, in order");
    }
    for i in 0..30i64 {
        let (texts, r) = once_each(
            got.get(&(60_000 + i)).map(Vec::as_slice).unwrap_or(&[]),
            Some(killed),
        );
        repeats += r;
        assert_eq!(
            texts.len(),
            1,
            "the webhook command {i} answered once: {texts:?}"
        );
        assert!(texts[0].contains(&format!("/w{i}")), "{texts:?}");
    }
    eprintln!("repeats in flight at the kill: {repeats}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_polling_process_dies_another_polls_within_15_seconds_and_no_update_is_lost() {
    let Some(app) = app().await else { return };
    let fake = Fake::start().await;
    let a = spawn_run(&app, &fake, "a", &[]);
    let b = spawn_run(&app, &fake, "b", &[]);
    let holder = until(Duration::from_secs(30), "a poller", async || {
        let mut c = app.engine.db().pool().acquire().await.ok()?;
        mentorops_core::store::leases::holder(&mut c, "telegram:polling", app.engine.now())
            .await
            .ok()
            .flatten()
    })
    .await;
    let (pid_a, pid_b) = (a.id().expect("pid"), b.id().expect("pid"));
    let a_polls = holder.contains(&format!("-{pid_a}-"));
    assert!(
        a_polls || holder.contains(&format!("-{pid_b}-")),
        "{holder}"
    );
    for i in 0..10 {
        fake.text(70_000 + i, &format!("/help before{i}"));
    }
    until(
        Duration::from_secs(30),
        "the first ten answers",
        async || (replies(&fake).len() >= 10).then_some(()),
    )
    .await;
    let (mut dead, mut alive, alive_pid) = if a_polls {
        (a, b, pid_b)
    } else {
        (b, a, pid_a)
    };
    dead.kill().await.expect("SIGKILL");
    let killed = Instant::now();
    for i in 0..10 {
        fake.text(70_100 + i, &format!("/help after{i}"));
    }
    until(
        Duration::from_secs(40),
        "the ten answers after the kill",
        async || (replies(&fake).len() >= 20).then_some(()),
    )
    .await;
    let first_poll_after = fake
        .lock()
        .polls
        .iter()
        .copied()
        .find(|t| *t > killed)
        .expect("a poll after the kill");
    let took = first_poll_after.duration_since(killed);
    assert!(
        took < Duration::from_secs(15),
        "the survivor polled {took:?} after the kill"
    );
    let holder = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        mentorops_core::store::leases::holder(&mut c, "telegram:polling", app.engine.now())
            .await
            .expect("holder")
            .unwrap_or_default()
    };
    assert!(holder.contains(&format!("-{alive_pid}-")), "{holder}");
    let got = replies(&fake);
    for i in 0..10 {
        for (chat, word) in [(70_000 + i, "before"), (70_100 + i, "after")] {
            let (texts, _) = once_each(got.get(&chat).map(Vec::as_slice).unwrap_or(&[]), None);
            assert_eq!(texts.len(), 1, "{chat}: {texts:?}");
            assert!(texts[0].contains(&format!("/{word}{i}")), "{texts:?}");
        }
    }
    eprintln!("the survivor took over polling {took:?} after the kill");
    alive.kill().await.expect("stop");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_chats_of_twenty_commands_lose_and_double_nothing_when_one_send_in_twenty_times_out()
 {
    use mentorops_bot::chat::lanes::Limits;
    use mentorops_bot::telegram::{Telegram, Tuning};
    let Some(app) = app().await else { return };
    let (chats, per_chat) = (200i64, 20i64);
    let fake = Fake::start().await;
    // Every 20th sendMessage hangs past the client's timeout and is not taken.
    fake.lock().hang_every = Some((20, Duration::from_millis(1500)));
    for n in 0..per_chat {
        for chat in 0..chats {
            fake.text(100_000 + chat, &format!("/help c{chat}n{n}"));
        }
    }
    let tuning = Tuning {
        // The fake has no overall limit: only the one-a-second per chat is kept, so the test
        // takes about 20 s, not Telegram's 160.
        per_second: 2000,
        request_timeout: Duration::from_millis(700),
        poll_timeout: Duration::from_secs(1),
        delivery: mentorops_bot::chat::outbox::Tuning {
            lanes: 64,
            backoff: Duration::from_millis(200),
            lease: Duration::from_secs(10),
            ..Default::default()
        },
        updates: Limits {
            lanes: 16,
            every: Duration::from_millis(200),
        },
        ..Tuning::default()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let front = Telegram::new(app.shared_engine(), fake.settings()).tuning(tuning);
    let task = tokio::spawn(front.run(stop.clone()));
    let all = (chats * per_chat) as usize;
    until(Duration::from_secs(180), "every reply", async || {
        assert!(!task.is_finished(), "the front-end stopped");
        let got: usize = replies(&fake).values().map(Vec::len).sum();
        (got >= all).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), task).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    let attempts = fake.lock().send_count as usize;
    let timed_out = attempts - fake.calls("sendmessage").len();
    assert!(
        timed_out >= all / 25,
        "the fake timed out {timed_out} sends: the test proves nothing"
    );
    let got = replies(&fake);
    for chat in 0..chats {
        let (texts, _) = once_each(
            got.get(&(100_000 + chat)).map(Vec::as_slice).unwrap_or(&[]),
            None,
        );
        assert_eq!(texts.len(), per_chat as usize, "chat {chat}: {texts:?}");
        for (n, text) in texts.iter().enumerate() {
            assert!(
                text.contains(&format!("/c{chat}n{n}:")),
                "chat {chat}, reply {n} in order: {text}"
            );
        }
    }
    eprintln!(
        "{all} replies, each once and in order; {timed_out} sends timed out and were sent again"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_loses_and_doubles_nothing() {
    let Some(app) = app().await else { return };
    let fake = Fake::start().await;
    let (chats, per_chat) = (10i64, 10i64);
    let push = |from: i64, to: i64| {
        for n in from..to {
            for chat in 0..chats {
                fake.text(71_000 + chat, &format!("/help r{chat}n{n}"));
            }
        }
    };
    push(0, per_chat / 2);
    let mut old = spawn_run(&app, &fake, "old", &[]);
    until(
        Duration::from_secs(30),
        "the old process at work",
        async || (replies(&fake).values().map(Vec::len).sum::<usize>() >= 5).then_some(()),
    )
    .await;
    // The new process starts, the second half arrives, the old one is told to stop.
    let mut new = spawn_run(&app, &fake, "new", &[]);
    push(per_chat / 2, per_chat);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = old.id().expect("pid").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(30), old.wait())
        .await
        .expect("the old process stops within 30 s")
        .expect("status");
    assert!(status.success(), "{status:?}");
    let all = (chats * per_chat) as usize;
    until(Duration::from_secs(60), "every reply", async || {
        (replies(&fake).values().map(Vec::len).sum::<usize>() >= all).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    new.kill().await.expect("stop");
    let got = replies(&fake);
    for chat in 0..chats {
        // No kill: no repeat is allowed at all.
        let (texts, _) = once_each(
            got.get(&(71_000 + chat)).map(Vec::as_slice).unwrap_or(&[]),
            None,
        );
        assert_eq!(texts.len(), per_chat as usize, "chat {chat}: {texts:?}");
        for (n, text) in texts.iter().enumerate() {
            assert!(
                text.contains(&format!("/r{chat}n{n}:")),
                "chat {chat}, reply {n} in order: {text}"
            );
        }
    }
    app.finish().await;
}

/// What the edge keeps is forgotten when it is no use any more: updates two days after they ran
/// (Telegram redelivers for a day at most), replies a day after they were sent; messages to
/// people stay (for `/deliveries`), and updates not run yet stay whatever their age.
async fn old_updates_and_sent_replies_are_pruned(app: &TestApp) {
    use mentorops_core::store::inbox;
    let now = app.engine.now();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    for (key, age_hours, done) in [
        ("old", 72, true),
        ("recent", 24, true),
        ("waiting", 72, false),
    ] {
        let k = inbox::Key {
            platform: "telegram".into(),
            update_key: key.into(),
            lane: "1".into(),
        };
        let at = now - chrono::Duration::hours(age_hours);
        assert!(inbox::receive(&mut c, &k, "{}", at).await.expect("receive"));
        if done {
            assert!(inbox::finish(&mut c, &k, at).await.expect("finish"));
        }
    }
    for (key, kind, age_hours) in [
        ("r-old", outbox::REPLY, 30),
        ("r-new", outbox::REPLY, 2),
        ("dm-old", "offer", 30),
    ] {
        let m = outbox::NewMessage {
            channel: outbox::chat_channel("telegram"),
            kind,
            recipient_user_id: None,
            recipient: "1".into(),
            subject: String::new(),
            body_text: key.into(),
            body_html: None,
            buttons: Vec::new(),
            idempotency_key: key.into(),
        };
        let at = now - chrono::Duration::hours(age_hours);
        let id = outbox::insert(&mut c, &m, at)
            .await
            .expect("insert")
            .expect("row");
        assert!(outbox::mark_sent(&mut c, id, at).await.expect("sent"));
    }
    assert_eq!(
        inbox::prune(&mut c, now - chrono::Duration::days(2))
            .await
            .expect("prune"),
        1
    );
    assert_eq!(
        outbox::prune_replies(&mut c, now - chrono::Duration::days(1))
            .await
            .expect("prune"),
        1
    );
    drop(c);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM chat_inbox").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE body_text IN ('r-new', 'dm-old')")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE channel = 'chat:telegram'")
            .await,
        2
    );
}

crate::both_backends!(old_updates_and_sent_replies_are_pruned);
