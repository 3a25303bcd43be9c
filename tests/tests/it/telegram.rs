//! The Telegram front-end: the real teloxide client, throttle and dispatcher (long polling and
//! webhook) against a fake Bot API on 127.0.0.1 that serves injected updates and records every
//! request it gets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mentorops_bot::telegram::{self, Limits, Telegram, Tuning};
use mentorops_core::command::registry::menus;
use mentorops_core::db::Backend;
use mentorops_core::settings::TelegramSettings;
use mentorops_core::status::UserStatus;
use mentorops_core::store::outbox;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::matching::{ANA, LEE, MARIA, pending_of, persona_of};
use crate::support::TestApp;

const TOKEN: &str = "123456:TEST-token_for_the_fake_bot_api_0000";
const BOT_ID: i64 = 999;
const BOT_NAME: &str = "mentorops_test_bot";

// ---------------------------------------------------------------------------------------------
// The fake Bot API

#[derive(Debug, Clone)]
struct Call {
    /// Lower case: `sendmessage`, `answercallbackquery`, …
    method: String,
    /// The JSON body, or the multipart fields (a file part as {filename, content}).
    body: Value,
    /// True when the fake answered 429.
    rejected: bool,
    at: Instant,
}

#[derive(Default)]
struct FakeState {
    calls: Vec<Call>,
    updates: Vec<Value>,
    next_update: i64,
    next_message: i64,
    /// file_id → (file_path, bytes)
    files: HashMap<String, (String, Vec<u8>)>,
    /// method → (how many more 429s, retry_after seconds)
    too_many: HashMap<String, (u32, u32)>,
}

#[derive(Clone)]
struct Fake {
    state: Arc<Mutex<FakeState>>,
    updates_ready: Arc<Notify>,
    url: String,
}

