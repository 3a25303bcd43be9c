//! The words of every message mentorops sends (docs/domain.md#notifications), plain text and HTML
//! from the same parts. Kept apart from the commands so wording changes touch one file.

use crate::text::counted;

/// An email ready for the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The two layouts every email shares: `templates/email.txt` and `templates/email.html`
/// (minijinja; the `.html` one escapes what it is given, so names cannot inject markup).
fn templates() -> &'static minijinja::Environment<'static> {
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        // Both are compiled into the binary and checked by the tests below, so they parse.
        for (name, source) in [
            ("email.txt", include_str!("../templates/email.txt")),
            ("email.html", include_str!("../templates/email.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "email template does not parse");
            }
        }
        env
    })
}

#[derive(serde::Serialize)]
struct Paragraph<'a> {
    value: &'a str,
    code: bool,
}

/// Builds both bodies from paragraphs; `code` paragraphs are shown large in HTML.
fn mail(subject: String, greeting: &str, paragraphs: &[Para<'_>]) -> Mail {
    let paragraphs: Vec<Paragraph<'_>> = paragraphs
        .iter()
        .map(|p| match p {
            Para::Text(t) => Paragraph {
                value: t,
                code: false,
            },
            Para::Code(c) => Paragraph {
                value: c,
                code: true,
            },
        })
        .collect();
    let ctx = minijinja::context! { greeting, paragraphs };
    let render = |name: &str| {
        templates()
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .unwrap_or_else(|e| {
                // Only a broken template gets here (a test renders every message).
                tracing::error!(template = name, error = %e, "email template failed");
                String::new()
            })
    };
    Mail {
        subject,
        text: render("email.txt"),
        html: render("email.html"),
    }
}

enum Para<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// Welcome to a new mentor, mentee or staff member, with their link code (docs/domain.md#linking).
pub fn welcome(name: &str, role: &str, program: Option<&str>, code: &str, valid_days: i64) -> Mail {
    let joined = match program {
        Some(p) => format!("You have been added to {p} as a {role}."),
        None => format!("You have been added to the mentoring program as a {role}."),
    };
    let how = format!(
        "To use mentorops from Discord or Telegram, open a direct chat with the program's bot and send /link {code}. \
         The code works once and for {}.",
        counted(valid_days, "day", "days")
    );
    mail(
        "Welcome to the mentoring program".to_string(),
        &format!("Hello {name},"),
        &[
            Para::Text(&joined),
            Para::Text("Your link code:"),
            Para::Code(code),
            Para::Text(&how),
            Para::Text("Then send /me to see where you are, and /help to see what you can do."),
        ],
    )
}

/// To a mentor: a mentee asks them to be their mentor (docs/domain.md#offer-sent: `offer_ttl`,
/// 72 h by default, to answer).
pub fn offer_to_mentor(
    mentor: &str,
    mentee: &str,
    program: &str,
    score: u32,
    reasons: &str,
    deadline: &str,
) -> Mail {
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!(" You share: {reasons}.")
    };
    mail(
        format!("{mentee} would like you as their mentor"),
        &format!("Hello {mentor},"),
        &[
            Para::Text(&format!(
                "{mentee}, a mentee in {program}, has chosen you as their mentor (match score {score}/100).{why}"
            )),
            Para::Text(&format!(
                "Please accept or decline by {deadline}. You can answer with the buttons the bot sent you in chat, or send /accept or /decline there."
            )),
            Para::Text(
                "Mentors are paired first come, first served: if you accept, you are paired at once.",
            ),
        ],
    )
}

pub fn offer_reminder(mentor: &str, mentee: &str, deadline: &str) -> Mail {
    mail(
        format!("Reminder: {mentee} is waiting for your answer"),
        &format!("Hello {mentor},"),
        &[Para::Text(&format!(
            "{mentee} asked you to be their mentor. The offer expires on {deadline}; after that it goes to their next choice. Accept or decline from the bot's message, or with /accept or /decline."
        ))],
    )
}

