//! What each job does: a few lines that call the domain (core::timers), the email delivery or
//! the feeder, and count the outcome for `/metrics`.
//!
//! Retries (apalis trap 3, docs/operations.md#trap-redis-retries): apalis-redis retries a failed
//! job up to 25 times whatever `max_attempts` says. So a job fails (and is retried by apalis) only
//! on an infrastructure error — the database unreachable — where trying again is right and
//! harmless, because every job is idempotent. Everything else is owned here: an email the server
//! refused for now is re-queued at its backoff time by this handler, and a job that can never
//! succeed is aborted.

use std::sync::Arc;

use apalis::prelude::*;
use chrono::{DateTime, Utc};
use mentorops_core::timers;
use tracing::{info, warn};

use crate::context::Runtime;
use crate::delivery::{Attempt, deliver_email};
use crate::feed;
use crate::jobs::Job;

/// A job handed out early by at most this much is held until it is due (apalis
/// trap 9, docs/operations.md#trap-whole-seconds): apalis schedules in whole seconds, and replicas'
/// clocks may differ by a few seconds (the host that promotes a task decides when it is due). One
/// further out was queued with a wrong time and is left to the reconciler.
const HOLD_AT_MOST: chrono::Duration = chrono::Duration::seconds(60);

pub async fn handle(job: Job, rt: Data<Arc<Runtime>>) -> Result<(), BoxDynError> {
    let kind = job.kind();
    if let Some(due) = job.due() {
        let wait = due - rt.engine.now();
        if wait > HOLD_AT_MOST {
            warn!(kind, key = %job.key(), %due, "job handed out too early; the reconciler re-queues it when due");
            return Ok(());
        }
        if let Ok(wait) = wait.to_std() {
            tokio::time::sleep(wait).await;
        }
        let lag = (Utc::now() - due).num_microseconds().unwrap_or(0) as f64 / 1e6;
        metrics::histogram!("mentorops_job_lag_seconds", "kind" => kind).record(lag.max(0.0));
    }
    match run(&job, &rt).await {
        Ok(()) => {
            rt.stats.record(&job);
            metrics::counter!("mentorops_jobs_processed_total", "kind" => kind).increment(1);
            Ok(())
        }
        Err(e) => {
            metrics::counter!("mentorops_jobs_failed_total", "kind" => kind).increment(1);
            warn!(kind, key = %job.key(), error = %e, "job failed; the queue retries it");
            Err(e)
        }
    }
}

/// How long a timer waits before trying again an item another transaction held (a reminder
/// skips a row an accept is holding, rather than wait for it).
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs a timer job's passes over its items (`core::timers::run_batch`, one transaction each):
/// the first at once — the job is due —, then again when the next of its items comes due (the
/// rest of the same second) or, for an item held by another transaction, after a short pause,
/// until none is left. Each pass touches only what is due by its own clock, so nothing acts
/// early. An item not due within `HOLD_AT_MOST` of the job's due time, or still waiting then,
/// is left to the reconciler.
async fn run_timer(
    rt: &Runtime,
    timer: timers::Job,
    ids: &[i64],
    due: DateTime<Utc>,
) -> Result<(), BoxDynError> {
    let until = due + HOLD_AT_MOST;
    loop {
        let pass = timers::run_batch(&rt.engine, timer, ids).await?;
        let Some(next) = pass.next_due else {
            return Ok(());
        };
        let now = rt.engine.now();
        if next > until || now > until {
            return Ok(());
        }
        let wait = (next - now).to_std().unwrap_or(RETRY_PAUSE);
        tokio::time::sleep(if wait.is_zero() { RETRY_PAUSE } else { wait }).await;
    }
}

async fn run(job: &Job, rt: &Runtime) -> Result<(), BoxDynError> {
    let engine = &rt.engine;
    if let (Some((timer, ids)), Some(due)) = (job.timer(), job.due()) {
        return run_timer(rt, timer, &ids, due).await;
    }
    let now = engine.now();
    match *job {
        Job::ExpireOffers { .. }
        | Job::RemindOffers { .. }
        | Job::RemindSessions { .. }
        | Job::ExpireOffer { .. }
        | Job::RemindOffer { .. }
        | Job::RemindSession { .. } => {}
        Job::DeliverEmail { outbox, round, .. } => {
            match deliver_email(
                engine.db(),
                &rt.mailer,
                &rt.from,
                outbox,
                now,
                engine.settings().smtp.retry_base_secs,
            )
            .await?
            {
                Attempt::Done(d) if d.refused.is_some() => {
                    metrics::counter!("mentorops_emails_failed_total").increment(1);
                }
                Attempt::Done(_) => {
                    metrics::counter!("mentorops_emails_sent_total").increment(1);
                }
                Attempt::RetryAt(next) => {
                    let again = Job::DeliverEmail {
                        outbox,
                        due_ms: next.timestamp_millis(),
                        round,
                    };
                    rt.queue.push(&[again]).await?;
                }
                Attempt::NotPending => {}
            }
        }
        Job::Sweep { tick } => {
            let n = feed::sweep(rt, tick).await?;
            info!(tick, queued = n, "inactivity sweep");
        }
        Job::RemindInactive { user, .. } => {
            timers::remind_inactive(engine, user, now).await?;
        }
        Job::Digest { .. } => {
            timers::staff_digest(engine, now).await?;
        }
        Job::Reconcile { tick } => {
            feed::reconcile(rt, tick).await?;
        }
        Job::CloseFlash { tick } => {
            let n = timers::close_flash_matches(engine, now).await?;
            if n > 0 {
                info!(tick, closed = n, "flash-mentoring matches closed");
            }
        }
        Job::Availability { tick } => {
            let ended = timers::end_pauses(engine, now).await?;
            let made = timers::fill_places(engine, now).await?;
            if ended + made > 0 {
                info!(tick, ended, made, "mentors' pauses ended, places made");
            }
        }
        Job::Noop { .. } => {}
    }
    Ok(())
}
