//! The Discord front-end's HTTP interactions endpoint, driven the way Discord drives it: signed
//! POSTs (with a key pair the test makes) to `/interactions` on 127.0.0.1. Discord itself is
//! never contacted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use ed25519_dalek::{Signer, SigningKey};
use mentorops_core::db::Backend;
use mentorops_core::status::UserStatus;
use mentorops_core::store::outbox;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::matching::{ANA, LEE, MARIA, pending_of, persona_of};
use crate::support::TestApp;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The endpoint running on a free port, with the key pair Discord would sign with.
struct Endpoint {
    url: String,
    key: SigningKey,
    client: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

struct Answer {
    status: u16,
    body: Value,
    raw: String,
}

impl Endpoint {
    async fn start(app: &TestApp) -> Self {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = hex(key.verifying_key().as_bytes());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/interactions",
            listener.local_addr().expect("addr")
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let engine = app.shared_engine();
            let stop = stop.clone();
            async move { mentorops_bot::discord::serve(engine, &public, listener, stop).await }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Self {
            url,
            key,
            client,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        let served = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stopped in time")
            .expect("task");
        assert!(served.is_ok(), "{served:?}");
    }

    /// POSTs `body` with the given signature headers (None leaves a header out).
    async fn post_raw(
        &self,
        body: &[u8],
        signature: Option<&str>,
        timestamp: Option<&str>,
    ) -> Answer {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            req = req.header("X-Signature-Timestamp", t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let raw = resp.text().await.expect("body");
        Answer {
            status,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    fn sign_with(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut msg = timestamp.as_bytes().to_vec();
        msg.extend_from_slice(body);
        hex(&key.sign(&msg).to_bytes())
    }

    /// POSTs an interaction signed as Discord signs it.
    async fn send(&self, interaction: &Value) -> Answer {
        let body = serde_json::to_vec(interaction).expect("json");
        let ts = now_ts(0);
        let sig = Self::sign_with(&self.key, &ts, &body);
        self.post_raw(&body, Some(&sig), Some(&ts)).await
    }

    /// A slash command; answered 200 with a type 4 message.
    async fn command(&self, user: u64, name: &str, options: Value) -> Answer {
        let a = self.send(&command(user, name, options)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.body["type"], 4, "{}", a.raw);
        a
    }
}

/// The Unix time `offset` seconds from now, as Discord puts it in `X-Signature-Timestamp`.
fn now_ts(offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.saturating_add_signed(offset).to_string()
}

fn user(id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "username": format!("user{id}"),
        "discriminator": "0",
        "global_name": null,
        "avatar": null
    })
}

/// The fields every interaction carries (a DM: `user`, no guild).
fn interaction(kind: u8, from: u64) -> Value {
    json!({
        "id": "1300000000000000001",
        "application_id": "1300000000000000002",
        "type": kind,
        "token": "interaction-token",
        "version": 1,
        "channel_id": "1300000000000000003",
        "app_permissions": "0",
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 26214400,
        "context": 1,
        "user": user(from)
    })
}

fn command(from: u64, name: &str, options: Value) -> Value {
    let mut i = interaction(2, from);
    i["data"] = json!({ "id": "1300000000000000004", "name": name, "type": 1, "options": options });
    i
}

fn text_opt(name: &str, value: &str) -> Value {
    json!({ "name": name, "type": 3, "value": value })
}

/// A press of the button `custom_id` under a bot message saying `content`.
fn press(from: u64, custom_id: &str, content: &str) -> Value {
    let mut i = interaction(3, from);
    i["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    i["message"] = json!({
        "id": "1300000000000000005",
        "channel_id": "1300000000000000003",
        "author": user(1300000000000000009),
        "content": content,
        "timestamp": "2026-12-01T09:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
        "components": [{ "type": 1, "components": [
            { "type": 2, "style": 1, "label": "Accept", "custom_id": custom_id }
        ]}]
    });
    i
}

fn content(a: &Answer) -> String {
    a.body["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn ephemeral(a: &Answer) -> bool {
    a.body["data"]["flags"].as_u64().unwrap_or(0) & 64 == 64
}

async fn start_app() -> TestApp {
    TestApp::start(Backend::Sqlite).await.expect("sqlite")
}

/// Links the Discord account `discord` to `email` with `/link CODE` sent as a slash command.
async fn link_on_discord(app: &TestApp, ep: &Endpoint, email: &str, discord: u64) {
    let code = mentorops_core::bootstrap::new_link_code(&app.engine, email)
        .await
        .expect("code");
    let linked = ep
        .command(discord, "link", json!([text_opt("code", code.as_str())]))
        .await;
    assert!(content(&linked).starts_with("Linked!"), "{}", linked.raw);
    assert!(ephemeral(&linked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_ponged_and_unsigned_or_unreadable_requests_run_nothing() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    let ep = Endpoint::start(&app).await;

    let pong = ep.send(&interaction(1, 1)).await;
    assert_eq!(pong.status, 200, "{}", pong.raw);
    assert_eq!(pong.body["type"], 1);

    // The super admin's Discord account, linked; then forged copies of a status change.
    link_on_discord(&app, &ep, "admin@example.org", 9001).await;
    let change = command(
        9001,
        "status",
        json!([
            text_opt("person", "ana@example.org"),
            text_opt("status", "SI")
        ]),
    );
    let body = serde_json::to_vec(&change).expect("json");
    let ts_owned = now_ts(0);
    let ts = ts_owned.as_str();
    let other = SigningKey::from_bytes(&[8u8; 32]);
    let forged = Endpoint::sign_with(&other, ts, &body);
    let good = Endpoint::sign_with(&ep.key, ts, &body);
    let later = now_ts(1);
    let stale_ts = now_ts(-600);
    let stale = Endpoint::sign_with(&ep.key, &stale_ts, &body);
    let cases = [
        ("signed by another key", Some(forged.as_str()), Some(ts)),
        (
            "another timestamp",
            Some(good.as_str()),
            Some(later.as_str()),
        ),
        (
            "signed 10 minutes ago (a replay)",
            Some(stale.as_str()),
            Some(stale_ts.as_str()),
        ),
        ("no signature", None, Some(ts)),
        ("no timestamp", Some(good.as_str()), None),
        ("a signature that is not hex", Some("zz"), Some(ts)),
        ("no headers", None, None),
    ];
    for (what, sig, t) in cases {
        let a = ep.post_raw(&body, sig, t).await;
        assert_eq!(a.status, 401, "{what}: {}", a.raw);
    }
    // The body changed after signing.
    let mut tampered = body.clone();
    if let Some(b) = tampered.iter_mut().rev().find(|b| **b == b'S') {
        *b = b'A';
    }
    let a = ep.post_raw(&tampered, Some(&good), Some(ts)).await;
    assert_eq!(a.status, 401, "{}", a.raw);
    // Signed but not an interaction.
    for junk in [&b"{not json"[..], br#"{"type":2}"#, b""] {
        let sig = Endpoint::sign_with(&ep.key, ts, junk);
        let a = ep.post_raw(junk, Some(&sig), Some(ts)).await;
        assert_eq!(a.status, 400, "{}", a.raw);
    }
    // Signed, but naming nobody (serenity would default the user to id 1): nothing runs.
    let mut nobody = change.clone();
    if let Some(o) = nobody.as_object_mut() {
        o.remove("user");
    }
    let a = ep.send(&nobody).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(content(&a).contains("did not say who"), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );
    // The genuine request runs.
    let a = ep.post_raw(&body, Some(&good), Some(ts)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(!content(&a).starts_with('✗'), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_changes_a_status_with_a_slash_command_and_strangers_are_refused() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    let ep = Endpoint::start(&app).await;

    // Not linked yet: the core refuses, only the caller sees it.
    let refused = ep
        .command(
            5002,
            "status",
            json!([
                text_opt("person", "ana@example.org"),
                text_opt("status", "A")
            ]),
        )
        .await;
    assert!(
        content(&refused).contains("needs a linked account"),
        "{}",
        refused.raw
    );
    assert!(ephemeral(&refused));
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );

    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let done = ep
        .command(
            5001,
            "status",
            json!([
                text_opt("person", "ana@example.org"),
                text_opt("status", "A"),
                text_opt("reason", "called her: \"ok\"")
            ]),
        )
        .await;
    assert!(!content(&done).starts_with('✗'), "{}", done.raw);
    assert!(ephemeral(&done));
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);
    let history = app.admin("/history ana@example.org").await.text;
    assert!(history.contains("via discord"), "{history}");

    // Autocomplete answers (no suggestions yet).
    let mut auto = command(
        5001,
        "status",
        json!([{ "name": "person", "type": 3, "value": "an", "focused": true }]),
    );
    auto["type"] = json!(4);
    let a = ep.send(&auto).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 8, "{}", a.raw);
    assert_eq!(a.body["data"]["choices"], json!([]), "{}", a.raw);
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_accepts_an_offer_with_the_button_and_the_wrong_person_changes_nothing() {
    let app = start_app().await;
    app.with_program().await;
    let ana = app
        .ready_person(
            "Ana Mentee",
            "ana@example.org",
            "+14155550501",
            "mentee",
            ANA,
            "7001",
        )
        .await;
    app.ready_person(
        "Maria Mentor",
        "maria@example.org",
        "+14155550601",
        "mentor",
        MARIA,
        "7002",
    )
    .await;
    app.ready_person(
        "Lee Mentor",
        "lee@example.org",
        "+14155550602",
        "mentor",
        LEE,
        "7003",
    )
    .await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "maria@example.org", 8002).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;

    let maria = persona_of(&app, "maria@example.org").await;
    app.run(&ana, "/mentors").await.expect("mentors");
    app.run(&ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let accept = format!("/accept {}", offer.id);
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");
    let prompt = "Ana Mentee would like you as their mentor.";

    // Lee presses Maria's button: refused, for Lee's eyes only; the message stays.
    let a = ep.send(&press(8003, &accept, prompt)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(content(&a).contains("made to someone else"), "{}", a.raw);
    assert_eq!(matches().await, 0);

    // Maria presses it: paired; the message shows the outcome and loses its buttons.
    let a = ep.send(&press(8002, &accept, prompt)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).starts_with(prompt), "{}", a.raw);
    assert!(
        content(&a).contains("Accepted — you are now paired with Ana Mentee"),
        "{}",
        a.raw
    );
    assert_eq!(a.body["data"]["components"], json!([]), "{}", a.raw);
    assert_eq!(matches().await, 1);

    // A second press: refused, still one match.
    let a = ep.send(&press(8002, &accept, prompt)).await;
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(
        content(&a).contains("You accepted this offer on"),
        "{}",
        a.raw
    );
    assert_eq!(matches().await, 1);
    ep.stop().await;
    app.finish().await;
}

// ---------------------------------------------------------------------------------------------
// DMs from the outbox, through serenity's REST client pointed at a fake Discord API.

/// A request the fake took: method, path, Authorization header.
type Call = (String, String, Option<String>);

/// A fake Discord REST API on 127.0.0.1: opens DM channels (channel id = the user's id), takes
/// messages, and refuses DMs to the users in `closed` as Discord does (403, code 50007).
#[derive(Clone, Default)]
struct FakeRest {
    calls: Arc<Mutex<Vec<Call>>>,
    messages: Arc<Mutex<Vec<(String, Value)>>>,
    closed: Arc<Mutex<Vec<String>>>,
    /// Files served at `/files/<name>` (Discord's CDN for attachments).
    files: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeRest {
    async fn start(&self) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = self.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let fake = fake.clone();
                async move { fake.answer(method, uri, headers, body) }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, task)
    }

    fn answer(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri.path().to_string();
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.calls
            .lock()
            .expect("lock")
            .push((method.to_string(), path.clone(), auth));
        if let Some(name) = path.strip_prefix("/files/")
            && method == Method::GET
        {
            let files = self.files.lock().expect("lock");
            return match files.iter().find(|(n, _)| n == name) {
                Some((_, text)) => text.clone().into_response(),
                None => (StatusCode::NOT_FOUND, "<html>no such file</html>").into_response(),
            };
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Some(app_id) = path
            .strip_prefix("/api/v10/applications/")
            .and_then(|p| p.strip_suffix("/commands"))
            && method == Method::PUT
        {
            self.messages
                .lock()
                .expect("lock")
                .push((format!("commands:{app_id}"), body.clone()));
            let held: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    c["id"] = json!((1500000000000000000u64 + i as u64).to_string());
                    c["application_id"] = json!(app_id);
                    c["version"] = json!("1");
                    if c["type"].is_null() {
                        c["type"] = json!(1);
                    }
                    c
                })
                .collect();
            return axum::Json(held).into_response();
        }
        if method == Method::POST && path == "/api/v10/users/@me/channels" {
            let id = match &body["recipient_id"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return axum::Json(json!({
                "id": id,
                "type": 1,
                "last_message_id": null,
                "recipients": [user(id.parse().unwrap_or(1))]
            }))
            .into_response();
        }
        if let Some(channel) = path
            .strip_prefix("/api/v10/channels/")
            .and_then(|p| p.strip_suffix("/messages"))
            && method == Method::POST
        {
            if self
                .closed
                .lock()
                .expect("lock")
                .iter()
                .any(|c| c == channel)
            {
                return (
                    StatusCode::FORBIDDEN,
                    axum::Json(
                        json!({"code": 50007, "message": "Cannot send messages to this user"}),
                    ),
                )
                    .into_response();
            }
            self.messages
                .lock()
                .expect("lock")
                .push((channel.to_string(), body.clone()));
            let mut m =
                press(1, "/x", body["content"].as_str().unwrap_or_default())["message"].clone();
            m["channel_id"] = json!(channel);
            m["components"] = json!([]);
            return axum::Json(m).into_response();
        }
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 0, "message": "404: Not Found"})),
        )
            .into_response()
    }