/// To a mentee: what became of an offer (declined, expired, withdrawn) and what happens next.
pub fn offer_outcome(mentee: &str, mentor: &str, outcome: &str, next: &str) -> Mail {
    mail(
        format!("Your mentor request to {mentor}: {outcome}"),
        &format!("Hello {mentee},"),
        &[Para::Text(&format!(
            "Your request to {mentor} was {outcome}. {next}"
        ))],
    )
}

/// To both people of a new match (docs/domain.md#pairing-effects: confirm and prompt to
/// schedule a session).
pub fn paired(name: &str, other: &str, other_role: &str, other_email: &str, program: &str) -> Mail {
    mail(
        format!("You are paired with {other}"),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "You and {other} are now paired in {program}: {other} is your {other_role}. You can reach them at {other_email}."
            )),
            Para::Text(
                "Next: book your first session. In chat, send /session_book with a date and time, for example /session_book at:\"2026-12-01 17:00\".",
            ),
        ],
    )
}

/// To a mentee whose round ran out: fresh `recommendations` (one a line) to choose from, or,
/// when there are none, that staff know and will pair them — never a request to choose from an
/// empty list (docs/domain.md#exhausted).
pub fn chain_exhausted(mentee: &str, recommendations: &str) -> Mail {
    if recommendations.trim().is_empty() {
        return mail(
            "None of your mentors could take you this time".into(),
            &format!("Hello {mentee},"),
            &[
                Para::Text(
                    "None of the mentors you chose could take you this time, and no other mentor is available right now.",
                ),
                Para::Text(
                    "Your program manager has been told: they can pair you by hand, and you will hear from us when you are paired. In chat, /mentors shows who is available at any time.",
                ),
            ],
        );
    }
    mail(
        "Please choose your mentors again".into(),
        &format!("Hello {mentee},"),
        &[
            Para::Text(
                "None of the mentors you chose could take you this time. Please choose again — here are fresh recommendations:",
            ),
            Para::Text(recommendations),
            Para::Text(
                "In chat, send /mentors to see them with their reasons, then /choose to rank up to your program's limit.",
            ),
        ],
    )
}

/// To staff: a mentee's round ran out; `none_available` when no other mentor could be
/// recommended to them (then they were not asked to choose again).
pub fn staff_chain_exhausted(mentee: &str, program: &str, none_available: bool) -> Mail {
    let next = if none_available {
        "No other mentor is available for them now: pair them by hand (/suggest, /assign) when one is."
    } else {
        "They have been asked to choose again; you can also pair them by hand (/suggest, /assign)."
    };
    mail(
        format!("{mentee} ran out of mentor choices"),
        "Hello,",
        &[Para::Text(&format!(
            "Every mentor {mentee} chose in {program} declined, did not answer in time or became unavailable. {next}"
        ))],
    )
}

/// A time as a program's people read it: in the program's zone, the zone named, since people
/// have no zone of their own yet (docs/domain.md#cascade-place): "Thu 03 Dec 17:00
/// America/Sao_Paulo".
pub fn zoned(t: chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    format!(
        "{} {}",
        t.with_timezone(&zone).format("%a %d %b %H:%M"),
        zone.name()
    )
}

/// "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st".
pub fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// How long is left, in its two largest units, rounded down (never more than there is): "2 days
/// 5 hours", "3 days", "45 minutes".
pub fn time_left(d: chrono::Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let parts: Vec<String> = [
        (minutes / (24 * 60), "day", "days"),
        (minutes / 60 % 24, "hour", "hours"),
        (minutes % 60, "minute", "minutes"),
    ]
    .into_iter()
    .skip_while(|(n, _, _)| *n == 0)
    .take(2)
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| counted(n, one, many))
    .collect();
    if parts.is_empty() {
        "less than a minute".to_string()
    } else {
        parts.join(" ")
    }
}

/// Where a mentee's request stands (docs/domain.md#cascade-place): "request 2 of 3: Lee Mentor,
/// answer due Thu 03 Dec 17:00 America/Sao_Paulo".
pub fn request_place(rank: i64, of: i64, mentor: &str, due: &str) -> String {
    format!("request {rank} of {of}: {mentor}, answer due {due}")
}

