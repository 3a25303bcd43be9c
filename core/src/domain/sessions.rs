//! Sessions between the two people of a match: their parties and their reminders, 24 hours
//! and 1 hour before (docs/domain.md#sessions).

use super::people::persona_user;
use super::show::when;
use super::work::Work;
use crate::error::{Error, Result};
use crate::messages;
use crate::store::matches::Match;
use crate::store::orgs::Program;
use crate::store::sessions::{ReminderColumn, Session, SessionState};
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

/// Sends one of a session's two reminders to both people, once.
pub async fn remind(w: &mut Work<'_>, id: i64, column: ReminderColumn) -> Result<bool> {
    let Some(s) = store::sessions::get(w.c(), id).await? else {
        return Ok(false);
    };
    let now = w.now;
    if s.state != SessionState::Booked
        || s.starts_at <= now
        || !store::sessions::mark_reminded(w.c(), id, column, now).await?
    {
        return Ok(false);
    }
    let (m, people) = session_parties(w, &s).await?;
    let program = program_of_match(w, &m).await?;
    let at = when(program.as_ref(), s.starts_at);
    let lead = match column {
        ReminderColumn::DayBefore => "24 hours",
        ReminderColumn::HourBefore => "1 hour",
    };
    for u in &people {
        let other = people
            .iter()
            .find(|x| x.id != u.id)
            .map(|x| x.full_name.clone())
            .unwrap_or_default();
        let key = format!("session:{id}:{lead}:{}", u.id);
        w.chat(
            u,
            "session_reminder",
            &key,
            format!("Reminder: your session with {other} starts {at}."),
            Vec::new(),
        )
        .await?;
        w.email(
            u,
            "session_reminder",
            key,
            messages::session_reminder(&u.full_name, &other, &at, lead),
        )
        .await?;
    }
    Ok(true)
}
