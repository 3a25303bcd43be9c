//! Lanes: work items of one lane (a chat, a person) are handled one at a time, in order;
//! different lanes side by side, up to a limit. The items live in SQL and are claimed with a
//! lease (`store::inbox`, `store::outbox`), so any number of processes can run lanes over the
//! same table: a lane's head is held by one process at a time, and a process that dies leaves
//! its heads to the others once their lease runs out. A flood in one lane is served in order
//! while the other lanes go on: each lane takes one slot, never more.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Where the items come from and what is done with each.
pub trait Source: Send + Sync + 'static {
    type Item: Send + 'static;

    /// The lane an item belongs to.
    fn lane(item: &Self::Item) -> String;

    /// Claims the heads of up to `limit` lanes that are due and not held.
    fn claim_heads(
        &self,
        limit: usize,
    ) -> impl Future<Output = anyhow::Result<Vec<Self::Item>>> + Send;

    /// Claims the next head of `lane`, when it is due and not held.
    fn claim_next(
        &self,
        lane: &str,
    ) -> impl Future<Output = anyhow::Result<Option<Self::Item>>> + Send;

    /// Handles one claimed item. [`Step::Next`] goes on with the lane's next item;
    /// [`Step::Hold`] leaves the lane (its item is due again later, and the lane's later items
    /// wait for it, so they stay in order).
    fn work(&self, item: Self::Item) -> impl Future<Output = Step> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Next,
    Hold,
}

/// How the lanes of one source are run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Lanes worked at once in this process.
    pub lanes: usize,
    /// How often the table is looked at for due heads (a wake-up does it at once).
    pub every: Duration,
}

/// Runs lanes until `stop`; then lets each running lane finish its item (up to `grace`).
pub async fn run<S: Source>(
    source: Arc<S>,
    limits: Limits,
    wake: Arc<Notify>,
    stop: CancellationToken,
    grace: Duration,
) {
    let mut running: JoinSet<()> = JoinSet::new();
    let mut failures = 0u32;
    while !stop.is_cancelled() {
        let free = limits.lanes.saturating_sub(running.len());
        if free > 0 {
            match source.claim_heads(free).await {
                Ok(heads) => {
                    failures = 0;
                    for head in heads {
                        running.spawn(lane(source.clone(), head, stop.clone()));
                    }
                }
                Err(e) => {
                    // The database is away: wait a little longer each time, up to 5 s.
                    failures = failures.saturating_add(1);
                    warn!(error = format!("{e:#}"), "could not claim work; retrying");
                    let pause = Duration::from_millis(200u64 << failures.min(5));
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(limits.every) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    // Lanes see the stop between items: each finishes the one it holds.
    let finish = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, finish).await.is_err() {
        warn!("some work did not finish in time; it is left to its lease");
        running.abort_all();
    }
}

async fn lane<S: Source>(source: Arc<S>, first: S::Item, stop: CancellationToken) {
    let name = S::lane(&first);
    let mut item = first;
    loop {
        if source.work(item).await == Step::Hold || stop.is_cancelled() {
            return;
        }
        match source.claim_next(&name).await {
            Ok(Some(next)) => item = next,
            Ok(None) => return,
            Err(e) => {
                warn!(
                    error = format!("{e:#}"),
                    "could not claim a lane's next item"
                );
                return;
            }
        }
    }
}