/// To a mentor, in an offer, its reminder and `/me` (docs/domain.md#cascade-place): "You are
/// their 1st choice: answer within 2 days 5 hours, by Thu 03 Dec 17:00 America/Sao_Paulo."
pub fn their_choice(rank: i64, left: &str, due: &str) -> String {
    format!(
        "You are their {} choice: answer within {left}, by {due}.",
        ordinal(rank)
    )
}

/// To each staff member asked to pair a mentee whose choices ran out (docs/domain.md#manual-match):
/// their best available mentors, a line each, with a button each under it.
pub fn manual_match(mentee: &str, program: &str, mentors: &str) -> String {
    format!(
        "{mentee} ran out of mentor choices in {program}: they were asked to choose again, and you can pair them now with one of their best available mentors:\n{mentors}\n\
         The first press by any of the program's staff pairs them; everyone else's copy of this message then says who did."
    )
}

/// What a claimed manual match says, in every other staff member's copy and to a press that
/// came too late: "Claimed by Paula Pm: paired Ana Lima with Lee Mentor".
pub fn claimed(by: &str, mentee: &str, mentor: &str) -> String {
    format!("Claimed by {by}: paired {mentee} with {mentor}")
}

/// What the manual-match message says, in every staff member's copy, once its mentee was
/// paired some other way than by its buttons (docs/domain.md#manual-match): "Paired another
/// way: Ana Lima with Lee Mentor, by Ada Admin (/assign)."
pub fn paired_another_way(mentee: &str, mentor: &str, via: &str, by: Option<&str>) -> String {
    let how = match (via, by) {
        ("offer", _) => format!(": {mentor} accepted their request"),
        (_, Some(by)) => format!(", by {by} (/{via})"),
        (_, None) => format!(" (/{via})"),
    };
    format!("Paired another way: {mentee} with {mentor}{how}.")
}

/// A manual-match press after the mentee was paired (by that press's rival, or some other way):
/// who paired them with whom, when and how; nothing was changed.
pub fn already_paired(
    who: &str,
    mentee: &str,
    mentor: &str,
    via: &str,
    at: &str,
    closed_since: bool,
) -> String {
    let how = match via {
        "claim" if who == "you" => {
            format!("You claimed {mentee} already: paired with {mentor} on {at}")
        }
        "claim" => format!("{} on {at}", claimed(who, mentee, mentor)),
        "offer" => {
            format!("{mentee} was paired with {mentor} on {at}: {mentor} accepted their request")
        }
        "assign" | "autopair" => {
            format!("{mentee} was paired with {mentor} on {at} by {who} (/{via})")
        }
        _ => format!("{mentee} was paired with {mentor} on {at}"),
    };
    let since = if closed_since {
        " That match has closed since."
    } else {
        ""
    };
    format!("{how}. Nothing was changed.{since}")
}

/// A manual-match press for a mentee who cannot be paired now, and was not paired either.
pub fn cannot_claim(why: &str) -> String {
    format!(
        "{why}: they cannot be paired now, so nothing was changed. See /user_show for where they stand."
    )
}

/// A manual-match press for a mentee who has chosen again since their round ran out.
pub fn chose_again(mentee: &str, mentor: &str, mentee_email: &str) -> String {
    format!(
        "{mentee} has chosen again since: their request is with {mentor}, so nothing was changed. To pair them anyway, /assign {mentee_email} with the mentor."
    )
}

/// A manual-match press whose mentor can no longer be paired (`why`, as pairing refused it).
pub fn claim_mentor_gone(why: &str, mentee_email: &str) -> String {
    format!(
        "{why}. Press another mentor of the message, or send /suggest {mentee_email} for a fresh list."
    )
}

pub fn session_booked(name: &str, other: &str, when: &str) -> Mail {
    mail(
        format!("Session with {other} on {when}"),
        &format!("Hello {name},"),
        &[Para::Text(&format!(
            "A mentoring session with {other} is booked for {when}. You will get a reminder the day before and an hour before. To cancel, send /sessions in chat."
        ))],
    )
}

