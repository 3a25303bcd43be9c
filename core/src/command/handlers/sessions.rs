//! Sessions between the two people of a match (SPEC §6): booked in the program's time zone,
//! listed, cancelled, and reminded 24 hours and 1 hour before.

use chrono::{NaiveDateTime, TimeZone};

use super::super::ctx::Ctx;
use super::super::matching::{persona_user, when};
use super::super::parse::Invocation;
use super::number;
use crate::error::{Error, Result};
use crate::messages;
use crate::reply::{Reply, echo};
use crate::roles::Capability;
use crate::status::MatchStatus;
use crate::store::matches::{Match, MatchState};
use crate::store::orgs::Program;
use crate::store::sessions::{ReminderColumn, Session};
use crate::store::users::User;
use crate::store::{self};

/// The caller's matches (open ones only, unless `closed_too`), each with the other person.
async fn my_matches(ctx: &mut Ctx<'_>, me: &User, closed_too: bool) -> Result<Vec<(Match, User)>> {
    let mut out = Vec::new();
    for p in store::users::personas_of(ctx.c(), me.id).await? {
        if !closed_too && p.match_status != MatchStatus::Matched {
            continue;
        }
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            if (m.state == MatchState::Open || closed_too)
                && let Some(other_pid) = m.counterpart(p.id)
            {
                let (_, other) = persona_user(ctx, other_pid).await?;
                out.push((m, other));
            }
        }
    }
    Ok(out)
}

async fn program(ctx: &mut Ctx<'_>, m: &Match) -> Result<Option<Program>> {
    match m.program_id {
        Some(id) => store::orgs::program(ctx.c(), id).await,
        None => Ok(None),
    }
}

