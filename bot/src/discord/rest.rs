//! The REST calls the Discord front-end makes, every one through one [`Pacer`]: interaction
//! responses and follow-ups, DMs, the command list. Bodies are the JSON of serenity's builders
//! (`CreateInteractionResponse`, `EditInteractionResponse`, `CreateInteractionResponseFollowup`,
//! `CreateMessage`, `CreateCommand`); files go as `multipart/form-data` with `payload_json`.
//!
//! Why our own client and not serenity's `Http`: every call must keep one pace we control
//! ([`Pacer`]: the global window, buckets per route template and top-level resource, bounded
//! memory, 429s waited out and resent here), the outbox driver needs Discord's answer as a
//! status it can classify (a 4xx is `Refused`, anything else `Later`), errors must never carry a
//! URL (webhook and callback URLs hold tokens; `reqwest::Error::without_url`), and the tests point
//! it at a fake on 127.0.0.1, where serenity's `Http` works only with its rate limiter off (the
//! limiter builds its requests without the proxy). serenity's `Http` only fetches the gateway URL
//! for its gateway client.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mentorops_core::reply::Attachment;
use mentorops_core::settings::DiscordSettings;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use serenity::builder::{CreateCommand, CreateMessage};
use serenity::model::id::UserId;
use tracing::warn;

use super::pace::{Pacer, retry_after};
use super::render::Response;

/// Discord's REST API when `discord.api_url` is not set.
pub const DISCORD_API: &str = "https://discord.com";
/// How many times one request is sent again after a 429 before we give up on it (for now: the
/// outbox tries again on its next pass).
const MAX_429_RETRIES: usize = 5;
/// A webhook call for an interaction whose first answer Discord has not seen yet (the HTTP
/// transport answers in the response body, which may still be on its way) gets a 404: it is
/// tried again this many times, this far apart.
const NOT_YET_RETRIES: usize = 5;
const NOT_YET_PAUSE: Duration = Duration::from_millis(300);

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestError {
    /// Discord answered with an error status (after 429s were waited out and retried).
    Status {
        status: u16,
        code: i64,
        message: String,
    },
    /// No answer (connection, timeout, unreadable body).
    Network(String),
    /// The request's body could not be written (never sent; a retry would not help).
    Unsendable(String),
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status {
                status,
                code,
                message,
            } => write!(f, "Discord answered {status} (code {code}): {message}"),
            Self::Network(e) => write!(f, "Discord could not be reached: {e}"),
            Self::Unsendable(e) => write!(f, "the request to Discord could not be written: {e}"),
        }
    }
}

impl std::error::Error for RestError {}

impl RestError {
    /// A refusal a retry will not change (DMs closed, unknown user, a bad request; not a 429),
    /// or a body that cannot be written.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Status { status, .. } => (400..500).contains(status) && *status != 429,
            Self::Network(_) => false,
            Self::Unsendable(_) => true,
        }
    }
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    /// `payload_json` plus `files[n]`.
    Files(&'a Value, &'a [Attachment]),
}

/// A builder's JSON.
fn to_json(payload: &impl Serialize) -> Result<Value, RestError> {
    serde_json::to_value(payload).map_err(|e| RestError::Unsendable(e.to_string()))
}

/// The body of `POST /users/@me/channels` (serenity has no builder for it; its own `Http`
/// writes the same map).
#[derive(Serialize)]
struct OpenDm {
    recipient_id: UserId,
}

pub struct Rest {
    client: reqwest::Client,
    /// `…/api/v10`
    base: String,
    token: SecretString,
    pacer: Arc<Pacer>,
    /// DM channel per user: Discord gives a user the same DM channel every time, so opening it
    /// once saves a paced call per message.
    dm_channels: std::sync::Mutex<std::collections::HashMap<u64, String>>,
}

/// Past this many remembered DM channels the memo starts over (memory stays bounded).
const DM_CHANNELS_REMEMBERED: usize = 10_000;

