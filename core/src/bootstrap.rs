//! Operator actions outside chat: the first super admin, new link codes, choosing the console's
//! user, and the demo data set. The `mentorops` binary asks these, never `store` directly.

use crate::command::{Caller, Engine, Frontend, Who};
use crate::domain::people::{self as ops, NewPerson};
use crate::domain::{self, Audit};
use crate::error::{Error, Result};
use crate::roles::StaffRole;
use crate::store;
use crate::values::{Email, FullName, LinkCode, Phone};

/// Creates the first super admin (`mentorops admin bootstrap`) and returns their link code.
/// Refused once any super admin exists: after that, staff are added with `/staff_add`.
pub async fn bootstrap_admin(
    engine: &Engine,
    name: &str,
    email: &str,
    phone: &str,
) -> Result<(i64, LinkCode)> {
    let name = FullName::parse(name)?;
    let email = Email::parse(email)?;
    let phone = Phone::parse(phone, engine.settings().phone_region())?;
    let now = engine.now();
    let mut tx = engine.db().begin().await?;
    if store::staff::any_super_admin(&mut tx).await? {
        return Err(Error::conflict(
            "a super admin exists already: add more staff from chat with /staff_add, or issue a new code with `mentorops admin code`",
        ));
    }
    let mut ctx = engine.system_work(&mut tx, Frontend::Cli, now);
    let person = NewPerson::staff(name, email, phone, None);
    let (user, code) = ops::create_person(&mut ctx, person).await?;
    store::staff::insert_grant(ctx.c(), user.id, StaffRole::SuperAdmin, None, now).await?;
    ctx.audit(
        Audit::user(user.id, "staff_role")
            .to(StaffRole::SuperAdmin.code())
            .because(Some("bootstrap")),
    )
    .await?;
    drop(ctx);
    tx.commit().await?;
    Ok((user.id, code))
}

/// A fresh link code for an existing user (lost email, expired code), from the operator's shell.
pub async fn new_link_code(engine: &Engine, email: &str) -> Result<LinkCode> {
    let email = Email::parse(email)?;
    let now = engine.now();
    let mut tx = engine.db().begin().await?;
    let user = user_by_email(&mut tx, &email).await?;
    if user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is deactivated ({}): reactivate them first",
            user.full_name, user.status
        )));
    }
    let mut ctx = engine.system_work(&mut tx, Frontend::Cli, now);
    let code = ops::issue_link_code(&mut ctx, &user).await?;
    drop(ctx);
    tx.commit().await?;
    Ok(code)
}

/// The operator's way back in (`mentorops admin reactivate --email`): restores a deactivated
/// person to the status they had before, audited as done from the command line. Meant for a
/// super admin locked out by accident; it works for anyone, since whoever runs it holds the
/// database already.
pub async fn reactivate(engine: &Engine, email: &str) -> Result<String> {
    let email = Email::parse(email)?;
    let now = engine.now();
    let mut tx = engine.db().begin().await?;
    let user = user_by_email(&mut tx, &email).await?;
    if !user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is not deactivated (they are {}): nothing to reactivate",
            user.full_name, user.status
        )));
    }
    let mut ctx = engine.system_work(&mut tx, Frontend::Cli, now);
    let before = ops::status_before_deactivation(&mut ctx, &user).await?;
    domain::statuses::change_user_status(
        &mut ctx,
        &user,
        before,
        Some("reactivated by the operator (mentorops admin reactivate)"),
        false,
        "",
    )
    .await?;
    drop(ctx);
    tx.commit().await?;
    Ok(format!("{} is back to {before}", user.full_name))
}

/// The user `mentorops console --as EMAIL` acts as: their id, or why there is none.
pub async fn console_user(engine: &Engine, email: &str) -> Result<i64> {
    let email = Email::parse(email)?;
    let mut conn = engine.db().pool().acquire().await?;
    store::users::by_email(&mut conn, email.as_str())
        .await?
        .map(|u| u.id)
        .ok_or_else(|| {
            Error::not_found(format!(
                "no user has the email {email}: create one with `mentorops admin bootstrap` or `mentorops demo`"
            ))
        })
}

/// Whether the demo set is loaded (its super admin exists).
pub async fn demo_loaded(engine: &Engine) -> Result<bool> {
    let mut conn = engine.db().pool().acquire().await?;
    Ok(store::users::by_email(&mut conn, DEMO_ADMIN)
        .await?
        .is_some())
}

async fn user_by_email(c: &mut store::Conn, email: &Email) -> Result<store::users::User> {
    store::users::by_email(c, email.as_str())
        .await?
        .ok_or_else(|| Error::not_found(format!("no user has the email {email}")))
}