pub fn session_reminder(name: &str, other: &str, when: &str, lead: &str) -> Mail {
    mail(
        format!("In {lead}: session with {other}"),
        &format!("Hello {name},"),
        &[Para::Text(&format!(
            "Your mentoring session with {other} starts {when}."
        ))],
    )
}

pub fn time_to_choose(name: &str, program: &str, recommendations: &str) -> Mail {
    let list = if recommendations.is_empty() {
        "No mentor is available right now: you will hear from us as soon as one is."
    } else {
        recommendations
    };
    mail(
        format!("Time to choose your mentor in {program}"),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "You are ready to be matched in {program}. Your best mentors, best first:"
            )),
            Para::Text(list),
            Para::Text(
                "In chat, press Choose for one, or send /choose with your ranking: the first gets your request at once.",
            ),
        ],
    )
}

pub fn application_complete(name: &str, person: &str, program: &str) -> Mail {
    mail(
        format!("Application complete: {person}"),
        &format!("Hello {name},"),
        &[Para::Text(&format!(
            "{person} completed their application for {program} and is waiting to be screened. In chat, /screening lists everyone waiting, oldest first."
        ))],
    )
}

pub fn match_closed(name: &str, other: &str, reason: Option<&str>, sessions: &str) -> Mail {
    let why = reason
        .map(|r| format!(" Reason: {}.", r.trim_end_matches('.')))
        .unwrap_or_default();
    mail(
        format!("Your match with {other} is closed"),
        &format!("Hello {name},"),
        &[Para::Text(&format!(
            "Your mentoring match with {other} is closed.{why}{sessions} Send /me to see where you stand; your program manager can tell you what comes next."
        ))],
    )
}

pub fn session_cancelled(name: &str, other: &str, when: &str, by: &str) -> Mail {
    mail(
        format!("Cancelled: session with {other} on {when}"),
        &format!("Hello {name},"),
        &[Para::Text(&format!(
            "{by} cancelled the session with {other} planned for {when}. The attached invite.ics takes it out of your calendar. Book another with /session_book."
        ))],
    )
}

pub fn inactivity_reminder(name: &str, days: i64) -> Mail {
    mail(
        "We miss you in the mentoring program".into(),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "We have not seen you for {}. Your mentoring works best with a little regular contact.",
                counted(days, "day", "days")
            )),
            Para::Text(
                "Send /me to the bot to see where you are: your match, your requests, your next session. If something is in the way, tell your program manager.",
            ),
        ],
    )
}

pub fn staff_digest(program: &str, lines: &str, count: usize) -> Mail {
    mail(
        format!(
            "{program}: {} today",
            counted(
                i64::try_from(count).unwrap_or(i64::MAX),
                "inactive person",
                "inactive people"
            )
        ),
        "Hello,",
        &[
            Para::Text(&format!(
                "{} in {program} can use mentorops but {} not been active for a while (longest first):",
                if count == 1 {
                    "This person"
                } else {
                    "These people"
                },
                if count == 1 { "has" } else { "have" }
            )),
            Para::Text(lines),
            Para::Text(if count == 1 {
                "They have been reminded. In chat, /inactive shows the current list."
            } else {
                "Each has been reminded. In chat, /inactive shows the current list."
            }),
        ],
    )
}

/// To a person whose email address staff changed (`/user_edit`), at the new address: a fresh
/// link code, the earlier ones no longer working (docs/domain.md#editing-people).
pub fn email_changed(name: &str, email: &str, code: &str, valid_days: i64) -> Mail {
    let how = format!(
        "To link another Discord or Telegram account, send /link {code} to the program's bot in a direct chat. \
         The code works once and for {}. Chat accounts you linked before stay linked.",
        counted(valid_days, "day", "days")
    );
    mail(
        "Your email address for the mentoring program".to_string(),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "Your program team changed the email address we have for you to {email}. From now on, our emails come here."
            )),
            Para::Text("Your new link code:"),
            Para::Code(code),
            Para::Text(&how),
            Para::Text("If you did not expect this change, tell your program manager."),
        ],
    )
}