impl Fake {
    async fn start() -> Self {
        let fake = Fake {
            state: Arc::new(Mutex::new(FakeState {
                next_update: 1,
                next_message: 100,
                ..FakeState::default()
            })),
            updates_ready: Arc::new(Notify::new()),
            url: String::new(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().fallback(api).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            url: format!("http://{addr}/"),
            ..fake
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn calls(&self, method: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Accepted calls of `method` to this chat.
    fn to_chat(&self, method: &str, chat: i64) -> Vec<Value> {
        self.calls(method)
            .into_iter()
            .filter(|c| !c.rejected && chat_of(&c.body) == Some(chat))
            .map(|c| c.body)
            .collect()
    }

    fn push_update(&self, mut update: Value) -> i64 {
        let id = {
            let mut s = self.lock();
            let id = s.next_update;
            s.next_update += 1;
            update["update_id"] = json!(id);
            s.updates.push(update);
            id
        };
        self.updates_ready.notify_waiters();
        id
    }

    fn text(&self, user: i64, text: &str) {
        let msg = json!({
            "message_id": self.message_id(),
            "date": 1_790_000_000,
            "chat": {"id": user, "type": "private", "first_name": "U"},
            "from": person(user),
            "text": text,
        });
        self.push_update(json!({ "message": msg }));
    }

    fn document(&self, user: i64, caption: &str, file_name: &str, bytes: &[u8]) {
        let file_id = format!("file-{}", self.message_id());
        self.lock().files.insert(
            file_id.clone(),
            (format!("documents/{file_name}"), bytes.to_vec()),
        );
        let msg = json!({
            "message_id": self.message_id(),
            "date": 1_790_000_000,
            "chat": {"id": user, "type": "private", "first_name": "U"},
            "from": person(user),
            "caption": caption,
            "document": {
                "file_id": file_id,
                "file_unique_id": format!("u{file_id}"),
                "file_name": file_name,
                "mime_type": "text/csv",
                "file_size": bytes.len(),
            },
        });
        self.push_update(json!({ "message": msg }));
    }

    /// `presser` presses the button with `data` under `message` (a sendMessage body we got).
    fn press(&self, presser: i64, message: &Value, message_id: i64, data: &str) -> String {
        let id = format!("cbq-{}", self.message_id());
        let chat = chat_of(message).expect("chat");
        let mut shown = json!({
            "message_id": message_id,
            "date": 1_790_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "U"},
            "from": bot_user(),
            "text": message["text"],
        });
        if !message["reply_markup"].is_null() {
            shown["reply_markup"] = message["reply_markup"].clone();
        }
        self.push_update(json!({
            "callback_query": {
                "id": id,
                "from": person(presser),
                "chat_instance": "ci",
                "data": data,
                "message": shown,
            }
        }));
        id
    }

    fn too_many(&self, method: &str, times: u32, retry_after: u32) {
        self.lock()
            .too_many
            .insert(method.to_lowercase(), (times, retry_after));
    }

    fn message_id(&self) -> i64 {
        let mut s = self.lock();
        s.next_message += 1;
        s.next_message
    }

    fn settings(&self) -> TelegramSettings {
        TelegramSettings {
            token: Some(SecretString::from(TOKEN)),
            api_url: Some(self.url.clone()),
            ..TelegramSettings::default()
        }
    }
}

fn person(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("User{id}"), "username": format!("user{id}")})
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Mentorops", "username": BOT_NAME})
}

fn chat_of(body: &Value) -> Option<i64> {
    let c = &body["chat_id"];
    c.as_i64()
        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        .or_else(|| body["chat"]["id"].as_i64())
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn sent_message(id: i64, body: &Value) -> Value {
    let mut m = json!({
        "message_id": id,
        "date": 1_790_000_000,
        "chat": {"id": chat_of(body).unwrap_or(0), "type": "private", "first_name": "U"},
        "from": bot_user(),
        "text": body["text"].as_str().unwrap_or("x"),
    });
    if !body["reply_markup"].is_null() {
        m["reply_markup"] = body["reply_markup"].clone();
    }
    m
}

/// Every Bot API call and file download lands here.
async fn api(
    axum::extract::State(fake): axum::extract::State<Fake>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if let Some(file_path) = path.strip_prefix(&format!("/file/bot{TOKEN}/")) {
        // teloxide pushes the file path as one URL segment, so its '/' arrive as %2F.
        let file_path = file_path.replace("%2F", "/").replace("%2f", "/");
        let s = fake.lock();
        return match s.files.values().find(|(p, _)| *p == file_path) {
            Some((_, bytes)) => bytes.clone().into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let Some(method) = path.strip_prefix(&format!("/bot{TOKEN}/")) else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
        )
            .into_response();
    };
    let method = method.to_lowercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = if content_type.starts_with("multipart/form-data") {
        multipart_fields(&content_type, &body)
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    if method == "getupdates" {
        return get_updates(&fake, &body).await;
    }
    let mut s = fake.lock();
    if let Some((left, after)) = s.too_many.get_mut(&method)
        && *left > 0
    {
        *left -= 1;
        let after = *after;
        s.calls.push(Call {
            method,
            body,
            rejected: true,
            at: Instant::now(),
        });
        return (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {after}"),
                "parameters": {"retry_after": after},
            })),
        )
            .into_response();
    }
    s.calls.push(Call {
        method: method.clone(),
        body: body.clone(),
        rejected: false,
        at: Instant::now(),
    });
    s.next_message += 1;
    let id = s.next_message;
    match method.as_str() {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Mentorops", "username": BOT_NAME,
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "sendmessage" | "editmessagetext" | "editmessagereplymarkup" => {
            let mut m = sent_message(id, &body);
            if method != "sendmessage" {
                m["message_id"] = body["message_id"].clone();
            }
            ok(m)
        }
        "senddocument" => {
            let mut m = sent_message(id, &body);
            m.as_object_mut().map(|o| o.remove("text"));
            m["document"] = json!({"file_id": format!("doc{id}"), "file_unique_id": format!("udoc{id}"), "file_name": body["document"]["filename"]});
            ok(m)
        }
        "getfile" => {
            let file_id = body["file_id"].as_str().unwrap_or_default();
            match s.files.get(file_id) {
                Some((p, bytes)) => ok(json!({
                    "file_id": file_id, "file_unique_id": format!("u{file_id}"),
                    "file_size": bytes.len(), "file_path": p,
                })),
                None => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})),
                )
                    .into_response(),
            }
        }
        "getwebhookinfo" => {
            ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        _ => ok(json!(true)),
    }
}

/// Long polling: the updates from `offset` on, or an empty list after a short wait.
async fn get_updates(fake: &Fake, body: &Value) -> Response {
    let offset = body["offset"].as_i64().unwrap_or(0);
    let wait = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0).min(1));
    let deadline = Instant::now() + wait;
    loop {
        let notified = fake.updates_ready.notified();
        let ready: Vec<Value> = fake
            .lock()
            .updates
            .iter()
            .filter(|u| u["update_id"].as_i64().unwrap_or(0) >= offset)
            .cloned()
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if !ready.is_empty() || left.is_zero() {
            return ok(Value::Array(ready));
        }
        let _ = tokio::time::timeout(left, notified).await;
    }
}

