//! Delivering the outbox's `chat:telegram` rows as direct messages. A row is marked sent only
//! after Telegram accepted the message; a 429 is waited out and retried by the throttle (so a
//! burst is spread out, nothing lost or sent twice); a refusal that will not change (blocked
//! bot, unknown chat) marks it failed; anything else leaves it pending for the next pass.
//! Like email (worker/src/delivery.rs), nothing goes to a user deactivated or deleted since the
//! message was queued.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mentorops_core::command::Engine;
use mentorops_core::store::{self, outbox};
use teloxide::RequestError;
use teloxide::types::ChatId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{PROVIDER, TgBot, render};

/// Rows read per pass.
const BATCH: i64 = 500;
/// Chats served at once (each chat's messages go in order, one after the other).
const CHATS_AT_ONCE: usize = 32;

/// One delivery pass at a time per process, so no row is sent by two passes.
static DELIVERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Delivers every due `chat:telegram` row; returns how many Telegram accepted.
pub async fn deliver_due(engine: &Engine, bot: &TgBot) -> anyhow::Result<usize> {
    deliver(engine, bot, None).await
}

pub(super) async fn delivery_loop(
    engine: Arc<Engine>,
    bot: TgBot,
    every: Duration,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        match deliver(&engine, &bot, Some(&stop)).await {
            Ok(0) => {}
            Ok(n) => info!(count = n, "Telegram messages delivered"),
            Err(e) => warn!(
                error = format!("{e:#}"),
                "Telegram delivery pass failed; retrying"
            ),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
            _ = wake.notified() => {}
        }
    }
}

async fn deliver(
    engine: &Engine,
    bot: &TgBot,
    stop: Option<&CancellationToken>,
) -> anyhow::Result<usize> {
    let _one_pass = DELIVERING.lock().await;
    let due = {
        let mut c = engine.db().pool().acquire().await?;
        outbox::due(&mut c, &outbox::chat_channel(PROVIDER), engine.now(), BATCH).await?
    };
    // Per chat in queue order; chats side by side (the throttle keeps each within its limits).
    let mut by_chat: BTreeMap<String, Vec<outbox::Message>> = BTreeMap::new();
    for row in due {
        by_chat.entry(row.recipient.clone()).or_default().push(row);
    }
    let results: Vec<anyhow::Result<usize>> = futures::stream::iter(by_chat.into_values())
        .map(|rows| deliver_chat(engine, bot, rows, stop))
        .buffer_unordered(CHATS_AT_ONCE)
        .collect()
        .await;
    let mut sent = 0;
    for r in results {
        sent += r?;
    }
    Ok(sent)
}

async fn deliver_chat(
    engine: &Engine,
    bot: &TgBot,
    rows: Vec<outbox::Message>,
    stop: Option<&CancellationToken>,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for row in rows {
        if stop.is_some_and(CancellationToken::is_cancelled) {
            break;
        }
        let chat = match recipient_chat(engine, &row).await? {
            Ok(chat) => chat,
            Err(reason) => {
                let mut c = engine.db().pool().acquire().await?;
                outbox::mark_failed(&mut c, row.id, &reason).await?;
                info!(outbox_id = row.id, %reason, "Telegram message not sent");
                continue;
            }
        };
        match render::send_text(bot, chat, &row.body_text, &row.buttons).await {
            Ok(()) => {
                let mut c = engine.db().pool().acquire().await?;
                outbox::mark_sent(&mut c, row.id, engine.now()).await?;
                sent += 1;
            }
            Err(e) if is_permanent(&e) => {
                let mut c = engine.db().pool().acquire().await?;
                outbox::mark_failed(&mut c, row.id, &format!("Telegram refused it: {e}")).await?;
                warn!(outbox_id = row.id, error = %e, "Telegram refused a message; not retried");
            }
            Err(e) => {
                // Left pending, and this chat's later rows wait too so they stay in order.
                warn!(outbox_id = row.id, error = %e, "Telegram message not delivered yet; retrying on the next pass");
                break;
            }
        }
    }
    Ok(sent)
}

/// The chat to send a row to, or why it must not be sent: checked again at delivery, nothing
/// goes to someone deactivated or deleted since it was queued.
async fn recipient_chat(
    engine: &Engine,
    row: &outbox::Message,
) -> anyhow::Result<Result<ChatId, String>> {
    if let Some(uid) = row.recipient_user_id {
        let mut c = engine.db().pool().acquire().await?;
        let active = store::users::user(&mut c, uid)
            .await?
            .is_some_and(|u| !u.status.is_deactivated());
        if !active {
            return Ok(Err(
                "recipient deactivated or deleted before delivery".to_string()
            ));
        }
    }
    Ok(row
        .recipient
        .parse::<i64>()
        .map(ChatId)
        .map_err(|_| format!("'{}' is not a Telegram chat id", row.recipient)))
}

/// Telegram said no for a reason a retry will not change (blocked, unknown chat, bad request).
fn is_permanent(e: &RequestError) -> bool {
    matches!(e, RequestError::Api(_) | RequestError::MigrateToChatId(_))
}
