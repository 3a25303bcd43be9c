//! From SQL, the source of truth, to the queue (docs/operations.md#feeder).
//!
//! - `feed`: new pending offers, booked sessions and queued emails (`queued_at IS NULL`) become
//!   jobs due at their deadline / reminder time / delivery time, then are marked queued. A
//!   crash between the two only feeds them again, and their idempotency keys drop the repeat;
//!   several replicas feeding at once are deduplicated the same way.
//! - `reconcile` (cron): anything still pending `grace` after it was due lost its job (or is
//!   far behind); it is queued again under a new round. And when Redis lost its data
//!   (FLUSHALL, a restart without persistence), everything pending is fed again at once, so
//!   offers still expire on time.
//! - `sweep` (cron): streams the people who may be due an inactivity reminder into one job each.

use chrono::Duration;
use mentorops_core::store::jobs;
use mentorops_core::timers;
use tracing::{info, warn};

use crate::context::Runtime;
use crate::jobs::Job;
use crate::queue::QueueError;

/// Rows fed per round trip to SQL.
const FEED_BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Core(#[from] mentorops_core::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One feeding pass; returns how many jobs it queued. `epoch` is the queue-data marker this
/// worker saw last (see `Queue::still_has_its_data`).
pub async fn feed(rt: &Runtime, epoch: &mut Option<String>) -> Result<usize, FeedError> {
    // Due tasks moved in bounded batches before apalis' own fetch sees them (see promote_due):
    // after downtime, more than its Lua limit may have come due at once.
    rt.queue.promote().await?;
    if !rt.queue.still_has_its_data(epoch).await? {
        let mut c = rt.engine.db().pool().acquire().await?;
        let n = jobs::requeue_all(&mut c).await?;
        if n > 0 {
            warn!(
                rows = n,
                "the queue lost its data: feeding everything pending again"
            );
        }
    }
    let mut queued = 0;
    loop {
        let now = rt.engine.now();
        let mut c = rt.engine.db().pool().acquire().await?;
        let (work, rows) = jobs::unqueued(&mut c, now, FEED_BATCH).await?;
        drop(c);
        if rows.is_empty() {
            break;
        }
        let batch = Job::for_work(&work, now, 0);
        rt.queue.push(&batch).await?;
        let mut c = rt.engine.db().pool().acquire().await?;
        jobs::mark_queued(&mut c, &rows, now).await?;
        queued += batch.len();
        if (rows.len() as i64) < FEED_BATCH {
            break;
        }
    }
    Ok(queued)
}

/// Re-queues what is overdue by more than the grace period; `tick` makes the new keys
/// differ from the lost ones.
pub async fn reconcile(rt: &Runtime, tick: u64) -> Result<usize, FeedError> {
    let now = rt.engine.now();
    let mut c = rt.engine.db().pool().acquire().await?;
    let overdue = jobs::overdue(&mut c, now, rt.grace, 1000).await?;
    drop(c);
    let round = u32::try_from(tick).unwrap_or(u32::MAX);
    let batch = Job::for_work(&overdue, now, round);
    rt.queue.push(&batch).await?;
    // Marked again, so a job that keeps failing (or a long backlog) is re-queued at most once
    // per grace period, not on every tick.
    let rows: Vec<_> = overdue.iter().map(|w| w.work.row()).collect();
    let mut c = rt.engine.db().pool().acquire().await?;
    jobs::mark_queued(&mut c, &rows, now).await?;
    drop(c);
    if !batch.is_empty() {
        info!(
            jobs = batch.len(),
            items = overdue.len(),
            "reconciler re-queued overdue work the queue had lost"
        );
    }
    // The reconciler also keeps the queue's storage small: finished jobs are kept an hour.
    if let Err(e) = rt.queue.vacuum(std::time::Duration::from_secs(3600)).await {
        warn!(error = %e, "vacuuming finished jobs failed; trying again next time");
    }
    Ok(batch.len())
}

/// Finds everyone who may be due an inactivity reminder and queues one job each; the job
/// applies the rule (core::timers::remind_inactive), so running the sweep twice, or on two
/// replicas, still reminds each person once per period.
pub async fn sweep(rt: &Runtime, tick: u64) -> Result<usize, FeedError> {
    let now = rt.engine.now();
    let queue = &rt.queue;
    let mut sink = |ids: Vec<i64>| async move {
        let batch: Vec<Job> = ids
            .into_iter()
            .map(|user| Job::RemindInactive { user, tick })
            .collect();
        queue
            .push(&batch)
            .await
            .map_err(|e| mentorops_core::Error::Internal(e.to_string()))
    };
    Ok(timers::find_inactive(&rt.engine, now, 1000, &mut sink).await?)
}

/// The reconciler's grace: jobs normally run well within it.
pub fn grace(secs: u64) -> Duration {
    Duration::seconds(secs.min(i64::MAX as u64) as i64)
}
