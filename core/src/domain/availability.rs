//! A mentor's availability beyond their statuses (docs/domain.md#availability): a pause of new
//! requests for some weeks (`/pause`, the offer's "Decline and pause me", `/resume`, and its end
//! on the clock, [`end_pause`]), and places — how many mentees a mentor takes at once
//! (docs/domain.md#capacity), each place a mentor persona of its own ([`top_up`]). The rules
//! themselves (who is paused, who is full) are `super::recommend::busy_reason` and
//! `super::recommend::places`.

use chrono::{DateTime, Duration, Utc};

use super::offers::withdraw_for_persona;
use super::people::add_persona;
use super::recommend::{place_for, places};
use super::show::when;
use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::messages;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::orgs::Program;
use crate::store::users::{MentorLoad, Persona, User};
use crate::store::{self};
use crate::text::counted;

/// Why pending offers are withdrawn from a mentor who pauses.
const PAUSED: &str = "the mentor paused new requests";

/// What [`pause`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub until: DateTime<Utc>,
    /// The pause it replaced, if one was still running.
    pub replaced: Option<DateTime<Utc>>,
    /// The mentor's other pending requests, withdrawn and passed on to those mentees' next
    /// choices.
    pub withdrawn: usize,
}

/// How a time is shown beside a pause (a pause is the person's, across programs: UTC).
pub fn shown(t: DateTime<Utc>) -> String {
    when(None, t)
}

/// `user`'s mentor personas, oldest first.
async fn mentor_personas(w: &mut Work<'_>, user_id: i64) -> Result<Vec<Persona>> {
    Ok(store::users::personas_of(w.c(), user_id)
        .await?
        .into_iter()
        .filter(|p| p.role == PersonaRole::Mentor)
        .collect())
}

/// Pauses `user`'s new requests for `weeks` weeks from now (docs/domain.md#availability): no
/// offer goes to them, no mentee is shown them, `/autopair` leaves them out, until the end —
/// which the worker tells them of ([`end_pause`]) — or `/resume`. Their pending offers are
/// withdrawn now and those mentees' rounds move on at once, as when a mentor stops being
/// available. A pause still running is replaced (from now). Only a mentor pauses.
pub async fn pause(w: &mut Work<'_>, user: &User, weeks: i64) -> Result<Paused> {
    let mine = mentor_personas(w, user.id).await?;
    if mine.is_empty() {
        return Err(Error::conflict(
            "pausing is for mentors, and you have no mentor persona: nothing was changed",
        ));
    }
    let now = w.now;
    let before = store::users::paused_until(w.c(), user.id).await?;
    let until = now + Duration::weeks(weeks);
    if !store::users::set_paused_until(w.c(), user.id, before, Some(until)).await? {
        return Err(Error::conflict(
            "your pause changed a moment ago: send /me to see it, then try again",
        ));
    }
    w.audit(
        Audit::user(user.id, "paused_until")
            .from_opt(before.map(shown))
            .to(shown(until))
            .because(Some(PAUSED)),
    )
    .await?;
    let mut withdrawn = 0;
    for p in mine.iter().filter(|p| p.status == PersonaStatus::Active) {
        withdrawn += store::offers::pending_for_mentor(w.c(), p.id).await?.len();
        withdraw_for_persona(w, p, PAUSED).await?;
    }
    Ok(Paused {
        until,
        replaced: before.filter(|t| *t > now),
        withdrawn,
    })
}

/// Ends `user`'s pause now (`/resume`); returns when it would have ended. Refused, with nothing
/// changed, when they are not paused.
pub async fn resume(w: &mut Work<'_>, user: &User) -> Result<DateTime<Utc>> {
    let now = w.now;
    let before = store::users::paused_until(w.c(), user.id).await?;
    let Some(until) = before.filter(|t| *t > now) else {
        return Err(Error::conflict(
            "you are not paused: mentees can send you requests now. /pause [weeks] pauses them",
        ));
    };
    if !store::users::set_paused_until(w.c(), user.id, before, None).await? {
        return Err(Error::conflict(
            "your pause changed a moment ago: send /me to see it, then try again",
        ));
    }
    w.audit(
        Audit::user(user.id, "paused_until")
            .from(shown(until))
            .because(Some("resumed by the mentor")),
    )
    .await?;
    Ok(until)
}

