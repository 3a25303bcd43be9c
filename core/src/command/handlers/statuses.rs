//! User, persona and match statuses; deactivation; the audit log and reverting from it.

use super::prelude::*;
use crate::command::screen::{self, Fit, PageNo, Screen};
use crate::domain::{self, Audit};
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

/// A user status change as `/status` and `/deactivate` make it (`again` is the command to send
/// again with confirm:yes): what their reply ends with, the undo hint and what else changed.
async fn change_status(
    ctx: &mut Ctx<'_>,
    user: &User,
    new: UserStatus,
    reason: Option<&str>,
    confirm: &Option<Confirm>,
    again: &str,
) -> Result<String> {
    let effects =
        domain::statuses::change_user_status(ctx, user, new, reason, confirmed(confirm)?, again)
            .await?;
    Ok(format!("{}{}", undo_hint(ctx), effects_text(&effects)))
}

command! {
    pub struct Status {
        name: "status",
        about: "Change a user's status (applies to all their personas)",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/status ana@example.org A reason:\"screening passed\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            status: UserStatus = pos(K::Choice(USER_STATUS_CODES), "A, AI, SI, IW, IR or ID"),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
            confirm: Option<Confirm> = opt(K::Line, ABOUT_CONFIRM),
        }
    }
}

pub(crate) async fn status(ctx: &mut Ctx<'_>, a: Status) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ChangeStatus).await?;
    let new = a.status;
    let again = format!("/status #{} {}", user.id, new.code());
    let tail = change_status(ctx, &user, new, a.reason.as_deref(), &a.confirm, &again).await?;
    // docs/domain.md#ready-on-approval: approving someone may also make them ready to be matched.
    let ready =
        domain::statuses::make_ready_on_approval(ctx, &user, new, a.reason.as_deref()).await?;
    let ready = if ready.is_empty() {
        String::new()
    } else {
        format!("\nReady to be matched: {}.", ready.join("; "))
    };
    Ok(Reply::text(format!(
        "{}: {} → {} — applies to all their personas{tail}{ready}",
        user.full_name,
        user.status.code(),
        new,
    )))
}

command! {
    pub struct Deactivate {
        name: "deactivate",
        about: "Deactivate a user at once (IW by default; IR or ID with status:)",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/deactivate ana@example.org reason:\"moved away\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            status: Option<UserStatus> = opt(K::Choice(INACTIVE_STATUS_CODES), "IW (withdrew), IR (rejected) or ID (deleted by admin)"),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
            confirm: Option<Confirm> = opt(K::Line, ABOUT_CONFIRM),
        }
    }
}

/// docs/domain.md#deactivation: takes effect at once; IW by default, IR or ID when given.
pub(crate) async fn deactivate(ctx: &mut Ctx<'_>, a: Deactivate) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ChangeStatus).await?;
    let new = a.status.unwrap_or(UserStatus::InactiveWithdrawn);
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
    let tail = change_status(ctx, &user, new, a.reason.as_deref(), &a.confirm, &again).await?;
    Ok(Reply::text(format!(
        "{} is deactivated ({new}) as of now: their commands and buttons are refused and others see them as Deactivated; their history is kept{tail}",
        user.full_name,
    )))
}

command! {
    pub struct Reactivate {
        name: "reactivate",
        about: "Give a deactivated user back the status they had",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/reactivate ana@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

/// Restores the status the user had before they were deactivated (from the audit log).
pub(crate) async fn reactivate(ctx: &mut Ctx<'_>, a: Reactivate) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ChangeStatus).await?;
    if !user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is not deactivated (they are {}): nothing to reactivate",
            user.full_name, user.status
        )));
    }
    let before = domain::people::status_before_deactivation(ctx, &user).await?;
    domain::statuses::change_user_status(ctx, &user, before, a.reason.as_deref(), false, "")
        .await?;
    let undo = undo_hint(ctx);
    let closed = domain::matches::closed_matches(ctx, &user).await?;
    let stayed = if closed.is_empty() {
        String::new()
    } else {
        format!(
            "\nWhat stayed closed: {}. Re-open one with /match_reopen {}, or give them a new persona with /persona_new.",
            closed.join("; "),
            user.email
        )
    };
    Ok(Reply::text(format!(
        "{} is back to {before}{undo}{stayed}",
        user.full_name
    )))
}

