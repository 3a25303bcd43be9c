//! Operations several commands share: creating a person, changing a user status with its
//! effects on personas and matches, closing and re-opening matches. Each writes its audit
//! entries; the caller's transaction makes the whole command atomic.

use super::ctx::Ctx;
use crate::error::{Error, Result};
use crate::messages;
use crate::roles::{PersonaRole, StaffRole};
use crate::status::{MatchStatus, UserStatus, decide_match};
use crate::store::matches::{Match, MatchState};
use crate::store::orgs::Program;
use crate::store::users::{NewUser, User};
use crate::store::{self};
use crate::values::{Email, ExternalId, FullName, LinkCode, Phone, Tag};

/// Everything needed to add a person: from `/user_add`, `/user_import`, `/staff_add` or the
/// bootstrap.
pub struct NewPerson {
    pub name: FullName,
    pub email: Email,
    pub phone: Phone,
    pub external_id: Option<ExternalId>,
    pub role: Option<PersonaRole>,
    pub program: Option<Program>,
    pub org_id: Option<i64>,
    pub tags: Vec<Tag>,
    pub status: UserStatus,
}

/// Refuses a person whose email, phone or external ID is taken, naming who has it.
pub async fn check_unique(ctx: &mut Ctx<'_>, p: &NewPerson) -> Result<()> {
    if let Some(u) = store::users::by_email(ctx.c(), p.email.as_str()).await? {
        return Err(Error::conflict(format!(
            "{} is already used by {} (#{}): to bring them back for a new match use /persona_new",
            p.email, u.full_name, u.id
        )));
    }
    if let Some(u) = store::users::by_phone(ctx.c(), p.phone.as_str()).await? {
        return Err(Error::conflict(format!(
            "phone {} is already used by {} (#{}): each person needs their own number",
            p.phone,
            u.label(),
            u.id
        )));
    }
    let ext = p
        .external_id
        .clone()
        .unwrap_or_else(|| ExternalId::from_phone(&p.phone));
    if let Some(u) = store::users::by_external_id(ctx.c(), ext.as_str()).await? {
        return Err(Error::conflict(format!(
            "external ID {} is already used by {} (#{}): give another with external_id:",
            ext.as_str(),
            u.label(),
            u.id
        )));
    }
    Ok(())
}

/// Creates the user (and their first persona when a role is given), their link code and
/// welcome email. Returns the user and the code.
pub async fn create_person(ctx: &mut Ctx<'_>, p: NewPerson) -> Result<(User, LinkCode)> {
    check_unique(ctx, &p).await?;
    let now = ctx.now;
    let ext = p
        .external_id
        .clone()
        .unwrap_or_else(|| ExternalId::from_phone(&p.phone));
    let org_id = p.program.as_ref().map(|pr| pr.org_id).or(p.org_id);
    let id = store::users::insert_user(
        ctx.c(),
        &NewUser {
            email: &p.email,
            phone: &p.phone,
            external_id: &ext,
            full_name: &p.name,
            status: p.status,
            org_id,
        },
        now,
    )
    .await?;
    ctx.audit(
        Some(id),
        "user",
        Some(id),
        "user_status",
        None,
        Some(p.status.code().into()),
        Some("added"),
    )
    .await?;
    if let Some(role) = p.role {
        add_persona(
            ctx,
            id,
            role,
            p.program.as_ref().map(|pr| pr.id),
            MatchStatus::NotApplicable,
        )
        .await?;
    }
    for tag in &p.tags {
        store::users::set_tag(ctx.c(), id, tag).await?;
    }
    let user = store::users::user(ctx.c(), id)
        .await?
        .ok_or_else(|| Error::Internal("the new user vanished".into()))?;
    let code = issue_link_code(ctx, &user).await?;
    let role_name = p.role.map(|r| r.code()).unwrap_or("staff member");
    let program_name = p.program.as_ref().map(Program::full_name);
    let days = ctx.settings().link_code_ttl().num_days().max(1);
    let mail = messages::welcome(
        user.full_name.as_str(),
        role_name,
        program_name.as_deref(),
        code.as_str(),
        days,
    );
    ctx.email(&user, "welcome", format!("welcome:{}", code.as_str()), mail)
        .await?;
    Ok((user, code))
}

