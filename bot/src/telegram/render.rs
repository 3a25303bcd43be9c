//! A reply as Telegram requests ([`Part`]s, sent by the outbox driver): plain text (no parse
//! mode, so nothing needs escaping) cut to Telegram's 4096-character limit at line ends, the
//! buttons as an inline keyboard on the last part (callback data = the button's command),
//! attachments as documents (pictures as photos); or, after a button press, the outcome shown in the pressed message.

use mentorops_core::reply::{Attachment, Button};
use serde::{Deserialize, Serialize};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId};
use teloxide::{ApiError, RequestError};
use tracing::warn;

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

/// One Bot API request an outbox row is sent as.
#[derive(Debug, Clone)]
pub enum Part {
    /// `sendMessage`, with the keyboard under it.
    Text {
        text: String,
        markup: Option<InlineKeyboardMarkup>,
    },
    /// `sendDocument`.
    Document(Attachment),
    /// `sendPhoto`: a picture Telegram can show inline (a PNG or JPEG within its photo limits).
    Photo(Attachment),
    /// `editMessageText` of a pressed message (a "not modified" answer counts as done). When
    /// Telegram will not edit it (too old, gone), `fallback` is sent as a new message instead.
    Edit {
        message_id: i32,
        text: String,
        markup: Option<InlineKeyboardMarkup>,
        fallback: Option<String>,
    },
    /// `editMessageReplyMarkup` without a keyboard: takes the pressed message's buttons off.
    ClearKeyboard { message_id: i32 },
}

/// How a reply is shown when it is not a new message (the outbox row's `target`): in the
/// message whose button was pressed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pressed {
    pub message_id: i32,
    /// The message's text as we first sent it (without a refusal a previous press added).
    pub original: Option<String>,
    /// Its keyboard, kept under a refusal.
    pub keyboard: Option<InlineKeyboardMarkup>,
    /// True: show the refusal under the text, keyboard kept; false: show the outcome, the
    /// keyboard replaced by the reply's buttons.
    pub refusal: bool,
    /// True: the outcome takes the message's place (another screen of a list, the next step of
    /// a choice: the command's `Press::Replaces`) instead of going under its text.
    #[serde(default)]
    pub replaces: bool,
}

impl Pressed {
    pub fn of(message: &Message, refusal: bool) -> Self {
        Self {
            message_id: message.id.0,
            original: original_text(message).map(str::to_string),
            keyboard: message.reply_markup().cloned(),
            refusal,
            replaces: false,
        }
    }
}

/// The requests a reply (text, buttons, files) is sent as, or, with `pressed`, shown in the
/// pressed message.
pub fn parts(
    text: &str,
    buttons: &[Button],
    files: Vec<Attachment>,
    pressed: Option<Pressed>,
) -> Vec<Part> {
    let mut out = Vec::new();
    match pressed {
        None => {
            if !text.trim().is_empty() || !buttons.is_empty() || files.is_empty() {
                out.extend(text_parts(text, buttons));
            }
        }
        Some(p) if p.refusal => {
            // Only the person the message was sent to sees a refusal in it.
            if let Some(base) = p.original {
                let why = text.strip_prefix("✗ ").unwrap_or(text);
                out.push(Part::Edit {
                    message_id: p.message_id,
                    text: truncate(&format!("{base}{REFUSED_MARK}{why}"), MAX_TEXT),
                    markup: p.keyboard,
                    fallback: None,
                });
            }
        }
        Some(p) if p.replaces => {
            let (markup, extra) = keyboard(buttons);
            let screen = with_extra_lines(text, &extra);
            out.push(Part::Edit {
                message_id: p.message_id,
                text: truncate(&screen, MAX_TEXT),
                markup,
                fallback: Some(screen),
            });
        }
        Some(p) => {
            let (markup, extra) = keyboard(buttons);
            let outcome = with_extra_lines(text, &extra);
            match p.original.map(|b| (format!("{b}{DONE_MARK}{outcome}"), b)) {
                Some((combined, _)) if utf16_len(&combined) <= MAX_TEXT => out.push(Part::Edit {
                    message_id: p.message_id,
                    text: combined,
                    markup,
                    fallback: Some(outcome),
                }),
                Some((_, base)) => {
                    // Too long to show in place: the keyboard goes, the reply follows below.
                    out.push(Part::Edit {
                        message_id: p.message_id,
                        text: truncate(&format!("{base}{DONE_MARK}done — see below."), MAX_TEXT),
                        markup: None,
                        fallback: None,
                    });
                    out.extend(text_parts(text, buttons));
                }
                None => {
                    out.push(Part::ClearKeyboard {
                        message_id: p.message_id,
                    });
                    out.extend(text_parts(text, buttons));
                }
            }
        }
    }
    out.extend(files.into_iter().map(|f| {
        if is_photo(&f) {
            Part::Photo(f)
        } else {
            Part::Document(f)
        }
    }));
    out
}