/// A reminder staff send now (`/nudge`), with their words when they gave some
/// (docs/domain.md#nudge).
pub fn nudge(name: &str, from: &str, message: Option<&str>) -> Mail {
    let said = match message {
        Some(_) => format!("{from} from your mentoring program writes:"),
        None => format!(
            "{from} from your mentoring program would like to hear from you: your mentoring works best with a little regular contact."
        ),
    };
    let mut paragraphs = vec![Para::Text(&said)];
    if let Some(m) = message {
        paragraphs.push(Para::Text(m));
    }
    paragraphs.push(Para::Text(
        "Send /me to the bot to see where you are: your match, your requests, your next session. If something is in the way, reply to your program manager.",
    ));
    mail(
        "A reminder from your mentoring program".into(),
        &format!("Hello {name},"),
        &paragraphs,
    )
}

/// The chat form of [`nudge`].
pub fn nudge_chat(from: &str, message: Option<&str>) -> String {
    match message {
        Some(m) => format!(
            "A reminder from {from}, your mentoring program:\n{m}\n\nSend /me to see where your mentoring stands."
        ),
        None => format!(
            "A reminder from {from}, your mentoring program: we would like to hear from you. Send /me to see where your mentoring stands."
        ),
    }
}

/// [`session_booked`] saying which reminders will follow (`reminders`: a sentence, or empty for
/// none), since a session booked a day or an hour ahead or less gets fewer
/// (docs/domain.md#sessions); `details` (", 45 minutes, at Room 4") follows the time in the body.
pub fn session_booked_reminded(
    name: &str,
    other: &str,
    when: &str,
    details: &str,
    reminders: &str,
) -> Mail {
    let text =
        format!("A mentoring session with {other} is booked for {when}{details}. {reminders}");
    mail(
        format!("Session with {other} on {when}"),
        &format!("Hello {name},"),
        &[
            Para::Text(text.trim_end()),
            Para::Text(
                "The attached invite.ics puts it in your calendar. To cancel, send /sessions in chat.",
            ),
        ],
    )
}

/// A mentor's pause has ended (docs/domain.md#availability): the worker tells them, once.
pub fn pause_ended(name: &str, ended: &str) -> Mail {
    mail(
        "Your pause has ended: mentees can ask you again".into(),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "Your pause ended on {ended}. Mentees can send you requests again, and you may be recommended to them."
            )),
            Para::Text("To pause again, send /pause with a number of weeks (1 to 12) to the bot."),
        ],
    )
}

/// Why `/autopair` left someone unpaired (docs/domain.md#autopair-unpaired), for them and for
/// staff. `mentee`: they are a mentee. `most`: the hard filter that kept out the most people of
/// the other role (its code, `domain::unpaired::Filter::code`) and how many, of `total` in the
/// program. `passed`: how many passed every filter for them (each paired with someone else).
/// `more`: (their side, the other) in the run, when their side was the larger.
pub fn unpaired_reason(
    mentee: bool,
    most: Option<(&str, u32)>,
    total: u32,
    passed: u32,
    more: Option<(u32, u32)>,
) -> String {
    let (me, other, others) = if mentee {
        ("mentee", "mentor", "mentors")
    } else {
        ("mentor", "mentee", "mentees")
    };
    let mut parts = Vec::new();
    if let Some((mine, theirs)) = more {
        parts.push(if mentee {
            format!("there were more mentees ready ({mine}) than free mentor places ({theirs})")
        } else {
            format!("there were more free mentor places ({mine}) than mentees ready ({theirs})")
        });
    }
    if let Some((code, n)) = most {
        let who = if total == 1 {
            format!("the program's only {other}")
        } else if n == total {
            format!("all {total} of the program's {others}")
        } else {
            format!("{n} of the program's {total} {others}")
        };
        let was = if n == 1 { "was" } else { "were" };
        parts.push(match code {
            "not_ready" => format!("{who} {was} not ready to be matched"),
            "paused" => format!("{who} had paused new requests"),
            "no_place" => format!("{who} had no free place left"),
            "yourself" => format!("the only {other} left was you yourself"),
            _ => format!("{who} did not pass the pairing rules"),
        });
    }
    if passed == 0 {
        let why = if parts.is_empty() {
            format!("the program has no {other} to pair")
        } else {
            parts.join("; ")
        };
        return format!("no {other} was left who passes the pairing rules: {why}");
    }
    parts.push(if passed == 1 {
        format!("the one {other} who could be paired with you was paired with another {me}, for a better total score")
    } else {
        format!("all {passed} {others} who could be paired with you were paired with other {me}s, for a better total score")
    });
    parts.join("; ")
}

