//! Updates in, replies out: a message runs its text (with the uploaded document, if any) as a
//! command; a button press runs the button's command as the presser.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use mentorops_core::command::registry::{ArgKind, find};
use mentorops_core::command::{Caller, Engine, Frontend, Outcome, Who, parse, quote};
use mentorops_core::reply::Attachment;
use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::{Document, User};
use tokio::sync::Notify;

use super::render::{self, MAX_CALLBACK_ANSWER};
use super::{PROVIDER, TgBot, menus};

/// The largest upload downloaded (Telegram's bots may fetch up to 20 MB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

pub(super) struct State {
    pub engine: Arc<Engine>,
    pub bot: TgBot,
    /// The bot without the throttle, for file downloads.
    pub raw: Bot,
    /// The bot's username, to tell commands for us from those for other bots in groups.
    pub me: String,
    /// Wakes the outbox delivery when a command queued Telegram messages.
    pub wake: Arc<Notify>,
    /// The command menu last published per private chat.
    pub menus: Mutex<HashMap<u64, Vec<&'static str>>>,
}

impl State {
    pub fn published_menu(&self, chat: u64) -> Option<Vec<&'static str>> {
        self.menus
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&chat)
            .cloned()
    }
    pub fn remember_menu(&self, chat: u64, names: Vec<&'static str>) {
        self.menus
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chat, names);
    }
    fn after(&self, outcome: &Outcome) {
        let chat = mentorops_core::store::outbox::chat_channel(PROVIDER);
        if outcome.queued.iter().any(|m| m.channel == chat) {
            self.wake.notify_one();
        }
    }
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

pub(super) async fn on_message(bot: TgBot, msg: Message, state: Arc<State>) -> anyhow::Result<()> {
    let Some(from) = msg.from.as_ref().filter(|u| !u.is_bot) else {
        return Ok(());
    };
    let chat = msg.chat.id;
    let text = msg.text().or(msg.caption()).map(str::trim);
    if !msg.chat.is_private() {
        // People's data stays out of groups: a command addressed to us gets a pointer to the
        // private chat, anything else is ignored.
        if text.is_some_and(|t| addressed_to(t, &state.me)) {
            bot.send_message(
                chat,
                format!(
                    "I answer in a private chat only: open @{} and send /start.",
                    state.me
                ),
            )
            .await?;
        }
        return Ok(());
    }
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        let hint = if msg.document().is_some() {
            "Send the file again with the command as its caption, for example /user_import."
        } else {
            "I understand commands: send /help to see yours."
        };
        bot.send_message(chat, hint).await?;
        return Ok(());
    };
    let caller = caller_of(from);
    let outcome = match msg.document() {
        Some(doc) if takes_a_file(text) => match download(&state, doc).await {
            Ok(file) => run_with_file(&state.engine, &caller, text, file).await,
            Err(problem) => {
                bot.send_message(chat, format!("✗ {problem}")).await?;
                return Ok(());
            }
        },
        _ => state.engine.handle_text(&caller, text, Vec::new()).await,
    };
    state.after(&outcome);
    match &outcome.result {
        Ok(reply) => render::send_reply(&bot, chat, reply).await?,
        Err(e) => {
            render::send_text(&bot, chat, &format!("✗ {}", e.user_message()), &[]).await?;
        }
    }
    menus::refresh_chat(&state, from.id).await;
    Ok(())
}

pub(super) async fn on_callback(
    bot: TgBot,
    q: CallbackQuery,
    state: Arc<State>,
) -> anyhow::Result<()> {
    let Some(command) = q.data.as_deref().filter(|d| d.starts_with('/')) else {
        answer(
            render::retrying(|| {
                bot.answer_callback_query(q.id.clone())
                    .text("This button does nothing.")
            })
            .await,
        );
        return Ok(());
    };
    let outcome = state
        .engine
        .handle_text(&caller_of(&q.from), command, Vec::new())
        .await;
    state.after(&outcome);
    let message = q.regular_message();
    match &outcome.result {
        Ok(reply) => {
            let short = render::truncate(
                reply.text.lines().next().unwrap_or("Done."),
                MAX_CALLBACK_ANSWER,
            );
            answer(
                render::retrying(|| bot.answer_callback_query(q.id.clone()).text(short.clone()))
                    .await,
            );
            match message {
                Some(m) => render::show_outcome(&bot, m, reply).await?,
                None => render::send_reply(&bot, ChatId::from(q.from.id), reply).await?,
            }
        }
        Err(e) => {
            let why = e.user_message();
            let short = render::truncate(&why, MAX_CALLBACK_ANSWER);
            answer(
                render::retrying(|| {
                    bot.answer_callback_query(q.id.clone())
                        .text(short.clone())
                        .show_alert(true)
                })
                .await,
            );
            // Only the person the message was sent to sees the refusal in it; anyone else's
            // press leaves the message as it was.
            if let Some(m) = message
                && m.chat.id == ChatId::from(q.from.id)
            {
                render::show_refusal(&bot, m, &why).await?;
            }
        }
    }
    if message.is_none_or(|m| m.chat.is_private()) {
        menus::refresh_chat(&state, q.from.id).await;
    }
    Ok(())
}

/// A callback answer that did not go through (the query is too old, say) is logged: the
/// message is still edited to show the outcome.
fn answer<T>(result: Result<T, teloxide::RequestError>) {
    if let Err(e) = result {
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

/// Runs the caption with the upload. The file argument may be left out (`/user_import`): it is
/// then filled with the upload's name, as the console fills it with a path.
async fn run_with_file(engine: &Engine, caller: &Caller, text: &str, file: Attachment) -> Outcome {
    let parsed = match parse(text) {
        Ok(inv) => Ok(inv),
        Err(first) => file_arg(text)
            .and_then(|arg| parse(&format!("{text} {arg}:{}", quote(&file.file_name))).ok())
            .ok_or(first),
    };
    match parsed {
        Ok(mut inv) => {
            inv.attachments = vec![file];
            engine.run(caller, inv).await
        }
        Err(e) => Outcome {
            result: Err(e),
            queued: Vec::new(),
        },
    }
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
    let mut stream = state.raw.download_file_stream(&file.path);
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
