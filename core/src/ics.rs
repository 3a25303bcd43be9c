//! iCalendar (RFC 5545) invitations for booked sessions (docs/domain.md#sessions): one VEVENT
//! per session, sent with METHOD:REQUEST when it is booked and METHOD:CANCEL (same UID, higher
//! SEQUENCE, STATUS:CANCELLED) when it is cancelled, as iTIP (RFC 5546) asks. Pure: the text is
//! built from what is passed in.
//!
//! Times are written in the program's time zone (`DTSTART;TZID=America/Sao_Paulo:…`) with a
//! VTIMEZONE that defines it. chrono-tz holds the zone's rules but no table of its transitions,
//! so the VTIMEZONE lists the transitions themselves, found by looking the offset up day by day
//! across a window of a year either side of the session and bisecting each change to the
//! second: one observance from 1970 at the offset the window opens with, then one per change
//! (RFC 5545 §3.6.5 allows observances without RRULE). Calendars that know the IANA name use
//! it; the others get the offsets that hold around the session. A local time that occurs twice
//! (clocks going back) means its first occurrence in iCalendar (RFC 5545 §3.3.5), so a time in
//! the second one is written in UTC instead (`…Z`), which means exactly that instant.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// What an invitation asks of the calendar that receives it (RFC 5546 §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add or update the event.
    Request,
    /// Remove it.
    Cancel,
}

impl Method {
    pub fn code(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }

    /// The media type of the file, for the email part and the chat attachment: mail clients
    /// read `method` to offer "add to calendar" or "remove" (RFC 6047 §2.4).
    pub fn media_type(self) -> String {
        format!("text/calendar; method={}; charset=UTF-8", self.code())
    }

    /// The event's SEQUENCE: a booked session is never changed (no command moves one), so its
    /// invitation is the first revision and its cancellation the second, which calendars take
    /// as newer (RFC 5545 §3.8.7.4).
    pub fn sequence(self) -> u32 {
        match self {
            Self::Request => 0,
            Self::Cancel => 1,
        }
    }

    fn status(self) -> &'static str {
        match self {
            Self::Request => "CONFIRMED",
            Self::Cancel => "CANCELLED",
        }
    }
}

/// A person in the invitation: their name and email address.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// One event, as the invitation describes it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub method: Method,
    /// Stable for the event's whole life: the cancellation names the invitation by it.
    pub uid: String,
    /// When this revision was written.
    pub stamp: DateTime<Utc>,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    /// The zone the times are written in.
    pub tz: Tz,
    pub summary: &'a str,
    pub description: Option<&'a str>,
    pub location: Option<&'a str>,
    pub organizer: Person<'a>,
    /// Everyone taking part, the organizer included.
    pub attendees: &'a [Person<'a>],
}

/// The iCalendar text of `e`: CRLF line ends, every line folded to at most 75 octets.
pub fn calendar(e: &Event<'_>) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//mentorops//sessions//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        format!("METHOD:{}", e.method.code()),
    ];
    lines.extend(vtimezone(e.tz, e.starts.min(e.ends), e.starts.max(e.ends)));
    lines.push("BEGIN:VEVENT".into());
    lines.push(format!("UID:{}", escape_text(&e.uid)));
    lines.push(format!("SEQUENCE:{}", e.method.sequence()));
    lines.push(format!("DTSTAMP:{}", utc(e.stamp)));
    lines.push(format!("DTSTART{}", zoned(e.starts, e.tz)));
    lines.push(format!("DTEND{}", zoned(e.ends, e.tz)));
    lines.push(format!("SUMMARY:{}", escape_text(e.summary)));
    if let Some(d) = e.description {
        lines.push(format!("DESCRIPTION:{}", escape_text(d)));
    }
    if let Some(l) = e.location {
        lines.push(format!("LOCATION:{}", escape_text(l)));
    }
    lines.push(format!("STATUS:{}", e.method.status()));
    lines.push(format!(
        "ORGANIZER;CN={}:mailto:{}",
        param(e.organizer.name),
        e.organizer.email
    ));
    for a in e.attendees {
        // Nobody answers to mentorops by calendar (no RSVP is read): the booker has accepted by
        // booking, the other person is asked nothing more than to keep the time.
        let partstat = if a.email == e.organizer.email {
            "ACCEPTED"
        } else {
            "NEEDS-ACTION"
        };
        lines.push(format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};RSVP=FALSE:mailto:{}",
            param(a.name),
            a.email
        ));
    }
    lines.push("END:VEVENT".into());
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for l in &lines {
        out.push_str(&fold(l));
    }
    out
}

