//! The domain's timers, run by the worker (and by the in-process loop of `mentorops run`):
//! expire offers past their deadline, remind mentors before it, remind sessions 24 h and 1 h
//! ahead. Each item runs in its own transaction, so one failure does not hold up the rest,
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