/// The worker's end of a pause whose time has come (docs/domain.md#availability): the pause is
/// cleared by a compare-and-swap on its end and the mentor is told, in chat and by email, once.
/// False, and nothing changed, when `user_id` is not paused, their pause ends after now (never
/// early), or another run ended it first — so a run that repeats tells no one twice.
pub async fn end_pause(w: &mut Work<'_>, user_id: i64) -> Result<bool> {
    let now = w.now;
    let Some(until) = store::users::paused_until(w.c(), user_id).await? else {
        return Ok(false);
    };
    if until > now {
        return Ok(false);
    }
    let Some(user) = store::users::user(w.c(), user_id).await? else {
        return Ok(false);
    };
    if !store::users::set_paused_until(w.c(), user_id, Some(until), None).await? {
        return Ok(false);
    }
    w.audit(
        Audit::user(user_id, "paused_until")
            .from(shown(until))
            .because(Some("the pause ended")),
    )
    .await?;
    let key = format!("pause:{user_id}:{}:ended", until.timestamp_millis());
    let text = "Your pause has ended: mentees can send you requests again. \
                /pause [weeks] pauses you again."
        .to_string();
    w.chat(&user, "pause_ended", &key, text, Vec::new()).await?;
    w.email(
        &user,
        "pause_ended",
        key,
        messages::pause_ended(&user.full_name, &shown(until)),
    )
    .await?;
    Ok(true)
}

/// What [`top_up`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// Free places (RTBM mentor personas) made.
    pub added: Vec<i64>,
    /// Free places no longer needed (capacity lowered), made inactive.
    pub retired: Vec<i64>,
}

/// Brings a mentor's free places in a program to what their capacity leaves
/// (docs/domain.md#capacity): one Active RTBM mentor persona per place not taken, so a match —
/// which takes one persona, seed 000 — leaves the next place ready, and requests already out on
/// other places stay there. Only for a mentor taking part in the program (an Active mentor
/// persona there in RTBM or M): one who was never made ready, or whose matches all closed,
/// comes (back) as before; a deactivated one gets none. Extra free places (the capacity was
/// lowered) are made inactive, newest first, and their pending offers withdrawn.
pub async fn top_up(w: &mut Work<'_>, user_id: i64, program_id: i64) -> Result<Places> {
    let mut done = Places::default();
    // Nothing is done for a deactivated person (docs/domain.md#deactivation).
    if store::users::user(w.c(), user_id)
        .await?
        .is_none_or(|u| u.status.is_deactivated())
    {
        return Ok(done);
    }
    // Counted and made by one transaction at a time (a command and the worker may both run it).
    store::users::hold(w.c(), user_id).await?;
    let Some(load) = store::users::mentor_load(w.c(), user_id, program_id).await? else {
        return Ok(done);
    };
    let mine: Vec<Persona> = mentor_personas(w, user_id)
        .await?
        .into_iter()
        .filter(|p| p.program_id == Some(program_id) && p.status == PersonaStatus::Active)
        .collect();
    let free: Vec<&Persona> = mine
        .iter()
        .filter(|p| p.match_status == MatchStatus::ReadyToBeMatched)
        .collect();
    if load.matched == 0 && free.is_empty() {
        return Ok(done);
    }
    let want = usize::try_from((places(&load) - load.matched).max(0)).unwrap_or(0);
    for _ in free.len()..want {
        let id = add_persona(
            w,
            user_id,
            PersonaRole::Mentor,
            Some(program_id),
            MatchStatus::ReadyToBeMatched,
        )
        .await?;
        done.added.push(id);
    }
    for p in free.iter().skip(want).rev() {
        store::users::set_persona_status(
            w.c(),
            p.id,
            PersonaStatus::Active,
            PersonaStatus::Inactive,
        )
        .await?;
        w.audit(
            Audit::persona(user_id, p.id, "persona_status")
                .from(PersonaStatus::Active.code())
                .to(PersonaStatus::Inactive.code())
                .because(Some(
                    "a free place no longer needed: the mentor's capacity was lowered",
                )),
        )
        .await?;
        withdraw_for_persona(w, p, "the mentor takes fewer mentees now").await?;
        done.retired.push(p.id);
    }
    Ok(done)
}

