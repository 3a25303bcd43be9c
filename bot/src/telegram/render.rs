//! A `Reply` as Telegram messages: plain text (no parse mode, so nothing needs escaping) cut to
//! Telegram's 4096-character limit at line ends, the buttons as an inline keyboard on the last
//! part (callback data = the button's command), attachments as documents.

use std::future::Future;
use std::time::Duration;

use mentorops_core::reply::{Button, Reply};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile};
use teloxide::{ApiError, RequestError};
use tracing::warn;

use super::TgBot;

/// Telegram's limit on a message text, in UTF-16 code units.
pub const MAX_TEXT: usize = 4096;

pub use crate::text::with_extra_lines;

/// Parts that fit in Telegram messages (lengths in UTF-16 code units, as Telegram counts).
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    crate::text::split(text, max, char::len_utf16)
}
/// Telegram's limit on a button's callback data, in bytes.
pub const MAX_CALLBACK_DATA: usize = 64;
/// Telegram's limit on the text of an `answerCallbackQuery`.
pub const MAX_CALLBACK_ANSWER: usize = 200;

/// What marks the outcome of a press appended to the message that held the button.
pub const DONE_MARK: &str = "\n\n✅ ";
pub const REFUSED_MARK: &str = "\n\n⚠️ ";

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `s` cut to `max` UTF-16 units, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() + 1 > max {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

/// The inline keyboard (two buttons a row) and, for a command too long for callback data, a
/// line telling what to send instead.
pub fn keyboard(buttons: &[Button]) -> (Option<InlineKeyboardMarkup>, Vec<String>) {
    let mut fitting = Vec::new();
    let mut as_text = Vec::new();
    for b in buttons {
        if b.command.len() <= MAX_CALLBACK_DATA {
            fitting.push(InlineKeyboardButton::callback(
                b.label.clone(),
                b.command.clone(),
            ));
        } else {
            warn!(
                bytes = b.command.len(),
                "a button's command is longer than Telegram's 64-byte callback data; shown as text"
            );
            as_text.push(format!("{}: send {}", b.label, b.command));
        }
    }
    let rows: Vec<Vec<InlineKeyboardButton>> = fitting.chunks(2).map(<[_]>::to_vec).collect();
    let markup = (!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows));
    (markup, as_text)
}

/// The messages a text with buttons becomes: the parts to send (never none) and the keyboard
/// that goes under the last one.
pub fn message_parts(
    text: &str,
    buttons: &[Button],
) -> (Vec<String>, Option<InlineKeyboardMarkup>) {
    let (markup, extra) = keyboard(buttons);
    let mut parts = split_text(&with_extra_lines(text, &extra), MAX_TEXT);
    if parts.is_empty() {
        parts.push(if markup.is_some() { "Choose:" } else { "Done." }.to_string());
    }
    (parts, markup)
}

/// Sends a text (split if long) with the buttons under its last part.
pub async fn send_text(
    bot: &TgBot,
    chat: ChatId,
    text: &str,
    buttons: &[Button],
) -> Result<(), RequestError> {
    let (parts, markup) = message_parts(text, buttons);
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        let mut req = bot.send_message(chat, part);
        if i == last
            && let Some(m) = &markup
        {
            req = req.reply_markup(m.clone());
        }
        req.await?;
    }
    Ok(())
}

/// Sends a whole reply: its text and buttons, then its attachments as documents.
pub async fn send_reply(bot: &TgBot, chat: ChatId, reply: &Reply) -> Result<(), RequestError> {
    if !reply.text.trim().is_empty() || !reply.buttons.is_empty() || reply.attachments.is_empty() {
        send_text(bot, chat, &reply.text, &reply.buttons).await?;
    }
    send_attachments(bot, chat, reply).await
}

async fn send_attachments(bot: &TgBot, chat: ChatId, reply: &Reply) -> Result<(), RequestError> {
    for a in &reply.attachments {
        let file = InputFile::memory(a.bytes.clone()).file_name(a.file_name.clone());
        bot.send_document(chat, file).await?;
    }
    Ok(())
}

/// The message text as we first sent it: without the refusal a previous press appended.
fn original_text(message: &Message) -> Option<&str> {
    message
        .text()
        .map(|t| t.split(REFUSED_MARK).next().unwrap_or(t))
}

