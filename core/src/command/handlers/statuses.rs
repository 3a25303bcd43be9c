//! User, persona and match statuses; deactivation; the audit log and reverting from it.

use super::super::ctx::Ctx;
use super::super::parse::Invocation;
use super::super::{matching, ops};
use super::{confirmed, number, reason};
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::roles::Capability;
use crate::status::{
    MatchMove, MatchStatus, PersonaStatus, UserStatus, allowed_from, decide_match, revert_move,
};
use crate::store::audit::AuditEntry;
use crate::store::matches::MatchState;
use crate::store::users::{Persona, User};
use crate::store::{self};

fn undo_hint(ctx: &Ctx<'_>) -> String {
    ctx.last_audit
        .map(|id| format!(" (audit #{id}; undo with /revert {id})"))
        .unwrap_or_default()
}

fn effects_text(effects: &[String]) -> String {
    if effects.is_empty() {
        String::new()
    } else {
        format!("\nAlso: {}.", effects.join("; "))
    }
}

pub async fn status(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ChangeStatus)
        .await?;
    let new = UserStatus::parse(inv.required("status")?)?;
    let again = format!("/status #{} {}", user.id, new.code());
    let effects =
        ops::change_user_status(ctx, &user, new, reason(inv)?, confirmed(inv)?, &again).await?;
    Ok(Reply::text(format!(
        "{}: {} → {} — applies to all their personas{}{}",
        user.full_name,
        user.status.code(),
        new,
        undo_hint(ctx),
        effects_text(&effects)
    )))
}

/// Seed 001: takes effect at once; IW by default, IR or ID when given.
pub async fn deactivate(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ChangeStatus)
        .await?;
    let new = match inv.get("status") {
        Some(s) => UserStatus::parse(s)?,
        None => UserStatus::InactiveWithdrawn,
    };
    if !new.is_deactivated() {
        return Err(Error::input(format!(
            "/deactivate sets IW, IR or ID, not {new}: use /status for other changes"
        )));
    }
    if user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is already deactivated ({}): use /reactivate to bring them back, or /status to change the reason",
            user.full_name, user.status
        )));
    }
    if ctx.actor_id() == Some(user.id) {
        return Err(Error::conflict(
            "you cannot deactivate yourself: ask another admin",
        ));
    }
    let again = format!("/deactivate #{} status:{}", user.id, new.code());
    let effects =
        ops::change_user_status(ctx, &user, new, reason(inv)?, confirmed(inv)?, &again).await?;
    Ok(Reply::text(format!(
        "{} is deactivated ({new}) as of now: their commands and buttons are refused and others see them as Deactivated; their history is kept{}{}",
        user.full_name,
        undo_hint(ctx),
        effects_text(&effects)
    )))
}

/// Restores the status the user had before they were deactivated (from the audit log).
pub async fn reactivate(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ChangeStatus)
        .await?;
    if !user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is not deactivated (they are {}): nothing to reactivate",
            user.full_name, user.status
        )));
    }
    let before = ops::status_before_deactivation(ctx, &user).await?;
    ops::change_user_status(ctx, &user, before, reason(inv)?, false, "").await?;
    Ok(Reply::text(format!(
        "{} is back to {before}{}",
        user.full_name,
        undo_hint(ctx)
    )))
}

pub async fn persona_status(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ChangeStatus)
        .await?;
    let new = PersonaStatus::parse(inv.required("status")?)?;
    let persona = ctx
        .pick_persona(
            &user,
            inv.get("persona"),
            |p| p.status != new,
            &format!("is not {new} already"),
        )
        .await?;
    set_persona_status(ctx, &user, &persona, new, reason(inv)?).await?;
    Ok(Reply::text(format!(
        "{}'s persona #{}: {} → {new}{}",
        user.full_name,
        persona.id,
        persona.status,
        undo_hint(ctx)
    )))
}

async fn set_persona_status(
    ctx: &mut Ctx<'_>,
    user: &User,
    persona: &Persona,
    new: PersonaStatus,
    reason: Option<&str>,
) -> Result<()> {
    if persona.status == new {
        return Err(Error::conflict(format!(
            "persona #{} is already {new}: nothing to change",
            persona.id
        )));
    }
    if new == PersonaStatus::Inactive {
        let others_active = store::users::personas_of(ctx.c(), user.id)
            .await?
            .iter()
            .any(|p| p.id != persona.id && p.status == PersonaStatus::Active);
        if !others_active {
            return Err(Error::conflict(format!(
                "persona #{} is {}'s last active persona: to take the person out, change their user status instead (/deactivate or /status), as seed 000 advises",
                persona.id, user.full_name
            )));
        }
    }
    store::users::set_persona_status(ctx.c(), persona.id, persona.status, new).await?;
    ctx.audit(
        Some(user.id),
        "persona",
        Some(persona.id),
        "persona_status",
        Some(persona.status.code().into()),
        Some(new.code().into()),
        reason,
    )
    .await?;
    if new == PersonaStatus::Inactive {
        matching::withdraw_for_persona(ctx, persona, "the persona was made inactive").await?;
    }
    Ok(())
}

