//! Telegram as a [`Platform`] of the chat delivery driver (`crate::chat::outbox`): how an
//! outbox row becomes Bot API requests, and what Telegram's answers mean. Replies to commands
//! and messages to people go through here alike.

use std::sync::Arc;

use mentorops_core::command::Engine;
use mentorops_core::reply::Attachment;
use mentorops_core::store::outbox::Message;
use teloxide::payloads::SendMessageSetters;
use teloxide::requests::Requester;
use teloxide::types::ChatId;
use teloxide::{ApiError, Bot, RequestError};

use super::PROVIDER;
use super::render::{self, Part, Pressed};
use crate::chat::pace::Pace;
use crate::chat::{self, SendError};

/// Telegram allows about 30 messages a second in all and one a second per chat. The outbox
/// sends at most this many a second per process, evenly spread (`chat.telegram_per_second`).
pub const OUTBOX_PER_SECOND: usize = mentorops_core::settings::TELEGRAM_PER_SECOND;

pub struct Telegram {
    /// The plain client (our own pacing; teloxide's `Throttle` let bursts of 40–50/s through).
    pub bot: Bot,
}

impl chat::Platform for Telegram {
    type Part = Part;
    const NAME: &'static str = "Telegram";
    const PROVIDER: &'static str = PROVIDER;

    fn parts(&self, row: &Message, files: Vec<Attachment>) -> Result<Vec<Part>, String> {
        row.recipient
            .parse::<i64>()
            .map_err(|_| format!("'{}' is not a Telegram chat id", row.recipient))?;
        let pressed = match row.target.as_deref() {
            None => None,
            Some(t) => Some(
                serde_json::from_str::<Pressed>(t)
                    .map_err(|e| format!("unreadable target of a Telegram reply: {e}"))?,
            ),
        };
        Ok(render::parts(&row.body_text, &row.buttons, files, pressed))
    }

    async fn send(&self, row: &Message, part: &Part) -> Result<Option<String>, SendError> {
        let chat = ChatId(row.recipient.parse::<i64>().unwrap_or_default());
        match part {
            // A text part is sent here rather than by `render::send_part`, to keep the id
            // Telegram gave it: the one an edit names (docs/domain.md#edited-messages).
            Part::Text { text, markup } => {
                let mut req = self.bot.send_message(chat, text.clone());
                if let Some(m) = markup {
                    req = req.reply_markup(m.clone());
                }
                let sent = req.await.map_err(classify)?;
                Ok(Some(sent.id.0.to_string()))
            }
            other => render::send_part(&self.bot, chat, other)
                .await
                .map(|()| None)
                .map_err(classify),
        }
    }

    fn edit(&self, row: &Message, earlier: &Message, sent_as: &str) -> Result<Vec<Part>, String> {
        let message_id = sent_as
            .parse::<i32>()
            .map_err(|_| format!("'{sent_as}' is not a Telegram message id"))?;
        // The edit's text is the earlier message's with a note below; a message sent in parts
        // is changed in its last part (the one holding the buttons).
        let text = match row.body_text.strip_prefix(&earlier.body_text) {
            Some(note) => {
                let (parts, _) = render::message_parts(&earlier.body_text, &earlier.buttons);
                format!(
                    "{}{note}",
                    parts.last().map(String::as_str).unwrap_or_default()
                )
            }
            None => row.body_text.clone(),
        };
        // No keyboard: `editMessageText` without one takes the buttons off. A refusal (the
        // message is too old to edit, or gone) is logged and given up by `send_part`.
        Ok(vec![Part::Edit {
            message_id,
            text: render::truncate(&text, render::MAX_TEXT),
            markup: None,
            fallback: None,
        }])
    }
}

/// What a failed Bot API request means for the row.
pub fn classify(e: RequestError) -> SendError {
    match e {
        RequestError::RetryAfter(after) => SendError::RateLimited(after.duration()),
        // An error Telegram did not name (a 5xx among them) may pass; the named ones (blocked,
        // chat not found, deactivated user, bad request) will not.
        RequestError::Api(ApiError::Unknown(text)) => SendError::Later(text),
        RequestError::Api(e) => SendError::Refused(e.to_string()),
        RequestError::MigrateToChatId(_) => {
            SendError::Refused("the group became a supergroup".into())
        }
        // The network, a timeout, an answer that is not the Bot API's: Telegram may not have
        // the message; send it again.
        other => SendError::Later(other.to_string()),
    }
}

/// The driver for `chat:telegram` rows with production's pace.
pub fn driver(
    engine: Arc<Engine>,
    bot: Bot,
    tuning: chat::outbox::Tuning,
    per_second: usize,
) -> Arc<chat::Delivery<Telegram>> {
    Arc::new(chat::Delivery::new(
        engine,
        Telegram { bot },
        Pace::new(per_second, std::time::Duration::from_secs(1)),
        tuning,
    ))
}

/// Delivers every due `chat:telegram` row now; returns how many Telegram accepted.
pub async fn deliver_due(engine: Arc<Engine>, bot: Bot) -> anyhow::Result<usize> {
    driver(
        engine,
        bot,
        chat::outbox::Tuning::default(),
        OUTBOX_PER_SECOND,
    )
    .drain()
    .await
}
