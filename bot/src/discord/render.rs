//! A `Reply` as what answers an interaction: the text in parts of Discord's 2000 characters,
//! the buttons as components (custom_id = the button's command), files as attachments of a
//! follow-up, a form (modal) for free-text answers; never a ping.

use mentorops_core::reply::{Attachment, Button, Reply};
use serde_json::{Value, json};
use serenity::all::ButtonStyle;
use serenity::builder::{CreateActionRow, CreateButton};
use tracing::warn;

use mentorops_core::reply::clip;

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

/// The text of a reply with the lines for buttons that could not be buttons, never empty.
pub fn content(text: &str, extra: &[String]) -> String {
    let out = with_extra_lines(text, extra);
    if out.trim().is_empty() {
        "Done.".to_string()
    } else {
        out
    }
}

/// What answers an interaction, before it is shaped for the first response, an edit after a
/// deferral, or follow-ups: text in parts of at most [`MAX_CONTENT`] characters, buttons under
/// the last part, files in a follow-up of their own.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Replace the message that held the pressed button (else: a new message only the caller
    /// sees).
    pub update: bool,
    /// At least one part.
    pub parts: Vec<String>,
    pub rows: Vec<CreateActionRow>,
    pub files: Vec<Attachment>,
}

/// The JSON of one message: content, components, never a ping; ephemeral when asked.
pub fn message_json(content: &str, rows: &[CreateActionRow], ephemeral: bool) -> Value {
    let mut m = json!({
        "content": content,
        "components": serde_json::to_value(rows).unwrap_or_else(|_| json!([])),
        "allowed_mentions": { "parse": [] },
    });
    if ephemeral {
        m["flags"] = json!(EPHEMERAL);
    }
    m
}

/// The `flags` bit that shows a message to the caller only.
pub const EPHEMERAL: u64 = 64;

impl Rendered {
    fn new(update: bool, text: String, rows: Vec<CreateActionRow>, files: Vec<Attachment>) -> Self {
        let mut parts = split_text(&text, MAX_CONTENT);
        if parts.is_empty() {
            parts.push("Done.".into());
        }
        Self {
            update,
            parts,
            rows,
            files,
        }
    }

    fn ephemeral(&self) -> bool {
        !self.update
    }

    /// The rows for part `i`: the buttons go under the last part.
    fn rows_of(&self, i: usize) -> &[CreateActionRow] {
        if i + 1 == self.parts.len() {
            &self.rows
        } else {
            &[]
        }
    }

    /// The first part as a message body (for the first response or the edit after a deferral).
    pub fn first_message(&self) -> Value {
        let first = self.parts.first().map(String::as_str).unwrap_or("Done.");
        message_json(first, self.rows_of(0), self.ephemeral())
    }

    /// The first response when the work finished in time: type 4 (new message) or 7 (update).
    pub fn response(&self) -> Value {
        json!({ "type": if self.update { 7 } else { 4 }, "data": self.first_message() })
    }

    /// The messages after the first: the other parts, then the files.
    pub fn followups(&self) -> Vec<(Value, Vec<Attachment>)> {
        let mut out: Vec<(Value, Vec<Attachment>)> = self
            .parts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, p)| (message_json(p, self.rows_of(i), true), Vec::new()))
            .collect();
        if !self.files.is_empty() {
            let names: Vec<String> = self
                .files
                .iter()
                .map(|f| format!("📎 {}", f.file_name))
                .collect();
            out.push((
                message_json(&names.join("\n"), &[], true),
                self.files.clone(),
            ));
        }
        out
    }
}

/// The answer to a command: only the caller sees it.
pub fn reply(reply: &Reply) -> Rendered {
    let (rows, extra) = components(&reply.buttons);
    let rows = with_text_input(rows, reply);
    Rendered::new(
        false,
        content(&reply.text, &extra),
        rows,
        reply.attachments.clone(),
    )
}

/// A refusal or an error, for the caller only.
pub fn refusal(why: &str) -> Rendered {
    Rendered::new(
        false,
        format!("{REFUSED_MARK}{why}"),
        Vec::new(),
        Vec::new(),
    )
}

/// The message that held a pressed button, with the outcome appended (or, when both do not fit
/// in 2000 characters, the outcome alone) and the old buttons replaced by the reply's own (none,
/// usually).
pub fn outcome(original: &str, reply: &Reply) -> Rendered {
    let (rows, extra) = components(&reply.buttons);
    let rows = with_text_input(rows, reply);
    let outcome = content(&reply.text, &extra);
    let combined = format!("{}{DONE_MARK}{outcome}", original.trim_end());
    // Too long together (a questionnaire answered press by press): the outcome replaces the
    // text, so the newest part (and its buttons' question) is never the part cut off.
    let text = if original.trim().is_empty() || combined.chars().count() > MAX_CONTENT {
        outcome
    } else {
        combined
    };
    Rendered::new(true, text, rows, reply.attachments.clone())
}

/// What a button opening a form carries: this prefix, the argument the text goes into, `:`, then
/// the command the answer completes (`form:answer:/apply q:goals`).
pub const FORM_PREFIX: &str = "form:";

/// A question answered in free text gets a button that opens a form (a modal).
fn with_text_input(mut rows: Vec<CreateActionRow>, reply: &Reply) -> Vec<CreateActionRow> {
    let Some(input) = &reply.text_input else {
        return rows;
    };
    let id = format!("{FORM_PREFIX}{}:{}", input.arg, input.command);
    if id.chars().count() > MAX_CUSTOM_ID || rows.len() >= MAX_ROWS {
        return rows;
    }
    rows.push(CreateActionRow::Buttons(vec![
        CreateButton::new(id)
            .label("Answer…")
            .style(ButtonStyle::Primary),
    ]));
    rows
}

