//! The outbox's `chat:discord` rows over Discord's REST API — direct messages, and (rows with a
//! target) what follows an interaction's first answer, over its webhook — through the
//! one chat delivery driver (`crate::chat::outbox`): marked sent only after Discord accepted
//! every part; a refusal that will not change (DMs closed, unknown user: a 4xx other than 429)
//! marks it failed; anything else (5xx, network) is retried with backoff, and that person's
//! later rows wait so they stay in order. Nothing goes to a user deactivated or deleted since.

use std::sync::Arc;

use anyhow::Context;
use mentorops_core::command::Engine;
use mentorops_core::reply::Attachment;
use mentorops_core::settings::DiscordSettings;
use mentorops_core::store::outbox;
use reqwest::Method;
use secrecy::ExposeSecret;
use serenity::builder::{CreateAllowedMentions, CreateMessage, EditMessage};
use serenity::http::{Http, HttpBuilder};

use super::rest::{Body, Rest, RestError};
use super::{PROVIDER, render};
use crate::chat::pace::Pace;
use crate::chat::{self, SendError};

/// serenity's REST client for these settings, which the gateway client uses to ask for the
/// gateway's URL (every other call goes through [`Rest`]). With `discord.api_url` set (a local
/// fake) it goes there, with serenity's rate limiter off — it would otherwise send its requests
/// to discord.com whatever the proxy says — and without the system proxy.
pub fn http_from_settings(settings: &DiscordSettings) -> anyhow::Result<Http> {
    let token = settings
        .token
        .as_ref()
        .context("discord.token (MENTOROPS__DISCORD__TOKEN) is not set")?;
    http(
        token.expose_secret(),
        settings.api_url.as_ref().map(url::Url::as_str),
    )
}

