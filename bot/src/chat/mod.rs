//! What both chat platforms share at their edge (docs/chat-edge.md): the lanes that run
//! inbound updates and outbound messages in order per chat and side by side across chats
//! ([`lanes`]), the one delivery driver of the chat outbox ([`outbox`]), its pacer ([`pace`]),
//! and the lease that lets one process at a time hold a platform connection ([`lease`]).

pub mod lanes;
pub mod lease;
pub mod outbox;
pub mod pace;

pub use outbox::{Delivery, Platform, SendError};

use std::sync::Arc;
use std::time::Duration;

use mentorops_core::command::Engine;
use mentorops_core::store::{self, inbox};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Forgets what is old, every 10 minutes until `stop`: updates handled over two days ago
/// (Telegram redelivers for a day at most; Discord never) and replies sent over a day ago (they
/// hold what the person asked to see; the platform has them now).
pub async fn prune(engine: Arc<Engine>, stop: CancellationToken) {
    loop {
        let now = engine.now();
        if let Ok(mut c) = engine.db().pool().acquire().await {
            if let Err(e) = inbox::prune(&mut c, now - chrono::Duration::days(2)).await {
                warn!(error = %e, "could not prune the chat inbox");
            }
            if let Err(e) =
                store::outbox::prune_replies(&mut c, now - chrono::Duration::days(1)).await
            {
                warn!(error = %e, "could not prune sent replies");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    }
}
