//! The text form of a command, shared by Telegram, the console and button payloads:
//! `/name arg arg key:value key:"quoted value"`.

use super::args::Invocation;
use super::registry::{COMMANDS, find};
use super::spec::{ArgKind, ArgSpec, CommandSpec};
use crate::error::Error;
use crate::reply::echo;
use crate::values::describe_char;

/// One word of a command line; `literal` when it began with a quote, so `"a:b"` is a value
/// and never an option.
struct Token {
    text: String,
    literal: bool,
}

/// Splits on white space, keeping "quoted text" together (with \" and \\ escapes inside).
/// `key:"quoted value"` stays one token, its quotes removed.
fn tokenize(s: &str) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut in_token = false;
    let mut literal = false;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '"' | '“' | '”' => {
                if !in_token {
                    literal = true;
                }
                in_token = true;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        '"' | '“' | '”' => {
                            closed = true;
                            break;
                        }
                        other => cur.push(other),
                    }
                }
                if !closed {
                    return Err(Error::input(
                        "a quote is not closed: put a \" at the end of the quoted value",
                    ));
                }
            }
            c if c.is_whitespace() => {
                if in_token {
                    tokens.push(Token {
                        text: std::mem::take(&mut cur),
                        literal,
                    });
                    in_token = false;
                    literal = false;
                }
            }
            other => {
                in_token = true;
                cur.push(other);
            }
        }
    }
    if in_token {
        tokens.push(Token { text: cur, literal });
    }
    Ok(tokens)
}

/// Parses one line of text into an invocation of a registered command.
pub fn parse(text: &str) -> Result<Invocation, Error> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix('/') else {
        return Err(Error::input(
            "commands start with /: type /help to see what you can do",
        ));
    };
    let (head, tail) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    // Telegram appends @botname in groups: /status@mentorops_bot.
    let name = head.split('@').next().unwrap_or_default().to_lowercase();
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(Error::input(format!(
            "the command name holds {}: type it again without it",
            describe_char(c)
        )));
    }
    let Some(spec) = find(&name) else {
        return Err(Error::input(format!(
            "unknown command /{}{}: type /help to see the commands you can use",
            echo(&name),
            suggestion(&name)
        )));
    };
    let mut inv = Invocation::new(spec);
    let mut positionals = spec.args.iter().filter(|a| a.positional);
    for Token {
        text: token,
        literal,
    } in tokenize(tail)?
    {
        if let Some((key, value)) = split_named(&token).filter(|_| !literal) {
            if let Some(arg) = spec.arg(key) {
                if value.is_empty() {
                    return Err(Error::input(format!(
                        "{key}: has no value: write {key}:value, with quotes if it has spaces"
                    )));
                }
                check_value(spec, arg, value)?;
                if inv.args.insert(arg.name, value.to_string()).is_some() {
                    return Err(Error::input(format!("{key} is given twice: keep one")));
                }
                continue;
            }
            if !value.starts_with("//") {
                let options: Vec<&str> = spec.args.iter().map(|a| a.name).collect();
                return Err(Error::input(format!(
                    "/{} has no option '{}': its options are {}. Usage: {}",
                    spec.name,
                    echo(key),
                    if options.is_empty() {
                        "none".to_string()
                    } else {
                        options.join(", ")
                    },
                    spec.usage()
                )));
            }
        }
        let slot = loop {
            match positionals.next() {
                Some(a) if inv.args.contains_key(a.name) => continue,
                other => break other,
            }
        };
        // A trailing list argument takes every remaining word.
        if slot.is_none()
            && let Some(last) = spec.args.iter().rev().find(|a| a.positional)
            && last.rest
            && let Some(v) = inv.args.get_mut(last.name)
        {
            check_value(spec, last, &token)?;
            v.push(' ');
            v.push_str(&token);
            continue;
        }
        let Some(arg) = slot else {
            return Err(Error::input(format!(
                "too many values for /{} at '{}': put a value with spaces in quotes. Usage: {}",
                spec.name,
                echo(&token),
                spec.usage()
            )));
        };
        check_value(spec, arg, &token)?;
        inv.args.insert(arg.name, token);
    }
    for a in spec.args.iter().filter(|a| a.required) {
        if !inv.args.contains_key(a.name) {
            return Err(Error::input(format!(
                "missing {} ({}): usage {} — for example {}",
                a.name,
                a.about,
                spec.usage(),
                spec.example
            )));
        }
    }
    Ok(inv)
}

/// The bidirectional overrides (left-to-right, right-to-left): every letter after one is
/// shown in the forced direction, so `\u{202E}gro.elpmaxe` reads as `example.org`.
const BIDI_OVERRIDES: [char; 2] = ['\u{202D}', '\u{202E}'];