/// Gives a user a persona (role, program, first match status) and records it.
pub async fn add_persona(
    ctx: &mut Ctx<'_>,
    user_id: i64,
    role: PersonaRole,
    program_id: Option<i64>,
    start: MatchStatus,
) -> Result<i64> {
    let now = ctx.now;
    let pid = store::users::insert_persona(ctx.c(), user_id, role, program_id, start, now).await?;
    ctx.audit(
        Some(user_id),
        "persona",
        Some(pid),
        "created",
        None,
        Some(role.code().into()),
        None,
    )
    .await?;
    Ok(pid)
}

/// A new link code for `user`; their earlier codes not used yet stop working (a code that
/// was mailed and then replaced must not stay a way in).
pub async fn issue_link_code(ctx: &mut Ctx<'_>, user: &User) -> Result<LinkCode> {
    let code = LinkCode::generate();
    let now = ctx.now;
    store::links::revoke_unused(ctx.c(), user.id).await?;
    let expires = now + ctx.settings().link_code_ttl();
    store::links::insert_code(ctx.c(), code.as_str(), user.id, now, expires).await?;
    Ok(code)
}

/// The open matches any persona of `user` is in, with a line describing each.
pub async fn open_matches(ctx: &mut Ctx<'_>, user: &User) -> Result<Vec<(Match, String)>> {
    let mut out = Vec::new();
    for p in store::users::personas_of(ctx.c(), user.id).await? {
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            if m.state == MatchState::Open
                && !out.iter().any(|(o, _): &(Match, String)| o.id == m.id)
            {
                let line = describe_match(ctx, &m).await?;
                out.push((m, line));
            }
        }
    }
    Ok(out)
}

/// "match #4: Ana Lima (mentee) with Bruno Reis (mentor)"
pub async fn describe_match(ctx: &mut Ctx<'_>, m: &Match) -> Result<String> {
    let mut names = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id] {
        let name = match pid {
            Some(pid) => match store::users::persona(ctx.c(), pid).await? {
                Some(p) => store::users::user(ctx.c(), p.user_id)
                    .await?
                    .map(|u| u.full_name)
                    .unwrap_or_default(),
                None => "a deleted user".into(),
            },
            None => "a deleted user".into(),
        };
        names.push(name);
    }
    Ok(format!(
        "match #{}: {} (mentee) with {} (mentor)",
        m.id, names[0], names[1]
    ))
}

/// Changes a user status (SPEC §3): it applies to every persona; leaving A closes the user's
/// open matches, but only when `confirm` is given — otherwise it is refused with the list.
pub async fn change_user_status(
    ctx: &mut Ctx<'_>,
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
        refuse_if_last_super_admin(ctx, user, &format!("setting them to {new}")).await?;
    }
    let mut effects = Vec::new();
    if user.status == UserStatus::Active {
        let open = open_matches(ctx, user).await?;
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
                ctx,
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
    store::users::set_status(ctx.c(), user.id, user.status, new).await?;
    ctx.audit(
        Some(user.id),
        "user",
        Some(user.id),
        "user_status",
        Some(user.status.code().into()),
        Some(new.code().into()),
        reason,
    )
    .await?;
    if user.status == UserStatus::Active {
        // SPEC §3: leaving A withdraws the user's pending offers; each mentee's round moves on.
        let why = format!("{} is no longer active", user.full_name);
        for p in store::users::personas_of(ctx.c(), user.id).await? {
            super::matching::withdraw_for_persona(ctx, &p, &why).await?;
        }
    }
    Ok(effects)
}

/// The status `user` had before their latest deactivation, from the audit log (what
/// `/reactivate` and `mentorops admin reactivate` restore).
pub async fn status_before_deactivation(ctx: &mut Ctx<'_>, user: &User) -> Result<UserStatus> {
    let history = store::audit::list(ctx.c(), Some(user.id), 1000).await?;
    history
        .iter()
        .filter(|e| e.field == "user_status")
        .find_map(|e| {
            let old = UserStatus::from_code(e.old_value.as_deref()?).ok()?;
            let new = UserStatus::from_code(e.new_value.as_deref()?).ok()?;
            (new.is_deactivated() && !old.is_deactivated()).then_some(old)
        })
        .ok_or_else(|| {
            Error::conflict(format!(
                "no earlier status of {} is recorded: set one with /status",
                user.full_name
            ))
        })
}

