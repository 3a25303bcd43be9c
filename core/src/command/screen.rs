//! Lists that fit one chat screen (docs/domain.md#lists): at most [`SCREEN`] lines and under
//! [`SCREEN_CHARS`] characters a reply, the place in the list ("26–50 of 1 000"), "…and N
//! more", Previous/Next buttons that run the same command with `page:`, and — on the first
//! screen of a list longer than one — the whole list as a CSV file (up to [`FILE_ROWS`] rows;
//! `/export` has everything).

use super::args::{FromArg, Invocation, Value};
use super::parse::quote;
use crate::csv_safe;
use crate::domain::Frontend;
use crate::error::{Error, Result};
use crate::reply::{Attachment, Reply, clip, echo};
use crate::text::thousands;

/// Lines a screen shows at most.
pub const SCREEN: usize = 25;
/// Characters a screen holds at most: one Telegram message (4 096).
pub const SCREEN_CHARS: usize = 3_900;
/// Rows the attached CSV holds at most: the file is read with the list, in the command's
/// transaction; past this `/export` (streamed) is the tool.
pub const FILE_ROWS: usize = 2_000;

/// How much of a list one screen shows on a front-end: one message's worth. A Discord message
/// holds 2 000 characters, half a Telegram one, so a Discord screen has fewer lines (split in
/// two, its buttons would sit under a second message that a page turn does not replace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    pub lines: usize,
    pub chars: usize,
}

impl Fit {
    pub fn of(frontend: Frontend) -> Self {
        match frontend {
            Frontend::Discord => Self {
                lines: 15,
                chars: 1_950,
            },
            _ => Self {
                lines: SCREEN,
                chars: SCREEN_CHARS,
            },
        }
    }
    /// Characters one line keeps (longer ones are cut with "…"): a full screen of the longest
    /// lines, with its heading and footer, stays within [`Fit::chars`].
    pub fn line_chars(self) -> usize {
        (self.chars - 450) / self.lines
    }
}

/// `page:` — which screen of a list, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageNo(u32);

impl PageNo {
    pub const FIRST: Self = Self(1);

    pub fn get(self) -> u32 {
        self.0
    }
    /// How many entries come before this screen.
    pub fn offset(self, fit: Fit) -> i64 {
        (i64::from(self.0) - 1) * fit.lines as i64
    }
}

impl Value for PageNo {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        raw.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1 && *n <= 1_000_000)
            .map(Self)
            .ok_or_else(|| {
                Error::input(format!(
                    "{name}:{} is not a page number: use {name}:2 for the second screen",
                    echo(raw.trim())
                ))
            })
    }
}

impl FromArg for PageNo {
    fn from_arg(inv: &Invocation, name: &'static str) -> Result<Self> {
        match inv.get(name) {
            None => Ok(Self::FIRST),
            Some(raw) => Self::parse_value(name, raw),
        }
    }
}

/// The command line that shows another screen of the same list: the invocation's arguments
/// as typed (by name, in a fixed order) with `page:` set to `page`.
pub fn page_command(inv: &Invocation, page: u32) -> String {
    let mut line = format!("/{}", inv.spec.name);
    for (name, value) in inv.args.iter().filter(|(name, _)| **name != "page") {
        line.push_str(&format!(" {name}:{}", quote(value)));
    }
    line.push_str(&format!(" page:{page}"));
    line
}

/// One screen of a list, read by the handler: its lines (at most [`SCREEN`]) and how many
/// entries the whole list has.
#[derive(Debug, Clone)]
pub struct Screen {
    /// What the list is, as a heading without the count: "Inactive for 15+ days, longest
    /// inactive first".
    pub heading: String,
    pub lines: Vec<String>,
    pub total: u64,
    pub page: PageNo,
    pub fit: Fit,
    /// What to do about a long list besides paging: "narrow it with program: or days:".
    pub narrow: &'static str,
}

impl Screen {
    /// The reply: heading with the place in the list, the lines, "…and N more", the page
    /// buttons, and `file` (the whole list) on the first screen.
    pub fn reply(self, inv: &Invocation, file: Option<Attachment>) -> Result<Reply> {
        self.render(inv, file, false)
    }