/// Refuses a value no argument may carry, at the edge, so nothing behind the parser sees one
/// and both databases get the same text:
///
/// - an empty or blank value (`""`, `"  "`): an argument is given to say something, and
///   behind the parser a blank one said "anything" (a blank person matched everyone by name,
///   a blank `with:` booked a session with whichever match came first, a blank `/choose` was
///   an empty ranking);
/// - a control character (Unicode Cc: NUL, which PostgreSQL cannot store and SQLite would
///   keep, escapes, carriage returns), except a line break or tab in free text
///   ([`ArgKind::Text`]: reasons, answers), where they are how a person lays out what they
///   wrote. Every other kind is one line ([`ArgKind::Line`], people, names, choices, numbers…),
///   so a line break or tab is refused there too. Outside quotes white space only separates
///   values, so these are found in quoted values only;
/// - in free text, a bidirectional override ([`BIDI_OVERRIDES`]): a reason is shown in a line
///   of `/history`, which the override would show reversed from there on. The other format
///   characters (direction marks, isolates, joiners) are how right-to-left text is written,
///   and stay. One-line values leave format characters to their own rule: names refuse them
///   (`values::is_hidden_char`), and a lookup holding one finds nothing.
fn check_value(spec: &CommandSpec, arg: &ArgSpec, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(Error::input(if arg.required {
            format!(
                "{}: is empty: give a value. Usage: {}",
                arg.name,
                spec.usage()
            )
        } else {
            format!(
                "{}: is empty: give a value, or leave {} out",
                arg.name, arg.name
            )
        }));
    }
    let free_text = arg.kind == ArgKind::Text;
    for c in value.chars() {
        if matches!(c, '\n' | '\t') {
            if !free_text {
                return Err(Error::input(format!(
                    "{}: holds a line break or a tab: give it on one line",
                    arg.name
                )));
            }
        } else if c.is_control() {
            return Err(Error::input(format!(
                "{}: holds {}, which cannot be stored: type the value again without it",
                arg.name,
                describe_char(c)
            )));
        } else if free_text && BIDI_OVERRIDES.contains(&c) {
            return Err(Error::input(format!(
                "{}: holds {}, which shows the text after it reversed: type it again without it",
                arg.name,
                describe_char(c)
            )));
        }
    }
    Ok(())
}

/// `key:value` where key is `[a-z_]+`; anything else (an email, a time like 17:00) is a value.
fn split_named(token: &str) -> Option<(&str, &str)> {
    let (key, value) = token.split_once(':')?;
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        Some((key, value))
    } else {
        None
    }
}

/// " (did you mean /user_add?)" for a near miss.
fn suggestion(name: &str) -> String {
    // Names more than two characters longer or shorter cannot be two edits away: skipping them
    // keeps a 100 KB "name" from costing an edit distance against every command.
    let len = name.chars().count();
    COMMANDS
        .iter()
        .filter(|c| c.name.chars().count().abs_diff(len) <= 2)
        .map(|c| (distance(name, c.name), c.name))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| format!(" (did you mean /{n}?)"))
        .unwrap_or_default()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Puts a value in quotes when it needs them, so a button's command parses back the same.
