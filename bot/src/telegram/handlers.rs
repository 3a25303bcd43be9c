//! Updates in, replies out: a recorded update (docs/chat-edge.md) is run from the inbox, once —
//! a message runs its text (with the uploaded document, if any) as a command, a button press
//! runs the button's command as the presser — and the reply is queued in the outbox in the
//! command's own transaction, for the delivery driver to send.

use std::sync::Arc;

use futures::StreamExt;
use mentorops_core::Error;
use mentorops_core::command::registry::find;
use mentorops_core::command::spec::ArgKind;
use mentorops_core::command::{
    Caller, Engine, Frontend, Inbound, Invocation, Outcome, ReplyRoute, ReplyTarget, Who, parse,
    quote,
};
use mentorops_core::reply::{Attachment, Reply};
use mentorops_core::store::inbox;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{Document, UpdateKind, User};
use tokio::sync::Notify;
use tracing::warn;

use super::render::{self, MAX_CALLBACK_ANSWER, Pressed};
use super::{PROVIDER, menus};
use crate::chat::lanes::{self, Step};

/// The largest upload downloaded (Telegram's bots may fetch up to 20 MB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

pub(super) struct State {
    pub engine: Arc<Engine>,
    /// The client for everything but polling (shorter timeout).
    pub bot: Bot,
    /// The bot's username, to tell commands for us from those for other bots.
    pub me: String,
    /// Wakes this process's outbox delivery when a command queued a Telegram message.
    pub wake_delivery: Arc<Notify>,
    /// The command menu last published per private chat.
    pub menus: menus::Published,
    /// How long an update is ours once claimed, and how often it is tried before giving up.
    pub lease: chrono::Duration,
    pub max_attempts: i64,
}

/// The Telegram user as the core's caller: account id = the numeric user id.
pub fn caller_of(user: &User) -> Caller {
    Caller {
        frontend: Frontend::Telegram,
        who: Who::Account {
            provider: PROVIDER.into(),
            account_id: user.id.0.to_string(),
            handle: user.username.clone(),
        },
    }
}

/// The lane of an update, as the webhook and the poller record it: its chat (a press: the chat
/// of the pressed message, else the presser's private chat), so one chat's updates run in order.
pub fn lane_of(update: &serde_json::Value) -> String {
    let chat = update["message"]["chat"]["id"]
        .as_i64()
        .or_else(|| update["edited_message"]["chat"]["id"].as_i64())
        .or_else(|| update["callback_query"]["message"]["chat"]["id"].as_i64())
        .or_else(|| update["callback_query"]["from"]["id"].as_i64());
    chat.map(|c| c.to_string()).unwrap_or_else(|| "0".into())
}

/// The recorded updates of this bot, run lane by lane from the inbox (any process may run
/// them; each runs once).
pub(super) struct Updates(pub Arc<State>);

/// What became of one update.
enum Ran {
    /// Recorded as handled (run, refused, answered, or handled before).
    Done,
    /// Our side failed: run it again later.
    Again(String),
}

impl lanes::Source for Updates {
    type Item = inbox::Update;

    fn lane(item: &inbox::Update) -> String {
        item.key.lane.clone()
    }

    async fn claim_heads(&self, limit: usize) -> anyhow::Result<Vec<inbox::Update>> {
        let engine = &self.0.engine;
        let mut c = engine.db().pool().acquire().await?;
        Ok(inbox::claim_heads(
            &mut c,
            engine.db().backend(),
            PROVIDER,
            engine.now(),
            self.0.lease,
            limit as i64,
        )
        .await?)
    }

    async fn claim_next(&self, lane: &str) -> anyhow::Result<Option<inbox::Update>> {
        let engine = &self.0.engine;
        let mut c = engine.db().pool().acquire().await?;
        Ok(inbox::claim_lane(
            &mut c,
            engine.db().backend(),
            PROVIDER,
            lane,
            engine.now(),
            self.0.lease,
        )
        .await?)
    }