/// [`http_from_settings`] with the values given.
pub fn http(token: &str, api_url: Option<&str>) -> anyhow::Result<Http> {
    let builder = HttpBuilder::new(token);
    let Some(api) = api_url else {
        return Ok(builder.build());
    };
    let url = url::Url::parse(api).with_context(|| {
        format!("discord.api_url (MENTOROPS__DISCORD__API_URL) is not a URL: {api}")
    })?;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .build()
        .context("cannot build the HTTP client for Discord")?;
    Ok(builder
        .client(client)
        .proxy(url.as_str().trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .build())
}

/// Discord as a [`Platform`](chat::Platform) of the chat delivery driver: DMs and interaction
/// webhook calls over our paced REST client (which waits out 429s itself, per Discord's bucket
/// headers).
pub struct Discord {
    pub rest: Arc<Rest>,
}

/// One request of an outbox row.
pub enum DmPart {
    /// A DM: a part of at most 2000 characters, the buttons under the last.
    Dm {
        user: u64,
        message: Box<CreateMessage>,
        /// The row's files (a calendar invitation, a chart), with its last part.
        files: Vec<Attachment>,
    },
    /// An edit of a DM sent earlier (`PATCH /channels/{channel}/messages/{message}`): its text
    /// with the note of what became of it, and no buttons (docs/domain.md#edited-messages).
    Edit {
        channel: String,
        message: String,
        edit: Box<EditMessage>,
    },
    /// What follows an interaction's first answer, over its webhook (valid 15 minutes). The
    /// message is the row's JSON as serenity's builder wrote it when it was queued
    /// (`EditInteractionResponse` or `CreateInteractionResponseFollowup`); builders cannot be
    /// read back, so it is sent as stored.
    Webhook {
        hook: InteractionHook,
        message: serde_json::Value,
        files: Vec<Attachment>,
    },
}

/// Where an interaction's later messages go: the outbox row's `target`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InteractionHook {
    pub app: u64,
    pub token: String,
    /// `edit`: replace the first answer (after a deferral); `followup`: one more message.
    pub op: HookOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HookOp {
    Edit,
    Followup,
}

impl chat::Platform for Discord {
    type Part = DmPart;
    const NAME: &'static str = "Discord";
    const PROVIDER: &'static str = PROVIDER;

    fn parts(&self, row: &outbox::Message, files: Vec<Attachment>) -> Result<Vec<DmPart>, String> {
        if let Some(target) = row.target.as_deref() {
            let hook: InteractionHook = serde_json::from_str(target)
                .map_err(|e| format!("unreadable target of a Discord reply: {e}"))?;
            let message = serde_json::from_str(&row.body_text)
                .map_err(|e| format!("unreadable Discord message: {e}"))?;
            return Ok(vec![DmPart::Webhook {
                hook,
                message,
                files,
            }]);
        }
        let user = row
            .recipient
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| format!("'{}' is not a Discord user id", row.recipient))?;
        let (rows, extra) = render::components(&row.buttons);
        let mut parts = render::split_text(
            &render::with_extra_lines(&row.body_text, &extra),
            render::MAX_CONTENT,
        );
        if parts.is_empty() {
            parts.push("Done.".to_string());
        }
        let last = parts.len() - 1;
        let mut files = Some(files);
        Ok(parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| DmPart::Dm {
                user,
                message: Box::new(render::dm(&part, if i == last { &rows[..] } else { &[] })),
                files: if i == last {
                    files.take().unwrap_or_default()
                } else {
                    Vec::new()
                },
            })
            .collect())
    }

    fn expires_after(&self, row: &outbox::Message) -> Option<std::time::Duration> {
        // An interaction's webhook is dead 15 minutes after the interaction.
        row.target
            .is_some()
            .then(|| std::time::Duration::from_secs(15 * 60))
    }

    fn edit(
        &self,
        row: &outbox::Message,
        earlier: &outbox::Message,
        sent_as: &str,
    ) -> Result<Vec<DmPart>, String> {
        let (channel, message) = sent_as
            .split_once('/')
            .filter(|(c, m)| !c.is_empty() && !m.is_empty())
            .ok_or_else(|| format!("'{sent_as}' does not name a Discord message"))?;
        // The edit's text is the earlier message's with a note below; a message sent in parts
        // is changed in its last part (the one holding the buttons).
        let text = match row.body_text.strip_prefix(&earlier.body_text) {
            Some(note) => {
                let (_, extra) = render::components(&earlier.buttons);
                let parts = render::split_text(
                    &render::with_extra_lines(&earlier.body_text, &extra),
                    render::MAX_CONTENT,
                );
                format!(
                    "{}{note}",
                    parts.last().map(String::as_str).unwrap_or_default()
                )
            }
            None => row.body_text.clone(),
        };
        let edit = EditMessage::new()
            .content(mentorops_core::reply::clip(&text, render::MAX_CONTENT))
            .components(Vec::new())
            .allowed_mentions(CreateAllowedMentions::new());
        Ok(vec![DmPart::Edit {
            channel: channel.to_string(),
            message: message.to_string(),
            edit: Box::new(edit),
        }])
    }

    async fn send(
        &self,
        _row: &outbox::Message,
        part: &DmPart,
    ) -> Result<Option<String>, SendError> {
        let sent = match part {
            DmPart::Dm {
                user,
                message,
                files,
            } => {
                let sent = match self.rest.dm_channel(*user).await {
                    Ok(channel) => self.send_dm(&channel, message, files).await,
                    Err(e) => Err(e),
                };
                if sent.is_err() {
                    // The channel may be the reason: open it again next time.
                    self.rest.forget_dm_channel(*user);
                }
                sent
            }
            DmPart::Edit {
                channel,
                message,
                edit,
            } => {
                let body =
                    serde_json::to_value(&**edit).map_err(|e| RestError::Unsendable(e.to_string()));
                match body {
                    Ok(body) => self
                        .rest
                        .call(
                            Method::PATCH,
                            &format!("/channels/{channel}/messages/{message}"),
                            Body::Json(&body),
                        )
                        .await
                        .map(|_| None),
                    Err(e) => Err(e),
                }
            }
            DmPart::Webhook {
                hook,
                message,
                files,
            } => match hook.op {
                HookOp::Edit => self
                    .rest
                    .edit_original(hook.app, &hook.token, message)
                    .await
                    .map(|()| None),
                HookOp::Followup => self
                    .rest
                    .followup(hook.app, &hook.token, message, files)
                    .await
                    .map(|()| None),
            },
        };
        sent.map_err(|e| {
            if e.is_permanent() {
                SendError::Refused(e.to_string())
            } else {
                SendError::Later(e.to_string())
            }
        })
    }
}

impl Discord {
    /// Posts a DM (`POST /channels/{channel}/messages`, as `Rest::send_message` does; with
    /// files, as `multipart/form-data`) and returns `{channel}/{message}`: the message's id,
    /// which a later edit names.
    async fn send_dm(
        &self,
        channel: &str,
        message: &CreateMessage,
        files: &[Attachment],
    ) -> Result<Option<String>, RestError> {
        let body =
            serde_json::to_value(message).map_err(|e| RestError::Unsendable(e.to_string()))?;
        let body = if files.is_empty() {
            Body::Json(&body)
        } else {
            Body::Files(&body, files)
        };
        let answer = self
            .rest
            .call(Method::POST, &format!("/channels/{channel}/messages"), body)
            .await?;
        let id = match &answer["id"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Ok(id.map(|id| format!("{channel}/{id}")))
    }
}

/// The driver for `chat:discord` rows (no spacing per person is needed).
pub fn driver(
    engine: Arc<Engine>,
    rest: Arc<Rest>,
    tuning: chat::outbox::Tuning,
) -> Arc<chat::Delivery<Discord>> {
    Arc::new(chat::Delivery::new(
        engine,
        Discord { rest },
        // Discord's pace is kept by `Rest` for every call we make (its 50/s window and the
        // bucket headers it follows per route): the driver adds no second one.
        Pace::unlimited(),
        tuning,
    ))
}

/// Delivers every due `chat:discord` row now; returns how many Discord accepted.
pub async fn deliver_due(engine: Arc<Engine>, rest: Arc<Rest>) -> anyhow::Result<usize> {
    driver(engine, rest, chat::outbox::Tuning::default())
        .drain()
        .await
}