command! {
    pub struct SetPersonaStatus {
        name: "persona_status",
        about: "Set a persona Active or Inactive (Inactive = made in error)",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/persona_status ana@example.org inactive persona:#7",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            status: PersonaStatus = pos(K::Choice(PERSONA_STATUS_CODES), "active or inactive"),
            persona: Option<String> = opt(K::Number, ABOUT_PERSONA),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

pub(crate) async fn persona_status(ctx: &mut Ctx<'_>, a: SetPersonaStatus) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ChangeStatus).await?;
    let new = a.status;
    let persona = ctx
        .pick_persona(
            &user,
            a.persona.as_deref(),
            |p| p.status != new,
            &format!("is not {new} already"),
        )
        .await?;
    set_persona_status(ctx, &user, &persona, new, a.reason.as_deref()).await?;
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
                "persona #{} is {}'s last active persona: to take the person out, change their user status instead (/deactivate or /status)",
                persona.id, user.full_name
            )));
        }
    }
    store::users::set_persona_status(ctx.c(), persona.id, persona.status, new).await?;
    ctx.audit(
        Audit::persona(user.id, persona.id, "persona_status")
            .from(persona.status.code())
            .to(new.code())
            .because(reason),
    )
    .await?;
    if new == PersonaStatus::Inactive {
        domain::offers::withdraw_for_persona(ctx, persona, "the persona was made inactive").await?;
    }
    Ok(())
}