    async fn work(&self, item: inbox::Update) -> Step {
        let state = &self.0;
        let inbound = Inbound {
            key: item.key.clone(),
            received: true,
            reply: None,
        };
        if item.attempts > state.max_attempts {
            // Claimed this often and never finished (the process died running it each
            // time): a poison update. Answered, recorded, and the chat goes on.
            return give_up(
                state,
                &inbound,
                &item,
                "claimed too often without finishing",
            )
            .await;
        }
        let unreadable = |e: &dyn std::fmt::Display| {
            warn!(error = %e, update = %item.key.update_key, "a Telegram update could not be read; answered and skipped");
            let chat = item.key.lane.parse::<i64>().ok().filter(|c| *c != 0);
            chat.map(|c| {
                (
                    c.to_string(),
                    "✗ I could not read that message: send a command as plain text, for example /help.".to_string(),
                )
            })
        };
        let ran = match serde_json::from_str::<Update>(&item.payload) {
            Ok(update) => match update.kind {
                UpdateKind::Message(msg) => on_message(state, inbound.clone(), msg).await,
                UpdateKind::CallbackQuery(q) => on_callback(state, inbound.clone(), q).await,
                // Not logged: what people typed stays out of the log.
                UpdateKind::Error(_) => {
                    let answer = unreadable(&"an update of a kind this bot does not read");
                    settle(
                        state,
                        &inbound,
                        answer.as_ref().map(|(c, t)| (c.as_str(), t.clone())),
                    )
                    .await
                }
                // Nothing else is asked for (allowed_updates); whatever comes is recorded.
                _ => settle(state, &inbound, None).await,
            },
            Err(e) => {
                // serde's words may quote the update: log where it broke, not what it said.
                let answer = unreadable(&format!(
                    "{:?} error at line {} column {}",
                    e.classify(),
                    e.line(),
                    e.column()
                ));
                settle(
                    state,
                    &inbound,
                    answer.as_ref().map(|(c, t)| (c.as_str(), t.clone())),
                )
                .await
            }
        };
        match ran {
            Ran::Done => Step::Next,
            Ran::Again(why) if item.attempts >= state.max_attempts => {
                give_up(state, &inbound, &item, &why).await
            }
            Ran::Again(why) => {
                let wait = chrono::Duration::milliseconds(500 << item.attempts.clamp(0, 6));
                warn!(update = %item.key.update_key, error = %why, "a Telegram update failed on our side; will run it again");
                if let Ok(mut c) = state.engine.db().pool().acquire().await {
                    let next = state.engine.now() + wait;
                    if let Err(e) = inbox::retry_at(&mut c, item.id, next, &why).await {
                        warn!(error = %e, "could not reschedule a Telegram update; its lease will bring it back");
                    }
                }
                Step::Hold
            }
        }
    }
}

/// An update that failed on our side `max_attempts` times: the chat is told, the update is
/// recorded as handled, and the chat's later updates go on.
async fn give_up(state: &State, inbound: &Inbound, item: &inbox::Update, why: &str) -> Step {
    warn!(update = %item.key.update_key, error = %why, "a Telegram update kept failing; answered with an apology and skipped");
    let reply = item
        .key
        .lane
        .parse::<i64>()
        .ok()
        .filter(|c| *c != 0)
        .map(|_| route(&item.key.lane, Show::NewMessage, Show::NewMessage));
    let inbound = Inbound {
        reply,
        ..inbound.clone()
    };
    match state.engine.give_up(&inbound).await {
        Ok(_) => {
            state.wake_delivery.notify_one();
            Step::Next
        }
        Err(e) => {
            warn!(error = %e, "could not record a Telegram update as given up");
            Step::Hold
        }
    }
}

/// How a reply is shown (the core's [`ReplyRoute`] in Telegram's words).
enum Show {
    NewMessage,
    In(Pressed),
    Nowhere,
}

fn route(chat: &str, ok: Show, refused: Show) -> ReplyRoute {
    let target = |s: Show| match s {
        Show::NewMessage => ReplyTarget::New,
        Show::In(p) => ReplyTarget::As(serde_json::to_string(&p).unwrap_or_default()),
        Show::Nowhere => ReplyTarget::Nowhere,
    };
    ReplyRoute {
        channel: mentorops_core::store::outbox::chat_channel(PROVIDER),
        recipient: chat.to_string(),
        on_success: target(ok),
        on_refusal: target(refused),
    }
}

