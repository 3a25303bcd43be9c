//! Sessions between the two people of a match: booking, their parties and their reminders,
//! 24 hours and 1 hour before (docs/domain.md#sessions), and how long one lasts
//! (docs/domain.md#flash-mentoring).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::people::persona_user;
use super::show::when;
use super::work::{Notices, Work};
use crate::error::{Error, Result};
use crate::messages;
use crate::store::matches::Match;
use crate::store::orgs::Program;
use crate::store::sessions::{ReminderColumn, Session};
use crate::store::users::User;
use crate::store::{self};

/// How long a session lasts. Sessions are booked with a start only, so every session is taken
/// to last this long: a flash-mentoring match closes once its first session has ended, this
/// long after it started (docs/domain.md#flash-mentoring).
pub fn session_length() -> Duration {
    Duration::hours(1)
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

/// Books a session of match `m` starting at `starts`, by user `by`, and returns its id and the
/// reminders it will get. The reminders it will not get ([`reminders_for`]) are settled at once,
/// so no job is ever queued for them (docs/domain.md#sessions).
pub async fn book(
    w: &mut Work<'_>,
    m: &Match,
    starts: DateTime<Utc>,
    by: i64,
) -> Result<(i64, Vec<ReminderColumn>)> {
    let now = w.now;
    let id = store::sessions::insert(w.c(), m.id, starts, by, now).await?;
    let reminders = reminders_for(starts, now);
    let settled: Vec<ReminderColumn> = ReminderColumn::ALL
        .into_iter()
        .filter(|c| !reminders.contains(c))
        .collect();
    store::sessions::settle_reminders(w.c(), id, &settled, now).await?;
    Ok((id, reminders))
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
    }
    w.send(n).await?;
    Ok(done.len())
}