pub async fn session_book(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mut matches = my_matches(ctx, &me, false).await?;
    if let Some(with) = inv.get("with") {
        let w = with.trim().to_lowercase();
        matches.retain(|(_, o)| {
            o.email == w
                || o.full_name.to_lowercase().contains(&w)
                || with.trim() == format!("#{}", o.id)
        });
    }
    let (m, other) = match matches.len() {
        1 => matches.remove(0),
        0 => {
            return Err(Error::conflict(
                "you have no active match to book a session with (check the name given in with:)",
            ));
        }
        _ => {
            return Err(Error::Ambiguous(format!(
                "you have several matches: {}. Add with:NAME",
                matches
                    .iter()
                    .map(|(_, o)| o.full_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let program = program(ctx, &m).await?;
    let tz = program
        .as_ref()
        .map(|p| p.settings.timezone)
        .unwrap_or(chrono_tz::Tz::UTC);
    let raw = inv.required("at")?.trim().replace('T', " ");
    let naive = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M").map_err(|_| {
        Error::input(format!(
            "'{}' is not a date and time: write it as at:\"2026-12-01 17:00\" ({} time)",
            echo(&raw),
            tz.name()
        ))
    })?;
    // Quoted back as read, not as typed: chrono lets runs of spaces and leading zeros through.
    let raw = naive.format("%Y-%m-%d %H:%M");
    let starts = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| {
            Error::input(format!(
                "{raw} does not exist in {} (the clocks change then): pick another time",
                tz.name()
            ))
        })?
        .with_timezone(&chrono::Utc);
    if starts <= ctx.now {
        return Err(Error::input(format!(
            "{raw} ({}) is in the past: pick a time to come",
            tz.name()
        )));
    }
    let now = ctx.now;
    let id = store::sessions::insert(ctx.c(), m.id, starts, me.id, now).await?;
    let at = when(program.as_ref(), starts);
    let text = format!(
        "{} booked a session with you for {at} (session #{id}).",
        me.full_name
    );
    ctx.chat(
        &other,
        "session_booked",
        &format!("session:{id}:booked"),
        text,
        Vec::new(),
    )
    .await?;
    for (who, counterpart) in [(&me, &other), (&other, &me)] {
        let mail = messages::session_booked(&who.full_name, &counterpart.full_name, &at);
        ctx.email(
            who,
            "session_booked",
            format!("session:{id}:booked:{}", who.id),
            mail,
        )
        .await?;
    }
    Ok(Reply::text(format!("Session #{id} with {} booked for {at}. You will both be reminded a day and an hour before.", other.full_name))
        .with_button("Cancel it", format!("/session_cancel {id}")))
}

pub async fn sessions(ctx: &mut Ctx<'_>) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mut lines = Vec::new();
    let mut reply = Reply::default();
    for (m, other) in my_matches(ctx, &me, true).await? {
        let program = program(ctx, &m).await?;
        for s in store::sessions::of_match(ctx.c(), m.id).await? {
            if s.state != "booked" || s.starts_at <= ctx.now {
                continue;
            }
            lines.push(format!(
                "#{} {} with {}",
                s.id,
                when(program.as_ref(), s.starts_at),
                other.full_name
            ));
            reply = reply.with_button(
                format!("Cancel #{}", s.id),
                format!("/session_cancel {}", s.id),
            );
        }
    }
    reply.text = if lines.is_empty() {
        "You have no upcoming sessions. Book one with /session_book at:\"YYYY-MM-DD HH:MM\".".into()
    } else {
        format!("Upcoming sessions:\n{}", lines.join("\n"))
    };
    Ok(reply)
}

/// The session and the two people of its match; refused unless the caller is one of them.
async fn session_parties(ctx: &mut Ctx<'_>, s: &Session) -> Result<(Match, Vec<User>)> {
    let m = store::matches::get(ctx.c(), s.match_id)
        .await?
        .ok_or_else(|| Error::Internal("session without match".into()))?;
    let mut people = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        people.push(persona_user(ctx, pid).await?.1);
    }
    Ok((m, people))
}

pub async fn session_cancel(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let id = number(inv, "session", 0, i64::MAX)?;
    let not_found = || Error::not_found(format!("you have no session #{id}: see /sessions"));
    let s = store::sessions::get(ctx.c(), id)
        .await?
        .ok_or_else(not_found)?;
    let (m, people) = session_parties(ctx, &s).await?;
    let is_staff = ctx
        .actor
        .grants
        .iter()
        .any(|g| crate::roles::role_has(g.role, Capability::Pair));
    if !people.iter().any(|u| u.id == me.id) && !is_staff {
        return Err(not_found());
    }
    if s.state != "booked" {
        return Err(Error::conflict(format!(
            "session #{id} is {} already",
            s.state
        )));
    }
    let now = ctx.now;
    if !store::sessions::cancel(ctx.c(), id, now).await? {
        return Err(Error::conflict(format!(
            "session #{id} was cancelled a moment ago"
        )));
    }
    let program = program(ctx, &m).await?;
    let at = when(program.as_ref(), s.starts_at);
    for u in people.iter().filter(|u| u.id != me.id) {
        let other = people
            .iter()
            .find(|x| x.id != u.id)
            .map(|x| x.full_name.clone())
            .unwrap_or_default();
        ctx.chat(
            u,
            "session_cancelled",
            &format!("session:{id}:cancelled"),
            format!("{} cancelled the session of {at}.", me.full_name),
            Vec::new(),
        )
        .await?;
        let mail = messages::session_cancelled(&u.full_name, &other, &at, &me.full_name);
        ctx.email(
            u,
            "session_cancelled",
            format!("session:{id}:cancelled:{}", u.id),
            mail,
        )
        .await?;
    }
    Ok(Reply::text(format!(
        "Session #{id} of {at} is cancelled; the other person has been told."
    )))
}

/// Sends one of a session's two reminders to both people, once.
pub async fn remind(ctx: &mut Ctx<'_>, id: i64, column: ReminderColumn) -> Result<bool> {
    let Some(s) = store::sessions::get(ctx.c(), id).await? else {
        return Ok(false);
    };
    let now = ctx.now;
    if s.state != "booked"
        || s.starts_at <= now
        || !store::sessions::mark_reminded(ctx.c(), id, column, now).await?
    {
        return Ok(false);
    }
    let (m, people) = session_parties(ctx, &s).await?;
    let program = program(ctx, &m).await?;
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
        ctx.chat(
            u,
            "session_reminder",
            &key,
            format!("Reminder: your session with {other} starts {at}."),
            Vec::new(),
        )
        .await?;
        ctx.email(
            u,
            "session_reminder",
            key,
            messages::session_reminder(&u.full_name, &other, &at, lead),
        )
        .await?;
    }
    Ok(true)
}
