//! The Discord front-end, driven the way Discord drives it, on 127.0.0.1 only: the HTTP
//! interactions endpoint gets signed POSTs (with a key pair the test makes); the gateway
//! transport runs serenity's real client against a fake gateway websocket (Hello, Identify,
//! Ready, heartbeat ACKs, INTERACTION_CREATE dispatches); every REST call (interaction
//! callbacks, edits, follow-ups, DMs, commands) goes to a fake REST API that records it.
//! Discord itself is never contacted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use ed25519_dalek::{Signer, SigningKey};
use futures::{SinkExt, StreamExt};
use mentorops_bot::discord::{Interactions, Rest};
use mentorops_core::command::Caller;
use mentorops_core::db::Backend;
use mentorops_core::status::UserStatus;
use mentorops_core::store::{self, outbox};
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
    /// The fake REST API follow-ups and deferred answers go to.
    fake: FakeRest,
    server: tokio::task::JoinHandle<()>,
}

/// The shared interaction handling of both transports, its REST calls going to `url`.
fn interactions(app: &TestApp, url: &str, defer_after: Duration) -> Arc<Interactions> {
    let rest = Rest::new("test-token", Some(url)).expect("rest");
    Arc::new(
        Interactions::new(app.shared_engine(), Arc::new(rest))
            .expect("interactions")
            .with_defer_after(defer_after),
    )
}

struct Answer {
    status: u16,
    body: Value,
    raw: String,
}

impl Endpoint {
    async fn start(app: &TestApp) -> Self {
        Self::start_deferring_after(app, mentorops_bot::discord::interact::DEFER_AFTER).await
    }

