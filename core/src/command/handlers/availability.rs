//! A mentor's own availability: `/pause`, `/resume` and `/capacity` (docs/domain.md#availability,
//! docs/domain.md#capacity); the offer's "Decline and pause me" runs `/decline N pause:W`, whose
//! pause part is [`paused_reply`].

use super::prelude::*;
use crate::domain;
use crate::domain::availability::{Paused, describe, shown};
use crate::domain::recommend::{DEFAULT_PAUSE_WEEKS, LONG_PAUSE_WEEKS, MAX_PAUSE_WEEKS};
use crate::program::MAX_MENTOR_CAPACITY;
use crate::roles::PersonaRole;
use crate::status::PersonaStatus;
use crate::store::orgs::Program;
use crate::store::users::User;
use crate::store::{self};

/// How many weeks a pause lasts: 1 to [`MAX_PAUSE_WEEKS`], [`DEFAULT_PAUSE_WEEKS`] when not
/// given; a number out of range is refused naming the range.
pub(crate) type PauseWeeks = Limit<{ DEFAULT_PAUSE_WEEKS }, { MAX_PAUSE_WEEKS }>;

/// How many mentees a mentor takes at once: 1 to [`MAX_MENTOR_CAPACITY`].
pub(crate) type Capacity = Limit<1, { MAX_MENTOR_CAPACITY as i64 }>;

command! {
    pub struct Pause {
        name: "pause",
        about: "Take no new mentee requests for some weeks (mentors); /resume ends it sooner",
        access: Access::Member(Member::Participant),
        example: "/pause 4",
        listed_for: crate::roles::PersonaRole::Mentor,
        args: {
            weeks: PauseWeeks = opt_pos(K::Number, "how many weeks, 1 to 12 (default 2)"),
        }
    }
}

pub(crate) async fn pause(ctx: &mut Ctx<'_>, a: Pause) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let done = domain::availability::pause(ctx, &me, a.weeks.get()).await?;
    Ok(pause_reply(String::new(), &done))
}

/// `/decline N pause:W`: the offer is declined already (its mentee's next choice asked); now
/// the pause, and one reply saying both.
pub(crate) async fn paused_reply(
    ctx: &mut Ctx<'_>,
    me: &User,
    weeks: i64,
    declined: String,
) -> Result<Reply> {
    let done = domain::availability::pause(ctx, me, weeks).await?;
    Ok(pause_reply(declined, &done))
}

fn pause_reply(before: String, done: &Paused) -> Reply {
    let mut text = before;
    if !text.is_empty() {
        text.push(' ');
    }
    text.push_str(&format!(
        "You are paused until {}: no new mentee requests reach you until then.",
        shown(done.until)
    ));
    if let Some(was) = done.replaced {
        text.push_str(&format!(
            " (Your earlier pause was to end on {}.)",
            shown(was)
        ));
    }
    if done.withdrawn > 0 {
        text.push_str(&format!(
            " {} pending to you went on to the mentees' next choices.",
            crate::text::counted(done.withdrawn as i64, "request", "requests")
        ));
    }
    text.push_str(" /resume ends it sooner.");
    Reply::text(text)
        .with_button(
            format!("Pause {LONG_PAUSE_WEEKS} weeks instead"),
            format!("/pause {LONG_PAUSE_WEEKS}"),
        )
        .with_button("Resume now", "/resume")
}

command! {
    pub struct Resume {
        name: "resume",
        about: "End your pause: mentees can send you requests again (mentors)",
        access: Access::Member(Member::Participant),
        example: "/resume",
        listed_for: crate::roles::PersonaRole::Mentor,
        args: {}
    }
}

pub(crate) async fn resume(ctx: &mut Ctx<'_>, _: Resume) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let was = domain::availability::resume(ctx, &me).await?;
    Ok(Reply::text(format!(
        "Welcome back: mentees can send you requests again (your pause was to end on {}).",
        shown(was)
    )))
}

command! {
    pub struct SetCapacity {
        name: "capacity",
        about: "How many mentees a mentor takes at once: your own, or staff's mentor:PERSON",
        access: Access::Member(Member::Participant),
        example: "/capacity 2",
        args: {
            places: Option<Capacity> = opt_pos(K::Number, "how many mentees at once, 1 to 10 (none: show it)"),
            mentor: Option<PersonRef> = opt(K::Person, "the mentor (staff who pair)"),
            program: Option<ProgramRef> = opt(K::Program, "the program, when the mentor is in several"),
        }
    }
}

