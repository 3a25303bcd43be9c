//! Sessions between the two people of a match: booking (with how long and where), their
//! parties, their calendar invitations, and their reminders, 24 hours and 1 hour before
//! (docs/domain.md#sessions); how long one lasts (docs/domain.md#flash-mentoring).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::people::persona_user;
use super::show::when;
use super::work::{Notices, Work};
use crate::error::{Error, Result};
use crate::ics;
use crate::messages;
use crate::reply::Attachment;
use crate::store::matches::Match;
use crate::store::orgs::Program;
use crate::store::sessions::{NewSession, ReminderColumn, Session};
use crate::store::users::User;
use crate::store::{self};
use crate::values::{echo, format_duration, parse_duration, refuse_hidden};

/// How long a session lasts when its booking does not say (`duration:`), and how long every
/// session booked before lengths were stored lasts (migration 0014's default): a
/// flash-mentoring match closes once its first session has ended (docs/domain.md#flash-mentoring).
pub fn session_length() -> Duration {
    Duration::hours(1)
}

/// The shortest and the longest session one can book (docs/domain.md#sessions): shorter is a
/// typo for minutes, longer is not a mentoring session (`duration:45` reads as 45 hours).
pub const SHORTEST_SESSION_MINUTES: i64 = 15;
pub const LONGEST_SESSION_MINUTES: i64 = 8 * 60;

/// The most characters a session's place holds.
pub const PLACE_MAX_CHARS: usize = 200;

/// A session's length as typed in `duration:` (None: [`session_length`]): `45m`, `1h`, `90m`,
/// from 15 minutes to 8 hours.
pub fn length_of(raw: Option<&str>) -> Result<Duration> {
    let Some(raw) = raw else {
        return Ok(session_length());
    };
    let fix = "write minutes or hours, like duration:45m or duration:2h";
    let d = parse_duration(raw)
        .map_err(|_| Error::input(format!("'{}' is not a length: {fix}", echo(raw.trim()))))?;
    let minutes = d.num_minutes();
    if !(SHORTEST_SESSION_MINUTES..=LONGEST_SESSION_MINUTES).contains(&minutes) {
        return Err(Error::input(format!(
            "a session lasts from {} to {}, not {}: {fix}",
            format_duration(Duration::minutes(SHORTEST_SESSION_MINUTES)),
            format_duration(Duration::minutes(LONGEST_SESSION_MINUTES)),
            format_duration(d)
        )));
    }
    Ok(d)
}

/// A session's place as typed in `place:` (None: not said): one line of up to 200 characters
/// (runs of white space become one space), no invisible characters — it goes into calendars
/// and emails as written.
pub fn place_of(raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let place = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if place.is_empty() {
        return Err(Error::input(
            "the place is empty: write where you meet, like place:\"Room 4\" or a video link, or leave place: out",
        ));
    }
    if place.chars().count() > PLACE_MAX_CHARS {
        return Err(Error::input(format!(
            "the place is longer than {PLACE_MAX_CHARS} characters: shorten it (a link, or a room and a street)"
        )));
    }
    refuse_hidden(&place, "the place")?;
    Ok(Some(place))
}

/// The reminders a session booked at `now` to start at `starts` will get: each whose lead is
/// shorter than the time left. A reminder that would be due at once, or is already past, is
/// not sent — the booking itself told both people (docs/domain.md#sessions).
pub fn reminders_for(starts: DateTime<Utc>, now: DateTime<Utc>) -> Vec<ReminderColumn> {
    ReminderColumn::ALL
        .into_iter()
        .filter(|c| starts - now > c.lead())
        .collect()
}

/// "You will get a reminder the day before and an hour before." for the reminders a session
/// will get (none: empty).
pub fn reminders_line(reminders: &[ReminderColumn]) -> &'static str {
    let day = reminders.contains(&ReminderColumn::DayBefore);
    let hour = reminders.contains(&ReminderColumn::HourBefore);
    match (day, hour) {
        (true, true) => "You will get a reminder the day before and an hour before.",
        (true, false) => "You will get a reminder the day before.",
        (false, true) => "You will get a reminder an hour before.",
        (false, false) => "",
    }
}