/// After a press that succeeded: the message shows the outcome under its text, and its
/// keyboard is replaced by the reply's buttons (none: the keyboard goes).
pub async fn show_outcome(
    bot: &TgBot,
    message: &Message,
    reply: &Reply,
) -> Result<(), RequestError> {
    let (markup, extra) = keyboard(&reply.buttons);
    let outcome = with_extra_lines(&reply.text, &extra);
    let base = original_text(message);
    let combined = base.map(|b| format!("{b}{DONE_MARK}{outcome}"));
    match combined {
        Some(text) if utf16_len(&text) <= MAX_TEXT => {
            if let Err(e) = edit_text(bot, message, &text, markup.as_ref()).await {
                warn!(error = %e, "could not edit the pressed Telegram message; sending the outcome");
                return send_reply(bot, message.chat.id, reply).await;
            }
            send_attachments(bot, message.chat.id, reply).await
        }
        _ => {
            // Too long to show in place (or no text): take the keyboard off, send the reply.
            let result = match base {
                Some(b) => {
                    let text = truncate(&format!("{b}{DONE_MARK}done — see below."), MAX_TEXT);
                    retrying(|| bot.edit_message_text(message.chat.id, message.id, text.clone()))
                        .await
                        .map(drop)
                }
                None => retrying(|| bot.edit_message_reply_markup(message.chat.id, message.id))
                    .await
                    .map(drop),
            };
            if let Err(e) = ignore_not_modified(result) {
                warn!(error = %e, "could not edit the pressed Telegram message");
            }
            send_reply(bot, message.chat.id, reply).await
        }
    }
}

/// After a press the core refused, by the person the message was sent to: the refusal shows
/// under the text and the keyboard stays.
pub async fn show_refusal(bot: &TgBot, message: &Message, why: &str) -> Result<(), RequestError> {
    let Some(base) = original_text(message) else {
        return Ok(());
    };
    let text = truncate(&format!("{base}{REFUSED_MARK}{why}"), MAX_TEXT);
    edit_text(bot, message, &text, message.reply_markup()).await
}

/// Replaces the message's text and keyboard (`markup`; None takes it off), retrying a 429; a
/// "not modified" answer counts as done.
async fn edit_text(
    bot: &TgBot,
    message: &Message,
    text: &str,
    markup: Option<&InlineKeyboardMarkup>,
) -> Result<(), RequestError> {
    let result = retrying(|| {
        let mut req = bot.edit_message_text(message.chat.id, message.id, text.to_string());
        if let Some(m) = markup {
            req = req.reply_markup(m.clone());
        }
        req
    })
    .await;
    ignore_not_modified(result)
}

fn ignore_not_modified<T>(r: Result<T, RequestError>) -> Result<(), RequestError> {
    match r {
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// For requests the throttle does not retry (edits, callback answers): honours a 429's
/// `retry_after`, up to three times.
pub async fn retrying<F, R, T>(mut make: F) -> Result<T, RequestError>
where
    F: FnMut() -> R,
    R: std::future::IntoFuture<Output = Result<T, RequestError>>,
    R::IntoFuture: Future<Output = Result<T, RequestError>>,
{
    let mut tries = 0;
    loop {
        match make().await {
            Err(RequestError::RetryAfter(after)) if tries < 3 => {
                tries += 1;
                tokio::time::sleep(after.duration().max(Duration::from_millis(50))).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_line_ends_within_the_limit() {
        let line = "x".repeat(30);
        let text = vec![line.clone(); 10].join("\n");
        let parts = split_text(&text, 100);
        assert!(parts.iter().all(|p| utf16_len(p) <= 100), "{parts:?}");
        assert_eq!(parts.join("\n"), text);
        let long = "é".repeat(250);
        let parts = split_text(&long, 100);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), long);
        assert!(split_text("  \n", 100).is_empty());
    }

    #[test]
    fn buttons_longer_than_callback_data_become_text() {
        let short = Button {
            label: "Accept".into(),
            command: "/accept 42".into(),
        };
        let long = Button {
            label: "Apply".into(),
            command: format!("/autopair Spring confirm:{}", "K".repeat(60)),
        };
        let (markup, extra) = keyboard(&[short, long.clone()]);
        let Some(markup) = markup else {
            panic!("no keyboard")
        };
        assert_eq!(markup.inline_keyboard.len(), 1);
        assert_eq!(markup.inline_keyboard[0].len(), 1);
        assert_eq!(extra, [format!("Apply: send {}", long.command)]);
        assert_eq!(truncate("abcdef", 4), "abc…");
    }
}
