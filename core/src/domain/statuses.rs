//! User status changes and their effects on matches and offers
//! (docs/domain.md#user-status).

use super::matches::{close_match, open_matches};
use super::offers::withdraw_for_persona;
use super::people::{program_of, refuse_if_last_super_admin};
use super::prompts::{application_complete, time_to_choose};
use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::status::{MatchMove, MatchStatus, PersonaStatus, UserStatus, decide_match};
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};

/// Changes a user status (docs/domain.md#user-status-changes): it applies to every persona; leaving
/// A closes the user's open matches, but only when `confirm` is given — otherwise it is refused
/// with the list.
pub async fn change_user_status(
    w: &mut Work<'_>,
    user: &User,
    new: UserStatus,
    reason: Option<&str>,
    confirm: bool,
    confirm_hint: &str,
) -> Result<Vec<String>> {
    if user.status == new {
        return Err(Error::conflict(format!(
            "{} is already {new}: nothing to change",
            user.full_name
        )));
    }
    if new.is_deactivated() {
        refuse_if_last_super_admin(w, user, &format!("setting them to {new}")).await?;
    }
    let mut effects = Vec::new();
    if user.status == UserStatus::Active {
        let open = open_matches(w, user).await?;
        if !open.is_empty() && !confirm {
            return Err(Error::conflict(format!(
                "{} → {new} would close {}: {}. If that is what you want, send it again with confirm:yes ({confirm_hint})",
                user.full_name,
                if open.len() == 1 {
                    "an active match".to_string()
                } else {
                    format!("{} active matches", open.len())
                },
                open.iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        for (m, line) in open {
            close_match(
                w,
                &m,
                Some(&format!(
                    "user status {} → {}",
                    user.status.code(),
                    new.code()
                )),
            )
            .await?;
            effects.push(format!("closed {line}"));
        }
    }
    store::users::set_status(w.c(), user.id, user.status, new).await?;
    w.audit(
        Audit::user(user.id, "user_status")
            .from(user.status.code())
            .to(new.code())
            .because(reason),
    )
    .await?;
    if user.status == UserStatus::ApplicationIncomplete && new == UserStatus::ScreeningIncomplete {
        application_complete(w, user).await?;
    }
    if user.status == UserStatus::Active {
        // docs/domain.md#user-status-changes: leaving A withdraws the user's pending offers; each
        // mentee's round moves on.
        let why = format!("{} is no longer active", user.full_name);
        for p in store::users::personas_of(w.c(), user.id).await? {
            withdraw_for_persona(w, &p, &why).await?;
        }
    }
    Ok(effects)
}

/// A staff step on the match-status table (docs/domain.md#match-transitions: the moves
/// `/match_status` makes, N/A → RTBM, RS → RTBM, RS ↔ NM): checked against the table, saved by
/// a compare-and-swap on the status the caller read, audited; a mentee made ready to be matched
/// is sent their mentors at once (docs/domain.md#prompts). Returns the audit entry's id.
pub async fn staff_match_step(
    w: &mut Work<'_>,
    user: &User,
    persona: &Persona,
    to: MatchStatus,
    reason: Option<&str>,
) -> Result<i64> {
    let t = decide_match(persona.match_status, to, persona.role, user.status)?;
    if t.how != MatchMove::Staff {
        return Err(Error::Internal(format!(
            "{} → {to} is not a staff step",
            persona.match_status
        )));
    }
    store::users::set_match_status(w.c(), persona.id, persona.match_status, to).await?;
    let entry = w
        .audit(
            Audit::persona(user.id, persona.id, "match_status")
                .from(persona.match_status.code())
                .to(to.code())
                .because(reason),
        )
        .await?;
    let moved = Persona {
        match_status: to,
        ..persona.clone()
    };
    time_to_choose(w, &moved, user).await?;
    Ok(entry)
}

/// Whether a user-status change approves the person (docs/domain.md#ready-on-approval): they
/// leave an application status (AI, SI) for A. Reactivating someone (from IW, IR or ID) is not an
/// approval: they come back to where they were.
pub fn is_approval(from: UserStatus, to: UserStatus) -> bool {
    to == UserStatus::Active
        && matches!(
            from,
            UserStatus::ApplicationIncomplete | UserStatus::ScreeningIncomplete
        )
}

/// The personas approving `user` would also make ready to be matched
/// (docs/domain.md#ready-on-approval): each Active persona, mentee or mentor, in a program whose
/// `ready_on_approval` is yes, whose match status may go to RTBM by a staff step once the user is
/// A (the table decides: N/A and RS may). What `/screening` labels its buttons by, and what
/// [`make_ready_on_approval`] moves: one rule for both.
pub async fn ready_on_approval(w: &mut Work<'_>, user: &User) -> Result<Vec<(Persona, Program)>> {
    let mut out = Vec::new();
    for p in store::users::personas_of(w.c(), user.id).await? {
        if p.status != PersonaStatus::Active {
            continue;
        }
        let step = decide_match(
            p.match_status,
            MatchStatus::ReadyToBeMatched,
            p.role,
            UserStatus::Active,
        );
        if !step.is_ok_and(|t| t.how == MatchMove::Staff) {
            continue;
        }
        if let Some(program) = program_of(w, &p).await?
            && program.settings.ready_on_approval
        {
            out.push((p, program));
        }
    }
    Ok(out)
}

/// Run right after `before` was approved (see [`is_approval`]; `/status … A`, which the
/// `/screening` button sends), in the same transaction: the personas [`ready_on_approval`] names
/// move to RTBM, each audited on its own (so `/revert` undoes one step at a time), and a mentee
/// gets the time-to-choose prompt. One line per persona moved, for the reply; nothing when the
/// change is no approval or no program of theirs asks for it.
pub async fn make_ready_on_approval(
    w: &mut Work<'_>,
    before: &User,
    to: UserStatus,
    reason: Option<&str>,
) -> Result<Vec<String>> {
    if !is_approval(before.status, to) {
        return Ok(Vec::new());
    }
    let approved = User {
        status: to,
        ..before.clone()
    };
    let mut lines = Vec::new();
    for (persona, program) in ready_on_approval(w, &approved).await? {
        let entry = staff_match_step(
            w,
            &approved,
            &persona,
            MatchStatus::ReadyToBeMatched,
            reason,
        )
        .await?;
        lines.push(format!(
            "{} persona #{} in {}: {} → RTBM, the program's ready_on_approval (audit #{entry}; undo with /revert {entry})",
            persona.role,
            persona.id,
            program.full_name(),
            persona.match_status
        ));
    }
    Ok(lines)
}
