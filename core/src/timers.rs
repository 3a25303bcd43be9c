//! The domain's timers, run by the worker (and by the in-process loop of `mentorops run`):
//! expire offers past their deadline, remind mentors before it, remind sessions 24 h and 1 h
//! ahead; and the hourly inactivity sweep and the daily staff digest (SPEC §7). Each item runs in its own transaction, so one failure does not hold up the rest,
//! and each is idempotent (compare-and-swap on state), so two workers may run them at once.

use chrono::{DateTime, Duration, Utc};
use tracing::warn;

use crate::command::engine::{Engine, Frontend};
use crate::command::handlers::sessions;
use crate::command::matching;
use crate::error::Result;
use crate::store::sessions::ReminderColumn;
use crate::store::{self};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimerReport {
    pub offers_expired: usize,
    pub offer_reminders: usize,
    pub session_reminders: usize,
}

#[derive(Clone, Copy)]
enum Job {
    Expire,
    RemindOffer,
    RemindSession(ReminderColumn),
}

/// Runs one timer job for one item in its own transaction; true if it did something.
async fn run_one(engine: &Engine, job: Job, id: i64, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = engine.db().begin().await?;
    let mut ctx = engine.system_ctx(&mut tx, Frontend::Worker, now);
    let done = match job {
        Job::Expire => matching::expire(&mut ctx, id).await?,
        Job::RemindOffer => matching::remind(&mut ctx, id).await?,
        Job::RemindSession(column) => sessions::remind(&mut ctx, id, column).await?,
    };
    drop(ctx);
    tx.commit().await?;
    Ok(done)
}

async fn run_all(engine: &Engine, job: Job, ids: Vec<i64>, now: DateTime<Utc>) -> usize {
    let mut n = 0;
    for id in ids {
        match run_one(engine, job, id, now).await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => warn!(id, error = %e, "timer job failed; it is retried on the next pass"),
        }
    }
    n
}

pub async fn expire_due_offers(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let ids = store::offers::due_to_expire(&mut conn, now, 1000).await?;
    drop(conn);
    Ok(run_all(engine, Job::Expire, ids, now).await)
}

pub async fn remind_due_offers(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let ids = store::offers::due_to_remind(&mut conn, now, 1000).await?;
    drop(conn);
    Ok(run_all(engine, Job::RemindOffer, ids, now).await)
}

pub async fn remind_due_sessions(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut n = 0;
    for (column, lead) in [
        (ReminderColumn::DayBefore, Duration::hours(24)),
        (ReminderColumn::HourBefore, Duration::hours(1)),
    ] {
        let mut conn = engine.db().pool().acquire().await?;
        let ids = store::sessions::due_reminders(&mut conn, now, lead, column).await?;
        drop(conn);
        n += run_all(engine, Job::RemindSession(column), ids, now).await;
    }
    Ok(n)
}

/// Every timer that is due now.
pub async fn run_due(engine: &Engine) -> Result<TimerReport> {
    let now = engine.now();
    Ok(TimerReport {
        offers_expired: expire_due_offers(engine, now).await?,
        offer_reminders: remind_due_offers(engine, now).await?,
        session_reminders: remind_due_sessions(engine, now).await?,
    })
}

/// SPEC §7: mentors and mentees who can use the bot (A, SI) and have been inactive for their
/// program's `inactivity_after` (never seen: counted from when they were added) get one
/// reminder per inactivity period — chat where linked, and email — then at most one more every
/// `inactivity_repeat`. Safe to run on several workers at once: the reminder is claimed with a
/// compare-and-swap on the user's last reminder time. Returns how many were reminded.
pub async fn inactivity_sweep(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let mut candidates: Vec<(i64, Duration, Duration)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let base = store::users::UserFilter {
        usable_only: true,
        participants_only: true,
        ..Default::default()
    };
    for p in store::orgs::list_programs(&mut conn).await? {
        let f = store::users::UserFilter {
            program_ids: Some(vec![p.id]),
            inactive_before: Some(now - p.settings.inactivity_after),
            ..base.clone()
        };
        for u in store::users::list_users(&mut conn, &f).await? {
            if seen.insert(u.id) {
                candidates.push((
                    u.id,
                    p.settings.inactivity_after,
                    p.settings.inactivity_repeat,
                ));
            }
        }
    }
    let d = engine.program_defaults.clone();
    let f = store::users::UserFilter {
        unassigned_only: true,
        inactive_before: Some(now - d.inactivity_after),
        ..base
    };
    for u in store::users::list_users(&mut conn, &f).await? {
        if seen.insert(u.id) {
            candidates.push((u.id, d.inactivity_after, d.inactivity_repeat));
        }
    }
    drop(conn);
    let mut reminded = 0;
    for (user_id, after, repeat) in candidates {
        match remind_inactive(engine, user_id, after, repeat, now).await {
            Ok(true) => reminded += 1,
            Ok(false) => {}
            Err(e) => {
                warn!(user_id, error = %e, "inactivity reminder failed; retried on the next sweep")
            }
        }
    }
    Ok(reminded)
}

