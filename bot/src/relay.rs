//! What the chat front-ends share when they deliver the outbox: whether a row may still go
//! out, and what its sending attempt means for the row. Each platform only says how to send
//! and which of its errors are final.

use std::fmt::Display;

use mentorops_core::command::Engine;
use mentorops_core::store::outbox;
use tracing::{info, warn};

/// Why a row must not be sent any more (the recipient was deactivated or deleted since), after
/// marking it failed; None when it may go.
pub async fn refuse_if_undeliverable(
    engine: &Engine,
    row: &outbox::Message,
    platform: &str,
) -> anyhow::Result<bool> {
    let mut c = engine.db().pool().acquire().await?;
    if let Some(reason) = outbox::undeliverable(&mut c, row).await? {
        outbox::mark_failed(&mut c, row.id, reason).await?;
        info!(outbox_id = row.id, %reason, platform, "chat message not sent");
        return Ok(true);
    }
    Ok(false)
}

/// What to do after one attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Sent (true) or refused for good (false): go on with the person's next row.
    Continue(bool),
    /// Not delivered yet: leave it pending, and hold this person's later rows so they stay in order.
    Stop,
}

/// Records the outcome of sending `row`: sent, refused for good (`permanent`), or to retry.
pub async fn settle<E: Display>(
    engine: &Engine,
    row: &outbox::Message,
    result: Result<(), E>,
    permanent: impl Fn(&E) -> bool,
    platform: &str,
) -> anyhow::Result<Next> {
    let mut c = engine.db().pool().acquire().await?;
    match result {
        Ok(()) => {
            outbox::mark_sent(&mut c, row.id, engine.now()).await?;
            Ok(Next::Continue(true))
        }
        Err(e) if permanent(&e) => {
            outbox::mark_failed(&mut c, row.id, &format!("{platform} refused it: {e}")).await?;
            warn!(outbox_id = row.id, error = %e, platform, "message refused; not retried");
            Ok(Next::Continue(false))
        }
        Err(e) => {
            warn!(outbox_id = row.id, error = %e, platform, "message not delivered yet; retrying on the next pass");
            Ok(Next::Stop)
        }
    }
}