/// [`unpaired_reason`] in brief, for one line of the staff member's list: "more mentees (2)
/// than places (1); 2 of 3 mentors paused; the 1 mentor left went to a better-scoring pair".
pub fn unpaired_brief(
    mentee: bool,
    most: Option<(&str, u32)>,
    total: u32,
    passed: u32,
    more: Option<(u32, u32)>,
) -> String {
    let (other, others) = if mentee {
        ("mentor", "mentors")
    } else {
        ("mentee", "mentees")
    };
    let mut parts = Vec::new();
    if let Some((mine, theirs)) = more {
        parts.push(if mentee {
            format!("more mentees ({mine}) than places ({theirs})")
        } else {
            format!("more places ({mine}) than mentees ({theirs})")
        });
    }
    if let Some((code, n)) = most {
        let what = match code {
            "not_ready" => "not ready",
            "paused" => "paused",
            "no_place" => "with no free place",
            "yourself" => "yourself",
            _ => "filtered out",
        };
        parts.push(format!(
            "{n} of {total} {} {what}",
            if total == 1 { other } else { others }
        ));
    }
    if passed == 0 {
        return format!("no {other} passes the filters: {}", parts.join("; "));
    }
    parts.push(if passed == 1 {
        format!("the 1 {other} left went to a better-scoring pair")
    } else {
        format!("the {passed} {others} left went to better-scoring pairs")
    });
    parts.join("; ")
}

/// What happens next for someone `/autopair` left unpaired (docs/domain.md#autopair-unpaired).
fn unpaired_next(mentee: bool) -> &'static str {
    if mentee {
        "What happens next: you stay ready to be matched, and your program manager may pair you by hand. You can also ask a mentor yourself when one is free: /mentors, then /choose."
    } else {
        "What happens next: you stay ready to be matched, and your program manager may pair you by hand. Mentees can still ask you, and you will be told when you are paired."
    }
}

/// In chat, to someone `/autopair` left unpaired: the reason and the next step.
pub fn unpaired_chat(program: &str, reason: &str, mentee: bool) -> String {
    format!(
        "Auto-pairing in {program} left you unpaired this time: {reason}.\n{}",
        unpaired_next(mentee)
    )
}

/// By email, to someone `/autopair` left unpaired: the reason and the next step.
pub fn unpaired(name: &str, program: &str, reason: &str, mentee: bool) -> Mail {
    mail(
        format!("You were not paired in {program} this time"),
        &format!("Hello {name},"),
        &[
            Para::Text(&format!(
                "Auto-pairing in {program} left you unpaired this time: {reason}."
            )),
            Para::Text(unpaired_next(mentee)),
        ],
    )
}

/// One of the questions a match's two people are asked when it closes
/// (docs/domain.md#feedback): its number, its words, and its answers as (code stored, label on
/// the button).
#[derive(Debug, Clone, Copy)]
pub struct FeedbackQuestion {
    pub number: i64,
    /// Its column in `/export` (the answer's code, per persona).
    pub column: &'static str,
    pub text: &'static str,
    pub answers: &'static [(&'static str, &'static str)],
}

/// The code of the third question's answer that gives no word (docs/domain.md#feedback).
pub const FEEDBACK_SKIP: &str = "skip";

