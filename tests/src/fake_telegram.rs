//! A fake Telegram Bot API on 127.0.0.1 for the tests and the chat benchmark: it serves
//! injected updates to `getUpdates` the way Telegram does (an update is handed out again until
//! a later call's `offset` passes it), records every request it gets, answers 429 when told to,
//! and can leave a share of `sendMessage` calls hanging without taking them (a timeout).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use mentorops_core::settings::TelegramSettings;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token_for_the_fake_bot_api_0000";
pub const BOT_ID: i64 = 999;
pub const BOT_NAME: &str = "mentorops_test_bot";

// ---------------------------------------------------------------------------------------------
// The fake Bot API

#[derive(Debug, Clone)]
pub struct Call {
    /// Lower case: `sendmessage`, `answercallbackquery`, …
    pub method: String,
    /// The JSON body, or the multipart fields (a file part as {filename, content}).
    pub body: Value,
    /// True when the fake answered 429.
    pub rejected: bool,
    pub at: Instant,
}

#[derive(Default)]
pub struct FakeState {
    calls: Vec<Call>,
    updates: Vec<Value>,
    next_update: i64,
    next_message: i64,
    /// file_id → (file_path, bytes)
    files: HashMap<String, (String, Vec<u8>)>,
    /// method → (how many more 429s, retry_after seconds)
    too_many: HashMap<String, (u32, u32)>,
    /// The highest `offset` a `getUpdates` call gave: updates below it are confirmed, and
    /// never handed out again (as Telegram does).
    pub confirmed: i64,
    /// Every n-th `sendMessage` hangs for `hang_for` and is not taken (the client times out,
    /// as when Telegram is slow and did nothing).
    pub hang_every: Option<(u64, Duration)>,
    pub send_count: u64,
    /// `getUpdates` calls: when each came.
    pub polls: Vec<Instant>,
}

#[derive(Clone)]
pub struct Fake {
    state: Arc<Mutex<FakeState>>,
    updates_ready: Arc<Notify>,
    pub url: String,
}

impl Fake {
    pub async fn start() -> Self {
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

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Accepted calls of `method` to this chat.
    pub fn to_chat(&self, method: &str, chat: i64) -> Vec<Value> {
        self.calls(method)
            .into_iter()
            .filter(|c| !c.rejected && chat_of(&c.body) == Some(chat))
            .map(|c| c.body)
            .collect()
    }

    pub fn push_update(&self, mut update: Value) -> i64 {
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

    pub fn text(&self, user: i64, text: &str) {
        let msg = json!({
            "message_id": self.message_id(),
            "date": 1_790_000_000,
            "chat": {"id": user, "type": "private", "first_name": "U"},
            "from": person(user),
            "text": text,
        });
        self.push_update(json!({ "message": msg }));
    }

    pub fn document(&self, user: i64, caption: &str, file_name: &str, bytes: &[u8]) {
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
    pub fn press(&self, presser: i64, message: &Value, message_id: i64, data: &str) -> String {
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

    pub fn too_many(&self, method: &str, times: u32, retry_after: u32) {
        self.lock()
            .too_many
            .insert(method.to_lowercase(), (times, retry_after));
    }

    pub fn message_id(&self) -> i64 {
        let mut s = self.lock();
        s.next_message += 1;
        s.next_message
    }

    pub fn settings(&self) -> TelegramSettings {
        TelegramSettings {
            token: Some(SecretString::from(TOKEN)),
            api_url: self.url.parse().ok(),
            ..TelegramSettings::default()
        }
    }
}

pub fn person(id: i64) -> Value {
    json!({"id": id, "is_bot": false, "first_name": format!("User{id}"), "username": format!("user{id}")})
}

pub fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Mentorops", "username": BOT_NAME})
}

pub fn chat_of(body: &Value) -> Option<i64> {
    let c = &body["chat_id"];
    c.as_i64()
        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
        .or_else(|| body["chat"]["id"].as_i64())
}

pub fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

pub fn sent_message(id: i64, body: &Value) -> Value {
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
        fake.lock().polls.push(Instant::now());
        return get_updates(&fake, &body).await;
    }
    if method == "sendmessage" {
        let hang = {
            let mut s = fake.lock();
            s.send_count += 1;
            match s.hang_every {
                Some((n, d)) if s.send_count % n == 0 => Some(d),
                _ => None,
            }
        };
        if let Some(d) = hang {
            tokio::time::sleep(d).await;
            return (
                StatusCode::GATEWAY_TIMEOUT,
                axum::Json(
                    json!({"ok": false, "error_code": 504, "description": "Gateway Timeout"}),
                ),
            )
                .into_response();
        }
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
        "sendphoto" => {
            let mut m = sent_message(id, &body);
            m.as_object_mut().map(|o| o.remove("text"));
            m["photo"] = json!([{"file_id": format!("photo{id}"), "file_unique_id": format!("uphoto{id}"), "width": 960, "height": 480}]);
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
    let offset = {
        let mut s = fake.lock();
        if let Some(o) = body["offset"].as_i64() {
            s.confirmed = s.confirmed.max(o);
        }
        s.confirmed
    };
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