/// Refuses to take away the last active super admin (deactivating or deleting them): nobody
/// could then reactivate anyone, add staff or create programs — the operator's only way back
/// would be the database. `what` says what was asked ("setting them to IW").
pub async fn refuse_if_last_super_admin(ctx: &mut Ctx<'_>, user: &User, what: &str) -> Result<()> {
    let active = store::staff::active_super_admins(ctx.c()).await?;
    if active == [user.id] {
        return Err(Error::conflict(format!(
            "{} is the last active super admin, and {what} would leave nobody able to run the program: make someone else a super admin first (/staff_add … super_admin)",
            user.full_name
        )));
    }
    Ok(())
}

/// Closes an open match: the match and both personas (M → C).
pub async fn close_match(ctx: &mut Ctx<'_>, m: &Match, reason: Option<&str>) -> Result<()> {
    let now = ctx.now;
    store::matches::set_state(ctx.c(), m.id, MatchState::Open, MatchState::Closed, now).await?;
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        if let Some(p) = store::users::persona(ctx.c(), pid).await?
            && p.match_status == MatchStatus::Matched
        {
            store::users::set_match_status(
                ctx.c(),
                p.id,
                MatchStatus::Matched,
                MatchStatus::Closed,
            )
            .await?;
            ctx.audit(
                Some(p.user_id),
                "persona",
                Some(p.id),
                "match_status",
                Some("M".into()),
                Some("C".into()),
                reason,
            )
            .await?;
        }
    }
    Ok(())
}

/// Re-opens a closed match (C → M for both), only if both people are still there, A, and
/// neither has been matched since (SPEC §3 Interpretation).
pub async fn reopen_match(ctx: &mut Ctx<'_>, m: &Match, reason: Option<&str>) -> Result<()> {
    if m.state != MatchState::Closed {
        return Err(Error::conflict(format!(
            "match #{} is not closed: nothing to re-open",
            m.id
        )));
    }
    let mut personas = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id] {
        let p = match pid {
            Some(pid) => store::users::persona(ctx.c(), pid).await?,
            None => None,
        };
        let p = p.ok_or_else(|| {
            Error::conflict(format!(
                "match #{} cannot re-open: one of its people was deleted",
                m.id
            ))
        })?;
        let user = store::users::user(ctx.c(), p.user_id)
            .await?
            .ok_or_else(|| Error::Internal("persona without user".into()))?;
        decide_match(p.match_status, MatchStatus::Matched, p.role, user.status)?;
        for other in store::users::personas_of(ctx.c(), user.id).await? {
            if other.id != p.id && other.match_status == MatchStatus::Matched {
                return Err(Error::conflict(format!(
                    "match #{} cannot re-open: {} has been matched again since (persona #{})",
                    m.id, user.full_name, other.id
                )));
            }
        }
        personas.push(p);
    }
    let now = ctx.now;
    store::matches::set_state(ctx.c(), m.id, MatchState::Closed, MatchState::Open, now).await?;
    for p in personas {
        store::users::set_match_status(ctx.c(), p.id, MatchStatus::Closed, MatchStatus::Matched)
            .await?;
        ctx.audit(
            Some(p.user_id),
            "persona",
            Some(p.id),
            "match_status",
            Some("C".into()),
            Some("M".into()),
            reason,
        )
        .await?;
    }
    Ok(())
}

/// The staff roles a person holds, for display.
pub fn staff_summary(grants: &[crate::store::staff::Grant], programs: &[Program]) -> Vec<String> {
    grants
        .iter()
        .map(|g| match (g.role, g.program_id) {
            (StaffRole::SuperAdmin, _) | (_, None) => g.role.code().to_string(),
            (role, Some(pid)) => format!(
                "{} of {}",
                role.code(),
                programs
                    .iter()
                    .find(|p| p.id == pid)
                    .map(Program::full_name)
                    .unwrap_or_else(|| format!("program #{pid}"))
            ),
        })
        .collect()
}