/// The close-of-match questions, in the order they are asked (docs/domain.md#feedback). The
/// `/overview` line reads the codes: 1 yes/somewhat/no, 2 yes/no, 3 a word or skip.
pub static FEEDBACK_QUESTIONS: [FeedbackQuestion; 3] = [
    FeedbackQuestion {
        number: 1,
        column: "feedback_useful",
        text: "Was this mentorship useful?",
        answers: &[("yes", "Yes"), ("somewhat", "Somewhat"), ("no", "No")],
    },
    FeedbackQuestion {
        number: 2,
        column: "feedback_again",
        text: "Would you be paired with them again?",
        answers: &[("yes", "Yes"), ("no", "No")],
    },
    FeedbackQuestion {
        number: 3,
        column: "feedback_word",
        text: "One word for it?",
        answers: &[
            ("inspiring", "Inspiring"),
            ("helpful", "Helpful"),
            ("okay", "Okay"),
            ("difficult", "Difficult"),
            (FEEDBACK_SKIP, "Skip"),
        ],
    },
];

/// The question numbered `number`, if there is one.
pub fn feedback_question(number: i64) -> Option<&'static FeedbackQuestion> {
    FEEDBACK_QUESTIONS.iter().find(|q| q.number == number)
}

/// The command a feedback button runs: `/feedback 12 q:1 answer:yes` (at most 64 bytes for a
/// match id of up to 19 digits: Telegram's callback data).
pub fn feedback_command(match_id: i64, number: i64, code: &str) -> String {
    format!("/feedback {match_id} q:{number} answer:{code}")
}

/// Question `q` about match `match_id` (with `other`) as a message: its text and one button per
/// answer. The close message and every press's reply show the next one this way.
pub fn feedback_ask(
    match_id: i64,
    other: &str,
    q: &FeedbackQuestion,
) -> (String, Vec<crate::reply::Button>) {
    let text = format!(
        "Feedback on your match with {other} (match #{match_id}), question {} of {}: {}",
        q.number,
        FEEDBACK_QUESTIONS.len(),
        q.text
    );
    let buttons = q
        .answers
        .iter()
        .map(|(code, label)| crate::reply::Button {
            label: (*label).to_string(),
            command: feedback_command(match_id, q.number, code),
        })
        .collect();
    (text, buttons)
}

/// The email to someone with no chat account linked, whose questions cannot come as buttons
/// (docs/domain.md#feedback).
pub fn feedback_email(name: &str, other: &str, match_id: i64) -> Mail {
    let body = format!(
        "Your match with {other} has closed. Three short questions help your program: link a chat account and send /feedback {match_id} to the bot to answer them with buttons."
    );
    mail(
        "How was your mentorship?".into(),
        &format!("Hello {name},"),
        &[Para::Text(&body)],
    )
}

