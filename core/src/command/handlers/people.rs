//! Adding, finding and listing people; personas and their programs. How a typed person is read
//! is in `crate::import`, shared with `/user_import`, which runs there (not in a command
//! transaction).

use super::super::ctx::Ctx;
use super::super::ops;
use super::super::parse::Invocation;
use super::{ago, number, yes_no};
use crate::error::{Error, Result};
use crate::import::{PersonFields, Places, parse_person};
use crate::reply::Reply;
use crate::roles::{Capability, PersonaRole};
use crate::status::{MatchStatus, UserStatus};
use crate::store::orgs::Program;
use crate::store::users::{User, UserFilter, UserSort};
use crate::store::{self};
use crate::values::Tag;

pub async fn user_add(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let person = parse_person(
        ctx,
        PersonFields {
            name: inv.required("name")?,
            email: inv.required("email")?,
            phone: inv.required("phone")?,
            role: inv.required("role")?,
            program: inv.get("program"),
            org: inv.get("org"),
            external_id: inv.get("external_id"),
            tags: inv.get("tags"),
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
    let (user, _code) = ops::create_person(ctx, person).await?;
    Ok(Reply::text(format!(
        "Added {} (#{}) as a {role}{place}. Status AI until their application is complete. A welcome email with their link code is on its way.",
        user.label(),
        user.id
    )))
}

pub async fn user_show(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ReadUsers)
        .await?;
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
            let d = ops::describe_match(ctx, &m).await?;
            text.push_str(&format!("  {d}, {}\n", m.state.code()));
        }
    }
    let grants = store::staff::grants_of(ctx.c(), user.id).await?;
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let roles = ops::staff_summary(&grants, &programs);
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
async fn scoped_filter(
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

async fn personas_brief(ctx: &mut Ctx<'_>, u: &User, programs: &[Program]) -> Result<String> {
    let ps = store::users::personas_of(ctx.c(), u.id).await?;
    if ps.is_empty() {
        return Ok("staff".into());
    }
    Ok(ps
        .iter()
        .map(|p| {
            let prog = p
                .program_id
                .and_then(|id| programs.iter().find(|pr| pr.id == id))
                .map(|pr| pr.name.clone())
                .unwrap_or_else(|| "unassigned".into());
            format!("{} {prog} {}", p.role, p.match_status)
        })
        .collect::<Vec<_>>()
        .join(", "))
}

pub async fn user_list(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, inv.get("program")).await?;
    f.role = inv.get("role").map(PersonaRole::parse).transpose()?;
    f.status = inv.get("status").map(UserStatus::parse).transpose()?;
    f.tag = inv.get("tag").map(Tag::parse).transpose()?;
    f.unassigned_only = yes_no(inv, "unassigned")?;
    if yes_no(inv, "inactive")? {
        let after = program
            .as_ref()
            .map(|p| p.settings.inactivity_after)
            .unwrap_or(ctx.program_defaults().inactivity_after);
        f.inactive_before = Some(ctx.now - after);
        f.usable_only = true;
        f.participants_only = true;
    }
    f.sort = match inv.get("sort").map(|s| s.trim().to_lowercase()).as_deref() {
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
    f.limit = number(inv, "limit", 50, 1000)?;
    let users = store::users::list_users(ctx.c(), &f).await?;
    if users.is_empty() {
        return Ok(Reply::text("No one matches those filters."));
    }
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let mut lines = Vec::new();
    for u in &users {
        let ps = personas_brief(ctx, u, &programs).await?;
        lines.push(line(ctx.now, u, &ps));
    }
    Ok(Reply::text(format!(
        "{} {}:\n{}",
        users.len(),
        if users.len() == 1 { "person" } else { "people" },
        lines.join("\n")
    )))
}

/// SPEC §7: mentors and mentees who can use the bot (A, SI) whose last activity — or, never seen, when they
/// were added — is older than the threshold; longest inactive first.
pub async fn inactive(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, inv.get("program")).await?;
    let threshold = match inv.get("days") {
        Some(_) => chrono::Duration::days(number(inv, "days", 15, 3650)?),
        None => program
            .as_ref()
            .map(|p| p.settings.inactivity_after)
            .unwrap_or(ctx.program_defaults().inactivity_after),
    };
    f.inactive_before = Some(ctx.now - threshold);
    f.usable_only = true;
    f.participants_only = true;
    f.sort = UserSort::Activity;
    let users = store::users::list_users(ctx.c(), &f).await?;
    let days = threshold.num_days();
    if users.is_empty() {
        return Ok(Reply::text(format!(
            "No one has been inactive for {days} days or more."
        )));
    }
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let mut lines = Vec::new();
    for u in &users {
        let ps = personas_brief(ctx, u, &programs).await?;
        let since = if u.last_activity_at.is_none() {
            format!("never seen (added {})", ago(ctx.now, Some(u.created_at)))
        } else {
            format!("last active {}", ago(ctx.now, u.last_activity_at))
        };
        lines.push(format!(
            "#{} {} · {} · {ps} · {since}",
            u.id,
            u.label(),
            u.status.code()
        ));
    }
    Ok(Reply::text(format!(
        "Inactive for {days}+ days ({}):\n{}",
        users.len(),
        lines.join("\n")
    )))
}

pub async fn persona_new(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::AddUsers)
        .await?;
    let role = PersonaRole::parse(inv.required("role")?)?;
    let program = match inv.get("program") {
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
    if let Some(open) = personas.iter().find(|p| {
        p.role == role
            && p.status == crate::status::PersonaStatus::Active
            && !matches!(
                p.match_status,
                MatchStatus::Closed | MatchStatus::NotMatching
            )
    }) {
        let d = ctx.describe_persona(open).await?;
        return Err(Error::conflict(format!(
            "{} already has an open {role} persona ({d}): a new persona is for coming back after a match closed",
            user.full_name
        )));
    }
    // SPEC §3: after a closed match a new persona starts in Rescreening; a first one in N/A.
    let had_closed = personas
        .iter()
        .any(|p| p.match_status == MatchStatus::Closed);
    let start = if had_closed {
        MatchStatus::Rescreening
    } else {
        MatchStatus::NotApplicable
    };
    let pid = ops::add_persona(ctx, user.id, role, program.as_ref().map(|p| p.id), start).await?;
    Ok(Reply::text(format!(
        "{} has a new {role} persona #{pid}{}, match status {start}.",
        user.full_name,
        program
            .map(|p| format!(" in {}", p.full_name()))
            .unwrap_or_else(|| " (unassigned)".into())
    )))
}

pub async fn program_assign(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::AddUsers)
        .await?;
    let program = ctx
        .find_program(inv.required("program")?, Capability::AddUsers)
        .await?;
    let persona = ctx
        .pick_persona(
            &user,
            inv.get("persona"),
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
    store::users::set_persona_program(ctx.c(), persona.id, program.id).await?;
    ctx.audit(
        Some(user.id),
        "persona",
        Some(persona.id),
        "program",
        None,
        Some(program.full_name()),
        None,
    )
    .await?;
    Ok(Reply::text(format!(
        "{}'s {} persona #{} is now in {}.",
        user.full_name,
        persona.role,
        persona.id,
        program.full_name()
    )))
}
