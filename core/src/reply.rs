//! What a command gives back, for every front-end to render in its own way: text, buttons
//! (each carrying the command line it runs when pressed), and attachments (exports).

use serde::{Deserialize, Serialize};

pub use crate::text::{ECHO_CHARS, LISTED, clip, echo, listed};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    /// The command a press runs, as typed: `/delete #12 confirm:K7PQ2MZX`. Front-ends put it in
    /// the button's payload and feed it back through the same parser.
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file_name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A question whose answer is free text. Front-ends with forms (Discord's modals) offer one;
/// the answer runs as `{command} {arg}:"the text"`. Others keep the typed hint in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextInput {
    /// What is asked (the form's field label).
    pub label: String,
    /// The command the answer completes, like `/apply q:goals`.
    pub command: String,
    /// The argument the text goes into, like `answer`.
    pub arg: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
    pub attachments: Vec<Attachment>,
    pub text_input: Option<TextInput>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
    pub fn with_button(mut self, label: impl Into<String>, command: impl Into<String>) -> Self {
        self.buttons.push(Button {
            label: label.into(),
            command: command.into(),
        });
        self
    }
    pub fn with_attachment(mut self, a: Attachment) -> Self {
        self.attachments.push(a);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_in_a_message_stops_at_ten_names_and_counts_the_rest() {
        let names: Vec<String> = (1..=25).map(|i| format!("P{i}")).collect();
        assert_eq!(
            listed(&names),
            "P1, P2, P3, P4, P5, P6, P7, P8, P9, P10 and 15 more"
        );
        assert_eq!(listed(&names[..LISTED]), names[..LISTED].join(", "));
        assert_eq!(listed(&names[..2]), "P1, P2");
    }

    #[test]
    fn an_echo_keeps_sixty_characters_and_marks_the_cut() {
        let long = "é".repeat(100_000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), ECHO_CHARS + 1);
        assert!(shown.starts_with(&"é".repeat(ECHO_CHARS)) && shown.ends_with('…'));
        // Up to one character past the limit nothing is cut (the ellipsis would take its place).
        assert_eq!(
            echo(&"a".repeat(ECHO_CHARS + 1)),
            "a".repeat(ECHO_CHARS + 1)
        );
        assert_eq!(echo("Ana Lima"), "Ana Lima");
    }

    #[test]
    fn an_echo_shows_invisible_characters_as_replacement_marks() {
        assert_eq!(
            echo("Ana\u{0}Li\u{202E}ma\n"),
            "Ana\u{FFFD}Li\u{FFFD}ma\u{FFFD}"
        );
    }
}