/// The `/overview` line of the close-of-match feedback, from (question, answer code, count)
/// rows (`store::feedback::counts`): "Feedback on closed matches: useful 7 · somewhat 2 · not
/// 1; would pair again 8 of 10; words: Helpful 4, Inspiring 3".
pub fn feedback_line(rows: &[(i64, String, i64)]) -> String {
    let n = |q: i64, code: &str| {
        rows.iter()
            .filter(|(rq, rc, _)| *rq == q && rc == code)
            .map(|(_, _, n)| n)
            .sum::<i64>()
    };
    let again: i64 = rows.iter().filter(|(q, _, _)| *q == 2).map(|r| r.2).sum();
    let mut words: Vec<(&str, i64)> = FEEDBACK_QUESTIONS[2]
        .answers
        .iter()
        .filter(|(code, _)| *code != FEEDBACK_SKIP)
        .map(|(code, label)| (*label, n(3, code)))
        .filter(|(_, k)| *k > 0)
        .collect();
    // Most said first; the table's order among equals.
    words.sort_by_key(|(_, k)| std::cmp::Reverse(*k));
    let words = if words.is_empty() {
        "none".to_string()
    } else {
        words
            .iter()
            .map(|(w, k)| format!("{w} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "Feedback on closed matches: useful {} · somewhat {} · not {}; would pair again {} of {again}; words: {words}",
        n(1, "yes"),
        n(1, "somewhat"),
        n(1, "no"),
        n(2, "yes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_in_a_cascade_read_as_people_say_them() {
        let ordinals: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            ordinals,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
        let left =
            |h: i64, m: i64| time_left(chrono::Duration::hours(h) + chrono::Duration::minutes(m));
        assert_eq!(left(53, 59), "2 days 5 hours");
        assert_eq!(left(72, 0), "3 days");
        assert_eq!(left(48, 30), "2 days");
        assert_eq!(left(24, 0), "1 day");
        assert_eq!(left(1, 1), "1 hour 1 minute");
        assert_eq!(left(0, 45), "45 minutes");
        assert_eq!(left(0, 0), "less than a minute");
        assert_eq!(left(-3, 0), "less than a minute");
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-03T20:00:00Z")
            .map(|t| t.with_timezone(&chrono::Utc));
        assert_eq!(
            t.map(|t| zoned(t, chrono_tz::America::Sao_Paulo))
                .ok()
                .as_deref(),
            Some("Thu 03 Dec 17:00 America/Sao_Paulo")
        );
    }

    #[test]
    fn both_templates_render_every_paragraph() {
        let m = mail(
            "s".into(),
            "Hello Ana,",
            &[
                Para::Text("First."),
                Para::Code("ABCD2345"),
                Para::Text("Last."),
            ],
        );
        for body in [&m.text, &m.html] {
            let (a, b, c) = (
                body.find("First."),
                body.find("ABCD2345"),
                body.find("Last."),
            );
            assert!(a < b && b < c && a.is_some(), "{body}");
            assert!(body.contains("Hello Ana,") && body.contains("— mentorops"));
        }
        assert!(m.text.contains("\n    ABCD2345\n"), "{}", m.text);
        assert!(m.html.contains("<b>ABCD2345</b>"), "{}", m.html);
    }

    #[test]
    fn counts_of_one_take_the_singular() {
        let digest = staff_digest("Acme/Spring", "Ana Lima — 20 days", 1);
        assert_eq!(digest.subject, "Acme/Spring: 1 inactive person today");
        assert!(
            digest.text.contains("This person in Acme/Spring"),
            "{}",
            digest.text
        );
        let many = staff_digest("Acme/Spring", "a\nb", 2);
        assert_eq!(many.subject, "Acme/Spring: 2 inactive people today");
        for m in [
            digest,
            welcome("Ana", "mentee", None, "K7PQ2MZX", 1),
            email_changed("Ana", "ana@example.org", "K7PQ2MZX", 1),
            inactivity_reminder("Ana", 1),
        ] {
            for wrong in ["1 people", "1 days", "1 mentors", "1 inactive people"] {
                assert!(
                    !m.text.contains(wrong) && !m.subject.contains(wrong),
                    "{}",
                    m.text
                );
            }
        }
        assert!(inactivity_reminder("Ana", 1).text.contains("for 1 day."));
    }

    #[test]
    fn a_run_out_round_with_no_mentor_left_asks_for_no_choice() {
        let none = chain_exhausted("Ana", "");
        assert!(
            !none.text.contains("choose again") && none.text.contains("program manager"),
            "{}",
            none.text
        );
        let some = chain_exhausted("Ana", "#7 Maria Mentor");
        assert!(some.text.contains("choose again"), "{}", some.text);
        assert!(
            staff_chain_exhausted("Ana", "Spring", true)
                .text
                .contains("No other mentor")
        );
    }

    #[test]
    fn welcome_carries_the_code_in_both_bodies_and_escapes_html() {
        let m = welcome("Ana <b>", "mentee", Some("Org/Spring"), "K7PQ2MZX", 7);
        assert!(m.text.contains("/link K7PQ2MZX") && m.html.contains("K7PQ2MZX"));
        assert!(m.html.contains("Ana &lt;b&gt;") && !m.html.contains("Ana <b>"));
    }
}
