//! `/claim`: what the buttons of the manual-match message send — a staff member pairs a
//! mentee whose choices ran out with one of the mentors it offers, and everyone else's copy
//! of that message then says who did (docs/domain.md#manual-match).

use super::prelude::*;
use crate::command::caller::Who;
use crate::domain;
use crate::domain::people::program_of;
use crate::roles::PersonaRole;
use crate::store::users::Persona;
use crate::store::{self};

command! {
    pub struct Claim {
        name: "claim",
        about: "Pair a mentee whose choices ran out with a mentor offered (what the staff message's buttons send)",
        access: Access::Staff(Capability::Pair),
        example: "/claim 12 7 1",
        args: {
            mentee: Id = pos(K::Number, "the mentee's persona number"),
            mentor: Id = pos(K::Number, "the mentor's persona number"),
            round: Option<Id> = opt_pos(K::Number, "the round that ran out (default: their latest)"),
        }
    }
}

pub(crate) async fn claim(ctx: &mut Ctx<'_>, a: Claim) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mentee = persona_in_scope(ctx, a.mentee.get(), PersonaRole::Mentee).await?;
    if let Some(program) = program_of(ctx, &mentee).await? {
        ctx.require_program(Capability::Pair, &program)?;
    }
    let mentor = persona_in_scope(ctx, a.mentor.get(), PersonaRole::Mentor).await?;
    let round = match a.round {
        Some(r) => r.get(),
        None => store::offers::of_mentee(ctx.c(), mentee.id)
            .await?
            .iter()
            .map(|o| o.round)
            .max()
            .unwrap_or(0),
    };
    // The copy pressed shows this reply in place of its buttons; every other copy is edited.
    let pressed = match &ctx.caller.who {
        Who::Account {
            provider,
            account_id,
            ..
        } => Some((provider.clone(), account_id.clone())),
        Who::User(_) | Who::System => None,
    };
    let done = domain::matches::claim(
        ctx,
        &mentee,
        &mentor,
        round,
        &me,
        pressed.as_ref().map(|(p, a)| (p.as_str(), a.as_str())),
    )
    .await?;
    Ok(Reply::text(format!(
        "{} (match #{}). Both have been told and asked to book a session; the other staff see who claimed it.",
        crate::messages::claimed("you", &done.mentee.full_name, &done.mentor.full_name),
        done.match_id
    )))
}

/// Persona `id`, a `role`, of someone the caller reaches with the pairing capability; otherwise
/// the same answer as a persona that does not exist (docs/domain.md#scope).
async fn persona_in_scope(ctx: &mut Ctx<'_>, id: i64, role: PersonaRole) -> Result<Persona> {
    let missing = || {
        Error::not_found(format!(
            "there is no {role} #{id} in your programs: press a button of the message, or pair by hand with /suggest and /assign"
        ))
    };
    let persona = store::users::persona(ctx.c(), id)
        .await?
        .filter(|p| p.role == role)
        .ok_or_else(missing)?;
    let user = store::users::user(ctx.c(), persona.user_id)
        .await?
        .ok_or_else(missing)?;
    if !ctx.in_scope(Capability::Pair, &user).await? {
        return Err(missing());
    }
    Ok(persona)
}
