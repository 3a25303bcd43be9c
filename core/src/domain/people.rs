//! People: adding a person (user, first persona, link code, welcome email), personas, link
//! codes, and the lookups every workflow shares (docs/domain.md#people-and-personas).

use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::messages;
use crate::roles::{PersonaRole, StaffRole};
use crate::status::{MatchStatus, PersonaStatus, UserStatus};
use crate::store::orgs::Program;
use crate::store::users::{NewUser, Persona, User};
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

impl NewPerson {
    /// A staff member (`/staff_add`, the bootstrap): Active at once, with no persona and no
    /// external ID or tags; `program` is where their role is (None for a super admin).
    pub fn staff(name: FullName, email: Email, phone: Phone, program: Option<Program>) -> Self {
        Self {
            name,
            email,
            phone,
            external_id: None,
            role: None,
            program,
            org_id: None,
            tags: Vec::new(),
            status: UserStatus::Active,
        }
    }
}

/// Refuses a person whose email, phone or external ID is taken, naming who has it.
pub async fn check_unique(w: &mut Work<'_>, p: &NewPerson) -> Result<()> {
    if let Some(u) = store::users::by_email(w.c(), p.email.as_str()).await? {
        let fix = existing_person_fix(w, &u).await?;
        return Err(Error::conflict(format!(
            "{} is already used by {} (#{}): {fix}",
            p.email, u.full_name, u.id
        )));
    }
    if let Some(u) = store::users::by_phone(w.c(), p.phone.as_str()).await? {
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
    if let Some(u) = store::users::by_external_id(w.c(), ext.as_str()).await? {
        return Err(Error::conflict(format!(
            "external ID {} is already used by {} (#{}): give another with external_id:",
            ext.as_str(),
            u.label(),
            u.id
        )));
    }
    Ok(())
}

/// What to do instead of adding someone who exists: the step that fits where they stand.
async fn existing_person_fix(w: &mut Work<'_>, u: &User) -> Result<String> {
    if u.status.is_deactivated() {
        return Ok(format!(
            "they are deactivated ({}): bring them back with /reactivate {}",
            u.status, u.email
        ));
    }
    let personas = store::users::personas_of(w.c(), u.id).await?;
    if let Some(p) = personas
        .iter()
        .find(|p| is_open_persona(p) && p.program_id.is_none())
    {
        return Ok(format!(
            "they are waiting for a program (persona #{}): assign them with /program_assign {} PROGRAM",
            p.id, u.email
        ));
    }
    Ok(if personas.iter().any(is_open_persona) {
        format!(
            "they take part already (see /user_show {}): for another program use /persona_new {} ROLE program:PROGRAM",
            u.email, u.email
        )
    } else {
        format!(
            "to bring them back for a new match use /persona_new {} ROLE program:PROGRAM",
            u.email
        )
    })
}

/// Creates the user (and their first persona when a role is given), their link code and
/// welcome email. Returns the user and the code.
pub async fn create_person(w: &mut Work<'_>, p: NewPerson) -> Result<(User, LinkCode)> {
    check_unique(w, &p).await?;
    let now = w.now;
    let ext = p
        .external_id
        .clone()
        .unwrap_or_else(|| ExternalId::from_phone(&p.phone));
    let org_id = p.program.as_ref().map(|pr| pr.org_id).or(p.org_id);
    let id = store::users::insert_user(
        w.c(),
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
    w.audit(
        Audit::user(id, "user_status")
            .to(p.status.code())
            .because(Some("added")),
    )
    .await?;
    if let Some(role) = p.role {
        add_persona(
            w,
            id,
            role,
            p.program.as_ref().map(|pr| pr.id),
            MatchStatus::NotApplicable,
        )
        .await?;
    }
    for tag in &p.tags {
        store::users::set_tag(w.c(), id, tag).await?;
    }
    let user = store::users::user(w.c(), id)
        .await?
        .ok_or_else(|| Error::Internal("the new user vanished".into()))?;
    let code = issue_link_code(w, &user).await?;
    let role_name = p.role.map(|r| r.code()).unwrap_or("staff member");
    let program_name = p.program.as_ref().map(Program::full_name);
    let days = w.settings().link_code_ttl().num_days().max(1);
    let mail = messages::welcome(
        user.full_name.as_str(),
        role_name,
        program_name.as_deref(),
        code.as_str(),
        days,
    );
    w.email(&user, "welcome", format!("welcome:{}", code.as_str()), mail)
        .await?;
    Ok((user, code))
}

/// Gives a user a persona (role, program, first match status) and records it.
pub async fn add_persona(
    w: &mut Work<'_>,
    user_id: i64,
    role: PersonaRole,
    program_id: Option<i64>,
    start: MatchStatus,
) -> Result<i64> {
    let now = w.now;
    let pid = store::users::insert_persona(w.c(), user_id, role, program_id, start, now).await?;
    w.audit(Audit::persona(user_id, pid, "created").to(role.code()))
        .await?;
    Ok(pid)
}

/// A new link code for `user`; their earlier codes not used yet stop working (a code that
/// was mailed and then replaced must not stay a way in).
pub async fn issue_link_code(w: &mut Work<'_>, user: &User) -> Result<LinkCode> {
    let code = LinkCode::generate();
    let now = w.now;
    store::links::revoke_unused(w.c(), user.id).await?;
    let expires = now + w.settings().link_code_ttl();
    store::links::insert_code(w.c(), code.as_str(), user.id, now, expires).await?;
    Ok(code)
}

/// The status `user` had before their latest deactivation, from the audit log (what
/// `/reactivate` and `mentorops admin reactivate` restore).
pub async fn status_before_deactivation(w: &mut Work<'_>, user: &User) -> Result<UserStatus> {
    let history = store::audit::list(w.c(), Some(user.id), 1000).await?;
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
pub async fn refuse_if_last_super_admin(w: &mut Work<'_>, user: &User, what: &str) -> Result<()> {
    let active = store::staff::active_super_admins(w.c()).await?;
    if active == [user.id] {
        return Err(Error::conflict(format!(
            "{} is the last active super admin, and {what} would leave nobody able to run the program: make someone else a super admin first (/staff_add … super_admin)",
            user.full_name
        )));
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

pub async fn persona_user(w: &mut Work<'_>, persona_id: i64) -> Result<(Persona, User)> {
    let p = store::users::persona(w.c(), persona_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("persona #{persona_id} no longer exists")))?;
    let u = store::users::user(w.c(), p.user_id)
        .await?
        .ok_or_else(|| Error::Internal("persona without user".into()))?;
    Ok((p, u))
}

pub async fn program_of(w: &mut Work<'_>, p: &Persona) -> Result<Option<Program>> {
    match p.program_id {
        Some(id) => store::orgs::program(w.c(), id).await,
        None => Ok(None),
    }
}

/// An open persona (docs/domain.md#one-open-persona): Active, and its match neither Closed nor
/// Not Matching. The one place this rule is written.
pub fn is_open_persona(p: &Persona) -> bool {
    p.status == PersonaStatus::Active
        && !matches!(
            p.match_status,
            MatchStatus::Closed | MatchStatus::NotMatching
        )
}

/// Refuses a second open persona in one program (docs/domain.md#one-open-persona): a person
/// takes part in a program once at a time — a mentor may be in several programs, each with a
/// persona of its own, and comes back to one program with a new persona only after their match
/// there closed. Open: Active, and not Closed or Not Matching. `program_id` None stands for "no
/// program yet", which counts as one place too; `except` is a persona being moved.
pub async fn refuse_second_open_persona(
    w: &mut Work<'_>,
    user: &User,
    personas: &[Persona],
    program_id: Option<i64>,
    except: Option<i64>,
) -> Result<()> {
    let open = personas
        .iter()
        .find(|p| Some(p.id) != except && p.program_id == program_id && is_open_persona(p));
    let Some(open) = open else {
        return Ok(());
    };
    let d = describe_persona(w, open).await?;
    Err(Error::conflict(format!(
        "{} already has an open persona {}: one at a time per program. For another program name it with program:; to come back here, close that match first",
        user.full_name, d
    )))
}

/// "#7 mentee in City Schools/Spring 2027, Active, RTBM"
pub async fn describe_persona(w: &mut Work<'_>, p: &Persona) -> Result<String> {
    let program = match p.program_id {
        Some(id) => store::orgs::program(w.c(), id)
            .await?
            .map(|p| p.full_name())
            .unwrap_or_default(),
        None => "no program yet (unassigned)".into(),
    };
    Ok(format!(
        "#{} {} in {program}, {}, {}",
        p.id, p.role, p.status, p.match_status
    ))
}
