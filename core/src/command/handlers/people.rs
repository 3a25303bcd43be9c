//! Adding, finding and listing people; personas and their programs. How a typed person is read
//! is in `command::import`, shared with `/user_import`, which runs there (not in a command
//! transaction).

use super::ago;
use super::prelude::*;
use crate::command::import::{PersonFields, Places, parse_person};
use crate::command::screen::{self, FILE_ROWS, Fit, PageNo, Screen};
use crate::domain::{self, Audit};
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, UserStatus};
use crate::store::orgs::Program;
use crate::store::users::{Listed, Persona, User, UserFilter, UserSort};
use crate::store::{self};
use crate::values::Tag;

command! {
    pub struct UserAdd {
        name: "user_add",
        about: "Add a mentor or mentee; they get a welcome email with their link code",
        access: Access::Staff(Capability::AddUsers),
        example: "/user_add \"Ana Lima\" ana@example.org +5511912345678 mentee program:\"Spring 2027\"",
        args: {
            name: String = pos(K::Name, "full name, in quotes"),
            email: String = pos(K::Email, "email address"),
            phone: String = pos(K::Phone, "phone, international form"),
            role: String = pos(K::Choice(PERSONA_ROLES), "mentor or mentee"),
            program: Option<ProgramRef> = opt(K::Program, "assign to this program now (else unassigned)"),
            org: Option<OrgRef> = opt(K::Organization, "the organization, when no program is given"),
            external_id: Option<String> = opt(K::Line, "the program's own ID (defaults to the phone)"),
            tags: Option<String> = opt(K::Tags, "identifiers, like cohort=2026,lang=es (super admin)"),
        }
    }
}

pub(crate) async fn user_add(ctx: &mut Ctx<'_>, a: UserAdd) -> Result<Reply> {
    let person = parse_person(
        ctx,
        PersonFields {
            name: &a.name,
            email: &a.email,
            phone: &a.phone,
            role: &a.role,
            program: a.program.as_deref(),
            org: a.org.as_deref(),
            external_id: a.external_id.as_deref(),
            tags: a.tags.as_deref(),
        },
        &mut Places::default(),
    )
    .await?;
    let role = person.role.map(|r| r.code()).unwrap_or_default();
    let place = person
        .program
        .as_ref()
        .map(|p| format!(" in {}", p.full_name()))
        .unwrap_or_else(|| " (unassigned: give them a program with /program_assign)".into());
    let (user, _code) = domain::people::create_person(ctx, person).await?;
    Ok(Reply::text(format!(
        "Added {} (#{}) as a {role}{place}. Status AI until their application is complete. A welcome email with their link code is on its way.",
        user.label(),
        user.id
    )))
}

command! {
    pub struct UserShow {
        name: "user_show",
        about: "Show a person: statuses, personas, matches, tags, activity",
        access: Access::Staff(Capability::ReadUsers),
        example: "/user_show ana@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
        }
    }
}