impl Rest {
    /// A client for `api_url` (Discord itself when None), authenticating as the bot `token`.
    pub fn new(token: &str, api_url: Option<&str>) -> anyhow::Result<Self> {
        let root = api_url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .unwrap_or(DISCORD_API);
        let url = url::Url::parse(root).with_context(|| {
            format!("discord.api_url (MENTOROPS__DISCORD__API_URL) is not a URL: {root}")
        })?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client for Discord")?;
        Ok(Self {
            client,
            base: format!("{}/api/v10", url.as_str().trim_end_matches('/')),
            token: SecretString::from(token.to_string()),
            pacer: Arc::new(Pacer::default()),
            dm_channels: Default::default(),
        })
    }

    /// [`Rest::new`] from the settings (`discord.token`, `discord.api_url`).
    pub fn from_settings(s: &DiscordSettings) -> anyhow::Result<Self> {
        let token = s
            .token
            .as_ref()
            .context("discord.token (MENTOROPS__DISCORD__TOKEN) is not set")?;
        Self::new(
            token.expose_secret(),
            s.api_url.as_ref().map(url::Url::as_str),
        )
    }

    /// The base URL the calls go to, `…/api/v10`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call, paced; a 429 is waited out and the same request sent again. Returns the JSON
    /// answer (Null for an empty one).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<Value, RestError> {
        let route = self.pacer.route(&method, path);
        let url = format!("{}{path}", self.base);
        let mut tries = 0;
        loop {
            self.pacer.acquire(&route).await;
            let mut req = self
                .client
                .request(method.clone(), &url)
                .header(
                    "authorization",
                    format!("Bot {}", self.token.expose_secret()),
                )
                .header("user-agent", "DiscordBot (mentorops, 0.1)");
            req = match &body {
                Body::None => req,
                Body::Json(v) => req
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(v).unwrap_or_default()),
                Body::Files(payload, files) => req.multipart(form(payload, files)?),
            };
            let resp = req
                .send()
                .await
                .map_err(|e| RestError::Network(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            self.pacer.observe(&route, &headers);
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| RestError::Network(e.without_url().to_string()))?;
            let value: Value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(Value::Null)
            };
            if status == 429 && tries < MAX_429_RETRIES {
                tries += 1;
                let (wait, global) = retry_after(&headers, &value);
                warn!(
                    route = %route.template,
                    wait_ms = wait.as_millis() as u64,
                    global,
                    "Discord rate limit hit; waiting and sending again"
                );
                self.pacer.too_many(&route, wait, global);
                continue;
            }
            if (200..300).contains(&status) {
                return Ok(value);
            }
            return Err(RestError::Status {
                status,
                code: value["code"].as_i64().unwrap_or(0),
                message: value["message"]
                    .as_str()
                    .unwrap_or("no message")
                    .to_string(),
            });
        }
    }

    /// An interaction webhook call, tried again while Discord does not know the interaction's
    /// first answer yet (404).
    async fn webhook(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<Value, RestError> {
        let mut tries = 0;
        loop {
            match self.call(method.clone(), path, reborrow(&body)).await {
                Err(RestError::Status { status: 404, .. }) if tries < NOT_YET_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(NOT_YET_PAUSE).await;
                }
                other => return other,
            }
        }
    }

    /// The first answer to an interaction (gateway transport): `POST /interactions/{id}/{token}/callback`.
    pub async fn callback(
        &self,
        id: u64,
        token: &str,
        response: &Response,
    ) -> Result<(), RestError> {
        self.call(
            Method::POST,
            &format!("/interactions/{id}/{token}/callback"),
            Body::Json(&to_json(response)?),
        )
        .await
        .map(drop)
    }

    /// Replaces the first answer (after a deferral): `PATCH /webhooks/{app}/{token}/messages/@original`.
    /// `message` is an `EditInteractionResponse`'s JSON (as the outbox row holds it).
    pub async fn edit_original(
        &self,
        app: u64,
        token: &str,
        message: &Value,
    ) -> Result<(), RestError> {
        self.webhook(
            Method::PATCH,
            &format!("/webhooks/{app}/{token}/messages/@original"),
            Body::Json(message),
        )
        .await
        .map(drop)
    }

    /// One more message for an interaction: `POST /webhooks/{app}/{token}`, with files if any.
    /// `message` is a `CreateInteractionResponseFollowup`'s JSON (as the outbox row holds it).
    pub async fn followup(
        &self,
        app: u64,
        token: &str,
        message: &Value,
        files: &[Attachment],
    ) -> Result<(), RestError> {
        let body = if files.is_empty() {
            Body::Json(message)
        } else {
            Body::Files(message, files)
        };
        self.webhook(Method::POST, &format!("/webhooks/{app}/{token}"), body)
            .await
            .map(drop)
    }

    /// Opens (or finds) the DM channel with a user; returns the channel id.
    pub async fn dm_channel(&self, user: u64) -> Result<String, RestError> {
        if let Some(id) = self
            .dm_channels
            .lock()
            .ok()
            .and_then(|m| m.get(&user).cloned())
        {
            return Ok(id);
        }
        let v = self
            .call(
                Method::POST,
                "/users/@me/channels",
                Body::Json(&to_json(&OpenDm {
                    recipient_id: UserId::new(user),
                })?),
            )
            .await?;
        let id = match &v["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(RestError::Network(
                    "no channel id in Discord's answer".into(),
                ));
            }
        };
        if let Ok(mut m) = self.dm_channels.lock() {
            if m.len() >= DM_CHANNELS_REMEMBERED {
                m.clear();
            }
            m.insert(user, id.clone());
        }
        Ok(id)
    }

    /// Forgets a user's DM channel (a send to it failed), so the next send opens it again.
    pub fn forget_dm_channel(&self, user: u64) {
        if let Ok(mut m) = self.dm_channels.lock() {
            m.remove(&user);
        }
    }

    /// Posts a message in a channel.
    pub async fn send_message(
        &self,
        channel: &str,
        message: &CreateMessage,
    ) -> Result<(), RestError> {
        self.call(
            Method::POST,
            &format!("/channels/{channel}/messages"),
            Body::Json(&to_json(message)?),
        )
        .await
        .map(drop)
    }

    /// Replaces the application's commands, globally or in one guild; returns how many Discord holds.
    pub async fn put_commands(
        &self,
        app: u64,
        guild: Option<u64>,
        commands: &[CreateCommand],
    ) -> Result<usize, RestError> {
        let path = match guild {
            Some(g) => format!("/applications/{app}/guilds/{g}/commands"),
            None => format!("/applications/{app}/commands"),
        };
        let v = self
            .call(Method::PUT, &path, Body::Json(&to_json(&commands)?))
            .await?;
        Ok(v.as_array().map(Vec::len).unwrap_or(0))
    }
}

