//! The Discord front-end on the test's engine, driven the way Discord drives it: interactions
//! as Discord sends them (built here), to the HTTP endpoint ([`endpoint`]) or over the gateway
//! ([`gateway`]), every REST call going to `crate::fakes::discord_rest`.

use std::sync::Arc;
use std::time::Duration;

use mentorops_bot::discord::{Interactions, Rest};
use mentorops_core::status::UserStatus;
use serde_json::{Value, json};

use super::TestApp;
use crate::fakes::discord_rest::{message, user};

pub mod endpoint;
pub mod gateway;

pub use endpoint::{Endpoint, content, ephemeral, link_on_discord};
pub use gateway::{Gateway, cb_content, cb_ephemeral, link_over_gateway};

/// The bot token every test front-end uses (the fakes check it).
pub const TOKEN: &str = "test-token";

/// A REST client on the bot token, its calls going to `url` (a fake).
pub fn rest(url: &str) -> Arc<Rest> {
    Arc::new(Rest::new(TOKEN, Some(url)).expect("rest"))
}

/// The shared interaction handling of both transports, its REST calls going to `url`.
pub fn interactions(app: &TestApp, url: &str, defer_after: Duration) -> Arc<Interactions> {
    Arc::new(
        Interactions::new(app.shared_engine(), rest(url))
            .expect("interactions")
            .with_defer_after(defer_after),
    )
}

/// The fields every interaction carries (a DM: `user`, no guild). Each gets an id of its own,
/// as Discord gives them: the same id twice is a replay, and runs nothing.
pub fn interaction(kind: u8, from: u64) -> Value {
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

pub fn command(from: u64, name: &str, options: Value) -> Value {
    let mut i = interaction(2, from);
    i["data"] = json!({ "id": "1300000000000000004", "name": name, "type": 1, "options": options });
    i
}

/// An autocomplete request (type 4) while `option` (of Discord type `kind`) is typed.
pub fn autocomplete(from: u64, name: &str, option: &str, kind: u8, typed: &str) -> Value {
    let mut i = command(
        from,
        name,
        json!([{ "name": option, "type": kind, "value": typed, "focused": true }]),
    );
    i["type"] = json!(4);
    i
}

pub fn text_opt(name: &str, value: &str) -> Value {
    json!({ "name": name, "type": 3, "value": value })
}

/// The options of `/status PERSON STATUS`.
pub fn status_opts(person: &str, status: &str) -> Value {
    json!([text_opt("person", person), text_opt("status", status)])
}

/// The options of `/status PERSON STATUS reason:REASON`.
pub fn status_opts_because(person: &str, status: &str, reason: &str) -> Value {
    json!([
        text_opt("person", person),
        text_opt("status", status),
        text_opt("reason", reason)
    ])
}

/// Ana is A now, by a change her history says came from Discord.
pub async fn assert_ana_made_active_from_discord(app: &TestApp) {
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);
    let history = app.admin("/history ana@example.org").await.text;
    assert!(history.contains("via discord"), "{history}");
}

/// The (label, custom_id) of each button in `components` (a message's, or a response's
/// `data`), in order.
pub fn buttons(components: &Value) -> Vec<(String, String)> {
    components
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["label"].as_str().unwrap_or_default().to_string(),
                b["custom_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A press of the button `custom_id` under a bot message saying `content`.
pub fn press(from: u64, custom_id: &str, content: &str) -> Value {
    let mut i = interaction(3, from);
    i["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    i["message"] = message(content, custom_id);
    i
}

/// `/user_import` with a CSV attachment option: `resolved.attachments` names the file.
pub fn import(from: u64, base: &str, file: &str, size: usize) -> Value {
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