/// [`top_up`] for every mentor of a program (after its `mentor_capacity` changed); how many
/// places it added and retired.
pub async fn top_up_program(w: &mut Work<'_>, program_id: i64) -> Result<Places> {
    let mut users: Vec<i64> =
        store::users::personas_in_program(w.c(), program_id, PersonaRole::Mentor)
            .await?
            .into_iter()
            .filter(|p| p.status == PersonaStatus::Active)
            .map(|p| p.user_id)
            .collect();
    users.sort_unstable();
    users.dedup();
    let mut all = Places::default();
    for user_id in users {
        let done = top_up(w, user_id, program_id).await?;
        all.added.extend(done.added);
        all.retired.extend(done.retired);
    }
    Ok(all)
}

/// Sets a mentor's own capacity in a program (`/capacity`), then [`top_up`]s their places;
/// returns their load before and their places now. Refused, with nothing changed, when it is
/// the capacity they have already.
pub async fn set_capacity(
    w: &mut Work<'_>,
    user: &User,
    program: &Program,
    capacity: i64,
) -> Result<(MentorLoad, Places)> {
    let before = store::users::mentor_load(w.c(), user.id, program.id)
        .await?
        .ok_or_else(|| Error::Internal("a mentor without a load".into()))?;
    if before.own_capacity == Some(capacity) {
        return Err(Error::conflict(format!(
            "{} takes up to {capacity} mentees at once in {} already: nothing to change",
            user.full_name,
            program.full_name()
        )));
    }
    store::users::set_own_capacity(w.c(), user.id, program.id, capacity).await?;
    let reason = format!("in {}", program.full_name());
    w.audit(
        Audit::user(user.id, "mentor_capacity")
            .from(places(&before).to_string())
            .to(capacity.to_string())
            .because(Some(&reason)),
    )
    .await?;
    let done = top_up(w, user.id, program.id).await?;
    Ok((before, done))
}

/// The free place of `mentor` in `program_id` a pairing by hand with `mentee_persona_id` takes:
/// the one that mentee would be shown ([`place_for`]).
pub async fn free_place(
    w: &mut Work<'_>,
    mentor: &User,
    program_id: i64,
    mentee_persona_id: i64,
) -> Result<Option<Persona>> {
    let free: Vec<Persona> = mentor_personas(w, mentor.id)
        .await?
        .into_iter()
        .filter(|p| {
            p.program_id == Some(program_id)
                && p.status == PersonaStatus::Active
                && p.match_status == MatchStatus::ReadyToBeMatched
        })
        .collect();
    let ids: Vec<i64> = free.iter().map(|p| p.id).collect();
    let pick = place_for(mentee_persona_id, &ids);
    Ok(free.into_iter().find(|p| Some(p.id) == pick))
}

/// What staff see of a person's pause and places (`/user_show`): "Paused until …" while paused,
/// and for each program they mentor in, their places. Empty for someone with neither.
pub async fn summary(w: &mut Work<'_>, user: &User) -> Result<String> {
    let now = w.now;
    let mut out = String::new();
    if let Some(until) = store::users::paused_until(w.c(), user.id)
        .await?
        .filter(|t| *t > now)
    {
        out.push_str(&format!(
            "Paused until {}: no new mentee requests until then\n",
            shown(until)
        ));
    }
    let mut programs: Vec<i64> = mentor_personas(w, user.id)
        .await?
        .into_iter()
        .filter(|p| p.status == PersonaStatus::Active)
        .filter_map(|p| p.program_id)
        .collect();
    programs.sort_unstable();
    programs.dedup();
    for program_id in programs {
        let (Some(load), Some(program)) = (
            store::users::mentor_load(w.c(), user.id, program_id).await?,
            store::orgs::program(w.c(), program_id).await?,
        ) else {
            continue;
        };
        if places(&load) > 1 || load.own_capacity.is_some() {
            out.push_str(&format!(
                "Places in {}: {}\n",
                program.full_name(),
                describe(&load)
            ));
        }
    }
    Ok(out)
}

/// "up to 2 mentees at once (their own; the program's is 1), 1 taken"
pub fn describe(load: &MentorLoad) -> String {
    let whose = match load.own_capacity {
        Some(_) => format!("their own; the program's is {}", load.program_capacity),
        None => "the program's".to_string(),
    };
    format!(
        "up to {} at once ({whose}), {} taken",
        counted(places(load), "mentee", "mentees"),
        load.matched
    )
}