/// Telegram's limit on a photo sent by upload (larger ones go as documents).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// Whether a file goes as a photo (shown in the chat) rather than a document: a PNG or JPEG
/// within Telegram's photo size limit.
pub fn is_photo(a: &Attachment) -> bool {
    matches!(a.media_type.as_str(), "image/png" | "image/jpeg") && a.bytes.len() <= MAX_PHOTO_BYTES
}

fn text_parts(text: &str, buttons: &[Button]) -> Vec<Part> {
    let (texts, markup) = message_parts(text, buttons);
    let last = texts.len() - 1;
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| Part::Text {
            text,
            markup: if i == last { markup.clone() } else { None },
        })
        .collect()
}

/// Sends one part to `chat`.
pub async fn send_part(bot: &Bot, chat: ChatId, part: &Part) -> Result<(), RequestError> {
    match part {
        Part::Text { text, markup } => {
            let mut req = bot.send_message(chat, text.clone());
            if let Some(m) = markup {
                req = req.reply_markup(m.clone());
            }
            req.await.map(drop)
        }
        Part::Document(a) => {
            let file = InputFile::memory(a.bytes.clone()).file_name(a.file_name.clone());
            bot.send_document(chat, file).await.map(drop)
        }
        Part::Photo(a) => {
            let file = InputFile::memory(a.bytes.clone()).file_name(a.file_name.clone());
            bot.send_photo(chat, file).await.map(drop)
        }
        Part::Edit {
            message_id,
            text,
            markup,
            fallback,
        } => {
            let mut req = bot.edit_message_text(chat, MessageId(*message_id), text.clone());
            if let Some(m) = markup {
                req = req.reply_markup(m.clone());
            }
            match ignore_not_modified(req.await) {
                // Telegram will not edit it (too old, deleted): the outcome comes as a new
                // message, or, for a refusal, the toast the presser saw is enough.
                Err(RequestError::Api(e)) => {
                    warn!(error = %e, "could not edit the pressed Telegram message");
                    match fallback {
                        Some(f) => {
                            let mut req = bot.send_message(chat, f.clone());
                            if let Some(m) = markup {
                                req = req.reply_markup(m.clone());
                            }
                            req.await.map(drop)
                        }
                        None => Ok(()),
                    }
                }
                other => other,
            }
        }
        Part::ClearKeyboard { message_id } => {
            match ignore_not_modified(
                bot.edit_message_reply_markup(chat, MessageId(*message_id))
                    .await,
            ) {
                Err(RequestError::Api(e)) => {
                    warn!(error = %e, "could not take the keyboard off a pressed Telegram message");
                    Ok(())
                }
                other => other,
            }
        }
    }
}

/// The message text as we first sent it: without the outcome or refusal a previous press
/// appended, so each press shows the message and its own outcome, never a pile of them (a
/// multiple-choice question answered press by press).
fn original_text(message: &Message) -> Option<&str> {
    message.text().map(|t| {
        let t = t.split(REFUSED_MARK).next().unwrap_or(t);
        t.split(DONE_MARK).next().unwrap_or(t)
    })
}

fn ignore_not_modified<T>(r: Result<T, RequestError>) -> Result<(), RequestError> {
    match r {
        Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
        Err(e) => Err(e),
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

    #[test]
    fn pictures_go_as_photos_and_other_files_as_documents() {
        let file = |name: &str, media: &str, size: usize| Attachment {
            file_name: name.into(),
            media_type: media.into(),
            bytes: vec![0; size],
        };
        let out = parts(
            "Overview",
            &[],
            vec![
                file("overview.png", "image/png", 10),
                file("export.csv", "text/csv", 10),
                file("huge.png", "image/png", MAX_PHOTO_BYTES + 1),
            ],
            None,
        );
        assert!(
            matches!(
                out.as_slice(),
                [
                    Part::Text { .. },
                    Part::Photo(_),
                    Part::Document(_),
                    Part::Document(_)
                ]
            ),
            "{out:?}"
        );
    }
}