    /// [`Screen::reply`] for a list counted only up to `cap` (a `total` above it means "more
    /// than `cap`"): an unbounded log is not counted whole for a heading ("of 10 000+").
    pub fn reply_counted_up_to(
        mut self,
        inv: &Invocation,
        file: Option<Attachment>,
        cap: u64,
    ) -> Result<Reply> {
        let at_least = self.total > cap;
        self.total = self.total.min(cap);
        self.render(inv, file, at_least)
    }

    fn render(self, inv: &Invocation, file: Option<Attachment>, at_least: bool) -> Result<Reply> {
        let plus = if at_least { "+" } else { "" };
        let page = self.page.get();
        let fit = self.fit;
        let before = u64::try_from(self.page.offset(fit)).unwrap_or(0);
        if self.lines.is_empty() && before > 0 {
            let last = self.total.div_ceil(fit.lines as u64).max(1);
            return Err(Error::input(format!(
                "page:{page} is past the end: the list has {} on {last} {}, so use page:1 to page:{last}",
                count(self.total, "entry", "entries"),
                if last == 1 { "page" } else { "pages" }
            )));
        }
        let mut text = String::new();
        for line in self.lines.iter().take(fit.lines) {
            text.push('\n');
            text.push_str(&clip(line, fit.line_chars()));
        }
        let shown = self.lines.len().min(fit.lines) as u64;
        let (from, to) = (before + 1, before + shown);
        let whole = before == 0 && to >= self.total && !at_least;
        let head = if whole {
            format!("{} ({}):", self.heading, thousands(self.total))
        } else {
            format!(
                "{}: {}–{} of {}{plus}:",
                self.heading,
                thousands(from),
                thousands(to),
                thousands(self.total)
            )
        };
        let after = self.total.saturating_sub(to);
        let mut text = format!("{head}{text}");
        if after > 0 || at_least {
            text.push_str(&format!(
                "\n…and {}{plus} more: Next ▶ below (or page:{}), or {}",
                thousands(after),
                page + 1,
                self.narrow
            ));
        }
        let mut reply = Reply::text(text);
        if page > 1 {
            reply = reply.with_button("◀ Previous", page_command(inv, page - 1));
        }
        if after > 0 || at_least {
            reply = reply.with_button("Next ▶", page_command(inv, page + 1));
        }
        if let Some(f) = file.filter(|_| page == 1 && !whole) {
            let rows = self.total.min(FILE_ROWS as u64);
            reply
                .text
                .push_str(&if self.total > FILE_ROWS as u64 || at_least {
                    format!(
                        "\nThe attached {} holds the first {}; /export has everyone.",
                        f.file_name,
                        thousands(rows)
                    )
                } else {
                    format!("\nThe whole list is in the attached {}.", f.file_name)
                });
            reply = reply.with_attachment(f);
        }
        Ok(reply)
    }
}

/// Whether a list comes with its file: on its first screen, when it is longer than one.
pub fn wants_file(page: PageNo, total: u64, fit: Fit) -> bool {
    page == PageNo::FIRST && total > fit.lines as u64
}

