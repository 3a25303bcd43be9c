//! Holding a connection only one process may hold (Telegram long polling, the Discord
//! gateway): a lease in the database (`store::leases`), renewed while this process lives and
//! given up when it stops cleanly. A process that dies outright loses it when it runs out, and
//! another one takes it at its next try: within `ttl + ttl / 4`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mentorops_core::command::Engine;
use mentorops_core::store::leases;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How long a lease lasts without renewal; renewed every quarter of it.
pub const TTL: Duration = Duration::from_secs(10);

/// This process's name for a lease, unique per process and per holder in it.
pub fn holder_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        mentorops_worker::process_name(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Tries for `name` until `stop`, then gives it up. The receiver says whether this process
/// holds it now; a failed renewal (the database away) counts as lost, so two holders never
/// both believe they hold it for longer than one renewal.
pub fn hold(
    engine: Arc<Engine>,
    name: &'static str,
    ttl: Duration,
    stop: CancellationToken,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let holder = holder_name();
    let task = tokio::spawn(async move {
        let chrono_ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(10));
        loop {
            let held = match engine.db().pool().acquire().await {
                Ok(mut c) => {
                    match leases::acquire(&mut c, name, &holder, engine.now(), chrono_ttl).await {
                        Ok(held) => held,
                        Err(e) => {
                            warn!(error = %e, lease = name, "could not renew a lease");
                            false
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, lease = name, "could not renew a lease");
                    false
                }
            };
            if held != *tx.borrow() {
                if held {
                    info!(lease = name, %holder, "this process took the lease");
                } else {
                    info!(lease = name, %holder, "this process does not hold the lease");
                }
                tx.send_replace(held);
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(ttl / 4) => {}
            }
        }
        tx.send_replace(false);
        if let Ok(mut c) = engine.db().pool().acquire().await
            && let Err(e) = leases::release(&mut c, name, &holder).await
        {
            warn!(error = %e, lease = name, "could not give a lease up; it runs out by itself");
        }
    });
    (rx, task)
}

/// Waits until `held` says true (or `stop`); false when stopped.
pub async fn until_held(held: &mut watch::Receiver<bool>, stop: &CancellationToken) -> bool {
    loop {
        if *held.borrow_and_update() {
            return true;
        }
        tokio::select! {
            _ = stop.cancelled() => return false,
            changed = held.changed() => if changed.is_err() { return false },
        }
    }
}
