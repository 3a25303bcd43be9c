//! A `Reply` as what answers an interaction: the text in parts of Discord's 2000 characters,
//! the buttons as components (custom_id = the button's command), files as attachments of a
//! follow-up, a form (modal) for free-text answers; never a ping. Every payload is one of
//! serenity's builders (`CreateInteractionResponse`, `EditInteractionResponse`,
//! `CreateInteractionResponseFollowup`, `CreateMessage`, `CreateModal`, …), serialized with
//! serde; the only change made to serenity's JSON is [`Response`]'s (see there).

use mentorops_core::reply::{Attachment, Button, Reply};
use serde::{Serialize, Serializer};
use serde_json::Value;
use serenity::builder::{
    CreateActionRow, CreateAllowedMentions, CreateAutocompleteResponse, CreateButton,
    CreateInputText, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, CreateMessage, CreateModal, EditInteractionResponse,
};
use serenity::model::application::{ButtonStyle, InputTextStyle};
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

/// Nobody is pinged by what we send: `allowed_mentions` with nothing to parse.
fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A direct message (`POST /channels/{channel}/messages`): content, components, never a ping.
pub fn dm(content: &str, rows: &[CreateActionRow]) -> CreateMessage {
    CreateMessage::new()
        .content(content)
        .components(rows.to_vec())
        .allowed_mentions(no_pings())
}

/// One more message for an interaction (`POST /webhooks/{application}/{token}`), only the caller
/// sees it when `ephemeral`.
pub fn followup(
    content: &str,
    rows: &[CreateActionRow],
    ephemeral: bool,
) -> CreateInteractionResponseFollowup {
    CreateInteractionResponseFollowup::new()
        .content(content)
        .components(rows.to_vec())
        .allowed_mentions(no_pings())
        .ephemeral(ephemeral)
}

/// An interaction response (serenity's builder) as it goes to Discord, in a response body or
/// to `POST /interactions/{id}/{token}/callback`.
///
/// serenity writes `"data": null` for the responses that carry no data (PONG, the deferred
/// update) and `"attachments": []` into every message's data; both are left out here. Discord's
/// `data` is optional, and an empty `attachments` on an UPDATE_MESSAGE would tell Discord to drop
/// the pressed message's files (ours never carry files in a response: they go in a follow-up).
/// So the body is Discord's documented minimum: `{"type": 6}`, `{"type": 5, "data": {"flags": 64}}`.
#[derive(Debug, Clone)]
pub struct Response(pub CreateInteractionResponse);