fn reborrow<'a>(b: &'a Body<'_>) -> Body<'a> {
    match b {
        Body::None => Body::None,
        Body::Json(v) => Body::Json(v),
        Body::Files(v, f) => Body::Files(v, f),
    }
}

/// An entry of `payload_json`'s `attachments`: the `n` of the part `files[n]` and its name.
/// serenity's `CreateAttachment` serializes the same fields, but its id is set only inside
/// serenity's own `Http` (every file would be id 0 here), so the list is written by us.
#[derive(Serialize)]
struct FileSlot<'a> {
    id: usize,
    filename: &'a str,
}

/// `payload_json` with an `attachments` entry per file, and the files as `files[n]`.
fn form(payload: &Value, files: &[Attachment]) -> Result<reqwest::multipart::Form, RestError> {
    let mut payload = payload.clone();
    let slots: Vec<FileSlot<'_>> = files
        .iter()
        .enumerate()
        .map(|(id, f)| FileSlot {
            id,
            filename: &f.file_name,
        })
        .collect();
    payload["attachments"] = to_json(&slots)?;
    let mut form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
    for (i, f) in files.iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(f.bytes.clone()).file_name(f.file_name.clone());
        let part = match part.mime_str(&f.media_type) {
            Ok(p) => p,
            Err(_) => {
                reqwest::multipart::Part::bytes(f.bytes.clone()).file_name(f.file_name.clone())
            }
        };
        form = form.part(format!("files[{i}]"), part);
    }
    Ok(form)
}