/// Records the update as handled with this answer (or none), nothing run.
async fn settle(state: &State, inbound: &Inbound, answer: Option<(&str, String)>) -> Ran {
    let (inbound, reply) = match answer {
        Some((chat, text)) => (
            Inbound {
                reply: Some(route(chat, Show::NewMessage, Show::NewMessage)),
                ..inbound.clone()
            },
            Reply::text(text),
        ),
        None => (inbound.clone(), Reply::default()),
    };
    match state.engine.settle(&inbound, &reply, true).await {
        Ok(_) => {
            state.wake_delivery.notify_one();
            Ran::Done
        }
        Err(e) => Ran::Again(e.to_string()),
    }
}

/// What the outcome of a command means for the update.
fn ran(state: &State, outcome: &Outcome) -> Ran {
    match &outcome.result {
        Err(Error::Internal(detail)) => Ran::Again(detail.clone()),
        Err(Error::Duplicate) => Ran::Done,
        _ => {
            state.wake_delivery.notify_one();
            Ran::Done
        }
    }
}

async fn on_message(state: &State, inbound: Inbound, msg: Message) -> Ran {
    let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot) else {
        return settle(state, &inbound, None).await;
    };
    let chat = msg.chat.id.0.to_string();
    let text = msg.text().or(msg.caption()).map(str::trim);
    if !msg.chat.is_private() {
        // People's data stays out of groups: a command addressed to us gets a pointer to the
        // private chat, anything else is ignored.
        let answer = text.filter(|t| addressed_to(t, &state.me)).map(|_| {
            (
                chat.as_str(),
                format!(
                    "I answer in a private chat only: open @{} and send /start.",
                    state.me
                ),
            )
        });
        return settle(state, &inbound, answer).await;
    }
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        let hint = if msg.document().is_some() {
            "Send the file again with the command as its caption, for example /user_import."
        } else {
            "I understand commands: send /help to see yours."
        };
        return settle(state, &inbound, Some((&chat, hint.to_string()))).await;
    };
    if text.starts_with('/') && !addressed_to(text, &state.me) {
        // `/export@otherbot`: for another bot, even in a private chat.
        return settle(state, &inbound, None).await;
    }
    let inbound = Inbound {
        reply: Some(route(&chat, Show::NewMessage, Show::NewMessage)),
        ..inbound
    };
    let caller = caller_of(from);
    let parsed = match msg.document() {
        Some(doc) if takes_a_file(text) => match download(state, doc).await {
            Ok(file) => with_file(text, file),
            Err(problem) => {
                return settle(state, &inbound, Some((&chat, format!("✗ {problem}")))).await;
            }
        },
        _ => parse(text),
    };
    let outcome = state.engine.run_inbound(&caller, parsed, &inbound).await;
    let result = ran(state, &outcome);
    menus::refresh_chat(&state.bot, &state.engine, &state.menus, from.id).await;
    result
}

async fn on_callback(state: &State, inbound: Inbound, q: CallbackQuery) -> Ran {
    let Some(command) = q.data.as_deref().filter(|d| d.starts_with('/')) else {
        answer(&state.bot, &q, Some("This button does nothing."), false).await;
        return settle(state, &inbound, None).await;
    };
    let message = q.regular_message();
    let presser_chat = ChatId::from(q.from.id);
    let replaces = parse(command).is_ok_and(|inv| inv.replaces_pressed());
    let (chat, ok, refused) = match message {
        Some(m) => (
            m.chat.id.0.to_string(),
            Show::In(Pressed {
                replaces,
                ..Pressed::of(m, false)
            }),
            // Only the person the message was sent to sees the refusal in it; anyone else's
            // press leaves the message as it was (they get the alert alone).
            if m.chat.id == presser_chat {
                Show::In(Pressed::of(m, true))
            } else {
                Show::Nowhere
            },
        ),
        None => (presser_chat.0.to_string(), Show::NewMessage, Show::Nowhere),
    };
    let inbound = Inbound {
        reply: Some(route(&chat, ok, refused)),
        ..inbound
    };
    let outcome = state
        .engine
        .run_inbound(&caller_of(&q.from), parse(command), &inbound)
        .await;
    match &outcome.result {
        Ok(reply) => {
            let short = render::truncate(
                reply.text.lines().next().unwrap_or("Done."),
                MAX_CALLBACK_ANSWER,
            );
            answer(&state.bot, &q, Some(&short), false).await;
        }
        Err(Error::Internal(_)) => {}
        Err(Error::Duplicate) => answer(&state.bot, &q, None, false).await,
        Err(e) => {
            let why = render::truncate(&e.user_message(), MAX_CALLBACK_ANSWER);
            answer(&state.bot, &q, Some(&why), true).await;
        }
    }
    let result = ran(state, &outcome);
    if message.is_none_or(|m| m.chat.is_private()) {
        menus::refresh_chat(&state.bot, &state.engine, &state.menus, q.from.id).await;
    }
    result
}