/// docs/domain.md#capacity: a mentor sets their own; staff who hold the pair capability set a
/// mentor's in their programs.
pub(crate) async fn capacity(ctx: &mut Ctx<'_>, a: SetCapacity) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let staff = a.mentor.is_some();
    let user = match a.mentor.as_deref() {
        Some(r) => {
            if !ctx.actor.holds(Capability::Pair) {
                return Err(Error::forbidden(
                    "setting another mentor's capacity is for staff who pair (program_manager, super_admin): send /capacity N for your own",
                ));
            }
            ctx.find_user(r, Capability::Pair).await?
        }
        None => me,
    };
    let program = mentor_program(ctx, &user, a.program.as_deref(), staff).await?;
    if staff {
        ctx.require_program(Capability::Pair, &program)?;
    }
    let Some(places) = a.places else {
        let load = store::users::mentor_load(ctx.c(), user.id, program.id)
            .await?
            .ok_or_else(|| Error::Internal("a mentor without a load".into()))?;
        return Ok(Reply::text(format!(
            "{} in {}: {}. Change it with /capacity N (1 to {MAX_MENTOR_CAPACITY}).",
            user.full_name,
            program.full_name(),
            describe(&load)
        )));
    };
    let (before, done) =
        domain::availability::set_capacity(ctx, &user, &program, places.get()).await?;
    let now = store::users::mentor_load(ctx.c(), user.id, program.id)
        .await?
        .unwrap_or(before);
    let mut text = format!(
        "{} in {}: now {}.",
        user.full_name,
        program.full_name(),
        describe(&now)
    );
    if !done.added.is_empty() {
        text.push_str(&format!(
            " {} ready for mentees.",
            crate::text::counted(done.added.len() as i64, "new place is", "new places are")
        ));
    }
    if !done.retired.is_empty() {
        text.push_str(&format!(
            " {} closed.",
            crate::text::counted(done.retired.len() as i64, "free place", "free places")
        ));
    }
    Ok(Reply::text(text))
}

/// The program where `user` mentors that `reference` names, or their only one. Staff name
/// programs as they do elsewhere; a mentor names one of their own.
async fn mentor_program(
    ctx: &mut Ctx<'_>,
    user: &User,
    reference: Option<&str>,
    staff: bool,
) -> Result<Program> {
    let mut ids: Vec<i64> = store::users::personas_of(ctx.c(), user.id)
        .await?
        .into_iter()
        .filter(|p| p.role == PersonaRole::Mentor && p.status == PersonaStatus::Active)
        .filter_map(|p| p.program_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut theirs = Vec::new();
    for id in ids {
        if let Some(p) = store::orgs::program(ctx.c(), id).await? {
            theirs.push(p);
        }
    }
    let who = if staff {
        format!("{} is", user.full_name)
    } else {
        "you are".to_string()
    };
    if theirs.is_empty() {
        return Err(Error::conflict(format!(
            "capacity is for mentors, and {who} not a mentor in a program: nothing was changed"
        )));
    }
    let names = theirs
        .iter()
        .map(Program::full_name)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(r) = reference.map(str::trim) else {
        return match theirs.len() {
            1 => Ok(theirs.remove(0)),
            _ => Err(Error::Ambiguous(format!(
                "{who} a mentor in several programs ({names}): add program:NAME"
            ))),
        };
    };
    let program = if staff {
        Some(ctx.find_program(r, Capability::Pair).await?)
    } else {
        theirs
            .iter()
            .find(|p| {
                r.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) == Some(p.id)
                    || p.name.eq_ignore_ascii_case(r)
                    || p.full_name().eq_ignore_ascii_case(r)
            })
            .cloned()
    };
    match program {
        Some(p) if theirs.iter().any(|t| t.id == p.id) => Ok(p),
        _ => Err(Error::conflict(format!(
            "{who} not a mentor in '{}': {who} a mentor in {names}",
            crate::reply::echo(r)
        ))),
    }
}
