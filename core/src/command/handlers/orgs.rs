//! Organizations, programs and staff.

use super::prelude::*;
use crate::domain::people::NewPerson;
use crate::domain::{self, Audit};
use crate::program::{SETTING_NAMES, SETTINGS};
use crate::reply::echo;
use crate::roles::StaffRole;
use crate::store;
use crate::values::{Email, FullName, Phone, refuse_hidden};

/// An organization's or program's name, as given to `/org_add` and `/program_add`: white space
/// runs become one space; 1–100 characters, no `/` (it separates `Org/Program`), no leading
/// `#` (that is an id); no invisible character ([`is_hidden_char`](crate::values::is_hidden_char)),
/// as for a person's name: names are shown in every list, where a right-to-left override
/// would show one as another and a zero-width space make two look the same.
fn org_or_program_name(raw: &str, what: &str) -> Result<String> {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() || s.chars().count() > 100 || s.contains('/') || s.starts_with('#') {
        return Err(Error::input(format!(
            "'{}' cannot be {what} name: use 1–100 characters, without / and not starting with #",
            echo(&s)
        )));
    }
    refuse_hidden(&s, "the name")?;
    Ok(s)
}

command! {
    pub struct OrgAdd {
        name: "org_add",
        about: "Create an organization",
        access: Access::Staff(Capability::ManageOrgs),
        example: "/org_add \"City Schools\"",
        args: {
            name: String = pos(K::Line, "the organization's name"),
        }
    }
}

pub(crate) async fn org_add(ctx: &mut Ctx<'_>, a: OrgAdd) -> Result<Reply> {
    let name = org_or_program_name(&a.name, "an organization")?;
    if store::orgs::org_by_name(ctx.c(), &name).await?.is_some() {
        return Err(Error::conflict(format!(
            "organization '{name}' exists already: pick another name"
        )));
    }
    let now = ctx.now;
    let id = store::orgs::insert_org(ctx.c(), &name, now).await?;
    ctx.audit(Audit::organization(id, "created").to(name.clone()))
        .await?;
    Ok(Reply::text(format!(
        "Organization '{name}' created. Next: /program_add \"{name}\" \"Program name\""
    )))
}

command! {
    pub struct ProgramAdd {
        name: "program_add",
        about: "Create a program in an organization (settings start from config)",
        access: Access::Staff(Capability::ManageOrgs),
        example: "/program_add \"City Schools\" \"Spring 2027\"",
        args: {
            org: OrgRef = pos(K::Organization, "the organization"),
            name: String = pos(K::Line, "the program's name"),
        }
    }
}

pub(crate) async fn program_add(ctx: &mut Ctx<'_>, a: ProgramAdd) -> Result<Reply> {
    let org = ctx.find_org(&a.org).await?;
    let name = org_or_program_name(&a.name, "a program")?;
    let existing = store::orgs::programs_named(ctx.c(), &name).await?;
    if existing.iter().any(|p| p.org_id == org.id) {
        return Err(Error::conflict(format!(
            "{} already has a program '{name}': pick another name",
            org.name
        )));
    }
    let settings = ctx.program_defaults().clone();
    let now = ctx.now;
    let questionnaire = ctx.settings().questionnaire.clone();
    let id =
        store::orgs::insert_program(ctx.c(), org.id, &name, &settings, &questionnaire, now).await?;
    ctx.audit(Audit::program(id, "created").to(format!("{}/{name}", org.name)))
        .await?;
    Ok(Reply::text(format!(
        "Program {}/{name} created (#{id}) with {}.\nChange a setting with /program_set \"{name}\" SETTING VALUE.",
        org.name,
        settings.describe()
    )))
}

command! {
    pub struct ProgramSet {
        name: "program_set",
        about: "Show or change a program setting",
        access: Access::Staff(Capability::ConfigurePrograms),
        example: "/program_set \"Spring 2027\" offer_ttl 48h",
        args: {
            program: ProgramRef = pos(K::Program, "the program (Org/Program when names repeat)"),
            setting: Option<String> = opt_pos(K::Choice(&SETTING_NAMES), "the setting"),
            value: Option<String> = opt_pos(K::Line, "the new value"),
        }
    }
}