pub async fn match_status(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ChangeStatus)
        .await?;
    let to = MatchStatus::parse(inv.required("status")?)?;
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    let persona = if personas.len() == 1 && inv.get("persona").is_none() {
        personas[0].clone()
    } else {
        let status = user.status;
        ctx.pick_persona(
            &user,
            inv.get("persona"),
            |p| decide_match(p.match_status, to, p.role, status).is_ok(),
            &format!("can move to {to}"),
        )
        .await?
    };
    let t = decide_match(persona.match_status, to, persona.role, user.status)?;
    let reason = reason(inv)?;
    match t.how {
        MatchMove::Staff => {
            store::users::set_match_status(ctx.c(), persona.id, persona.match_status, to).await?;
            ctx.audit(
                Some(user.id),
                "persona",
                Some(persona.id),
                "match_status",
                Some(persona.match_status.code().into()),
                Some(to.code().into()),
                reason,
            )
            .await?;
        }
        MatchMove::Pair => {
            return Err(Error::conflict(format!(
                "a persona becomes {to} by being paired — an accepted offer, /assign or /autopair — not by a status change"
            )));
        }
        MatchMove::Close => {
            let m = latest_match(ctx, &persona, MatchState::Open).await?;
            ops::close_match(ctx, &m, reason).await?;
        }
        MatchMove::Reopen => {
            let m = latest_match(ctx, &persona, MatchState::Closed).await?;
            ops::reopen_match(ctx, &m, reason).await?;
        }
    }
    Ok(Reply::text(format!(
        "{}'s persona #{}: {} → {to}{}",
        user.full_name,
        persona.id,
        persona.match_status,
        undo_hint(ctx)
    )))
}

async fn latest_match(
    ctx: &mut Ctx<'_>,
    persona: &Persona,
    state: MatchState,
) -> Result<store::matches::Match> {
    store::matches::of_persona(ctx.c(), persona.id)
        .await?
        .into_iter()
        .find(|m| m.state == state)
        .ok_or_else(|| {
            Error::conflict(format!(
                "persona #{} has no {} match",
                persona.id,
                state.code()
            ))
        })
}

pub async fn history(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let limit = number(inv, "limit", 20, 500)?;
    let subject = match inv.get("person") {
        Some(p) => Some(ctx.find_user(p, Capability::ReadAudit).await?),
        None => None,
    };
    let global = ctx.actor.is_global(Capability::ReadAudit);
    // Staff with programs see the entries about people in their scope; fetch more and filter.
    let fetch = if subject.is_some() || global {
        limit
    } else {
        limit * 10
    };
    let entries = store::audit::list(ctx.c(), subject.as_ref().map(|u| u.id), fetch).await?;
    let mut lines = Vec::new();
    for e in entries {
        if lines.len() as i64 >= limit {
            break;
        }
        if subject.is_none() && !global {
            let visible = match e.subject_user_id {
                Some(id) => match store::users::user(ctx.c(), id).await? {
                    Some(u) => ctx.in_scope(Capability::ReadAudit, &u).await?,
                    None => false,
                },
                None => false,
            };
            if !visible {
                continue;
            }
        }
        lines.push(describe_entry(ctx, &e).await?);
    }
    if lines.is_empty() {
        return Ok(Reply::text("The audit log has no entries here yet."));
    }
    Ok(Reply::text(lines.join("\n")))
}

async fn name_of(ctx: &mut Ctx<'_>, id: Option<i64>) -> Result<String> {
    Ok(match id {
        Some(id) => store::users::user(ctx.c(), id)
            .await?
            .map(|u| u.full_name)
            .unwrap_or_else(|| format!("deleted user #{id}")),
        None => "someone since deleted".into(),
    })
}

async fn describe_entry(ctx: &mut Ctx<'_>, e: &AuditEntry) -> Result<String> {
    let actor = match e.actor_user_id {
        Some(_) => name_of(ctx, e.actor_user_id).await?,
        None if e.frontend == "cli" => "the operator".into(),
        None => "someone since deleted".into(),
    };
    let subject = match e.subject_user_id {
        Some(_) => format!("{} ", name_of(ctx, e.subject_user_id).await?),
        None => String::new(),
    };
    let what = match (&e.old_value, &e.new_value) {
        (Some(o), Some(n)) => format!("{o} → {n}"),
        (None, Some(n)) => n.clone(),
        (Some(o), None) => format!("{o} removed"),
        (None, None) => String::new(),
    };
    let mut line = format!(
        "#{} {} {subject}{} {} {what} — by {actor} via {}",
        e.id,
        e.at.format("%Y-%m-%d %H:%M"),
        match (e.entity.as_str(), e.entity_id) {
            ("user", _) => String::from("·"),
            (entity, Some(id)) => format!("{entity} #{id}"),
            (entity, None) => entity.to_string(),
        },
        e.field,
        e.frontend
    );
    if let Some(r) = &e.reason {
        line.push_str(&format!(" ({r})"));
    }
    if let Some(r) = e.reverted_by {
        line.push_str(&format!(" [reverted by #{r}]"));
    }
    Ok(line)
}

