//! Text as messages show it: cut to a length, what a person typed quoted back safely, lists
//! that stop, and the characters that cannot be seen. A leaf: `values` (parsing) and `reply`
//! (what commands answer) both use it.

/// Unicode's format characters (general category Cf), as of Unicode 15.1. They are invisible:
/// the bidirectional controls (U+202A–202E, U+2066–2069) reorder the text around them, so a
/// name holding U+202E shows as another name; zero-width spaces and joiners make two names
/// that look the same differ. The standard library knows Cc (`char::is_control`) but not Cf,
/// hence the table.
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Zero-width non-joiner and joiner: format characters, but part of how Persian, Arabic and
/// Indic scripts spell words (names among them) and of emoji sequences, so names keep them.
const SPELLING_JOINERS: [char; 2] = ['\u{200C}', '\u{200D}'];

/// A count with its noun, singular for one: `counted(1, "person", "people")` is "1 person",
/// `counted(3, "person", "people")` "3 people" (issue 14: no "1 people" in any message).
pub fn counted(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// "132 000": how counts are written in messages, in groups of three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// True for a Unicode format character (Cf).
pub fn is_format_char(c: char) -> bool {
    FORMAT_CHARS.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// A character no name or identifier may hold, because it cannot be seen: a control
/// character (Cc: NUL, which PostgreSQL cannot store at all, escapes, line breaks) or a format
/// character (Cf) other than the two joiners some scripts spell with.
///
/// Decision (issue 11): names and identifiers refuse Cf, U+202E (right-to-left override)
/// included, since one can make a name display as a different one; free text (reasons,
/// answers) keeps Cf, as right-to-left text legitimately holds direction marks.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control() || (is_format_char(c) && !SPELLING_JOINERS.contains(&c))
}

/// How a refused character is named in a message: a visible one as itself, an invisible one
/// by its code point (printing it would show nothing, or reorder the message).
pub fn describe_char(c: char) -> String {
    if c.is_control() || is_format_char(c) {
        format!("the invisible character U+{:04X}", u32::from(c))
    } else if c.is_alphabetic() {
        format!("the letter '{c}'")
    } else {
        format!("'{c}'")
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

/// How many characters of something a person typed a message quotes back. Enough to recognise
/// the value; a reply to 100 KB of text must not be 100 KB long (chat platforms cut or refuse
/// it, and the person learns nothing more from the rest).
pub const ECHO_CHARS: usize = 60;

/// `typed` as a message quotes it back to the person who typed it: its first [`ECHO_CHARS`]
/// characters and `…` when it is longer (never more than `ECHO_CHARS + 1` in all, the length
/// at which cutting starts to save anything), with invisible characters (controls, format
/// characters such as the right-to-left override, which would reorder the message around
/// them) shown as `�`. Every message that interpolates user text puts it through this.
pub fn echo(typed: &str) -> String {
    // Only the head can be shown, so only the head is looked at (the rest may be 100 KB): one
    // character more than fits tells `clip` whether to cut.
    let head: String = typed
        .chars()
        .take(ECHO_CHARS + 2)
        .map(|c| {
            if c.is_control() || is_format_char(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    clip(&head, ECHO_CHARS + 1)
}

/// How many names a refusal lists (the programs there are, the people a name matches): enough
/// to spot the one meant; the whole list grows with the database, and a person reads a
/// message rather than searches it.
pub const LISTED: usize = 10;

/// `names` joined by commas, at most [`LISTED`] of them, then "and N more".
pub fn listed(names: &[String]) -> String {
    let head = names
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().checked_sub(LISTED) {
        Some(more) if more > 0 => format!("{head} and {more} more"),
        _ => head,
    }
}