command! {
    pub struct SetMatchStatus {
        name: "match_status",
        about: "Change a persona's match status (N/A, RTBM, M, C, RS, NM)",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/match_status ana@example.org RTBM",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            status: MatchStatus = pos(K::Choice(MATCH_STATUS_CODES), "the new match status"),
            persona: Option<String> = opt(K::Number, ABOUT_PERSONA),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

pub(crate) async fn match_status(ctx: &mut Ctx<'_>, a: SetMatchStatus) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ChangeStatus).await?;
    let to = a.status;
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    let persona = if personas.len() == 1 && a.persona.as_deref().is_none() {
        personas[0].clone()
    } else {
        let status = user.status;
        let fits = |p: &Persona| decide_match(p.match_status, to, p.role, status).is_ok();
        if a.persona.is_none() && !personas.is_empty() && !personas.iter().any(fits) {
            // Name where each persona stands and where it may go, so the fix is in the answer.
            let lines: Vec<String> = personas
                .iter()
                .map(|p| {
                    format!(
                        "#{} ({}) is {}: {}",
                        p.id,
                        p.role,
                        p.match_status,
                        allowed_from(p.match_status)
                    )
                })
                .collect();
            return Err(Error::conflict(format!(
                "{} has no persona that can move to {to}. {}",
                user.full_name,
                lines.join(" ")
            )));
        }
        ctx.pick_persona(
            &user,
            a.persona.as_deref(),
            |p| decide_match(p.match_status, to, p.role, status).is_ok(),
            &format!("can move to {to}"),
        )
        .await?
    };
    let t = decide_match(persona.match_status, to, persona.role, user.status)?;
    let reason = a.reason.as_deref();
    match t.how {
        MatchMove::Staff => {
            domain::statuses::staff_match_step(ctx, &user, &persona, to, reason).await?;
        }
        MatchMove::Pair => {
            return Err(Error::conflict(format!(
                "a persona becomes {to} by being paired — an accepted offer, /assign or /autopair — not by a status change"
            )));
        }
        MatchMove::Close => {
            let m = latest_match(ctx, &persona, MatchState::Open).await?;
            domain::matches::close_match(ctx, &m, reason).await?;
        }
        MatchMove::Reopen => {
            let m = latest_match(ctx, &persona, MatchState::Closed).await?;
            domain::matches::reopen_match(ctx, &m, reason).await?;
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

command! {
    pub struct History {
        name: "history",
        about: "The audit log, for one person or everyone",
        access: Access::Staff(Capability::ReadAudit),
        example: "/history ana@example.org",
        press: crate::command::spec::Press::Replaces,
        args: {
            person: Option<PersonRef> = opt_pos(K::Person, "whose history"),
            page: PageNo = opt(K::Number, "which screen of the log (default 1: the newest)"),
        }
    }
}

pub(crate) async fn history(ctx: &mut Ctx<'_>, a: History) -> Result<Reply> {
    let subject = match a.person.as_deref() {
        Some(p) => Some(ctx.find_user(p, Capability::ReadAudit).await?),
        None => None,
    };
    // Staff with programs see the entries about people they reach; one person's are all
    // theirs to see once `find_user` found them in reach.
    let shown = store::audit::Shown {
        subject: subject.as_ref().map(|u| u.id),
        reach: match subject {
            Some(_) => None,
            None => ctx.reach(Capability::ReadAudit),
        },
    };
    let total = store::audit::count(ctx.c(), &shown).await?;
    if total == 0 {
        return Ok(Reply::text("The audit log has no entries here yet."));
    }
    let fit = Fit::of(ctx.caller.frontend);
    let entries = store::audit::page(ctx.c(), &shown, a.page.offset(fit), fit.lines as i64).await?;
    let mut lines = Vec::new();
    for e in &entries {
        lines.push(describe_entry(ctx, e).await?);
    }
    let heading = match &subject {
        Some(u) => format!("History of {}, newest first", u.label()),
        None => "History, newest first".to_string(),
    };
    let total = u64::try_from(total).unwrap_or(0);
    let file = if screen::wants_file(a.page, total, fit) {
        let all = store::audit::page(ctx.c(), &shown, 0, screen::FILE_ROWS as i64).await?;
        let id = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        Some(screen::csv_file(
            "history.csv",
            &[
                "id",
                "at",
                "actor_user_id",
                "via",
                "subject_user_id",
                "entity",
                "entity_id",
                "field",
                "old_value",
                "new_value",
                "reason",
                "reverts",
                "reverted_by",
            ],
            all.into_iter().map(|e| {
                vec![
                    e.id.to_string(),
                    e.at.to_rfc3339(),
                    id(e.actor_user_id),
                    e.frontend,
                    id(e.subject_user_id),
                    e.entity,
                    id(e.entity_id),
                    e.field,
                    e.old_value.unwrap_or_default(),
                    e.new_value.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    id(e.reverts),
                    id(e.reverted_by),
                ]
            }),
        )?)
    } else {
        None
    };
    Screen {
        heading,
        lines,
        total,
        page: a.page,
        fit,
        narrow: "name a person: /history PERSON",
    }
    .reply_counted_up_to(ctx.invocation()?, file, store::audit::COUNT_CAP as u64)
}

/// "Telegram" for `telegram`: how a chat platform is named in a sentence.
fn provider_name(code: &str) -> String {
    let mut chars = code.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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
        None if e.frontend == "worker" => "the system".into(),
        None => "someone since deleted".into(),
    };
    let subject = match e.subject_user_id {
        Some(_) => format!("{} ", name_of(ctx, e.subject_user_id).await?),
        None => String::new(),
    };
    // A person linking a chat account does it themselves: say so in words.
    if e.field == "chat_link" {
        let provider = e.new_value.as_deref().unwrap_or("chat");
        let who = if e.actor_user_id.is_none() || e.actor_user_id == e.subject_user_id {
            "their"
        } else {
            "a"
        };
        return Ok(format!(
            "#{} {} {}linked {who} {} account via {}",
            e.id,
            e.at.format("%Y-%m-%d %H:%M"),
            subject,
            provider_name(provider),
            e.frontend
        ));
    }
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

command! {
    pub struct Revert {
        name: "revert",
        about: "Undo a status change or an edit (/user_edit) from the audit log",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/revert 42",
        args: {
            entry: Id = pos(K::Number, "the entry number from /history"),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
            confirm: Option<Confirm> = opt(K::Line, ABOUT_CONFIRM),
        }
    }
}

/// Undoes one status change or edit (docs/domain.md#revert): only while the status (or the
/// field) is still what that change set, and each entry once.
pub(crate) async fn revert(ctx: &mut Ctx<'_>, a: Revert) -> Result<Reply> {
    let id = a.entry.get();
    let entry = store::audit::get(ctx.c(), id)
        .await?
        .ok_or_else(|| Error::not_found(format!("there is no audit entry #{id}: see /history")))?;
    let user = match entry.subject_user_id {
        Some(uid) => store::users::user(ctx.c(), uid).await?,
        None => None,
    };
    let Some(user) = user else {
        return Err(Error::conflict(format!(
            "entry #{id} is not a change to a person: only status changes and edits can be reverted"
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
    // An edit (/user_edit) is reverted by a compare-and-swap on the field it changed.
    if let Some(reply) = super::edit::revert_edit(ctx, &entry, &user, a.reason.as_deref()).await? {
        return Ok(reply);
    }
    let (Some(old), Some(new)) = (entry.old_value.clone(), entry.new_value.clone()) else {
        return Err(Error::conflict(format!(
            "entry #{id} records something being created, not changed: remove it with /deactivate, /persona_status or /delete"
        )));
    };
    let reason = a
        .reason
        .as_deref()
        .map(str::to_string)
        .unwrap_or_else(|| format!("revert of #{id}"));
    ctx.reverting = Some(id);
    let done = match entry.field.as_str() {
        "user_status" => {
            let (old, new) = (UserStatus::from_code(&old)?, UserStatus::from_code(&new)?);
            still(user.status == new, id, user.status.code())?;
            let again = format!("/revert {id}");
            let effects = domain::statuses::change_user_status(
                ctx,
                &user,
                old,
                Some(&reason),
                confirmed(&a.confirm)?,
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
                        domain::offers::withdraw_for_persona(
                            ctx,
                            &persona,
                            "no longer ready to be matched",
                        )
                        .await?;
                    }
                    ctx.audit(
                        Audit::persona(user.id, persona.id, "match_status")
                            .from(new.code())
                            .to(old.code())
                            .because(Some(&reason)),
                    )
                    .await?;
                }
                Some(MatchMove::Reopen) => {
                    let m = latest_match(ctx, &persona, MatchState::Closed).await?;
                    domain::matches::reopen_match(ctx, &m, Some(&reason)).await?;
                }
                Some(MatchMove::Close) => {
                    let m = latest_match(ctx, &persona, MatchState::Open).await?;
                    domain::matches::close_match(ctx, &m, Some(&reason)).await?;
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
                "entry #{id} ({other}) is not a status change or an edit: only user, persona and match status changes and /user_edit changes can be reverted"
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
