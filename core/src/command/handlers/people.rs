//! Adding, importing, finding and listing people; personas and their programs.

use std::collections::HashSet;

use super::super::ctx::Ctx;
use super::super::ops::{self, NewPerson};
use super::super::parse::Invocation;
use super::{ago, number, yes_no};
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::roles::{Capability, PersonaRole, role_has};
use crate::status::{MatchStatus, UserStatus};
use crate::store::orgs::Program;
use crate::store::users::{User, UserFilter, UserSort};
use crate::store::{self};
use crate::values::{Email, ExternalId, FullName, Phone, Tag};

/// The fields of one person as typed in a command or a CSV row.
struct PersonFields<'a> {
    name: &'a str,
    email: &'a str,
    phone: &'a str,
    role: &'a str,
    program: Option<&'a str>,
    org: Option<&'a str>,
    external_id: Option<&'a str>,
    tags: Option<&'a str>,
}

async fn parse_person(ctx: &mut Ctx<'_>, f: PersonFields<'_>) -> Result<NewPerson> {
    let name = FullName::parse(f.name)?;
    let email = Email::parse(f.email)?;
    let region = ctx.settings().phone_region().map(str::to_string);
    let phone = Phone::parse(f.phone, region.as_deref())?;
    let role = PersonaRole::parse(f.role)?;
    let external_id = f
        .external_id
        .filter(|s| !s.trim().is_empty())
        .map(ExternalId::parse)
        .transpose()?;
    let tags = f.tags.map(Tag::parse_list).transpose()?.unwrap_or_default();
    if !tags.is_empty()
        && !ctx
            .actor
            .grants
            .iter()
            .any(|g| role_has(g.role, Capability::EditTags))
    {
        return Err(Error::forbidden(
            "identifiers (tags) are set by a super admin (SPEC §1): leave tags out, or ask one to add them",
        ));
    }
    let program = match f.program.filter(|s| !s.trim().is_empty()) {
        Some(p) => Some(ctx.find_program(p, Capability::AddUsers).await?),
        None => None,
    };
    let org_id = match (&program, f.org.filter(|s| !s.trim().is_empty())) {
        (Some(p), _) => Some(p.org_id),
        (None, Some(o)) => {
            let org = ctx.find_org(o).await?;
            if !ctx.actor.is_global(Capability::AddUsers)
                && !ctx.actor.orgs_for(Capability::AddUsers).contains(&org.id)
            {
                return Err(Error::forbidden(format!(
                    "{} is not one of your organizations",
                    org.name
                )));
            }
            Some(org.id)
        }
        (None, None) => Some(default_org(ctx).await?),
    };
    Ok(NewPerson {
        name,
        email,
        phone,
        external_id,
        role: Some(role),
        program,
        org_id,
        tags,
        status: UserStatus::ApplicationIncomplete,
    })
}

/// The organization a person without a program joins: the actor's only one, or the only one there is.
async fn default_org(ctx: &mut Ctx<'_>) -> Result<i64> {
    let mine = ctx.actor.orgs_for(Capability::AddUsers);
    let candidates: Vec<i64> = if ctx.actor.is_global(Capability::AddUsers) {
        store::orgs::list_orgs(ctx.c())
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect()
    } else {
        mine
    };
    match candidates.as_slice() {
        [only] => Ok(*only),
        [] => Err(Error::conflict(
            "there is no organization yet: a super admin creates one with /org_add",
        )),
        _ => Err(Error::input(
            "say where they belong: add program:\"Program\" or org:\"Organization\"",
        )),
    }
}

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

/// CSV columns: name, email, phone, role, and optionally program, org, external_id, tags.
/// Every row is checked first; one bad row means nothing is imported, and the reply lists
/// every bad row with its line number.
pub async fn user_import(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let file = inv.attachments.first().ok_or_else(|| {
        Error::input("attach the CSV file to /user_import (columns: name,email,phone,role,program,external_id,tags)")
    })?;
    let text = std::str::from_utf8(&file.bytes)
        .map_err(|_| Error::input("the file is not UTF-8 text: save it as CSV (UTF-8)"))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(format!("the first line must be the column names: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    for needed in ["name", "email", "phone", "role"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(Error::input(format!(
                "the CSV has no '{needed}' column: the first line must name the columns, e.g. name,email,phone,role,program"
            )));
        }
    }
    let known = [
        "name",
        "email",
        "phone",
        "role",
        "program",
        "org",
        "external_id",
        "tags",
    ];
    if let Some(h) = headers.iter().find(|h| !known.contains(&h.as_str())) {
        return Err(Error::input(format!(
            "unknown column '{h}': the columns are {}",
            known.join(", ")
        )));
    }
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut people = Vec::new();
    let mut errors = Vec::new();
    let (mut emails, mut phones) = (HashSet::new(), HashSet::new());
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let get = |name: &str| col(name).and_then(|c| record.get(c));
        let fields = PersonFields {
            name: get("name").unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            phone: get("phone").unwrap_or_default(),
            role: get("role").unwrap_or_default(),
            program: get("program"),
            org: get("org"),
            external_id: get("external_id"),
            tags: get("tags"),
        };
        let parsed = match parse_person(ctx, fields).await {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("line {line}: {}", e.user_message()));
                continue;
            }
        };
        if !emails.insert(parsed.email.clone()) {
            errors.push(format!(
                "line {line}: {} appears twice in the file",
                parsed.email
            ));
            continue;
        }
        if !phones.insert(parsed.phone.clone()) {
            errors.push(format!(
                "line {line}: phone {} appears twice in the file",
                parsed.phone
            ));
            continue;
        }
        if let Err(e) = ops::check_unique(ctx, &parsed).await {
            errors.push(format!("line {line}: {}", e.user_message()));
            continue;
        }
        people.push(parsed);
    }
    if !errors.is_empty() {
        let shown = errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let more = if errors.len() > 20 {
            format!("\n…and {} more", errors.len() - 20)
        } else {
            String::new()
        };
        return Err(Error::input(format!(
            "nothing was imported: fix {} and send the file again:\n{shown}{more}",
            if errors.len() == 1 {
                "this row".to_string()
            } else {
                format!("these {} rows", errors.len())
            }
        )));
    }
    if people.is_empty() {
        return Err(Error::input(
            "the file has column names but no people: add one row per person",
        ));
    }
    let n = people.len();
    for p in people {
        ops::create_person(ctx, p).await?;
    }
    Ok(Reply::text(format!(
        "Imported {n} {}; each gets a welcome email with their link code.",
        if n == 1 { "person" } else { "people" }
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
                "sort:{other} is not a sort: use first, last or activity"
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
