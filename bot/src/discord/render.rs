//! A `Reply` as the data of an interaction response: the text cut to Discord's 2000-character
//! limit, the buttons as components (custom_id = the button's command), never a ping.

use mentorops_core::reply::{Button, Reply};
use serenity::all::ButtonStyle;
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateInteractionResponseMessage,
};
use tracing::warn;

use super::commands::clip;

/// Discord's limit on a message's content, in characters.
pub const MAX_CONTENT: usize = 2000;

pub use crate::text::with_extra_lines;

/// Parts that fit in Discord messages (lengths in characters).
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    crate::text::split(text, max, |_| 1)
}
/// Discord's limit on a component's custom_id.
pub const MAX_CUSTOM_ID: usize = 100;
/// Discord's limit on a button's label.
pub const MAX_LABEL: usize = 80;
/// Buttons per action row, and action rows per message.
pub const BUTTONS_PER_ROW: usize = 5;
pub const MAX_ROWS: usize = 5;

/// What marks the outcome of a press appended to the message that held the button.
pub const DONE_MARK: &str = "\n\n✅ ";
pub const REFUSED_MARK: &str = "✗ ";

/// The action rows for the buttons, and a line for each button whose command does not fit a
/// custom_id (or the 25 buttons a message can hold) telling what to type instead.
pub fn components(buttons: &[Button]) -> (Vec<CreateActionRow>, Vec<String>) {
    let mut fitting = Vec::new();
    let mut as_text = Vec::new();
    for b in buttons {
        if b.command.chars().count() <= MAX_CUSTOM_ID && fitting.len() < BUTTONS_PER_ROW * MAX_ROWS
        {
            fitting.push(
                CreateButton::new(b.command.clone())
                    .label(clip(&b.label, MAX_LABEL))
                    .style(ButtonStyle::Primary),
            );
        } else {
            warn!(
                chars = b.command.chars().count(),
                "a button's command does not fit a Discord custom_id; shown as text"
            );
            as_text.push(format!("{}: send {}", b.label, b.command));
        }
    }
    let rows = fitting
        .chunks(BUTTONS_PER_ROW)
        .map(|c| CreateActionRow::Buttons(c.to_vec()))
        .collect();
    (rows, as_text)
}

/// The text of a reply with the lines for buttons that could not be buttons and for
/// attachments (not sent on Discord yet), cut to [`MAX_CONTENT`].
pub fn content(text: &str, extra: &[String]) -> String {
    let mut out = with_extra_lines(text, extra);
    if out.trim().is_empty() {
        out = "Done.".to_string();
    }
    clip(&out, MAX_CONTENT)
}

fn attachment_lines(reply: &Reply) -> Vec<String> {
    reply
        .attachments
        .iter()
        .map(|a| {
            format!(
                "📎 {} ({} bytes) cannot be sent on Discord yet: use the console or Telegram for files.",
                a.file_name,
                a.bytes.len()
            )
        })
        .collect()
}

/// A message nobody gets pinged by.
fn message() -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new().allowed_mentions(CreateAllowedMentions::new())
}

/// The answer to a command: only the caller sees it.
pub fn reply_message(reply: &Reply) -> CreateInteractionResponseMessage {
    let (rows, mut extra) = components(&reply.buttons);
    extra.extend(attachment_lines(reply));
    message()
        .ephemeral(true)
        .content(content(&reply.text, &extra))
        .components(rows)
}

/// A refusal or an error, for the caller only.
pub fn refusal_message(why: &str) -> CreateInteractionResponseMessage {
    message()
        .ephemeral(true)
        .content(clip(&format!("{REFUSED_MARK}{why}"), MAX_CONTENT))
        .components(Vec::new())
}

/// The message that held a pressed button, with the outcome appended (or, when both do not fit
/// in 2000 characters, the outcome alone) and the old buttons replaced by the reply's own (none,
/// usually).
pub fn outcome_message(original: &str, reply: &Reply) -> CreateInteractionResponseMessage {
    let (rows, mut extra) = components(&reply.buttons);
    extra.extend(attachment_lines(reply));
    let outcome = content(&reply.text, &extra);
    let combined = format!("{}{DONE_MARK}{outcome}", original.trim_end());
    // Too long together (a questionnaire answered press by press): the outcome replaces the
    // text, so the newest part (and its buttons' question) is never the part cut off.
    let text = if original.trim().is_empty() || combined.chars().count() > MAX_CONTENT {
        outcome
    } else {
        combined
    };
    message().content(clip(&text, MAX_CONTENT)).components(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(m: &CreateInteractionResponseMessage) -> serde_json::Value {
        serde_json::to_value(m).unwrap_or_default()
    }

    #[test]
    fn replies_are_ephemeral_cut_and_carry_their_commands() {
        let long = "x".repeat(3000);
        let reply = Reply::text(long)
            .with_button("Accept", "/accept 3")
            .with_button("Too long", format!("/revert 1 reason:{}", "y".repeat(120)));
        let j = json(&reply_message(&reply));
        assert_eq!(j["flags"], 64);
        assert_eq!(j["content"].as_str().map(|s| s.chars().count()), Some(2000));
        assert_eq!(
            j["components"][0]["components"][0]["custom_id"],
            "/accept 3"
        );
        assert_eq!(j["components"][0]["components"][0]["label"], "Accept");
        assert_eq!(
            j["components"][0]["components"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(j["allowed_mentions"]["parse"], serde_json::json!([]));
    }

    #[test]
    fn long_texts_are_split_at_line_ends() {
        let text = format!(
            "{}\n{}\n{}",
            "a".repeat(1500),
            "b".repeat(1500),
            "c".repeat(4500)
        );
        let parts = split_text(&text, MAX_CONTENT);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_CONTENT));
        assert_eq!(parts[0], "a".repeat(1500));
        assert_eq!(parts[1], "b".repeat(1500));
        assert_eq!(parts.concat(), text.replace('\n', ""));
    }

    #[test]
    fn a_press_appends_its_outcome_and_drops_the_buttons() {
        let j = json(&outcome_message(
            "You have an offer.",
            &Reply::text("Matched."),
        ));
        assert_eq!(j["content"], "You have an offer.\n\n✅ Matched.");
        assert_eq!(j["components"], serde_json::json!([]));
        assert!(j.get("flags").is_none_or(|f| f.is_null()));
        let next = Reply::text("Question 3 of 7").with_button("1", "/apply q:goals answer:1");
        let j = json(&outcome_message(&"q".repeat(1990), &next));
        assert_eq!(j["content"], "Question 3 of 7");
        assert_eq!(
            j["components"][0]["components"][0]["custom_id"],
            "/apply q:goals answer:1"
        );
    }
}