async fn remind_inactive(
    engine: &Engine,
    user_id: i64,
    after: Duration,
    repeat: Duration,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = engine.db().begin().await?;
    let mut ctx = engine.system_ctx(&mut tx, Frontend::Worker, now);
    let Some(user) = store::users::user(ctx.c(), user_id).await? else {
        return Ok(false);
    };
    let since = user.activity_reference();
    if user.status.info().bot_access != crate::status::BotAccess::Full || now - since < after {
        return Ok(false);
    }
    let last = store::users::inactivity_reminded_at(ctx.c(), user_id).await?;
    let due = match last {
        None => true,
        // Active again since the last reminder: this is a new period.
        Some(t) if t < since => true,
        Some(t) => now - t >= repeat,
    };
    if !due || !store::users::mark_inactivity_reminded(ctx.c(), user_id, last, now).await? {
        return Ok(false);
    }
    let days = (now - since).num_days();
    let key = format!("inactive:{user_id}:{}", now.timestamp_millis());
    let text = format!(
        "We have not seen you for {days} days! Send /me to see where your mentoring stands."
    );
    ctx.chat(&user, "inactivity", &key, text, Vec::new())
        .await?;
    ctx.email(
        &user,
        "inactivity",
        key,
        crate::messages::inactivity_reminder(&user.full_name, days),
    )
    .await?;
    drop(ctx);
    tx.commit().await?;
    Ok(true)
}

/// The daily digest of inactive people per program (SPEC §7), to its staff and the super
/// admins; once per program and day (the outbox key holds the date), so it may run hourly.
pub async fn staff_digest(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let programs = store::orgs::list_programs(&mut conn).await?;
    drop(conn);
    let mut sent = 0;
    for p in programs {
        let mut tx = engine.db().begin().await?;
        let mut ctx = engine.system_ctx(&mut tx, Frontend::Worker, now);
        let f = store::users::UserFilter {
            program_ids: Some(vec![p.id]),
            usable_only: true,
            participants_only: true,
            inactive_before: Some(now - p.settings.inactivity_after),
            sort: store::users::UserSort::Activity,
            ..Default::default()
        };
        let people = store::users::list_users(ctx.c(), &f).await?;
        if people.is_empty() {
            continue;
        }
        let lines = people
            .iter()
            .map(|u| {
                format!(
                    "{} — last active {}",
                    u.label(),
                    u.last_activity_at
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_else(|| "never".into())
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let day = now.with_timezone(&p.settings.timezone).format("%Y-%m-%d");
        for staff_id in store::staff::staff_user_ids_of_program(ctx.c(), p.id).await? {
            let Some(staff) = store::users::user(ctx.c(), staff_id).await? else {
                continue;
            };
            let key = format!("digest:{}:{day}:{staff_id}", p.id);
            let mail = crate::messages::staff_digest(&p.full_name(), &lines, people.len());
            ctx.email(&staff, "staff_digest", key.clone(), mail).await?;
            let text = format!(
                "{}: {} people inactive for {}+ days. /inactive program:\"{}\" lists them.",
                p.full_name(),
                people.len(),
                p.settings.inactivity_after.num_days(),
                p.name
            );
            ctx.chat(&staff, "staff_digest", &key, text, Vec::new())
                .await?;
        }
        drop(ctx);
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}
