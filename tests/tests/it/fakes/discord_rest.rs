//! A fake Discord REST API on 127.0.0.1, for serenity's HTTP client (the DM delivery, the
//! interaction callbacks of both transports, command registration) and for the attachment
//! downloads of `/user_import`. It records every request; Discord itself is never contacted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Discord user object for `id`.
pub fn user(id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "username": format!("user{id}"),
        "discriminator": "0",
        "global_name": null,
        "avatar": null
    })
}

/// A message of the bot's saying `content`, with one button `custom_id` under it.
pub fn message(content: &str, custom_id: &str) -> Value {
    json!({
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
    })
}

/// A request the fake took: method, path, Authorization header.
pub type Call = (String, String, Option<String>);

/// A fake Discord REST API on 127.0.0.1: opens DM channels (channel id = the user's id), takes
/// messages, and refuses DMs to the users in `closed` as Discord does (403, code 50007).
///
/// Each message it takes gets an id of its own (recorded with it in `dms`), and an edit of one
/// (`PATCH /channels/{channel}/messages/{id}`) is recorded as `patch:<channel>/<id>` (answered
/// 404, Unknown Message, when it took no such message).
///
/// It also takes interaction callbacks (`callback:<id>`), edits of the first answer
/// (`edit:<token>`) and follow-ups (`followup:<token>`; a multipart one is kept as
/// `{"multipart": raw body}`), answers `GET /gateway(/bot)` with `gateway_url`, and keeps a
/// rate limit on channel messages: at most [`PER_WINDOW`] per channel in [`WINDOW`], told in
/// Discord's bucket headers; a client that ignores them gets a 429 counted in `overruns`, and the
/// first `scripted_429` messages get a 429 whatever the client does.
#[derive(Clone, Default)]
pub struct FakeRest {
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub messages: Arc<Mutex<Vec<(String, Value)>>>,
    pub closed: Arc<Mutex<Vec<String>>>,
    /// Files served at `/files/<name>` (Discord's CDN for attachments).
    pub files: Arc<Mutex<Vec<(String, String)>>>,
    pub gateway_url: Arc<Mutex<String>>,
    accepted: Arc<Mutex<Vec<(String, Instant)>>>,
    pub scripted_429: Arc<Mutex<u32>>,
    pub overruns: Arc<Mutex<u32>>,
    /// The channel messages taken: channel, the id given, the body.
    pub dms: Arc<Mutex<Vec<(String, String, Value)>>>,
    next_id: Arc<AtomicU64>,
}

pub const PER_WINDOW: usize = 2;
pub const WINDOW: Duration = Duration::from_millis(500);

fn with_headers(mut r: Response, headers: &[(&'static str, String)]) -> Response {
    for (k, v) in headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

impl FakeRest {
    pub async fn start(&self) -> (String, tokio::task::JoinHandle<()>) {
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
            let m = message("", "/x");
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
        if let Some((channel, id)) = path
            .strip_prefix("/api/v10/channels/")
            .and_then(|p| p.split_once("/messages/"))
            && method == Method::PATCH
        {
            self.messages
                .lock()
                .expect("lock")
                .push((format!("patch:{channel}/{id}"), body.clone()));
            let known = self
                .dms
                .lock()
                .expect("lock")
                .iter()
                .any(|(c, i, _)| c == channel && i == id);
            if !known {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"code": 10008, "message": "Unknown Message"})),
                )
                    .into_response();
            }
            let mut m = message(body["content"].as_str().unwrap_or_default(), "/x");
            m["id"] = json!(id);
            m["channel_id"] = json!(channel);
            m["components"] = body["components"].clone();
            return axum::Json(m).into_response();
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
            let id = (1_320_000_000_000_000_000u64 + self.next_id.fetch_add(1, Ordering::SeqCst))
                .to_string();
            self.messages
                .lock()
                .expect("lock")
                .push((channel.to_string(), body.clone()));
            self.dms
                .lock()
                .expect("lock")
                .push((channel.to_string(), id.clone(), body.clone()));
            let mut m = message(body["content"].as_str().unwrap_or_default(), "/x");
            m["id"] = json!(id);
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
    pub async fn wait_for(&self, key: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = self.messages_to(key).first() {
                return v.clone();
            }
            assert!(Instant::now() < deadline, "nothing recorded as {key}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn messages_to(&self, channel: &str) -> Vec<Value> {
        self.messages
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, m)| m.clone())
            .collect()
    }
}