/// The fields of a multipart body: text parts as strings, file parts as {filename, content}.
fn multipart_fields(content_type: &str, body: &[u8]) -> Value {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap_or_default()
        .trim_matches('"');
    let text = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in text.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value).to_string();
        let attr = |name: &str| {
            head.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        let Some(name) = attr("name") else { continue };
        let v = match attr("filename") {
            Some(f) => json!({"filename": f, "content": value}),
            None => serde_json::from_str::<Value>(&value).unwrap_or(Value::String(value)),
        };
        fields.insert(name, v);
    }
    // teloxide sends `document: "attach://ID"` and the file in the part named ID.
    let attached: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| {
            let id = v.as_str()?.strip_prefix("attach://")?;
            Some((k.clone(), id.to_string()))
        })
        .collect();
    for (field, id) in attached {
        if let Some(file) = fields.remove(&id) {
            fields.insert(field, file);
        }
    }
    Value::Object(fields)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn quick() -> Tuning {
    Tuning {
        delivery_every: Duration::from_millis(100),
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
    let bot = telegram::throttled(
        telegram::bot_from_settings(&fake.settings()).expect("bot"),
        Limits::default(),
    );
    let engine = app.shared_engine();
    let started = Instant::now();
    let sent = telegram::deliver_due(&engine, &bot)
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
        telegram::deliver_due(&engine, &bot).await.expect("again"),
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

/// A burst much larger than Telegram's overall limit (STACK.md: ~30 messages/s): 240
/// reminders to 120 linked people are spread over at least 8 seconds, no second carries more
/// than the limit, and each message is sent exactly once. (10 000 reminders go the same way
/// in about 400 s; this keeps the test short.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_burst_respects_the_overall_limit_and_loses_or_doubles_nothing() {
    let app = start_app().await;
    app.with_program().await;
    let people = 120;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let now = app.engine.now();
    let mut ids = Vec::new();
    for i in 0..people {
        let email =
            mentorops_core::values::Email::parse(&format!("p{i}@example.org")).expect("email");
        let phone =
            mentorops_core::values::Phone::parse(&format!("+55119{:08}", 87_000_000 + i), None)
                .expect("phone");
        let name = mentorops_core::values::FullName::parse(&format!("Person {i}")).expect("name");
        let user = mentorops_core::store::users::NewUser {
            email: &email,
            phone: &phone,
            external_id: &mentorops_core::values::ExternalId::from_phone(&phone),
            full_name: &name,
            status: mentorops_core::status::UserStatus::Active,
            org_id: None,
        };
        let uid = mentorops_core::store::users::insert_user(&mut c, &user, now)
            .await
            .expect("user");
        let chat = format!("{}", 90_000 + i);
        mentorops_core::store::links::insert_link(&mut c, "telegram", &chat, None, uid, now)
            .await
            .expect("link");
        for n in 0..2 {
            let m = outbox::NewMessage {
                channel: outbox::chat_channel("telegram"),
                kind: "test",
                recipient_user_id: Some(uid),
                recipient: chat.clone(),
                subject: String::new(),
                body_text: format!("reminder {n} to {i}"),
                body_html: None,
                buttons: Vec::new(),
                idempotency_key: format!("burst-{i}-{n}"),
            };
            ids.push(
                outbox::insert(&mut c, &m, now)
                    .await
                    .expect("insert")
                    .expect("new row"),
            );
        }
    }
    drop(c);
    let fake = Fake::start().await;
    let bot = telegram::throttled(
        telegram::bot_from_settings(&fake.settings()).expect("bot"),
        Limits::default(),
    );
    let engine = app.shared_engine();
    let started = Instant::now();
    let sent = telegram::deliver_due(&engine, &bot)
        .await
        .expect("delivery");
    let took = started.elapsed();
    assert_eq!(sent, ids.len());
    assert!(
        took >= Duration::from_millis(8500),
        "240 messages at 25/s take ≥ 8.6 s, took {took:?}"
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
        telegram::deliver_due(&engine, &bot).await.expect("again"),
        0
    );
    app.finish().await;
}