pub(crate) async fn user_show(ctx: &mut Ctx<'_>, a: UserShow) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ReadUsers).await?;
    let mut text = format!(
        "#{} {}\nPhone: {}\nExternal ID: {}\nStatus: {}{}\n",
        user.id,
        user.label(),
        user.phone.as_deref().unwrap_or("-"),
        user.external_id.as_deref().unwrap_or("-"),
        user.status,
        if user.status.is_deactivated() {
            " — Deactivated"
        } else {
            ""
        },
    );
    text.push_str(&domain::availability::summary(ctx, &user).await?);
    let tags = store::users::tags(ctx.c(), user.id).await?;
    if !tags.is_empty() {
        text.push_str(&format!(
            "Tags: {}\n",
            tags.iter()
                .map(Tag::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for p in store::users::personas_of(ctx.c(), user.id).await? {
        let line = ctx.describe_persona(&p).await?;
        text.push_str(&format!("Persona {line}\n"));
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            let d = domain::matches::describe_match(ctx, &m).await?;
            text.push_str(&format!("  {d}, {}\n", m.state.code()));
        }
    }
    let grants = store::staff::grants_of(ctx.c(), user.id).await?;
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let roles = domain::people::staff_summary(&grants, &programs);
    if !roles.is_empty() {
        text.push_str(&format!("Staff: {}\n", roles.join(", ")));
    }
    let links = store::links::links_of_user(ctx.c(), user.id).await?;
    text.push_str(&format!(
        "Chat: {}\nFirst seen: {} · Last active: {}",
        if links.is_empty() {
            "not linked".to_string()
        } else {
            links
                .iter()
                .map(|l| l.provider.clone())
                .collect::<Vec<_>>()
                .join(", ")
        },
        ago(ctx.now, user.first_seen_at),
        ago(ctx.now, user.last_activity_at)
    ));
    Ok(Reply::text(text))
}

/// The filter every listing shares: the actor's programs (or one of them).
pub(super) async fn scoped_filter(
    ctx: &mut Ctx<'_>,
    program: Option<&str>,
) -> Result<(UserFilter, Option<Program>)> {
    let mut f = UserFilter::default();
    let program = match program {
        Some(p) => Some(ctx.find_program(p, Capability::ReadUsers).await?),
        None => None,
    };
    if let Some(p) = &program {
        f.program_ids = Some(vec![p.id]);
    } else if let Some(ids) = ctx.actor.programs_for(Capability::ReadUsers) {
        f.program_ids = Some(ids);
        f.org_ids_for_unassigned = ctx.actor.orgs_for(Capability::ReadUsers);
    }
    Ok((f, program))
}

fn line(now: chrono::DateTime<chrono::Utc>, u: &User, personas: &str) -> String {
    format!(
        "#{} {} · {} · {} · last active {}",
        u.id,
        u.label(),
        u.status.code(),
        personas,
        ago(now, u.last_activity_at)
    )
}

/// "mentor Spring RTBM, mentee unassigned N/A", or "staff" for someone with no persona.
fn personas_brief(personas: &[(Persona, Option<String>)]) -> String {
    if personas.is_empty() {
        return "staff".into();
    }
    personas
        .iter()
        .map(|(p, program)| {
            format!(
                "{} {} {}",
                p.role,
                program.as_deref().unwrap_or("unassigned"),
                p.match_status
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One screen of the people `f` selects (docs/domain.md#lists): `line` writes each; on the
/// first screen of a longer list the whole list comes as `file_name`, a CSV.
async fn people_screen(
    ctx: &mut Ctx<'_>,
    mut f: UserFilter,
    page: PageNo,
    heading: String,
    narrow: &'static str,
    line: impl Fn(&Listed) -> String,
    file_name: &str,
) -> Result<Option<Reply>> {
    let total = store::users::count_users(ctx.c(), &f).await?;
    if total == 0 {
        return Ok(None);
    }
    let fit = Fit::of(ctx.caller.frontend);
    f.limit = fit.lines as i64;
    f.offset = page.offset(fit);
    let people = store::users::list_people(ctx.c(), &f).await?;
    let total = u64::try_from(total).unwrap_or(0);
    let file = if screen::wants_file(page, total, fit) {
        f.limit = FILE_ROWS as i64;
        f.offset = 0;
        let all = store::users::list_people(ctx.c(), &f).await?;
        let now = ctx.now;
        Some(screen::csv_file(
            file_name,
            &["id", "name", "email", "status", "personas", "last_active"],
            all.iter().map(|l| {
                vec![
                    l.user.id.to_string(),
                    l.user.label(),
                    l.user.email.clone(),
                    l.user.status.code().to_string(),
                    personas_brief(&l.personas),
                    l.user
                        .last_activity_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| {
                            format!("never (added {})", ago(now, Some(l.user.created_at)))
                        }),
                ]
            }),
        )?)
    } else {
        None
    };
    let screen = Screen {
        heading,
        lines: people.iter().map(line).collect(),
        total,
        page,
        fit,
        narrow,
    };
    screen.reply(ctx.invocation()?, file).map(Some)
}

command! {
    pub struct UserList {
        name: "user_list",
        about: "List people, filtered and sorted",
        access: Access::Staff(Capability::ReadUsers),
        example: "/user_list role:mentor sort:activity",
        press: crate::command::spec::Press::Replaces,
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
            role: Option<PersonaRole> = opt(K::Choice(PERSONA_ROLES), "mentor or mentee"),
            status: Option<UserStatus> = opt(K::Choice(USER_STATUS_CODES), "user status"),
            tag: Option<Tag> = opt(K::Tag, "an identifier, like cohort=2026"),
            unassigned: Option<bool> = opt(K::YesNo, "yes: only people with no program yet"),
            inactive: Option<bool> = opt(K::YesNo, "yes: only people inactive past the program's threshold"),
            sort: Option<String> = opt(K::Choice(SORTS), "first (name), last (name) or activity"),
            page: PageNo = opt(K::Number, "which screen of the list (default 1)"),
        }
    }
}

pub(crate) async fn user_list(ctx: &mut Ctx<'_>, a: UserList) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, a.program.as_deref()).await?;
    f.role = a.role;
    f.status = a.status;
    f.tag = a.tag;
    f.unassigned_only = a.unassigned.unwrap_or(false);
    if a.inactive.unwrap_or(false) {
        let after = program
            .as_ref()
            .map(|p| p.settings.inactivity_after)
            .unwrap_or(ctx.program_defaults().inactivity_after);
        f.inactive_before = Some(ctx.now - after);
        f.usable_only = true;
        f.participants_only = true;
    }
    f.sort = match a
        .sort
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .as_deref()
    {
        None | Some("first") | Some("first_name") => UserSort::FirstName,
        Some("last") | Some("last_name") => UserSort::LastName,
        Some("activity") | Some("last_activity") => UserSort::Activity,
        Some(other) => {
            return Err(Error::input(format!(
                "sort:{} is not a sort: use first, last or activity",
                crate::reply::echo(other)
            )));
        }
    };
    let now = ctx.now;
    let shown = people_screen(
        ctx,
        f,
        a.page,
        "People".into(),
        "narrow it with program:, role:, status:, tag:, unassigned: or inactive:",
        |l| line(now, &l.user, &personas_brief(&l.personas)),
        "people.csv",
    )
    .await?;
    Ok(shown.unwrap_or_else(|| Reply::text("No one matches those filters.")))
}

command! {
    pub struct Inactive {
        name: "inactive",
        about: "People who can use the bot but have been inactive too long, longest first",
        access: Access::Staff(Capability::ReadUsers),
        example: "/inactive program:\"Spring 2027\"",
        press: crate::command::spec::Press::Replaces,
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
            days: Option<Limit<15, 3650>> = opt(K::Number, "inactive for at least this many days (default: the program's setting)"),
            page: PageNo = opt(K::Number, "which screen of the list (default 1)"),
        }
    }
}

/// docs/domain.md#inactivity: mentors and mentees who can use the bot (A, SI) whose last activity —
/// or, never seen, when they were added — is older than the threshold; longest inactive first.
pub(crate) async fn inactive(ctx: &mut Ctx<'_>, a: Inactive) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, a.program.as_deref()).await?;
    let threshold = match a.days {
        Some(days) => chrono::Duration::days(days.get()),
        None => program
            .as_ref()
            .map(|p| p.settings.inactivity_after)
            .unwrap_or(ctx.program_defaults().inactivity_after),
    };
    f.inactive_before = Some(ctx.now - threshold);
    f.usable_only = true;
    f.participants_only = true;
    f.sort = UserSort::Activity;
    let days = threshold.num_days();
    let now = ctx.now;
    let shown = people_screen(
        ctx,
        f,
        a.page,
        format!("Inactive for {days}+ days, longest inactive first"),
        "narrow it with program: or days:",
        |Listed { user: u, personas }| {
            let since = if u.last_activity_at.is_none() {
                format!("never seen (added {})", ago(now, Some(u.created_at)))
            } else {
                format!("last active {}", ago(now, u.last_activity_at))
            };
            format!(
                "#{} {} · {} · {} · {since}",
                u.id,
                u.label(),
                u.status.code(),
                personas_brief(personas)
            )
        },
        "inactive.csv",
    )
    .await?;
    Ok(shown.unwrap_or_else(|| {
        Reply::text(format!(
            "No one has been inactive for {} or more.",
            crate::text::counted(days, "day", "days")
        ))
    }))
}

command! {
    pub struct PersonaNew {
        name: "persona_new",
        about: "Give a user a new persona: in another program, or to come back after a match closed",
        access: Access::Staff(Capability::AddUsers),
        example: "/persona_new ana@example.org mentor program:\"Fall 2027\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            role: PersonaRole = pos(K::Choice(PERSONA_ROLES), "mentor or mentee"),
            program: Option<ProgramRef> = opt(K::Program, "the program"),
        }
    }
}

pub(crate) async fn persona_new(ctx: &mut Ctx<'_>, a: PersonaNew) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::AddUsers).await?;
    let role = a.role;
    let program = match a.program.as_deref() {
        Some(p) => Some(ctx.find_program(p, Capability::AddUsers).await?),
        None => None,
    };
    if user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is deactivated ({}): reactivate them first with /reactivate",
            user.full_name, user.status
        )));
    }
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    domain::people::refuse_second_open_persona(
        ctx,
        &user,
        &personas,
        program.as_ref().map(|p| p.id),
        None,
    )
    .await?;
    // docs/domain.md#personas: after a closed match a new persona starts in Rescreening; a first
    // one in N/A.
    let had_closed = personas
        .iter()
        .any(|p| p.match_status == MatchStatus::Closed);
    let start = if had_closed {
        MatchStatus::Rescreening
    } else {
        MatchStatus::NotApplicable
    };
    let pid =
        domain::people::add_persona(ctx, user.id, role, program.as_ref().map(|p| p.id), start)
            .await?;
    Ok(Reply::text(format!(
        "{} has a new {role} persona #{pid}{}, match status {start}.",
        user.full_name,
        program
            .map(|p| format!(" in {}", p.full_name()))
            .unwrap_or_else(|| " (unassigned)".into())
    )))
}