    async fn start_deferring_after(app: &TestApp, defer_after: Duration) -> Self {
        let fake = FakeRest::default();
        let (rest_url, server) = fake.start().await;
        let shared = interactions(app, &rest_url, defer_after);
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
            let stop = stop.clone();
            async move { mentorops_bot::discord::serve(shared, &public, listener, stop).await }
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
            fake,
            server,
        }
    }

    async fn stop(self) {
        self.server.abort();
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

/// The fields every interaction carries (a DM: `user`, no guild). Each gets an id of its own,
/// as Discord gives them: the same id twice is a replay, and runs nothing.
fn interaction(kind: u8, from: u64) -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = 1_300_000_000_000_100_000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json!({
        "id": id.to_string(),
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

/// An autocomplete request (type 4) while `option` (of Discord type `kind`) is typed.
fn autocomplete(from: u64, name: &str, option: &str, kind: u8, typed: &str) -> Value {
    let mut i = command(
        from,
        name,
        json!([{ "name": option, "type": kind, "value": typed, "focused": true }]),
    );
    i["type"] = json!(4);
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

    // Autocomplete: the program manager is offered Ana; a stranger is offered nobody.
    let a = ep
        .send(&autocomplete(5001, "status", "person", 3, "an"))
        .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 8, "{}", a.raw);
    assert_eq!(
        a.body["data"]["choices"],
        json!([{ "name": "Ana Lima <ana@example.org>", "value": "ana@example.org" }]),
        "{}",
        a.raw
    );
    let a = ep
        .send(&autocomplete(5002, "status", "person", 3, "an"))
        .await;
    assert_eq!(a.body["type"], 8, "{}", a.raw);
    assert_eq!(a.body["data"]["choices"], json!([]), "{}", a.raw);
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_accepts_an_offer_with_the_button_and_the_wrong_person_changes_nothing() {
    let app = start_app().await;
    app.with_program().await;
    let ana = ana_maria_and_lee(&app).await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "maria@example.org", 8002).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;

    let offer = ana_chooses_maria(&app, &ana).await;
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
    // Answers that fit and came in time need no REST call after the response.
    assert!(ep.fake.calls.lock().expect("lock").is_empty());
    ep.stop().await;
    app.finish().await;
}

// ---------------------------------------------------------------------------------------------
// DMs from the outbox, through serenity's REST client pointed at a fake Discord API.

/// A request the fake took: method, path, Authorization header.
type Call = (String, String, Option<String>);

/// A fake Discord REST API on 127.0.0.1: opens DM channels (channel id = the user's id), takes
/// messages, and refuses DMs to the users in `closed` as Discord does (403, code 50007).
///
/// It also takes interaction callbacks (`callback:<id>`), edits of the first answer
/// (`edit:<token>`) and follow-ups (`followup:<token>`; a multipart one is kept as
/// `{"multipart": raw body}`), answers `GET /gateway(/bot)` with `gateway_url`, and keeps a
/// rate limit on channel messages: at most [`PER_WINDOW`] per channel in [`WINDOW`], told in
/// Discord's bucket headers; a client that ignores them gets a 429 counted in `overruns`, and the
/// first `scripted_429` messages get a 429 whatever the client does.
#[derive(Clone, Default)]
struct FakeRest {
    calls: Arc<Mutex<Vec<Call>>>,
    messages: Arc<Mutex<Vec<(String, Value)>>>,
    closed: Arc<Mutex<Vec<String>>>,
    /// Files served at `/files/<name>` (Discord's CDN for attachments).
    files: Arc<Mutex<Vec<(String, String)>>>,
    gateway_url: Arc<Mutex<String>>,
    accepted: Arc<Mutex<Vec<(String, Instant)>>>,
    scripted_429: Arc<Mutex<u32>>,
    overruns: Arc<Mutex<u32>>,
}

const PER_WINDOW: usize = 2;
const WINDOW: Duration = Duration::from_millis(500);

fn with_headers(mut r: Response, headers: &[(&'static str, String)]) -> Response {
    for (k, v) in headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
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
        if method == Method::GET && (path == "/api/v10/gateway" || path == "/api/v10/gateway/bot") {
            let url = self.gateway_url.lock().expect("lock").clone();
            return axum::Json(json!({
                "url": url,
                "shards": 1,
                "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1 }
            }))
            .into_response();
        }
        let multipart = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/"));
        let raw = String::from_utf8_lossy(&body).to_string();
        let body: Value = if multipart {
            json!({ "multipart": raw })
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        if let Some(rest) = path.strip_prefix("/api/v10/interactions/")
            && let Some(id) = rest.split('/').next()
            && method == Method::POST
        {
            self.messages
                .lock()
                .expect("lock")
                .push((format!("callback:{id}"), body));
            return StatusCode::NO_CONTENT.into_response();
        }
        if let Some(rest) = path.strip_prefix("/api/v10/webhooks/") {
            let parts: Vec<&str> = rest.split('/').collect();
            let token = parts.get(1).copied().unwrap_or_default();
            let key = if method == Method::PATCH {
                format!("edit:{token}")
            } else {
                format!("followup:{token}")
            };
            self.messages.lock().expect("lock").push((key, body));
            let m = press(1, "/x", "")["message"].clone();
            return axum::Json(m).into_response();
        }
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
            {
                let mut scripted = self.scripted_429.lock().expect("lock");
                if *scripted > 0 {
                    *scripted -= 1;
                    return with_headers(
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            axum::Json(json!({"message": "You are being rate limited.", "retry_after": 0.3, "global": false})),
                        )
                            .into_response(),
                        &[("retry-after", "1".into()), ("x-ratelimit-scope", "user".into())],
                    );
                }
            }
            let now = Instant::now();
            let (remaining, reset_after) = {
                let mut accepted = self.accepted.lock().expect("lock");
                let recent: Vec<Instant> = accepted
                    .iter()
                    .filter(|(c, t)| c == channel && now.duration_since(*t) < WINDOW)
                    .map(|(_, t)| *t)
                    .collect();
                if recent.len() >= PER_WINDOW {
                    *self.overruns.lock().expect("lock") += 1;
                    let wait = WINDOW.saturating_sub(now.duration_since(recent[0]));
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        axum::Json(json!({"message": "You are being rate limited.", "retry_after": wait.as_secs_f64(), "global": false})),
                    )
                        .into_response();
                }
                accepted.push((channel.to_string(), now));
                let oldest = recent.first().copied().unwrap_or(now);
                let reset = WINDOW.saturating_sub(now.duration_since(oldest));
                (PER_WINDOW - recent.len() - 1, reset.as_secs_f64() + 0.01)
            };
            self.messages
                .lock()
                .expect("lock")
                .push((channel.to_string(), body.clone()));
            let mut m =
                press(1, "/x", body["content"].as_str().unwrap_or_default())["message"].clone();
            m["channel_id"] = json!(channel);
            m["components"] = json!([]);
            return with_headers(
                axum::Json(m).into_response(),
                &[
                    ("x-ratelimit-bucket", format!("messages-{channel}")),
                    ("x-ratelimit-limit", PER_WINDOW.to_string()),
                    ("x-ratelimit-remaining", remaining.to_string()),
                    ("x-ratelimit-reset-after", format!("{reset_after:.3}")),
                ],
            );
        }
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"code": 0, "message": "404: Not Found"})),
        )
            .into_response()
    }

    /// Waits (up to 10 s) until something was recorded under `key`.
    async fn wait_for(&self, key: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = self.messages_to(key).first() {
                return v.clone();
            }
            assert!(Instant::now() < deadline, "nothing recorded as {key}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    let ana = ana_maria_and_lee(&app).await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "maria@example.org", 8002).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;
    let fake = FakeRest::default();
    fake.closed.lock().expect("lock").push("8003".into());
    let (url, server) = fake.start().await;
    let rest = std::sync::Arc::new(Rest::new("test-token", Some(&url)).expect("rest"));

    let offer = ana_chooses_maria(&app, &ana).await;
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
    let again = mentorops_bot::discord::deliver_due(engine.clone(), rest.clone())
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
    let rest = Rest::new("test-token", Some(&url)).expect("rest");
    assert!(
        mentorops_bot::discord::register(&rest, 0, None)
            .await
            .is_err()
    );
    let n = mentorops_bot::discord::register(&rest, 1300000000000000002, None)
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
    // In one server when configured.
    let n = mentorops_bot::discord::register(&rest, 1300000000000000002, Some(42))
        .await
        .expect("registered in the guild");
    assert_eq!(n, registry.len());
    assert_eq!(
        fake.messages_to("commands:1300000000000000002/guilds/42")
            .len(),
        1
    );
    assert_eq!(fake.messages_to("commands:1300000000000000002").len(), 1);
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// The gateway transport: serenity's real client against a fake gateway websocket.

/// A fake Discord gateway on 127.0.0.1: Hello (heartbeat every second), then on Identify a
/// READY, heartbeat ACKs, and each interaction handed to `dispatch` as INTERACTION_CREATE.
struct FakeGateway {
    url: String,
    dispatch: tokio::sync::mpsc::UnboundedSender<Value>,
    identify: Arc<Mutex<Option<Value>>>,
    heartbeats: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeGateway {
    async fn start() -> Self {
        use tokio_tungstenite::tungstenite::Message;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let (dispatch, mut queue) = tokio::sync::mpsc::unbounded_channel::<Value>();
        let identify = Arc::new(Mutex::new(None));
        let heartbeats = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let (identify, heartbeats, url) = (identify.clone(), heartbeats.clone(), url.clone());
            async move {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let send = |v: Value| Message::Text(v.to_string());
                if ws
                    .send(send(
                        json!({ "op": 10, "d": { "heartbeat_interval": 1000 } }),
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
                let mut seq = 0u64;
                let mut ready = false;
                loop {
                    tokio::select! {
                        frame = ws.next() => {
                            let Some(Ok(Message::Text(text))) = frame else {
                                match frame {
                                    Some(Ok(_)) => continue,
                                    _ => return,
                                }
                            };
                            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                            match v["op"].as_u64() {
                                Some(2) => {
                                    *identify.lock().expect("lock") = Some(v["d"].clone());
                                    seq += 1;
                                    let r = json!({ "op": 0, "t": "READY", "s": seq, "d": {
                                        "v": 10,
                                        "user": { "id": "1300000000000000009", "username": "mentorops",
                                                  "discriminator": "0", "global_name": null, "avatar": null,
                                                  "bot": true, "verified": true, "mfa_enabled": false, "flags": 0 },
                                        "guilds": [],
                                        "session_id": "fake-session",
                                        "resume_gateway_url": url,
                                        "shard": [0, 1],
                                        "application": { "id": "1300000000000000002", "flags": 0 }
                                    }});
                                    if ws.send(send(r)).await.is_err() {
                                        return;
                                    }
                                    ready = true;
                                }
                                Some(1) => {
                                    heartbeats.fetch_add(1, Ordering::SeqCst);
                                    if ws.send(send(json!({ "op": 11 }))).await.is_err() {
                                        return;
                                    }
                                }
                                _ => {}
                            }
                        }
                        Some(d) = queue.recv(), if ready => {
                            seq += 1;
                            let e = json!({ "op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": d });
                            if ws.send(send(e)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Self {
            url,
            dispatch,
            identify,
            heartbeats,
            task,
        }
    }
}

/// `mentorops`' gateway transport running against the fakes.
struct Gateway {
    gw: FakeGateway,
    fake: FakeRest,
    server: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    next: AtomicU64,
}

impl Gateway {
    async fn start(app: &TestApp, defer_after: Duration) -> Self {
        let gw = FakeGateway::start().await;
        let fake = FakeRest::default();
        *fake.gateway_url.lock().expect("lock") = gw.url.clone();
        let (url, server) = fake.start().await;
        let shared = interactions(app, &url, defer_after);
        let http = mentorops_bot::discord::http("test-token", Some(&url)).expect("http");
        let stop = CancellationToken::new();
        let task = tokio::spawn(mentorops_bot::discord::gateway::run(
            shared,
            http,
            stop.clone(),
        ));
        let deadline = Instant::now() + Duration::from_secs(15);
        while gw.identify.lock().expect("lock").is_none() {
            assert!(Instant::now() < deadline, "the client never identified");
            assert!(!task.is_finished(), "the gateway client stopped");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            gw,
            fake,
            server,
            stop,
            task,
            next: AtomicU64::new(1),
        }
    }

    /// Dispatches `interaction` with a fresh id and token; returns the callback the bot sent
    /// for it and the token (to find what followed).
    async fn send(&self, mut interaction: Value) -> (Value, String) {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = (1310000000000000000u64 + n).to_string();
        let token = format!("gateway-token-{n}");
        interaction["id"] = json!(id);
        interaction["token"] = json!(token);
        self.gw.dispatch.send(interaction).expect("gateway open");
        (self.fake.wait_for(&format!("callback:{id}")).await, token)
    }

    /// A slash command; its callback must be a type 4 message.
    async fn command(&self, user: u64, name: &str, options: Value) -> Value {
        let (cb, _) = self.send(command(user, name, options)).await;
        assert_eq!(cb["type"], 4, "{cb}");
        cb
    }

    async fn stop(self) {
        self.stop.cancel();
        let done = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stopped in time")
            .expect("task");
        assert!(done.is_ok(), "{done:?}");
        self.gw.task.abort();
        self.server.abort();
    }
}

fn cb_content(cb: &Value) -> String {
    cb["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn cb_ephemeral(cb: &Value) -> bool {
    cb["data"]["flags"].as_u64().unwrap_or(0) & 64 == 64
}

async fn link_over_gateway(app: &TestApp, g: &Gateway, email: &str, discord: u64) {
    let code = mentorops_core::bootstrap::new_link_code(&app.engine, email)
        .await
        .expect("code");
    let cb = g
        .command(discord, "link", json!([text_opt("code", code.as_str())]))
        .await;
    assert!(cb_content(&cb).starts_with("Linked!"), "{cb}");
    assert!(cb_ephemeral(&cb));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_a_staff_member_changes_a_status_and_strangers_are_refused() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    let identify =
        g.gw.identify
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_default();
    assert_eq!(identify["token"], "Bot test-token");
    // Slash commands and buttons need no intents: none asked for, so none privileged.
    assert_eq!(identify["intents"], 0);

    let refused = g
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
        cb_content(&refused).contains("needs a linked account"),
        "{refused}"
    );
    assert!(cb_ephemeral(&refused));
    for only in ["start", "help"] {
        let cb = g.command(5002, only, json!([])).await;
        assert!(!cb_content(&cb).starts_with('✗'), "{cb}");
    }
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );

    link_over_gateway(&app, &g, "pm@example.org", 5001).await;
    let done = g
        .command(
            5001,
            "status",
            json!([
                text_opt("person", "ana@example.org"),
                text_opt("status", "A"),
                text_opt("reason", "screened on a call")
            ]),
        )
        .await;
    assert!(!cb_content(&done).starts_with('✗'), "{done}");
    assert!(cb_ephemeral(&done));
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);
    let history = app.admin("/history ana@example.org").await.text;
    assert!(history.contains("via discord"), "{history}");

    // A deactivated account is told so.
    app.admin("/deactivate pm@example.org").await;
    let cb = g.command(5001, "me", json!([])).await;
    assert!(
        cb_content(&cb).to_lowercase().contains("deactivated"),
        "{cb}"
    );

    // Every REST call went to the fake, with the bot token.
    let calls = g.fake.calls.lock().expect("lock").clone();
    assert!(
        calls
            .iter()
            .any(|(m, p, _)| m == "GET" && p.starts_with("/api/v10/gateway"))
    );
    assert!(
        calls
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some("Bot test-token")),
        "{calls:?}"
    );
    g.stop().await;
    app.finish().await;
}

/// Ana (mentee, chat account 7001), Maria (7002) and Lee (7003), mentors, ready to be matched;
/// returns Ana.
async fn ana_maria_and_lee(app: &TestApp) -> Caller {
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
    for (name, email, phone, answers, chat) in [
        (
            "Maria Mentor",
            "maria@example.org",
            "+14155550601",
            MARIA,
            "7002",
        ),
        ("Lee Mentor", "lee@example.org", "+14155550602", LEE, "7003"),
    ] {
        app.ready_person(name, email, phone, "mentor", answers, chat)
            .await;
    }
    ana
}

/// Ana asks Maria (after `/mentors`); the pending offer.
async fn ana_chooses_maria(app: &TestApp, ana: &Caller) -> store::offers::Offer {
    let maria = persona_of(app, "maria@example.org").await;
    app.run(ana, "/mentors").await.expect("mentors");
    app.run(ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    pending_of(app, "ana@example.org").await.expect("offer")
}

/// Ana asks Maria; Maria (8002) and Lee (8003) are linked on Discord.
async fn offer_to_maria(app: &TestApp) -> i64 {
    let ana = ana_maria_and_lee(app).await;
    ana_chooses_maria(app, &ana).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_a_mentor_accepts_with_the_button_and_the_wrong_person_or_a_second_press_changes_nothing()
 {
    let app = start_app().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    link_over_gateway(&app, &g, "maria@example.org", 8002).await;
    link_over_gateway(&app, &g, "lee@example.org", 8003).await;
    let accept = format!("/accept {offer}");
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");
    let prompt = "Ana Mentee would like you as their mentor.";

    let (cb, _) = g.send(press(8003, &accept, prompt)).await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    assert!(cb_content(&cb).contains("made to someone else"), "{cb}");
    assert_eq!(matches().await, 0);

    let (cb, _) = g.send(press(8002, &accept, prompt)).await;
    assert_eq!(cb["type"], 7, "{cb}");
    assert!(cb_content(&cb).starts_with(prompt), "{cb}");
    assert!(
        cb_content(&cb).contains("Accepted — you are now paired with Ana Mentee"),
        "{cb}"
    );
    assert_eq!(cb["data"]["components"], json!([]), "{cb}");
    assert_eq!(matches().await, 1);

    let (cb, _) = g.send(press(8002, &accept, prompt)).await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    assert!(
        cb_content(&cb).contains("You accepted this offer on"),
        "{cb}"
    );
    assert_eq!(matches().await, 1);
    // The client kept its heartbeat going, and the fake acknowledged it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while g.gw.heartbeats.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_autocomplete_offers_only_what_the_caller_may_see() {
    let app = start_app().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    // Someone in another program the Spring manager must not see.
    app.admin("/program_add Acme Autumn").await;
    app.admin("/user_add \"Anabel Other\" anabel@example.org +14155550901 mentee program:Autumn")
        .await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    link_over_gateway(&app, &g, "pm@example.org", 5001).await;
    link_over_gateway(&app, &g, "admin@example.org", 5000).await;
    link_over_gateway(&app, &g, "maria@example.org", 8002).await;
    let names = |cb: &Value| -> Vec<String> {
        cb["data"]["choices"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (cb, _) = g
        .send(autocomplete(5001, "user_show", "person", 3, "ANA"))
        .await;
    assert_eq!(cb["type"], 8, "{cb}");
    assert_eq!(names(&cb), ["Ana Mentee <ana@example.org>"], "{cb}");
    assert_eq!(cb["data"]["choices"][0]["value"], "ana@example.org");
    let (cb, _) = g
        .send(autocomplete(5000, "user_show", "person", 3, "ana"))
        .await;
    let mut all = names(&cb);
    all.sort();
    assert_eq!(
        all,
        [
            "Ana Mentee <ana@example.org>",
            "Anabel Other <anabel@example.org>"
        ],
        "{cb}"
    );
    let (cb, _) = g
        .send(autocomplete(5001, "user_list", "program", 3, ""))
        .await;
    assert_eq!(names(&cb), ["Acme/Spring"], "{cb}");
    // A mentee's directory is not open to a mentor, nor a staff command to anyone else.
    let (cb, _) = g
        .send(autocomplete(8002, "user_show", "person", 3, "a"))
        .await;
    assert_eq!(cb["data"]["choices"], json!([]), "{cb}");
    let (cb, _) = g
        .send(autocomplete(9999, "user_show", "person", 3, "a"))
        .await;
    assert_eq!(cb["data"]["choices"], json!([]), "{cb}");
    // Offers: Maria's pending offer, as an integer.
    let (cb, _) = g.send(autocomplete(8002, "accept", "offer", 4, "")).await;
    assert_eq!(
        cb["data"]["choices"],
        json!([{ "name": format!("#{offer} from Ana Mentee"), "value": offer }]),
        "{cb}"
    );
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_is_deferred_then_finished_with_an_edit_and_its_file_follows() {
    let app = start_app().await;
    app.with_program().await;
    for i in 0..40 {
        app.admin(&format!(
            "/user_add \"Person Number{i} Long-Surname-For-Width\" p{i}@example.org +141555507{i:02} mentee program:Spring"
        ))
        .await;
    }
    let g = Gateway::start(&app, Duration::from_millis(300)).await;
    link_over_gateway(&app, &g, "admin@example.org", 5000).await;

    // The database is held for a second (a slow path): the export waits behind it.
    let gate = app.close_gate(&[], &[]).await;
    let opened = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        gate.rollback().await.expect("open gate");
    });
    let (cb, token) = g.send(command(5000, "export", json!([]))).await;
    assert_eq!(cb["type"], 5, "{cb}");
    assert_eq!(cb["data"]["flags"], 64, "{cb}");
    let edit = g.fake.wait_for(&format!("edit:{token}")).await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap_or_default()
            .contains("xport"),
        "{edit}"
    );
    let file = g.fake.wait_for(&format!("followup:{token}")).await;
    let raw = file["multipart"].as_str().unwrap_or_default();
    assert!(raw.contains("payload_json"), "{raw}");
    assert!(raw.contains("filename=\"") && raw.contains(".csv"), "{raw}");
    assert!(raw.contains("p39@example.org"), "the CSV is attached");
    opened.await.expect("gate");

    // A long answer in time: the first part in the callback, the rest as follow-ups.
    let (cb, token) = g.send(command(5000, "user_list", json!([]))).await;
    assert_eq!(cb["type"], 4, "{cb}");
    let first = cb_content(&cb);
    assert!(
        first.chars().count() <= 2000 && first.chars().count() > 1000,
        "{cb}"
    );
    let more = g.fake.wait_for(&format!("followup:{token}")).await;
    assert_eq!(more["flags"], 64);
    assert!(!more["content"].as_str().unwrap_or_default().is_empty());
    // Forty people match: Discord gets its maximum of 25 suggestions.
    let (cb, _) = g
        .send(autocomplete(
            5000,
            "user_show",
            "person",
            3,
            "person number",
        ))
        .await;
    assert_eq!(
        cb["data"]["choices"].as_array().map(Vec::len),
        Some(25),
        "{cb}"
    );
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_text_question_is_answered_in_a_form() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    let ana = app.caller_for(app.user_id("ana@example.org").await);
    for a in &ANA[..ANA.len() - 1] {
        app.run(
            &ana,
            &format!("/apply {}", mentorops_core::command::quote(a)),
        )
        .await
        .expect("apply");
    }
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "ana@example.org", 6001).await;
    let q = ep.command(6001, "apply", json!([])).await;
    let button = &q.body["data"]["components"][0]["components"][0];
    assert_eq!(
        button["custom_id"], "form:answer:/apply q:about",
        "{}",
        q.raw
    );

    // The button opens the form.
    let form = ep
        .send(&press(6001, "form:answer:/apply q:about", &content(&q)))
        .await;
    assert_eq!(form.body["type"], 9, "{}", form.raw);
    assert_eq!(form.body["data"]["custom_id"], "/apply q:about");

    // The form comes back with the text; the question's message shows the outcome.
    let mut sent = interaction(5, 6001);
    sent["data"] = json!({ "custom_id": "/apply q:about", "components": [{ "type": 1, "components": [
        { "type": 4, "custom_id": "answer", "value": "I want my first job: \"any\" field" }
    ]}]});
    sent["message"] = press(6001, "form:answer:/apply q:about", &content(&q))["message"].clone();
    let a = ep.send(&sent).await;
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).contains("complete"), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dms_follow_discords_rate_limits_and_arrive_once_each_in_order() {
    let app = start_app().await;
    app.with_program().await;
    app.admin("/user_add \"Maria Mentor\" maria@example.org +14155550601 mentor program:Spring")
        .await;
    let maria = app.user_id("maria@example.org").await;
    let fake = FakeRest::default();
    *fake.scripted_429.lock().expect("lock") = 1;
    let (url, server) = fake.start().await;
    let rest = std::sync::Arc::new(Rest::new("test-token", Some(&url)).expect("rest"));
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
        for i in 0..6 {
            outbox::insert(
                &mut c,
                &outbox::NewMessage {
                    channel: "chat:discord".into(),
                    kind: "test",
                    recipient_user_id: Some(maria),
                    recipient: "8002".into(),
                    subject: String::new(),
                    body_text: format!("message {i}"),
                    body_html: None,
                    buttons: Vec::new(),
                    idempotency_key: format!("test:{i}"),
                },
                app.engine.now(),
            )
            .await
            .expect("insert");
        }
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
    assert_eq!(discord_rows(&app, "sent").await.len(), 6);
    server.abort();
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_slow_work_is_deferred_and_finished_over_rest() {
    let app = start_app().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    app.admin("/user_add \"Bo Lima\" bo@example.org +14155550809 mentee program:Spring")
        .await;
    let ep = Endpoint::start_deferring_after(&app, Duration::from_millis(300)).await;
    link_on_discord(&app, &ep, "admin@example.org", 5000).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;
    let token_of = |i: &mut Value, t: &str| i["token"] = json!(t);

    // A command behind a held database: type 5 (only the caller sees it), then the answer
    // replaces it.
    let gate = app.close_gate(&[], &[]).await;
    let mut status = command(
        5000,
        "status",
        json!([
            text_opt("person", "bo@example.org"),
            text_opt("status", "SI")
        ]),
    );
    token_of(&mut status, "slow-command");
    let a = ep.send(&status).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body,
        json!({ "type": 5, "data": { "flags": 64 } }),
        "{}",
        a.raw
    );
    // A press behind it, by the wrong person: type 6, then the refusal to the presser alone;
    // the offer message is not edited.
    let mut wrong = press(8003, &format!("/accept {offer}"), "An offer.");
    token_of(&mut wrong, "slow-press");
    let p = ep.send(&wrong).await;
    assert_eq!(p.body, json!({ "type": 6 }), "{}", p.raw);
    tokio::time::sleep(Duration::from_millis(700)).await;
    gate.rollback().await.expect("open gate");

    let edit = ep.fake.wait_for("edit:slow-command").await;
    assert!(
        !edit["content"].as_str().unwrap_or("✗").starts_with('✗'),
        "{edit}"
    );
    assert!(edit.get("flags").is_none(), "{edit}");
    assert_eq!(
        app.user("bo@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    let refused = ep.fake.wait_for("followup:slow-press").await;
    assert_eq!(refused["flags"], 64, "{refused}");
    assert!(
        refused["content"]
            .as_str()
            .unwrap_or_default()
            .contains("made to someone else"),
        "{refused}"
    );
    assert!(ep.fake.messages_to("edit:slow-press").is_empty());
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 0);
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentorops_run_registers_the_commands_and_answers_over_the_gateway_by_default() {
    let app = start_app().await;
    app.with_program().await;
    let gw = FakeGateway::start().await;
    let fake = FakeRest::default();
    *fake.gateway_url.lock().expect("lock") = gw.url.clone();
    let (url, server) = fake.start().await;
    let mut settings = app.engine.settings().clone();
    settings.discord = mentorops_core::settings::DiscordSettings {
        token: Some(secrecy::SecretString::from("test-token")),
        application_id: Some("1300000000000000002".into()),
        api_url: Some(url),
        ..Default::default()
    };
    let engine = Arc::new(
        mentorops_core::command::Engine::new(
            app.engine.db().clone(),
            Arc::new(settings),
            app.clock.clone(),
        )
        .expect("engine"),
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(mentorops_bot::discord::run(engine, stop.clone()));
    let deadline = Instant::now() + Duration::from_secs(15);
    while gw.identify.lock().expect("lock").is_none() {
        assert!(Instant::now() < deadline, "the client never identified");
        assert!(!task.is_finished(), "mentorops run stopped: {task:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.messages_to("commands:1300000000000000002").len(), 1);
    let mut start = command(4242, "start", json!([]));
    start["id"] = json!("1320000000000000001");
    gw.dispatch.send(start).expect("gateway open");
    let cb = fake.wait_for("callback:1320000000000000001").await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    stop.cancel();
    let done = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stopped in time")
        .expect("task");
    assert!(done.is_ok(), "{done:?}");
    gw.task.abort();
    server.abort();
    app.finish().await;
}

/// Discord never sends one interaction twice: the same signed body POSTed again inside the
/// signature's 5-minute window is a replay, and runs nothing (docs/chat-edge.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_interaction_runs_once() {
    let app = start_app().await;
    app.with_program().await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let add = command(
        5001,
        "user_add",
        json!([
            text_opt("name", "Rita Replay"),
            text_opt("email", "rita@example.org"),
            text_opt("phone", "+14155550877"),
            text_opt("role", "mentee"),
            text_opt("program", "Spring")
        ]),
    );
    let first = ep.send(&add).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert!(!content(&first).starts_with('✗'), "{}", first.raw);
    let again = ep.send(&add).await;
    assert_eq!(again.status, 200, "{}", again.raw);
    assert!(content(&again).contains("handled already"), "{}", again.raw);
    assert!(ephemeral(&again));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email = 'rita@example.org'")
            .await,
        1
    );
    // A second interaction with the same content is a new request: it runs (and is refused,
    // the person exists now).
    let fresh = ep
        .command(5001, "user_add", add["data"]["options"].clone())
        .await;
    assert!(content(&fresh).starts_with('✗'), "{}", fresh.raw);
    assert!(
        !content(&fresh).contains("handled already"),
        "{}",
        fresh.raw
    );
    app.finish().await;
}