/// Discord's limits on a modal's title and a text input's label.
pub const MAX_MODAL_TITLE: usize = 45;
pub const MAX_INPUT_LABEL: usize = 45;
/// The longest answer a form takes.
pub const MAX_INPUT: u16 = 1000;

/// The form a "form:" button opens (type 9): one paragraph field named after the argument the
/// text goes into; the submission's custom_id is the command it completes.
pub fn form(command: &str, arg: &str, label: &str) -> Value {
    json!({
        "type": 9,
        "data": {
            "custom_id": command,
            "title": clip("Your answer", MAX_MODAL_TITLE),
            "components": [{ "type": 1, "components": [{
                "type": 4,
                "custom_id": arg,
                "label": clip(label, MAX_INPUT_LABEL),
                "style": 2,
                "min_length": 1,
                "max_length": MAX_INPUT,
                "required": true
            }]}]
        }
    })
}

/// Autocomplete choices (type 8). Integer options need integer values; a value that is not
/// one is left out.
pub fn choices(suggestions: &[(String, String)], integer: bool) -> Value {
    let list: Vec<Value> = suggestions
        .iter()
        .filter_map(|(label, value)| {
            let value = if integer {
                json!(value.parse::<i64>().ok()?)
            } else {
                json!(value)
            };
            Some(json!({ "name": label, "value": value }))
        })
        .collect();
    json!({ "type": 8, "data": { "choices": list } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_ephemeral_split_and_carry_their_commands() {
        let long = format!("{}\n{}", "x".repeat(1500), "z".repeat(1500));
        let reply = Reply::text(long)
            .with_button("Accept", "/accept 3")
            .with_button("Too long", format!("/revert 1 reason:{}", "y".repeat(120)));
        let r = super::reply(&reply);
        let first = r.response();
        assert_eq!(first["type"], 4);
        let j = &first["data"];
        assert_eq!(j["flags"], 64);
        assert_eq!(j["content"], "x".repeat(1500));
        // The buttons are under the last part.
        assert_eq!(j["components"], json!([]));
        let more = r.followups();
        assert_eq!(more.len(), 1);
        let last = &more[0].0;
        assert_eq!(last["flags"], 64);
        assert!(
            last["content"]
                .as_str()
                .unwrap_or_default()
                .starts_with("zzz")
        );
        assert!(
            last["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Too long: send /revert")
        );
        assert_eq!(
            last["components"][0]["components"][0]["custom_id"],
            "/accept 3"
        );
        assert_eq!(last["components"][0]["components"][0]["label"], "Accept");
        assert_eq!(
            last["components"][0]["components"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(j["allowed_mentions"]["parse"], json!([]));
    }

    #[test]
    fn files_go_in_a_follow_up_of_their_own() {
        let reply = Reply::text("Exported 3 people.").with_attachment(Attachment {
            file_name: "export.csv".into(),
            media_type: "text/csv".into(),
            bytes: b"a,b\n".to_vec(),
        });
        let r = super::reply(&reply);
        assert_eq!(r.response()["data"]["content"], "Exported 3 people.");
        let more = r.followups();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].1.len(), 1);
        assert_eq!(more[0].0["content"], "📎 export.csv");
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
        let r = outcome("You have an offer.", &Reply::text("Matched."));
        let j = r.response();
        assert_eq!(j["type"], 7);
        assert_eq!(j["data"]["content"], "You have an offer.\n\n✅ Matched.");
        assert_eq!(j["data"]["components"], json!([]));
        assert!(j["data"].get("flags").is_none_or(|f| f.is_null()));
        let next = Reply::text("Question 3 of 7").with_button("1", "/apply q:goals answer:1");
        let j = outcome(&"q".repeat(1990), &next).response();
        assert_eq!(j["data"]["content"], "Question 3 of 7");
        assert_eq!(
            j["data"]["components"][0]["components"][0]["custom_id"],
            "/apply q:goals answer:1"
        );
    }

    #[test]
    fn a_free_text_question_gets_a_form_button_and_the_form_names_its_command() {
        let mut r = Reply::text("Question 4 of 5: Your goals?");
        r.text_input = Some(mentorops_core::reply::TextInput {
            label: "Your goals?".into(),
            command: "/apply q:goals".into(),
            arg: "answer".into(),
        });
        let j = super::reply(&r).response();
        assert_eq!(
            j["data"]["components"][0]["components"][0]["custom_id"],
            "form:answer:/apply q:goals"
        );
        let f = form("/apply q:goals", "answer", &"w".repeat(60));
        assert_eq!(f["type"], 9);
        assert_eq!(f["data"]["custom_id"], "/apply q:goals");
        let input = &f["data"]["components"][0]["components"][0];
        assert_eq!(input["custom_id"], "answer");
        assert_eq!(input["label"].as_str().map(|l| l.chars().count()), Some(45));
    }

    #[test]
    fn integer_choices_are_numbers_and_others_text() {
        let s = vec![
            ("#4 from Ana".to_string(), "4".to_string()),
            ("x".into(), "x".into()),
        ];
        assert_eq!(
            choices(&s, true),
            json!({"type": 8, "data": {"choices": [{"name": "#4 from Ana", "value": 4}]}})
        );
        assert_eq!(choices(&s, false)["data"]["choices"][1]["value"], "x");
    }
}