pub fn quote(value: &str) -> String {
    let quote_char = |c: char| matches!(c, '"' | '\\' | '“' | '”');
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || quote_char(c))
    {
        return value.to_string();
    }
    let mut s = String::from("\"");
    for c in value.chars() {
        if quote_char(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(text: &str) -> Vec<(String, String)> {
        parse(text)
            .map(|i| {
                i.args
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn positional_named_and_quoted_arguments() {
        assert_eq!(
            args(
                "/user_add \"Ana Lima\" ana@example.org +5511912345678 mentee program:\"Spring 2027\" tags:cohort=1"
            ),
            vec![
                ("email".into(), "ana@example.org".into()),
                ("name".into(), "Ana Lima".into()),
                ("phone".into(), "+5511912345678".into()),
                ("program".into(), "Spring 2027".into()),
                ("role".into(), "mentee".into()),
                ("tags".into(), "cohort=1".into()),
            ]
        );
        // A named argument may stand before the positionals it does not fill.
        assert_eq!(
            args("/status reason:\"said so\" ana@example.org A"),
            vec![
                ("person".into(), "ana@example.org".into()),
                ("reason".into(), "said so".into()),
                ("status".into(), "A".into())
            ]
        );
        assert_eq!(
            args("/help@mentorops_bot user_add"),
            vec![("command".into(), "user_add".into())]
        );
    }

    #[test]
    fn bad_input_names_the_problem_and_the_fix() {
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg("/usr_add").contains("did you mean /user_add"));
        assert!(msg("/status ana@example.org").contains("missing status"));
        assert!(msg("/status a b c").contains("too many values"));
        assert!(msg("/status a A colour:red").contains("no option 'colour'"));
        assert!(msg("/status \"a A").contains("quote is not closed"));
        assert!(msg("status a A").contains("start with /"));
        assert!(msg("/status a A reason:x reason:y").contains("given twice"));
    }

    #[test]
    fn control_characters_are_refused_and_line_breaks_kept_only_in_free_text() {
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        let m = msg("/user_add \"Ana\u{0}Lima\" ana@example.org +14155550100 mentee");
        assert!(
            m.starts_with("name: holds the invisible character U+0000"),
            "{m}"
        );
        let m = msg("/status ana@example.org A reason:\"red \u{1b}[31m\"");
        assert!(
            m.starts_with("reason: holds the invisible character U+001B"),
            "{m}"
        );
        let m = msg("/status \"ana\nlima\" A");
        assert!(m.starts_with("person: holds a line break"), "{m}");
        let m = msg("/user_add \"Ana\tLima\" ana@example.org +14155550100 mentee");
        assert!(m.starts_with("name: holds a line break or a tab"), "{m}");
        let m = msg("/choose #1 \"#2\u{7}\"");
        assert!(
            m.starts_with("mentors: holds the invisible character U+0007"),
            "{m}"
        );
        let m = msg("/he\u{0}lp");
        assert!(m.starts_with("the command name holds"), "{m}");
        // Free text keeps its layout.
        assert_eq!(
            parse("/status ana@example.org A reason:\"one\n\ttwo\"")
                .ok()
                .and_then(|i| i.get("reason").map(str::to_string))
                .as_deref(),
            Some("one\n\ttwo")
        );
    }

    #[test]
    fn an_empty_or_blank_value_is_refused_wherever_it_is_given() {
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        let m = msg("/user_show \"\"");
        assert!(
            m.starts_with("person: is empty: give a value. Usage: /user_show <person>"),
            "{m}"
        );
        let m = msg("/user_show \"  \"");
        assert!(m.starts_with("person: is empty"), "{m}");
        let m = msg("/session_book \" \" at:\"2026-12-01 17:00\"");
        assert!(
            m.starts_with("with: is empty: give a value, or leave with out"),
            "{m}"
        );
        let m = msg("/status ana@example.org A reason:\"   \"");
        assert!(m.starts_with("reason: is empty"), "{m}");
        let m = msg("/choose #1 \"\"");
        assert!(m.starts_with("mentors: is empty"), "{m}");
    }

    #[test]
    fn names_are_one_line_while_reasons_keep_their_line_breaks() {
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        let m = msg("/org_add \"City\nSchools\"");
        assert!(m.starts_with("name: holds a line break or a tab"), "{m}");
        let m = msg("/program_add Acme \"Spring\n2027\"");
        assert!(m.starts_with("name: holds a line break or a tab"), "{m}");
        let m = msg("/session_book at:\"2026-12-01\n17:00\"");
        assert!(m.starts_with("at: holds a line break or a tab"), "{m}");
        assert!(parse("/deactivate ana@example.org reason:\"moved\naway\"").is_ok());
        assert!(parse("/apply \"first line\nsecond line\"").is_ok());
    }

    #[test]
    fn free_text_refuses_a_bidirectional_override_and_keeps_direction_marks() {
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        let m = msg("/deactivate ana@example.org reason:\"moved \u{202E}yawa\"");
        assert!(
            m.starts_with("reason: holds the invisible character U+202E, which shows the text after it reversed"),
            "{m}"
        );
        let m = msg("/apply \"\u{202D}text\"");
        assert!(
            m.starts_with("answer: holds the invisible character U+202D"),
            "{m}"
        );
        // A right-to-left mark and an isolate are how Arabic or Hebrew text is typed.
        assert!(parse("/deactivate ana@example.org reason:\"\u{5E2}\u{5D1}\u{5E8}\u{200F} \u{2067}x\u{2069}\"").is_ok());
    }

    #[test]
    fn what_the_parser_quotes_back_is_cut_short() {
        let long = "x".repeat(100_000);
        for line in [
            format!("/{long}"),
            format!("/status ana@example.org A {long}:1"),
            format!("/status ana@example.org A {long}"),
        ] {
            let m = parse(&line)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(m.len() < 500 && m.contains("xxx…"), "{m}");
        }
    }

    #[test]
    fn quoting_round_trips() {
        for v in [
            "plain",
            "two words",
            "with \"quotes\"",
            "a:b",
            "back\\slash",
            "",
        ] {
            let line = format!("/revert 1 reason:{}", quote(v));
            if v.is_empty() {
                continue;
            }
            assert_eq!(
                parse(&line)
                    .ok()
                    .and_then(|i| i.get("reason").map(str::to_string))
                    .as_deref(),
                Some(v)
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = parse(&s);
            let _ = parse(&format!("/{s}"));
            let _ = parse(&format!("/user_add {s}"));
        }

        #[test]
        // Control characters and blank values are refused (see `check_value`), so they are not
        // generated here.
        fn quoted_values_parse_back_exactly(v in "[^\\p{Cc}]{0,39}[^\\p{Cc}\\s]") {
            let named = format!("/history x page:{}", quote(&v));
            let got = parse(&named).ok().and_then(|i| i.get("page").map(str::to_string));
            prop_assert_eq!(got.as_deref(), Some(v.as_str()));
            let positional = format!("/history {}", quote(&v));
            let got = parse(&positional).ok().and_then(|i| i.get("person").map(str::to_string));
            prop_assert_eq!(got.as_deref(), Some(v.as_str()));
        }
    }
}