/// Books `s` (a session of an open match, its length and place checked by [`length_of`] and
/// [`place_of`]) and returns it as stored and the reminders it will get. The reminders it will
/// not get ([`reminders_for`]) are settled at once, so no job is ever queued for them
/// (docs/domain.md#sessions).
pub async fn book(w: &mut Work<'_>, s: &NewSession<'_>) -> Result<(Session, Vec<ReminderColumn>)> {
    let now = w.now;
    let id = store::sessions::insert(w.c(), s, now).await?;
    let reminders = reminders_for(s.starts_at, now);
    let settled: Vec<ReminderColumn> = ReminderColumn::ALL
        .into_iter()
        .filter(|c| !reminders.contains(c))
        .collect();
    store::sessions::settle_reminders(w.c(), id, &settled, now).await?;
    let session = store::sessions::get(w.c(), id)
        .await?
        .ok_or_else(|| Error::Internal(format!("session #{id} not found just after booking it")))?;
    Ok((session, reminders))
}

/// The name of a session's calendar file.
pub const INVITE_FILE: &str = "invite.ics";

/// The calendar file of session `s` between `people` (docs/domain.md#sessions): an iCalendar
/// event in the program's time zone (UTC without a program, as [`when`] shows it), UID
/// `session-<id>@<host>` — the host of `smtp.from`, else `mentorops` — so the cancellation
/// replaces the invitation in the calendar; the organizer is whoever booked it (the first
/// person, once the booker is gone). None without anyone to invite.
pub fn invitation(
    w: &Work<'_>,
    s: &Session,
    program: Option<&Program>,
    people: &[User],
    method: ics::Method,
) -> Option<Attachment> {
    let attendees: Vec<ics::Person<'_>> = people
        .iter()
        .map(|u| ics::Person {
            name: &u.full_name,
            email: &u.email,
        })
        .collect();
    let organizer = people
        .iter()
        .position(|u| Some(u.id) == s.booked_by_user_id)
        .and_then(|i| attendees.get(i))
        .or(attendees.first())
        .copied()?;
    let names: Vec<&str> = people.iter().map(|u| u.full_name.as_str()).collect();
    let summary = format!("Mentoring session: {}", names.join(" and "));
    let description = match method {
        ics::Method::Request => format!(
            "Session #{} booked with mentorops. To cancel it, send /session_cancel {} in chat.",
            s.id, s.id
        ),
        ics::Method::Cancel => format!("Session #{} is cancelled.", s.id),
    };
    let event = ics::Event {
        method,
        uid: format!(
            "session-{}@{}",
            s.id,
            calendar_host(&w.settings().smtp.from)
        ),
        stamp: w.now,
        starts: s.starts_at,
        ends: s.ends_at(),
        tz: program.map_or(chrono_tz::Tz::UTC, |p| p.settings.timezone),
        summary: &summary,
        description: Some(&description),
        location: s.place.as_deref(),
        organizer,
        attendees: &attendees,
    };
    Some(Attachment {
        file_name: INVITE_FILE.into(),
        media_type: method.media_type(),
        bytes: ics::calendar(&event).into_bytes(),
    })
}

/// The cancellations of `sessions` between `people`, one file each (`invite.ics` for one,
/// `invite-<id>.ics` each for several), for the messages that say they are cancelled.
pub fn cancellations(
    w: &Work<'_>,
    sessions: &[Session],
    program: Option<&Program>,
    people: &[User],
) -> Vec<Attachment> {
    sessions
        .iter()
        .filter_map(|s| {
            let mut a = invitation(w, s, program, people, ics::Method::Cancel)?;
            if sessions.len() > 1 {
                a.file_name = format!("invite-{}.ics", s.id);
            }
            Some(a)
        })
        .collect()
}

/// The host part of a session's UID: the domain of `smtp.from` (`"mentorops <noreply@example.org>"`
/// → `example.org`), the deployment's own name; `mentorops` when it has none that fits a UID.
fn calendar_host(from: &str) -> String {
    let domain = from
        .rsplit_once('@')
        .map(|(_, d)| d.trim().trim_end_matches('>').trim())
        .unwrap_or_default();
    let fits = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if fits {
        domain.to_ascii_lowercase()
    } else {
        "mentorops".into()
    }
}

/// The program a match belongs to (None once it was deleted).
pub async fn program_of_match(w: &mut Work<'_>, m: &Match) -> Result<Option<Program>> {
    match m.program_id {
        Some(id) => store::orgs::program(w.c(), id).await,
        None => Ok(None),
    }
}

/// A session's match and the two people of it (one may have been deleted since).
pub async fn session_parties(w: &mut Work<'_>, s: &Session) -> Result<(Match, Vec<User>)> {
    let m = store::matches::get(w.c(), s.match_id)
        .await?
        .ok_or_else(|| Error::Internal("session without match".into()))?;
    let mut people = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        people.push(persona_user(w, pid).await?.1);
    }
    Ok((m, people))
}