impl From<CreateInteractionResponse> for Response {
    fn from(r: CreateInteractionResponse) -> Self {
        Self(r)
    }
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(&self.0).map_err(serde::ser::Error::custom)?;
        if let Some(top) = v.as_object_mut() {
            if top.get("data").is_some_and(Value::is_null) {
                top.remove("data");
            }
            if let Some(data) = top.get_mut("data").and_then(Value::as_object_mut)
                && data
                    .get("attachments")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
            {
                data.remove("attachments");
            }
        }
        v.serialize(serializer)
    }
}

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

    fn first_part(&self) -> &str {
        self.parts.first().map(String::as_str).unwrap_or("Done.")
    }

    /// The first response when the work finished in time: a new message only the caller sees
    /// (CHANNEL_MESSAGE_WITH_SOURCE), or the pressed message updated (UPDATE_MESSAGE).
    pub fn response(&self) -> Response {
        let data = CreateInteractionResponseMessage::new()
            .content(self.first_part())
            .components(self.rows_of(0).to_vec())
            .allowed_mentions(no_pings());
        Response(if self.update {
            CreateInteractionResponse::UpdateMessage(data)
        } else {
            CreateInteractionResponse::Message(data.ephemeral(true))
        })
    }

    /// The first part replacing a deferral's message (`PATCH …/messages/@original`): the
    /// deferral already said who sees it, so no flags.
    pub fn first_edit(&self) -> EditInteractionResponse {
        EditInteractionResponse::new()
            .content(self.first_part())
            .components(self.rows_of(0).to_vec())
            .allowed_mentions(no_pings())
    }

    /// The first part as a follow-up of its own (a refused press answered after a deferral).
    pub fn first_followup(&self) -> CreateInteractionResponseFollowup {
        followup(self.first_part(), self.rows_of(0), self.ephemeral())
    }

    /// The messages after the first: the other parts, then the files (the follow-up's JSON
    /// names none: `rest` lists them in `payload_json` when it sends them).
    pub fn followups(&self) -> Vec<(CreateInteractionResponseFollowup, Vec<Attachment>)> {
        let mut out: Vec<(CreateInteractionResponseFollowup, Vec<Attachment>)> = self
            .parts
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, p)| (followup(p, self.rows_of(i), true), Vec::new()))
            .collect();
        if !self.files.is_empty() {
            let names: Vec<String> = self
                .files
                .iter()
                .map(|f| format!("📎 {}", f.file_name))
                .collect();
            out.push((followup(&names.join("\n"), &[], true), self.files.clone()));
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
    // The outcome of an earlier press goes: each press shows the message and its own outcome.
    let original = original.split(DONE_MARK).next().unwrap_or(original);
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

/// The reply in place of the pressed message (another screen of a list, the next step of a
/// choice: `Press::Replaces`), its buttons replacing the old ones.
pub fn replaced(reply: &Reply) -> Rendered {
    let (rows, extra) = components(&reply.buttons);
    let rows = with_text_input(rows, reply);
    Rendered::new(
        true,
        content(&reply.text, &extra),
        rows,
        reply.attachments.clone(),
    )
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

/// The form a "form:" button opens (a MODAL response): one paragraph field named after the
/// argument the text goes into; the submission's custom_id is the command it completes.
pub fn form(command: &str, arg: &str, label: &str) -> Response {
    let input = CreateInputText::new(InputTextStyle::Paragraph, clip(label, MAX_INPUT_LABEL), arg)
        .min_length(1)
        .max_length(MAX_INPUT)
        .required(true);
    Response(CreateInteractionResponse::Modal(
        CreateModal::new(command, clip("Your answer", MAX_MODAL_TITLE))
            .components(vec![CreateActionRow::InputText(input)]),
    ))
}

/// Autocomplete choices (APPLICATION_COMMAND_AUTOCOMPLETE_RESULT). Integer options need
/// integer values; a value that is not one is left out.
pub fn choices(suggestions: &[(String, String)], integer: bool) -> Response {
    let mut list = CreateAutocompleteResponse::new();
    for (label, value) in suggestions {
        list = if integer {
            match value.parse::<i64>() {
                Ok(n) => list.add_int_choice(label, n),
                Err(_) => list,
            }
        } else {
            list.add_string_choice(label, value)
        };
    }
    Response(CreateInteractionResponse::Autocomplete(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The JSON a payload is sent as.
    fn wire(payload: &impl Serialize) -> Value {
        serde_json::to_value(payload).unwrap_or_default()
    }

    #[test]
    fn replies_are_ephemeral_split_and_carry_their_commands() {
        let long = format!("{}\n{}", "x".repeat(1500), "z".repeat(1500));
        let reply = Reply::text(long)
            .with_button("Accept", "/accept 3")
            .with_button("Too long", format!("/revert 1 reason:{}", "y".repeat(120)));
        let r = super::reply(&reply);
        let first = wire(&r.response());
        assert_eq!(first["type"], 4);
        let j = &first["data"];
        assert_eq!(j["flags"], 64);
        assert_eq!(j["content"], "x".repeat(1500));
        // The buttons are under the last part.
        assert_eq!(j["components"], json!([]));
        let more = r.followups();
        assert_eq!(more.len(), 1);
        let last = &wire(&more[0].0);
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
        assert_eq!(wire(&r.response())["data"]["content"], "Exported 3 people.");
        let more = r.followups();
        assert_eq!(more.len(), 1);
        assert_eq!(more[0].1.len(), 1);
        assert_eq!(wire(&more[0].0)["content"], "📎 export.csv");
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
        let j = wire(&r.response());
        assert_eq!(j["type"], 7);
        assert_eq!(j["data"]["content"], "You have an offer.\n\n✅ Matched.");
        assert_eq!(j["data"]["components"], json!([]));
        assert!(j["data"].get("flags").is_none_or(|f| f.is_null()));
        let next = Reply::text("Question 3 of 7").with_button("1", "/apply q:goals answer:1");
        let j = wire(&outcome(&"q".repeat(1990), &next).response());
        assert_eq!(j["data"]["content"], "Question 3 of 7");
        assert_eq!(
            j["data"]["components"][0]["components"][0]["custom_id"],
            "/apply q:goals answer:1"
        );
        // A second press replaces the first press's outcome instead of piling under it.
        let again = outcome(
            "Which languages?\n\n✅ Added English.",
            &Reply::text("Added Spanish."),
        );
        assert_eq!(
            wire(&again.response())["data"]["content"],
            "Which languages?\n\n✅ Added Spanish."
        );
    }

    #[test]
    fn a_page_turn_replaces_the_pressed_message() {
        let page = Reply::text("People: 16–30 of 30:\n#1 Ana")
            .with_button("◀ Previous", "/user_list page:1");
        let j = wire(&replaced(&page).response());
        assert_eq!(j["type"], 7);
        assert_eq!(j["data"]["content"], "People: 16–30 of 30:\n#1 Ana");
        assert_eq!(
            j["data"]["components"][0]["components"][0]["custom_id"],
            "/user_list page:1"
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
        let j = wire(&super::reply(&r).response());
        assert_eq!(
            j["data"]["components"][0]["components"][0]["custom_id"],
            "form:answer:/apply q:goals"
        );
        let f = wire(&form("/apply q:goals", "answer", &"w".repeat(60)));
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
            wire(&choices(&s, true)),
            json!({"type": 8, "data": {"choices": [{"name": "#4 from Ana", "value": 4}]}})
        );
        assert_eq!(
            wire(&choices(&s, false))["data"]["choices"][1]["value"],
            "x"
        );
    }

    #[test]
    fn responses_without_a_message_are_discords_minimal_bodies() {
        assert_eq!(
            wire(&Response(CreateInteractionResponse::Pong)),
            json!({ "type": 1 })
        );
        assert_eq!(
            wire(&Response(CreateInteractionResponse::Acknowledge)),
            json!({ "type": 6 })
        );
        assert_eq!(
            wire(&Response(CreateInteractionResponse::Defer(
                CreateInteractionResponseMessage::new().ephemeral(true)
            ))),
            json!({ "type": 5, "data": { "flags": 64 } })
        );
        // A form: a paragraph input (type 4, style 2) in an action row (type 1).
        assert_eq!(
            wire(&form("/apply q:goals", "answer", "Your goals?")),
            json!({ "type": 9, "data": {
                "custom_id": "/apply q:goals",
                "title": "Your answer",
                "components": [{ "type": 1, "components": [{
                    "type": 4, "custom_id": "answer", "label": "Your goals?", "style": 2,
                    "min_length": 1, "max_length": 1000, "required": true
                }]}]
            }})
        );
    }

    #[test]
    fn an_edit_after_a_deferral_carries_no_flags_and_a_refused_press_is_ephemeral() {
        let r = refusal("not yours");
        let edit = wire(&r.first_edit());
        assert!(edit.get("flags").is_none(), "{edit}");
        assert_eq!(edit["content"], "✗ not yours");
        assert_eq!(edit["allowed_mentions"]["parse"], json!([]));
        let f = wire(&r.first_followup());
        assert_eq!(f["flags"], 64);
        assert_eq!(f["content"], "✗ not yours");
        let d = wire(&dm("Hello", &[]));
        assert_eq!(d["content"], "Hello");
        assert!(d.get("flags").is_none(), "{d}");
        assert_eq!(d["allowed_mentions"]["parse"], json!([]));
    }
}