/// Undoes one status change (seed 000: "You can always revert any user status changes"):
/// only while the status is still what that change set, and each entry once.
pub async fn revert(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let id = number(inv, "entry", 0, i64::MAX)?;
    let entry = store::audit::get(ctx.c(), id)
        .await?
        .ok_or_else(|| Error::not_found(format!("there is no audit entry #{id}: see /history")))?;
    let user = match entry.subject_user_id {
        Some(uid) => store::users::user(ctx.c(), uid).await?,
        None => None,
    };
    let Some(user) = user else {
        return Err(Error::conflict(format!(
            "entry #{id} is not a change to a person's status: only status changes can be reverted"
        )));
    };
    if !ctx.in_scope(Capability::ChangeStatus, &user).await? {
        return Err(Error::not_found(format!(
            "there is no audit entry #{id} in your programs: see /history"
        )));
    }
    if let Some(by) = entry.reverted_by {
        return Err(Error::conflict(format!(
            "entry #{id} was reverted already (by #{by})"
        )));
    }
    let (Some(old), Some(new)) = (entry.old_value.clone(), entry.new_value.clone()) else {
        return Err(Error::conflict(format!(
            "entry #{id} records something being created, not changed: remove it with /deactivate, /persona_status or /delete"
        )));
    };
    let reason = reason(inv)?
        .map(str::to_string)
        .unwrap_or_else(|| format!("revert of #{id}"));
    ctx.reverting = Some(id);
    let done = match entry.field.as_str() {
        "user_status" => {
            let (old, new) = (UserStatus::from_code(&old)?, UserStatus::from_code(&new)?);
            still(user.status == new, id, user.status.code())?;
            let again = format!("/revert {id}");
            let effects = ops::change_user_status(
                ctx,
                &user,
                old,
                Some(&reason),
                super::confirmed(inv)?,
                &again,
            )
            .await?;
            format!(
                "{}: {} → {old}{}",
                user.full_name,
                new.code(),
                effects_text(&effects)
            )
        }
        "persona_status" => {
            let (old, new) = (
                PersonaStatus::from_code(&old)?,
                PersonaStatus::from_code(&new)?,
            );
            let persona = entry_persona(ctx, &entry).await?;
            still(persona.status == new, id, persona.status.code())?;
            set_persona_status(ctx, &user, &persona, old, Some(&reason)).await?;
            format!(
                "{}'s persona #{}: {new} → {old}",
                user.full_name, persona.id
            )
        }
        "match_status" => {
            let (old, new) = (MatchStatus::from_code(&old)?, MatchStatus::from_code(&new)?);
            let persona = entry_persona(ctx, &entry).await?;
            still(persona.match_status == new, id, persona.match_status.code())?;
            match revert_move(old, new) {
                Some(MatchMove::Staff) => {
                    store::users::set_match_status(ctx.c(), persona.id, new, old).await?;
                    if new == MatchStatus::ReadyToBeMatched {
                        matching::withdraw_for_persona(
                            ctx,
                            &persona,
                            "no longer ready to be matched",
                        )
                        .await?;
                    }
                    ctx.audit(
                        Some(user.id),
                        "persona",
                        Some(persona.id),
                        "match_status",
                        Some(new.code().into()),
                        Some(old.code().into()),
                        Some(&reason),
                    )
                    .await?;
                }
                Some(MatchMove::Reopen) => {
                    let m = latest_match(ctx, &persona, MatchState::Closed).await?;
                    ops::reopen_match(ctx, &m, Some(&reason)).await?;
                }
                Some(MatchMove::Close) => {
                    let m = latest_match(ctx, &persona, MatchState::Open).await?;
                    ops::close_match(ctx, &m, Some(&reason)).await?;
                }
                Some(MatchMove::Pair) | None => {
                    return Err(Error::conflict(format!(
                        "entry #{id} is a pairing ({old} → {new}): end it by closing the match, not by reverting. {}",
                        allowed_from(new)
                    )));
                }
            }
            format!(
                "{}'s persona #{}: {new} → {old}",
                user.full_name, persona.id
            )
        }
        other => {
            return Err(Error::conflict(format!(
                "entry #{id} ({other}) is not a status change: only user, persona and match status changes can be reverted"
            )));
        }
    };
    let by = ctx.last_audit.unwrap_or(id);
    if !store::audit::mark_reverted(ctx.c(), id, by).await? {
        return Err(Error::conflict(format!(
            "entry #{id} was reverted a moment ago by someone else"
        )));
    }
    Ok(Reply::text(format!(
        "Reverted #{id}: {done}{}",
        undo_hint(ctx)
    )))
}

fn still(holds: bool, id: i64, now: &str) -> Result<()> {
    if holds {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "the status has changed since entry #{id} (it is {now} now): revert the later change first (see /history)"
        )))
    }
}

async fn entry_persona(ctx: &mut Ctx<'_>, e: &AuditEntry) -> Result<Persona> {
    let pid = e
        .entity_id
        .ok_or_else(|| Error::Internal("persona entry without id".into()))?;
    store::users::persona(ctx.c(), pid)
        .await?
        .ok_or_else(|| Error::conflict(format!("the persona of entry #{} no longer exists", e.id)))
}