/// The toast (or, for a refusal, the alert) a press shows. Best effort, tried once: the press is
/// answered for good by the outbox message it causes, and an old query cannot be answered.
async fn answer(bot: &Bot, q: &CallbackQuery, text: Option<&str>, alert: bool) {
    let mut req = bot.answer_callback_query(q.id.clone());
    if let Some(t) = text {
        req = req.text(t.to_string()).show_alert(alert);
    }
    if let Err(e) = req.await {
        tracing::warn!(error = %e, "could not answer a Telegram button press");
    }
}

/// `/cmd` or `/cmd@us` (not `/cmd@otherbot`).
fn addressed_to(text: &str, me: &str) -> bool {
    let Some(rest) = text.strip_prefix('/') else {
        return false;
    };
    let head = rest.split(char::is_whitespace).next().unwrap_or_default();
    match head.split_once('@') {
        Some((_, bot)) => bot.eq_ignore_ascii_case(me),
        None => true,
    }
}

/// The command name of a text, as the parser reads it (`/Name@bot args` → `name`).
fn command_name(text: &str) -> String {
    text.trim_start_matches('/')
        .split(|c: char| c.is_whitespace() || c == '@')
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// The file argument of the command named in `text`, if it takes one (only then is an upload
/// downloaded).
fn file_arg(text: &str) -> Option<&'static str> {
    find(&command_name(text))?
        .args
        .iter()
        .find(|a| a.kind == ArgKind::Attachment)
        .map(|a| a.name)
}

fn takes_a_file(text: &str) -> bool {
    file_arg(text).is_some()
}

/// The caption with the upload. The file argument may be left out (`/user_import`): it is
/// then filled with the upload's name, as the console fills it with a path.
fn with_file(text: &str, file: Attachment) -> mentorops_core::Result<Invocation> {
    let parsed = match parse(text) {
        Ok(inv) => Ok(inv),
        Err(first) => file_arg(text)
            .and_then(|arg| parse(&format!("{text} {arg}:{}", quote(&file.file_name))).ok())
            .ok_or(first),
    };
    parsed.map(|mut inv| {
        inv.attachments = vec![file];
        inv
    })
}

/// getFile, then the download from the configured Bot API URL; at most MAX_UPLOAD_BYTES.
async fn download(state: &State, doc: &Document) -> Result<Attachment, String> {
    let too_big = || {
        format!(
            "the file is too big: the limit is {} MB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        )
    };
    if doc.file.size as usize > MAX_UPLOAD_BYTES {
        return Err(too_big());
    }
    let file = state.bot.get_file(doc.file.id.clone()).await.map_err(|e| {
        tracing::warn!(error = %e, "getFile failed");
        "Telegram did not hand over the file: please send it again".to_string()
    })?;
    let mut bytes = Vec::new();
    let mut stream = state.bot.download_file_stream(&file.path);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::warn!(error = %e, "file download failed");
            "the file could not be downloaded from Telegram: please send it again".to_string()
        })?;
        if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Attachment {
        file_name: doc
            .file_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "upload.csv".into()),
        media_type: doc
            .mime_type
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".into()),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_for_other_bots_are_not_ours() {
        assert!(addressed_to("/help", "mentorops_bot"));
        assert!(addressed_to("/help@MentorOps_Bot x", "mentorops_bot"));
        assert!(!addressed_to("/help@other_bot", "mentorops_bot"));
        assert!(!addressed_to("hello", "mentorops_bot"));
        assert!(takes_a_file("/user_import"));
        assert!(takes_a_file("/user_import@mentorops_bot file:x.csv"));
        assert!(!takes_a_file("/status a@b.c A"));
    }
}
