//! The hostile corpus, and the command lines that carry each of its values into each argument
//! of a command.

use mentorops_core::command::spec::{ArgKind, ArgSpec};
use mentorops_core::command::{CommandSpec, quote};

/// How a corpus value goes into a command line.
#[derive(Clone, Copy)]
pub enum Put {
    /// As a value, quoted when it needs quotes (`quote`), so it reaches the argument intact.
    Value,
    /// As typed, quotes and all (an unclosed quote must reach the tokenizer as one).
    Raw,
    /// The argument given twice: the value, and again by name.
    Twice,
}

pub struct Hostile {
    pub label: &'static str,
    pub text: String,
    pub put: Put,
}

pub fn corpus() -> Vec<Hostile> {
    let v = |label, text: &str| Hostile {
        label,
        text: text.to_string(),
        put: Put::Value,
    };
    let prose = "lorem ipsum ".repeat(100_000 / 12);
    vec![
        v("empty", ""),
        v("blank", "   "),
        v("100 KB word", &"x".repeat(100_000)),
        v("100 KB prose", prose.trim()),
        v("NUL", "Ana\u{0}Lima"),
        v("escape", "\u{1b}[31mred"),
        v("line break", "one\ntwo"),
        v("right-to-left override", "\u{202E}gro.elpmaxe@ana"),
        v("zero-width space", "Ana\u{200B}Lima"),
        v(
            "combining marks",
            "\u{301}Z\u{351}\u{346}a\u{358}l\u{300}g\u{301}o",
        ),
        v("SQL", "x'); DROP TABLE users; --"),
        v("SQL wildcard", "%' OR '1'='1"),
        v("emoji", "🙂👩‍👩‍👧"),
        v("@otherbot", "@otherbot"),
        v("mention", "<@123456>"),
        v("huge number", "99999999999999999999999"),
        v("negative number", "-1"),
        Hostile {
            label: "unclosed quote",
            text: "\"Ana Lima".into(),
            put: Put::Raw,
        },
        Hostile {
            label: "key given twice",
            text: "1".into(),
            put: Put::Twice,
        },
    ]
}

/// A valid value for an argument, so the line reaches the argument under test (people and
/// programs within Spring, so a program manager's scope does not stop it first).
pub fn sample(spec: &CommandSpec, arg: &ArgSpec) -> String {
    match (spec.name, arg.name, arg.kind) {
        ("assign", "mentor", _) | ("unassign", "with", _) => "tom@example.org".into(),
        ("session_book", "with", _) => "ben@example.org".into(),
        ("staff_add", "role", _) => "success_coordinator".into(),
        ("match_status", "status", _) => "RTBM".into(),
        (_, _, ArgKind::Person) => "target@example.org".into(),
        (_, _, ArgKind::Program) => "Spring".into(),
        (_, _, ArgKind::Organization) => "Acme".into(),
        (_, _, ArgKind::Email) => "new@example.org".into(),
        (_, _, ArgKind::Phone) => "+14155550598".into(),
        (_, _, ArgKind::Name) => quote("New Person"),
        (_, _, ArgKind::Number | ArgKind::Offer) => "1".into(),
        (_, _, ArgKind::YesNo) => "yes".into(),
        (_, _, ArgKind::Tags | ArgKind::Tag) => "cohort=1".into(),
        (_, _, ArgKind::Code) => "ABCDEFGH".into(),
        (_, _, ArgKind::Attachment) => "none.csv".into(),
        (_, _, ArgKind::Choice(list)) => list.first().copied().unwrap_or_default().into(),
        (_, "at", _) => quote("2027-01-05 10:00"),
        (_, "command", _) => "user_add".into(),
        (_, "answer" | "value", _) => "2".into(),
        (_, "confirm", _) => "yes".into(),
        _ => quote(&format!("New {}", arg.name)),
    }
}

pub fn put(h: &Hostile) -> String {
    match h.put {
        Put::Value | Put::Twice => quote(&h.text),
        Put::Raw => h.text.clone(),
    }
}

/// `spec` with valid values in its required arguments and in the positional ones before the
/// `upto`th (so a later positional value lands in its own slot), and `fragment` in place of
/// argument `at`.
pub fn line(spec: &CommandSpec, upto: usize, at: Option<(usize, &str)>) -> String {
    let mut line = format!("/{}", spec.name);
    for (i, a) in spec.args.iter().enumerate() {
        let part = match at {
            Some((x, fragment)) if x == i => fragment.to_string(),
            _ if a.positional && (a.required || i < upto) => sample(spec, a),
            _ if a.required => format!("{}:{}", a.name, sample(spec, a)),
            _ => continue,
        };
        line.push(' ');
        line.push_str(&part);
    }
    line
}

/// The lines that put `h` into `spec`'s arguments, each with the argument it is in: into each
/// argument by position (when it takes one) and by name, and as one value too many after a
/// valid line.
pub fn lines(spec: &CommandSpec, h: &Hostile) -> Vec<(Option<&'static str>, String)> {
    let value = put(h);
    let mut out = Vec::new();
    for (x, arg) in spec.args.iter().enumerate() {
        let named = format!("{}:{value}", arg.name);
        if arg.positional {
            let positional = match h.put {
                Put::Twice => format!("{value} {named}"),
                _ => value.clone(),
            };
            out.push((Some(arg.name), line(spec, x, Some((x, &positional)))));
        }
        let named = match h.put {
            Put::Twice => format!("{named} {named}"),
            _ => named,
        };
        out.push((Some(arg.name), line(spec, x, Some((x, &named)))));
    }
    out.push((
        None,
        format!("{} {value}", line(spec, spec.args.len(), None)),
    ));
    out
}