/// A list's CSV (through the one safe writer, `csv_safe`): the header and then the rows.
pub fn csv_file(
    file_name: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Attachment> {
    let mut w = csv_safe::Writer::new();
    w.row(header)?;
    for r in rows {
        w.row(r)?;
    }
    Ok(Attachment {
        file_name: file_name.to_string(),
        media_type: "text/csv".into(),
        bytes: w.into_bytes()?,
    })
}

/// "1 person", "2 people": a count with its noun.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse;

    fn screen(total: u64, page: u32, lines: usize) -> Screen {
        Screen {
            heading: "People".into(),
            lines: (0..lines).map(|i| format!("line {i}")).collect(),
            total,
            page: PageNo(page),
            fit: Fit::of(Frontend::Telegram),
            narrow: "narrow it with role:",
        }
    }

    #[test]
    fn a_short_list_is_one_screen_with_no_buttons_and_no_file() -> Result<()> {
        let inv = parse("/user_list role:mentor")?;
        let file = csv_file("people.csv", &["id"], [vec!["1".into()]])?;
        let r = screen(3, 1, 3).reply(&inv, Some(file))?;
        assert!(r.text.starts_with("People (3):\nline 0"), "{}", r.text);
        assert!(r.buttons.is_empty() && r.attachments.is_empty());
        Ok(())
    }

    #[test]
    fn a_long_list_pages_with_buttons_that_run_the_same_command() -> Result<()> {
        let inv = parse("/user_list role:mentor program:\"Spring 2027\"")?;
        let file = csv_file("people.csv", &["id"], [vec!["1".into()]])?;
        let r = screen(1000, 1, SCREEN).reply(&inv, Some(file))?;
        assert!(r.text.starts_with("People: 1–25 of 1 000:"), "{}", r.text);
        assert!(r.text.contains("…and 975 more"), "{}", r.text);
        assert_eq!(r.buttons.len(), 1);
        assert_eq!(
            r.buttons[0].command,
            "/user_list program:\"Spring 2027\" role:mentor page:2"
        );
        // The button's command parses back to the same list, one page on.
        let next = parse(&r.buttons[0].command)?;
        assert_eq!(next.get("page"), Some("2"));
        assert_eq!(next.get("program"), Some("Spring 2027"));
        assert_eq!(r.attachments.len(), 1);

        let inv2 = parse(&r.buttons[0].command)?;
        let r2 = screen(1000, 2, SCREEN).reply(&inv2, None)?;
        assert!(
            r2.text.starts_with("People: 26–50 of 1 000:"),
            "{}",
            r2.text
        );
        let labels: Vec<&str> = r2.buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["◀ Previous", "Next ▶"]);
        assert!(r2.buttons[0].command.ends_with("page:1"));

        let last = screen(1000, 40, SCREEN).reply(&inv2, None)?;
        assert!(last.text.starts_with("People: 976–1 000 of 1 000:"));
        assert_eq!(last.buttons.len(), 1, "no Next on the last screen");
        Ok(())
    }

    #[test]
    fn a_page_past_the_end_names_the_pages_there_are() -> Result<()> {
        let inv = parse("/user_list")?;
        let Err(e) = screen(30, 5, 0).reply(&inv, None) else {
            panic!("a page past the end was shown")
        };
        assert!(e.user_message().contains("page:1 to page:2"), "{e}");
        Ok(())
    }

    #[test]
    fn long_lines_never_make_a_screen_longer_than_one_message() -> Result<()> {
        let inv = parse("/user_list role:mentor program:\"A very long program name indeed\"")?;
        for frontend in [Frontend::Telegram, Frontend::Discord, Frontend::Console] {
            let fit = Fit::of(frontend);
            let mut s = screen(100_000, 2, fit.lines);
            s.fit = fit;
            s.lines = (0..fit.lines)
                .map(|i| format!("{i} {}", "é".repeat(1000)))
                .collect();
            let r = s.reply(&inv, None)?;
            let chars = r.text.chars().count();
            assert!(chars <= fit.chars, "{frontend:?}: {chars}");
            assert_eq!(
                r.text.lines().filter(|l| l.contains('é')).count(),
                fit.lines
            );
            assert!(r.text.contains("more"), "{}", r.text);
        }
        assert_eq!(Fit::of(Frontend::Discord).lines, 15);
        Ok(())
    }

    #[test]
    fn a_list_counted_up_to_a_cap_says_there_are_at_least_that_many() -> Result<()> {
        let inv = parse("/history")?;
        let r = screen(10_001, 1, SCREEN).reply_counted_up_to(&inv, None, 10_000)?;
        assert!(r.text.starts_with("People: 1–25 of 10 000+:"), "{}", r.text);
        assert!(r.text.contains("…and 9 975+ more"), "{}", r.text);
        assert_eq!(r.buttons.len(), 1);
        let exact = screen(9_000, 1, SCREEN).reply_counted_up_to(&inv, None, 10_000)?;
        assert!(
            exact.text.starts_with("People: 1–25 of 9 000:"),
            "{}",
            exact.text
        );
        Ok(())
    }

    #[test]
    fn counts_read_as_people_write_them() -> Result<()> {
        assert_eq!(count(1, "person", "people"), "1 person");
        assert_eq!(count(2, "person", "people"), "2 people");
        assert_eq!(thousands(100_000), "100 000");
        assert_eq!(thousands(999), "999");
        Ok(())
    }
}