/// The demo program, run through the same commands people would type: `(who, command)`,
/// where who is "admin" (the demo super admin) or the email of the person typing. The
/// `/apply` answers follow the default questionnaire: field, languages, goals, meeting,
/// rhythm, structure, about.
pub const DEMO_STEPS: &[(&str, &str)] = &[
    ("admin", "/org_add \"Demo Schools\""),
    ("admin", "/program_add \"Demo Schools\" \"Spring Cohort\""),
    (
        "admin",
        "/staff_add \"Paula Manager\" paula.pm@demo.example +14155550101 program_manager program:\"Spring Cohort\"",
    ),
    (
        "admin",
        "/staff_add \"Sam Coordinator\" sam.sc@demo.example +14155550102 success_coordinator program:\"Spring Cohort\"",
    ),
    (
        "admin",
        "/user_add \"Maria Mentor\" maria@demo.example +14155550111 mentor program:\"Spring Cohort\" tags:lang=es,field=software",
    ),
    (
        "admin",
        "/user_add \"Tom Mentor\" tom@demo.example +14155550112 mentor program:\"Spring Cohort\" tags:lang=en,field=finance",
    ),
    (
        "admin",
        "/user_add \"Lee Mentor\" lee@demo.example +14155550113 mentor program:\"Spring Cohort\"",
    ),
    (
        "admin",
        "/user_add \"Ana Mentee\" ana@demo.example +14155550121 mentee program:\"Spring Cohort\" tags:lang=es,field=software",
    ),
    (
        "admin",
        "/user_add \"Ben Mentee\" ben@demo.example +14155550122 mentee program:\"Spring Cohort\" tags:lang=en",
    ),
    (
        "admin",
        "/user_add \"Cleo Newcomer\" cleo@demo.example +14155550123 mentee",
    ),
    ("maria@demo.example", "/apply 1"),
    ("maria@demo.example", "/apply 1,2"),
    ("maria@demo.example", "/apply 1,6"),
    ("maria@demo.example", "/apply 1"),
    ("maria@demo.example", "/apply 1"),
    ("maria@demo.example", "/apply 3"),
    (
        "maria@demo.example",
        "/apply \"Backend engineer, happy to help first-jobbers\"",
    ),
    ("tom@demo.example", "/apply 5"),
    ("tom@demo.example", "/apply 1"),
    ("tom@demo.example", "/apply 3,4"),
    ("tom@demo.example", "/apply 2"),
    ("tom@demo.example", "/apply 3"),
    ("tom@demo.example", "/apply 5"),
    ("tom@demo.example", "/apply \"Bank manager\""),
    ("lee@demo.example", "/apply 1"),
    ("lee@demo.example", "/apply 1"),
    ("lee@demo.example", "/apply 6"),
    ("lee@demo.example", "/apply 1"),
    ("lee@demo.example", "/apply 2"),
    ("lee@demo.example", "/apply 2"),
    ("lee@demo.example", "/apply \"Frontend lead\""),
    ("ana@demo.example", "/apply 1"),
    ("ana@demo.example", "/apply 1,2"),
    ("ana@demo.example", "/apply 1"),
    ("ana@demo.example", "/apply 1"),
    ("ana@demo.example", "/apply 1"),
    ("ana@demo.example", "/apply 3"),
    (
        "ana@demo.example",
        "/apply \"I want my first job in software\"",
    ),
    ("ben@demo.example", "/apply 5"),
    ("ben@demo.example", "/apply 1"),
    ("ben@demo.example", "/apply 3"),
    ("ben@demo.example", "/apply 2"),
    ("ben@demo.example", "/apply 3"),
    ("ben@demo.example", "/apply 5"),
    ("ben@demo.example", "/apply \"Finance student\""),
    (
        "admin",
        "/status maria@demo.example A reason:\"demo: screened\"",
    ),
    (
        "admin",
        "/status tom@demo.example A reason:\"demo: screened\"",
    ),
    (
        "admin",
        "/status lee@demo.example A reason:\"demo: screened\"",
    ),
    (
        "admin",
        "/status ana@demo.example A reason:\"demo: screened\"",
    ),
    (
        "admin",
        "/status ben@demo.example A reason:\"demo: screened\"",
    ),
    ("admin", "/match_status maria@demo.example RTBM"),
    ("admin", "/match_status tom@demo.example RTBM"),
    ("admin", "/match_status lee@demo.example RTBM"),
    ("admin", "/match_status ana@demo.example RTBM"),
    ("admin", "/match_status ben@demo.example RTBM"),
];

/// The demo's super admin.
pub const DEMO_ADMIN: &str = "admin@demo.example";

/// Loads the demo set with [`DEMO_ADMIN`] as super admin and returns what each step said.
/// Refused when the database already holds an organization, so it never mixes with real data.
pub async fn demo(engine: &Engine) -> Result<Vec<String>> {
    let mut conn = engine.db().pool().acquire().await?;
    if !store::orgs::list_orgs(&mut conn).await?.is_empty() {
        return Err(Error::conflict(
            "this database has organizations already: the demo loads only into an empty one",
        ));
    }
    drop(conn);
    let (admin_id, _code) =
        bootstrap_admin(engine, "Demo Admin", DEMO_ADMIN, "+14155550100").await?;
    let mut log = Vec::new();
    for (who, line) in DEMO_STEPS {
        let user_id = if *who == "admin" {
            admin_id
        } else {
            let mut conn = engine.db().pool().acquire().await?;
            store::users::by_email(&mut conn, who)
                .await?
                .map(|u| u.id)
                .ok_or_else(|| Error::Internal(format!("demo step as {who}: no such user")))?
        };
        let caller = Caller {
            frontend: Frontend::Cli,
            who: Who::User(user_id),
        };
        let out = engine.handle_text(&caller, line, Vec::new()).await;
        let reply = out.result.map_err(|e| {
            Error::Internal(format!("demo step {line} failed: {}", e.user_message()))
        })?;
        if *who == "admin" {
            log.push(format!(
                "{line}\n  {}",
                reply.text.lines().next().unwrap_or_default()
            ));
        }
    }
    Ok(log)
}