/// Sends this reminder of each of `ids` that is due it (booked, not started, starting within
/// the reminder's lead, not reminded yet) to both people, once — one compare-and-swap for all,
/// one read of the people, one write of the messages. Returns how many sessions it reminded.
pub async fn remind_batch(w: &mut Work<'_>, ids: &[i64], column: ReminderColumn) -> Result<usize> {
    let now = w.now;
    let done = store::sessions::remind_due(w.c(), ids, column, now).await?;
    if done.is_empty() {
        return Ok(0);
    }
    let parties = store::sessions::parties(w.c(), &done).await?;
    let mut program_ids: Vec<i64> = parties.iter().filter_map(|p| p.program_id).collect();
    program_ids.sort_unstable();
    program_ids.dedup();
    let mut programs: HashMap<i64, Program> = HashMap::with_capacity(program_ids.len());
    for id in program_ids {
        if let Some(p) = store::orgs::program(w.c(), id).await? {
            programs.insert(id, p);
        }
    }
    let mut users: Vec<i64> = parties.iter().map(|p| p.user.id).collect();
    users.sort_unstable();
    users.dedup();
    let links = store::links::links_of_users(w.c(), &users).await?;
    let lead = match column {
        ReminderColumn::DayBefore => "24 hours",
        ReminderColumn::HourBefore => "1 hour",
    };
    let mut n = Notices::default();
    for session in parties.chunk_by(|a, b| a.session_id == b.session_id) {
        let Some(first) = session.first() else {
            continue;
        };
        let program = first.program_id.and_then(|id| programs.get(&id));
        let at = when(program, first.starts_at);
        let mark = n.len();
        for p in session {
            let u = &p.user;
            let other = session
                .iter()
                .find(|x| x.user.id != u.id)
                .map(|x| x.user.full_name.clone())
                .unwrap_or_default();
            let key = format!("session:{}:{lead}:{}", p.session_id, u.id);
            n.chat(
                u,
                links.get(&u.id).map_or(&[][..], Vec::as_slice),
                "session_reminder",
                &key,
                format!("Reminder: your session with {other} starts {at}."),
                Vec::new(),
            );
            n.email(
                u,
                "session_reminder",
                key,
                messages::session_reminder(&u.full_name, &other, &at, lead),
            );
        }
        // A session inside someone's quiet hours: its reminder goes now, not after it began.
        n.not_held_past(mark, first.starts_at);
    }
    w.send(n).await?;
    Ok(done.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_length_is_minutes_or_hours_from_15m_to_8h_and_an_hour_unsaid() -> TestResult {
        assert_eq!(length_of(None)?, Duration::hours(1));
        assert_eq!(length_of(Some("45m"))?, Duration::minutes(45));
        assert_eq!(length_of(Some(" 2h "))?, Duration::hours(2));
        for (bad, says) in [
            ("45", "not 45h"),
            ("5m", "not 5m"),
            ("1d", "not 1d"),
            ("soon", "'soon' is not a length"),
            ("0m", "is not a length"),
        ] {
            let e = length_of(Some(bad))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(says) && e.contains("duration:45m"), "{bad}: {e}");
        }
        Ok(())
    }

    #[test]
    fn a_place_is_one_line_of_visible_text_up_to_200_characters() -> TestResult {
        assert_eq!(place_of(None)?, None);
        assert_eq!(
            place_of(Some("  Café  Lisboa,\n room 2 "))?.as_deref(),
            Some("Café Lisboa, room 2")
        );
        let long = "x".repeat(PLACE_MAX_CHARS + 1);
        for (bad, says) in [
            ("   ", "the place is empty"),
            (long.as_str(), "longer than 200 characters"),
            ("Room\u{202e}4", "type it again without it"),
        ] {
            let e = place_of(Some(bad))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
        assert!(place_of(Some(&"x".repeat(PLACE_MAX_CHARS)))?.is_some());
        Ok(())
    }

    #[test]
    fn the_uid_host_is_the_sender_domain_or_mentorops() {
        assert_eq!(
            calendar_host("mentorops <noreply@Example.org>"),
            "example.org"
        );
        assert_eq!(
            calendar_host("noreply@mail.example.org"),
            "mail.example.org"
        );
        assert_eq!(calendar_host("nobody"), "mentorops");
        assert_eq!(calendar_host("x@bad host>"), "mentorops");
    }
}