pub(crate) async fn program_set(ctx: &mut Ctx<'_>, a: ProgramSet) -> Result<Reply> {
    let program = ctx
        .find_program(&a.program, Capability::ConfigurePrograms)
        .await?;
    let Some(setting) = a.setting.as_deref() else {
        let lines: Vec<String> = SETTINGS
            .iter()
            .map(|(n, about)| {
                format!(
                    "{n} = {} — {about}",
                    program.settings.get(n).unwrap_or_default()
                )
            })
            .collect();
        return Ok(Reply::text(format!(
            "{} settings:\n{}",
            program.full_name(),
            lines.join("\n")
        )));
    };
    let setting = setting.trim().to_lowercase();
    let Some(value) = a.value.as_deref() else {
        let current = program.settings.get(&setting).ok_or_else(|| {
            Error::input(format!(
                "'{}' is not a program setting: use one of {}",
                echo(&setting),
                SETTINGS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        return Ok(Reply::text(format!(
            "{} {setting} = {current}",
            program.full_name()
        )));
    };
    let mut settings = program.settings.clone();
    settings.set(&setting, value)?;
    let old = program.settings.get(&setting);
    let new = settings.get(&setting);
    if old == new {
        return Err(Error::conflict(format!(
            "{setting} is already {}: nothing to change",
            new.unwrap_or_default()
        )));
    }
    store::orgs::update_program_settings(ctx.c(), program.id, &settings).await?;
    ctx.audit(
        Audit::program(program.id, &format!("setting:{setting}"))
            .from_opt(old.clone())
            .to_opt(new.clone()),
    )
    .await?;
    // docs/domain.md#capacity: each mentor's free places follow the new number at once.
    let places = if setting == "mentor_capacity" {
        let done = domain::availability::top_up_program(ctx, program.id).await?;
        places_changed(done.added.len(), done.retired.len())
    } else {
        String::new()
    };
    Ok(Reply::text(format!(
        "{}: {setting} {} → {}{places}",
        program.full_name(),
        old.unwrap_or_default(),
        new.unwrap_or_default()
    )))
}

/// " 2 free places made for mentors; 1 closed." (nothing when none changed).
fn places_changed(added: usize, retired: usize) -> String {
    let count = |n: usize| crate::text::counted(n as i64, "free place", "free places");
    match (added, retired) {
        (0, 0) => String::new(),
        (a, 0) => format!(". {} made for mentors", count(a)),
        (0, r) => format!(". {} closed", count(r)),
        (a, r) => format!(". {} made for mentors, {} closed", count(a), count(r)),
    }
}

command! {
    pub struct StaffAdd {
        name: "staff_add",
        about: "Add a staff member (or give an existing user a staff role)",
        access: Access::Staff(Capability::AddCoordinators),
        example: "/staff_add \"Rita Souza\" rita@example.org +5511987654321 program_manager program:\"Spring 2027\"",
        args: {
            name: String = pos(K::Name, "full name, in quotes"),
            email: String = pos(K::Email, "email address"),
            phone: String = pos(K::Phone, "phone, international form"),
            role: StaffRole = pos(K::Choice(STAFF_ROLES), "super_admin, program_manager or success_coordinator"),
            program: Option<ProgramRef> = opt(K::Program, "the program (required for program_manager and success_coordinator)"),
        }
    }
}

pub(crate) async fn staff_add(ctx: &mut Ctx<'_>, a: StaffAdd) -> Result<Reply> {
    let role = a.role;
    // Adding a coordinator is open to program managers in their programs; any other role is
    // the super admin's (see roles::PERMISSIONS).
    let cap = if role == StaffRole::SuccessCoordinator {
        Capability::AddCoordinators
    } else {
        Capability::ManageStaff
    };
    if !ctx.actor.holds(cap) {
        return Err(Error::forbidden(format!(
            "adding a {role} is for {} only",
            crate::roles::roles_with(cap)
                .iter()
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    let program = match (role, a.program.as_deref()) {
        (StaffRole::SuperAdmin, Some(_)) => {
            return Err(Error::input(
                "a super_admin acts in every program: leave program: out",
            ));
        }
        (StaffRole::SuperAdmin, None) => None,
        (_, None) => {
            return Err(Error::input(format!(
                "a {role} works in a program: add program:\"Program name\""
            )));
        }
        (_, Some(p)) => Some(ctx.find_program(p, cap).await?),
    };
    let email = Email::parse(&a.email)?;
    let region = ctx.settings().phone_region().map(str::to_string);
    let phone = Phone::parse(&a.phone, region.as_deref())?;
    let name = FullName::parse(&a.name)?;
    let now = ctx.now;
    let (user, code) = match store::users::by_email(ctx.c(), email.as_str()).await? {
        Some(existing) => {
            let grants = store::staff::grants_of(ctx.c(), existing.id).await?;
            let pid = program.as_ref().map(|p| p.id);
            if grants
                .iter()
                .any(|g| g.role == role && (g.program_id == pid || role.is_global()))
            {
                return Err(Error::conflict(format!(
                    "{} is already {role} there: nothing to do",
                    existing.label()
                )));
            }
            (existing, None)
        }
        None => {
            let person = NewPerson::staff(name, email, phone, program.clone());
            let (u, code) = domain::people::create_person(ctx, person).await?;
            (u, Some(code))
        }
    };
    store::staff::insert_grant(ctx.c(), user.id, role, program.as_ref().map(|p| p.id), now).await?;
    let place = program
        .as_ref()
        .map(|p| format!(" of {}", p.full_name()))
        .unwrap_or_default();
    ctx.audit(Audit::user(user.id, "staff_role").to(format!("{role}{place}")))
        .await?;
    // The code itself goes only to the person's mailbox: whoever holds it can link as them.
    let linked = match code {
        Some(_) => " A welcome email with their link code is on its way.",
        None => " They already had an account; their new role works at once.",
    };
    Ok(Reply::text(format!(
        "{} is now {role}{place}.{linked}",
        user.label()
    )))
}
