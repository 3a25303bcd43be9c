//! What a command gives back, for every front-end to render in its own way: text, buttons
//! (each carrying the command line it runs when pressed), and attachments (exports).

use serde::{Deserialize, Serialize};

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

/// `s` cut to `max` characters (as Discord and Telegram count them for names, descriptions
/// and suggestions), with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