    fn messages_to(&self, channel: &str) -> Vec<Value> {
        self.messages
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

async fn discord_rows(app: &TestApp, state: &str) -> Vec<outbox::Message> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    outbox::in_state(&mut c, state, 1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|m| m.channel == "chat:discord")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_reach_discord_accounts_as_dms_with_buttons_and_closed_dms_fail_for_good() {
    let app = start_app().await;
    app.with_program().await;
    let ana = app
        .ready_person(
            "Ana Mentee",
            "ana@example.org",
            "+14155550501",
            "mentee",
            ANA,
            "7001",
        )
        .await;
    app.ready_person(
        "Maria Mentor",
        "maria@example.org",
        "+14155550601",
        "mentor",
        MARIA,
        "7002",
    )
    .await;
    app.ready_person(
        "Lee Mentor",
        "lee@example.org",
        "+14155550602",
        "mentor",
        LEE,
        "7003",
    )
    .await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "maria@example.org", 8002).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;
    let fake = FakeRest::default();
    fake.closed.lock().expect("lock").push("8003".into());
    let (url, server) = fake.start().await;
    let http = mentorops_bot::discord::http("test-token", Some(&url)).expect("http");

    let maria = persona_of(&app, "maria@example.org").await;
    app.run(&ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    // A message for Lee, whose DMs are closed.
    {
        let lee = app.user_id("lee@example.org").await;
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        outbox::insert(
            &mut c,
            &outbox::NewMessage {
                channel: "chat:discord".into(),
                kind: "test",
                recipient_user_id: Some(lee),
                recipient: "8003".into(),
                subject: String::new(),
                body_text: "hello Lee".into(),
                body_html: None,
                buttons: Vec::new(),
                idempotency_key: "test:lee".into(),
            },
            app.engine.now(),
        )
        .await
        .expect("insert");
    }
    assert_eq!(discord_rows(&app, "pending").await.len(), 2);

    let engine = app.shared_engine();
    let sent = mentorops_bot::discord::deliver_due(&engine, &http)
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
            format!("/decline {}", offer.id)
        ]
    );
    assert!(
        !to_maria[0]["content"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(to_maria[0]["allowed_mentions"]["parse"], json!([]));
    let sent_rows = discord_rows(&app, "sent").await;
    assert_eq!(sent_rows.len(), 1);
    assert_eq!(sent_rows[0].recipient, "8002");
    let failed = discord_rows(&app, "failed").await;
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
    let again = mentorops_bot::discord::deliver_due(&engine, &http)
        .await
        .expect("delivery");
    assert_eq!(again, 0);
    assert_eq!(fake.messages_to("8002").len(), 1);
    server.abort();
    ep.stop().await;
    app.finish().await;
}

/// `/user_import` with a CSV attachment option: `resolved.attachments` names the file.
fn import(from: u64, base: &str, file: &str, size: usize) -> Value {
    let mut i = command(
        from,
        "user_import",
        json!([{ "name": "file", "type": 11, "value": "1400000000000000001" }]),
    );
    let url = format!("{base}/files/{file}");
    i["data"]["resolved"] = json!({ "attachments": { "1400000000000000001": {
        "id": "1400000000000000001",
        "filename": file,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": "text/csv"
    }}});
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_attached_to_user_import_is_downloaded_and_imported() {
    let app = start_app().await;
    app.with_program().await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let csv = "name,email,phone,role,program,external_id\n\
               Ana Lima,ana@example.org,+14155550161,mentee,Spring,\n\
               Rui Costa,rui@example.org,+14155550165,mentor,Spring,EMP-9\n";
    let fake = FakeRest::default();
    fake.files
        .lock()
        .expect("lock")
        .push(("people.csv".into(), csv.into()));
    let (base, server) = fake.start().await;
    let users = || app.count("SELECT COUNT(*) AS n FROM users");
    let before = users().await;

    // A file the CDN does not have: refused, the error page is not imported.
    let a = ep.send(&import(5001, &base, "gone.csv", 10)).await;
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(content(&a).contains("could not be downloaded"), "{}", a.raw);
    // Bigger than the limit: refused before downloading.
    let a = ep
        .send(&import(5001, &base, "people.csv", 50 * 1024 * 1024))
        .await;
    assert!(content(&a).contains("too big"), "{}", a.raw);
    assert_eq!(users().await, before);

    let a = ep.send(&import(5001, &base, "people.csv", csv.len())).await;
    assert!(content(&a).contains("Imported 2 people"), "{}", a.raw);
    assert_eq!(users().await, before + 2);
    assert_eq!(
        app.user("rui@example.org").await.external_id.as_deref(),
        Some("EMP-9")
    );
    server.abort();
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_is_published_as_global_application_commands() {
    let fake = FakeRest::default();
    let (url, server) = fake.start().await;
    let http = mentorops_bot::discord::http("test-token", Some(&url)).expect("http");
    assert!(mentorops_bot::discord::register(&http, 0).await.is_err());
    let n = mentorops_bot::discord::register(&http, 1300000000000000002)
        .await
        .expect("registered");
    let registry = mentorops_core::command::registry::COMMANDS;
    assert_eq!(n, registry.len());
    let sent = fake.messages_to("commands:1300000000000000002");
    assert_eq!(sent.len(), 1);
    let names: Vec<&str> = sent[0]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let want: Vec<&str> = registry.iter().map(|c| c.name).collect();
    assert_eq!(names, want);
    server.abort();
}