command! {
    pub struct ProgramAssign {
        name: "program_assign",
        about: "Assign an unassigned persona to a program",
        access: Access::Staff(Capability::AddUsers),
        example: "/program_assign ana@example.org \"Spring 2027\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            program: ProgramRef = pos(K::Program, "the program"),
            persona: Option<String> = opt(K::Number, ABOUT_PERSONA),
        }
    }
}

pub(crate) async fn program_assign(ctx: &mut Ctx<'_>, a: ProgramAssign) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::AddUsers).await?;
    let program = ctx.find_program(&a.program, Capability::AddUsers).await?;
    let persona = ctx
        .pick_persona(
            &user,
            a.persona.as_deref(),
            |p| p.program_id.is_none(),
            "is unassigned",
        )
        .await?;
    if persona.program_id.is_some() {
        let d = ctx.describe_persona(&persona).await?;
        return Err(Error::conflict(format!(
            "persona {d} already has a program: a persona stays in its program; give them a new one with /persona_new"
        )));
    }
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    domain::people::refuse_second_open_persona(
        ctx,
        &user,
        &personas,
        Some(program.id),
        Some(persona.id),
    )
    .await?;
    store::users::set_persona_program(ctx.c(), persona.id, program.id).await?;
    ctx.audit(Audit::persona(user.id, persona.id, "program").to(program.full_name()))
        .await?;
    Ok(Reply::text(format!(
        "{}'s {} persona #{} is now in {}.",
        user.full_name,
        persona.role,
        persona.id,
        program.full_name()
    )))
}