/// One content line folded (RFC 5545 §3.1): at most 75 octets a line, never splitting a
/// character, each continuation starting with a space; every line ends in CRLF.
pub fn fold(line: &str) -> String {
    const MAX: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > MAX {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

/// A TEXT value escaped (RFC 5545 §3.3.11): backslash, semicolon and comma behind a backslash,
/// a line break as `\n`; other control characters (none pass the checks of what people type)
/// are dropped, since the format has no way to write them.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (a name in `CN=`): always quoted, so `:`, `;` and `,` are safe; a double
/// quote cannot be written inside one (RFC 5545 §3.1), so it becomes a single quote.
fn param(s: &str) -> String {
    let inner: String = s
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect();
    format!("\"{inner}\"")
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// `;TZID=…:local` for an instant, or `:…Z` when its local time is the second of two (see the
/// module's comment): the property's parameters and value, after its name.
fn zoned(t: DateTime<Utc>, tz: Tz) -> String {
    let at = t.with_timezone(&tz).naive_local();
    let first = tz
        .from_local_datetime(&at)
        .earliest()
        .map(|d| d.with_timezone(&Utc));
    if first == Some(t) {
        format!(";TZID={}:{}", tz.name(), local(at))
    } else {
        format!(":{}", utc(t))
    }
}

/// What holds at an instant in a zone: its offset from UTC in seconds, whether it is daylight
/// time, and its abbreviation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    offset: i32,
    daylight: bool,
    name: Option<String>,
}

fn observed(tz: Tz, t: DateTime<Utc>) -> Observed {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    Observed {
        offset: o.fix().local_minus_utc(),
        daylight: o.dst_offset() != Duration::zero(),
        name: o.abbreviation().map(str::to_string),
    }
}

/// The instants in `[from, to]` where the zone's offset or daylight flag changes, each with
/// what held before and what holds from then on.
fn transitions(
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Observed, Observed)> {
    let same = |a: &Observed, b: &Observed| a.offset == b.offset && a.daylight == b.daylight;
    let mut out = Vec::new();
    let mut at = from;
    let mut before = observed(tz, at);
    while at < to {
        let next = (at + Duration::days(1)).min(to);
        let after = observed(tz, next);
        if !same(&before, &after) {
            // Bisect to the second: `lo` still has the old offset, `hi` the new one.
            let (mut lo, mut hi) = (at, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if same(&observed(tz, mid), &before) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, before.clone(), observed(tz, hi)));
        }
        before = after;
        at = next;
    }
    out
}

/// `+HHMM` (or `+HHMMSS` for an offset with seconds, as old zones have).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// The VTIMEZONE of `tz` around `[starts, ends]` (see the module's comment), as content lines.
fn vtimezone(tz: Tz, starts: DateTime<Utc>, ends: DateTime<Utc>) -> Vec<String> {
    let from = starts - Duration::days(366);
    let to = ends + Duration::days(366);
    let mut lines = vec!["BEGIN:VTIMEZONE".into(), format!("TZID:{}", tz.name())];
    let mut observance = |onset: String, was: &Observed, is: &Observed| {
        let kind = if is.daylight { "DAYLIGHT" } else { "STANDARD" };
        lines.push(format!("BEGIN:{kind}"));
        lines.push(format!("DTSTART:{onset}"));
        lines.push(format!("TZOFFSETFROM:{}", utc_offset(was.offset)));
        lines.push(format!("TZOFFSETTO:{}", utc_offset(is.offset)));
        if let Some(name) = &is.name {
            lines.push(format!("TZNAME:{}", escape_text(name)));
        }
        lines.push(format!("END:{kind}"));
    };
    let first = observed(tz, from);
    observance("19700101T000000".into(), &first, &first);
    for (at, was, is) in transitions(tz, from, to) {
        // An observance starts at the local time of the change as the old offset reads it.
        let onset = at.naive_utc() + Duration::seconds(i64::from(was.offset));
        observance(local(onset), &was, &is);
    }
    lines.push("END:VTIMEZONE".into());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn at(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
        Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
    }

    /// The content lines of `text` unfolded, each as (name, parameters, value).
    fn parse(text: &str) -> Vec<(String, String, String)> {
        text.replace("\r\n ", "")
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| {
                // The value starts at the first colon outside a quoted parameter value.
                let mut quoted = false;
                let split = l
                    .char_indices()
                    .find(|(_, c)| {
                        if *c == '"' {
                            quoted = !quoted;
                        }
                        *c == ':' && !quoted
                    })
                    .map_or(l.len(), |(i, _)| i);
                let (head, value) = l.split_at(split);
                let (name, params) = head.split_once(';').unwrap_or((head, ""));
                (
                    name.to_string(),
                    params.to_string(),
                    value.trim_start_matches(':').to_string(),
                )
            })
            .collect()
    }

    fn unescape(v: &str) -> String {
        let mut out = String::new();
        let mut chars = v.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') | Some('N') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn values<'a>(
        lines: &'a [(String, String, String)],
        name: &str,
    ) -> Vec<&'a (String, String, String)> {
        lines.iter().filter(|(n, _, _)| n == name).collect()
    }

    fn sample<'a>(
        method: Method,
        people: &'a [Person<'a>],
        location: Option<&'a str>,
    ) -> Result<Event<'a>, chrono::ParseError> {
        Ok(Event {
            method,
            uid: "session-7@example.org".into(),
            stamp: at("2026-12-01T09:00:00Z")?,
            starts: at("2026-12-03T20:00:00Z")?,
            ends: at("2026-12-03T20:45:00Z")?,
            tz: chrono_tz::America::Sao_Paulo,
            summary: "Mentoring session: Ana Mentee and Maria Mentor",
            description: Some("Session #7.\nTo cancel it, send /session_cancel 7 in chat."),
            location,
            organizer: people[0],
            attendees: people,
        })
    }

    const PEOPLE: [Person<'static>; 2] = [
        Person {
            name: "Ana \"Nina\" Mentee",
            email: "ana@example.org",
        },
        Person {
            name: "Maria Mentor; PhD",
            email: "maria@example.org",
        },
    ];

    #[test]
    fn an_invitation_reads_back_with_its_fields_crlf_and_short_lines() -> TestResult {
        let place = "Café Lisboa, room 2; ask at the desk \\ second floor — a long enough place to be folded";
        let text = calendar(&sample(Method::Request, &PEOPLE, Some(place))?);
        assert!(text.ends_with("\r\n"), "{text}");
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "a bare LF: {text:?}"
        );
        assert!(
            !text.replace("\r\n", "").contains('\r'),
            "a bare CR: {text:?}"
        );
        let lines = parse(&text);
        // The event's own properties: the VTIMEZONE's observances have a DTSTART too.
        let start = lines
            .iter()
            .position(|(n, _, v)| n == "BEGIN" && v == "VEVENT")
            .ok_or("no VEVENT")?;
        let event = &lines[start..];
        let one = |name: &str| -> Result<String, String> {
            match values(event, name).as_slice() {
                [(_, params, value)] => Ok(if params.is_empty() {
                    value.clone()
                } else {
                    format!("{params}|{value}")
                }),
                other => Err(format!("{name}: {other:?}")),
            }
        };
        assert_eq!(
            values(&lines, "METHOD")
                .iter()
                .map(|(_, _, v)| v.as_str())
                .collect::<Vec<_>>(),
            ["REQUEST"]
        );
        assert_eq!(one("UID")?, "session-7@example.org");
        assert_eq!(one("SEQUENCE")?, "0");
        assert_eq!(one("STATUS")?, "CONFIRMED");
        assert_eq!(one("DTSTAMP")?, "20261201T090000Z");
        // 20:00 UTC is 17:00 in São Paulo (-03, no daylight time since 2019).
        assert_eq!(one("DTSTART")?, "TZID=America/Sao_Paulo|20261203T170000");
        assert_eq!(one("DTEND")?, "TZID=America/Sao_Paulo|20261203T174500");
        let zone: Vec<&str> = ["TZID", "TZOFFSETTO"]
            .iter()
            .flat_map(|name| values(&lines[..start], name))
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(zone, ["America/Sao_Paulo", "-0300"]);
        assert_eq!(unescape(&one("LOCATION")?), place);
        assert_eq!(
            unescape(&one("DESCRIPTION")?),
            "Session #7.\nTo cancel it, send /session_cancel 7 in chat."
        );
        assert_eq!(
            one("ORGANIZER")?,
            "CN=\"Ana 'Nina' Mentee\"|mailto:ana@example.org"
        );
        let attendees: Vec<&str> = values(&lines, "ATTENDEE")
            .iter()
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(
            attendees,
            ["mailto:ana@example.org", "mailto:maria@example.org"]
        );
        assert!(
            values(&lines, "ATTENDEE")[1]
                .1
                .starts_with("CN=\"Maria Mentor; PhD\";"),
            "{lines:?}"
        );
        let names: Vec<&str> = lines.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"BEGIN"));
        assert_eq!(names.last(), Some(&"END"));
        Ok(())
    }

    #[test]
    fn a_cancellation_has_the_same_uid_a_higher_sequence_and_cancelled_status() -> TestResult {
        let request = parse(&calendar(&sample(Method::Request, &PEOPLE, None)?));
        let cancel = parse(&calendar(&sample(Method::Cancel, &PEOPLE, None)?));
        let get = |lines: &[(String, String, String)], name: &str| {
            values(lines, name)
                .first()
                .map(|(_, _, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get(&cancel, "METHOD"), "CANCEL");
        assert_eq!(get(&cancel, "STATUS"), "CANCELLED");
        assert_eq!(get(&cancel, "UID"), get(&request, "UID"));
        assert!(
            get(&cancel, "SEQUENCE").parse::<u32>()? > get(&request, "SEQUENCE").parse::<u32>()?
        );
        assert!(values(&cancel, "LOCATION").is_empty());
        assert_eq!(
            Method::Cancel.media_type(),
            "text/calendar; method=CANCEL; charset=UTF-8"
        );
        Ok(())
    }

    #[test]
    fn folding_keeps_characters_whole_and_lines_at_75_octets() {
        let line = format!("LOCATION:{}", "é".repeat(100));
        let folded = fold(&line);
        let parts: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(parts.len() > 2, "{folded}");
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 75, "{p}");
            assert_eq!(i > 0, p.starts_with(' '), "{p}");
        }
        // "LOCATION:" is 9 octets, then 33 two-octet characters fit: 75 octets.
        assert_eq!(parts[0].len(), 75);
        assert_eq!(folded.replace("\r\n ", "").trim_end(), line);
        assert_eq!(fold("SHORT:x"), "SHORT:x\r\n");
    }

    #[test]
    fn text_is_escaped_as_the_rfc_says() {
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(escape_text("tab\there\r"), "tabhere");
        assert_eq!(param("A \"B\": C"), "\"A 'B': C\"");
    }

    #[test]
    fn a_daylight_saving_zone_gets_its_transitions_and_a_repeated_hour_is_written_in_utc()
    -> TestResult {
        let people = [PEOPLE[0]];
        // On 2026-11-01 New York goes back from 02:00 EDT to 01:00 EST (06:00 UTC): 01:30 happens
        // twice, 05:30 UTC (EDT) first and 06:30 UTC (EST) second.
        let e = Event {
            starts: at("2026-11-01T05:30:00Z")?,
            ends: at("2026-11-01T06:30:00Z")?,
            tz: chrono_tz::America::New_York,
            ..sample(Method::Request, &people, None)?
        };
        let text = calendar(&e);
        let lines = parse(&text);
        let get = |lines: &[(String, String, String)], name: &str| -> Vec<String> {
            values(lines, name)
                .iter()
                .map(|(_, p, v)| format!("{p}|{v}"))
                .collect()
        };
        // The VTIMEZONE's observances have a DTSTART too: the event's is the last.
        assert_eq!(
            get(&lines, "DTSTART").last().map(String::as_str),
            Some("TZID=America/New_York|20261101T013000")
        );
        assert_eq!(get(&lines, "DTEND"), ["|20261101T063000Z"]);
        let second = Event {
            starts: at("2026-11-01T06:30:00Z")?,
            ends: at("2026-11-01T07:30:00Z")?,
            ..e.clone()
        };
        let lines = parse(&calendar(&second));
        assert_eq!(
            get(&lines, "DTSTART").last().map(String::as_str),
            Some("|20261101T063000Z")
        );
        assert_eq!(
            get(&lines, "DTEND"),
            ["TZID=America/New_York|20261101T023000"]
        );
        // The observances: the 2025 and 2026 and 2027 changes within a year either side, each at
        // its local onset as the old offset reads it (02:00 EST → EDT, 02:00 EDT → EST).
        assert!(text.contains("BEGIN:DAYLIGHT\r\nDTSTART:20260308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT\r\nEND:DAYLIGHT"), "{text}");
        assert!(text.contains("BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\nEND:STANDARD"), "{text}");
        assert!(text.contains("DTSTART:20251102T020000"), "{text}");
        assert!(text.contains("DTSTART:20270314T020000"), "{text}");
        assert_eq!(utc_offset(-3 * 3600), "-0300");
        assert_eq!(utc_offset(5 * 3600 + 45 * 60), "+0545");
        assert_eq!(utc_offset(-(9 * 3600 + 21)), "-090021");
        Ok(())
    }
}
