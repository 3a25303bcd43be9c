//! Sessions between the two people of a match: their parties and their reminders, 24 hours
//! and 1 hour before (docs/domain.md#sessions).

use std::collections::HashMap;

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
