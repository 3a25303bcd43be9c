//! Long polling, in one process at a time (a lease in the database: Telegram refuses a second
//! poller): each batch `getUpdates` hands out is written to the inbox before the next call,
//! whose `offset` is what tells Telegram we have them (docs/chat-edge.md). A crash before that
//! loses nothing — Telegram hands the batch out again and the inbox takes each update once —
//! and the updates are run by the lanes of whichever process claims them.

use std::sync::Arc;
use std::time::Duration;

use mentorops_core::command::Engine;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::*;
use teloxide::types::AllowedUpdate;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::webhook::record;
use crate::chat::lease;

/// The lease's name: one poller per database (one bot per database).
pub const LEASE: &str = "telegram:polling";

pub(super) async fn run(
    engine: Arc<Engine>,
    bot: Bot,
    timeout: Duration,
    ttl: Duration,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let (mut held, lease_task) = lease::hold(engine.clone(), LEASE, ttl, stop.clone());
    let mut offset: Option<i32> = None;
    let mut failures = 0u32;
    'polling: while lease::until_held(&mut held, &stop).await {
        info!("this process polls Telegram for updates");
        if let Err(e) = bot.delete_webhook().await {
            warn!(error = %e, "could not remove a webhook before polling");
        }
        while *held.borrow() {
            let mut req = bot
                .get_updates()
                .timeout(timeout.as_secs() as u32)
                .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
            if let Some(o) = offset {
                req = req.offset(o);
            }
            let got = tokio::select! {
                _ = stop.cancelled() => break 'polling,
                got = req.send() => got,
            };
            let updates = match got {
                Ok(u) => {
                    failures = 0;
                    u
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    warn!(error = %e, "Telegram updates could not be fetched; retrying");
                    let pause = Duration::from_millis(250u64 << failures.min(5));
                    tokio::select! {
                        _ = stop.cancelled() => break 'polling,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    continue;
                }
            };
            match keep(&engine, &updates).await {
                // Confirmed to Telegram by the next call's offset, now that we hold them.
                Ok(Some(last)) => {
                    offset = Some(last + 1);
                    wake.notify_one();
                }
                Ok(None) => {}
                Err(e) => {
                    // Not confirmed: the same batch comes again.
                    warn!(
                        error = format!("{e:#}"),
                        "Telegram updates could not be recorded; fetching them again"
                    );
                    tokio::select! {
                        _ = stop.cancelled() => break 'polling,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        info!("this process stopped polling Telegram (the lease went to another)");
    }
    let _ = lease_task.await;
}

/// Records a batch; the last update id, if any.
async fn keep(engine: &Engine, updates: &[Update]) -> anyhow::Result<Option<i32>> {
    let mut last = None;
    for u in updates {
        let id = u.id.0 as i32;
        let value = serde_json::to_value(u)?;
        record(engine, i64::from(id), &value).await?;
        last = Some(last.map_or(id, |l: i32| l.max(id)));
    }
    Ok(last)
}
