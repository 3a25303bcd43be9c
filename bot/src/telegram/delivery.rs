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
use mentorops_core::store::outbox;
use teloxide::RequestError;
use teloxide::types::ChatId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{PROVIDER, TgBot, render};

/// Rows read per pass.
const BATCH: i64 = 500;

/// Outbox messages sent per second at most, all chats together. Telegram allows about 30;
/// teloxide's `Throttle` released bursts of 40–50 a second in our burst test, so the outbox
/// sends on the plain `Bot` with its own pacing, below the limit, leaving room for replies.
pub const OUTBOX_PER_SECOND: usize = 25;

/// A sliding one-second window shared by every chat's delivery.
struct Pace {
    sent: tokio::sync::Mutex<std::collections::VecDeque<tokio::time::Instant>>,
}

impl Pace {
    /// Waits until one more message fits in the last second, and counts it.
    async fn wait(&self) {
        loop {
            let mut sent = self.sent.lock().await;
            let now = tokio::time::Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
            {
                sent.pop_front();
            }
            match sent.front() {
                Some(oldest) if sent.len() >= OUTBOX_PER_SECOND => {
                    let until = *oldest + Duration::from_secs(1);
                    drop(sent);
                    tokio::time::sleep_until(until).await;
                }
                _ => {
                    sent.push_back(now);
                    return;
                }
            }
        }
    }
}

impl Pace {
    const fn new() -> Self {
        Self {
            sent: tokio::sync::Mutex::const_new(std::collections::VecDeque::new()),
        }
    }
}

static PACE: Pace = Pace::new();
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
    // When this chat was last sent to: Telegram allows about one message a second per chat.
    let mut last: Option<tokio::time::Instant> = None;
    for row in rows {
        if stop.is_some_and(CancellationToken::is_cancelled) {
            break;
        }
        if crate::relay::refuse_if_undeliverable(engine, &row, "Telegram").await? {
            continue;
        }
        let Ok(chat) = row.recipient.parse::<i64>().map(ChatId) else {
            let mut c = engine.db().pool().acquire().await?;
            outbox::mark_failed(
                &mut c,
                row.id,
                &format!("'{}' is not a Telegram chat id", row.recipient),
            )
            .await?;
            continue;
        };
        let result = send_paced(bot.inner(), chat, &row.body_text, &row.buttons, &mut last).await;
        match crate::relay::settle(engine, &row, result, is_permanent, "Telegram").await? {
            crate::relay::Next::Continue(delivered) => sent += usize::from(delivered),
            crate::relay::Next::Stop => break,
        }
    }
    Ok(sent)
}

/// Telegram said no for a reason a retry will not change (blocked, unknown chat, bad request).
fn is_permanent(e: &RequestError) -> bool {
    matches!(e, RequestError::Api(_) | RequestError::MigrateToChatId(_))
}

/// Sends one outbox message: each part waits for the chat's one-second spacing and for room in
/// the overall window; a 429 is waited out for the `retry_after` Telegram gives and the part
/// sent again (up to 5 times), so nothing is lost and nothing is sent twice.
async fn send_paced(
    bot: &teloxide::Bot,
    chat: ChatId,
    text: &str,
    buttons: &[mentorops_core::reply::Button],
    last: &mut Option<tokio::time::Instant>,
) -> Result<(), RequestError> {
    use teloxide::payloads::SendMessageSetters;
    use teloxide::requests::Requester;
    let (parts, markup) = render::message_parts(text, buttons);
    let final_part = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        let mut tries = 0;
        loop {
            if let Some(t) = *last {
                tokio::time::sleep_until(t + Duration::from_secs(1)).await;
            }
            PACE.wait().await;
            *last = Some(tokio::time::Instant::now());
            let mut req = bot.send_message(chat, part.clone());
            if i == final_part
                && let Some(m) = &markup
            {
                req = req.reply_markup(m.clone());
            }
            match req.await {
                Ok(_) => break,
                Err(RequestError::RetryAfter(after)) if tries < 5 => {
                    tries += 1;
                    tokio::time::sleep(after.duration()).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pace_never_lets_more_than_the_limit_through_in_any_second() {
        let pace = Pace::new();
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..200 {
            pace.wait().await;
            times.push(tokio::time::Instant::now());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= OUTBOX_PER_SECOND, "{in_window} in one second");
        }
        // 200 at 25 a second: the last goes out after 7 s (the first 25 at once).
        assert!(times[199].duration_since(start) >= Duration::from_secs(7));
    }
}
