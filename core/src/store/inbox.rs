//! The chat inbox (docs/chat-edge.md): every update or interaction a platform handed us, keyed
//! by its own id. A row is `new` until the command it carries has run, then `done` — set in the
//! command's own transaction, so "ran" and "recorded as ran" cannot come apart. Rows of one lane
//! (a chat) run one at a time in id order: a lane's head is claimed with a lease, like an
//! outbox row, so several processes share the work without running one update twice.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::outbox::{LaneRow, claim_rows, put_off};
use super::{Conn, get_time, ms};
use crate::db::Backend;
use crate::error::Result;

/// Where an update came from and which lane it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// `telegram`, `discord`.
    pub platform: String,
    /// The platform's id of the update (Telegram `update_id`, Discord interaction id).
    pub update_key: String,
    /// Updates of one lane run in order (the chat, or the Discord user).
    pub lane: String,
}

#[derive(Debug, Clone)]
pub struct Update {
    pub id: i64,
    pub key: Key,
    pub payload: String,
    pub received_at: DateTime<Utc>,
    pub attempts: i64,
}

const COLS: &str = "id, platform, update_key, lane, payload, received_at, attempts";

fn from_row(r: &AnyRow) -> Result<Update> {
    Ok(Update {
        id: r.try_get("id")?,
        key: Key {
            platform: r.try_get("platform")?,
            update_key: r.try_get("update_key")?,
            lane: r.try_get("lane")?,
        },
        payload: r.try_get("payload")?,
        received_at: get_time(r, "received_at")?,
        attempts: r.try_get("attempts")?,
    })
}

/// Records an update to run; false when it was recorded before (a redelivery).
pub async fn receive(c: &mut Conn, key: &Key, payload: &str, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO chat_inbox (platform, update_key, lane, payload, received_at, state, available_at, attempts) \
         VALUES ($1, $2, $3, $4, $5, 'new', $5, 0) ON CONFLICT (platform, update_key) DO NOTHING",
    )
    .bind(&key.platform)
    .bind(&key.update_key)
    .bind(&key.lane)
    .bind(payload)
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a received update done, in the transaction of what it ran; false when it was done
/// already (another process ran it first: the caller rolls back).
pub async fn finish(c: &mut Conn, key: &Key, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE chat_inbox SET state = 'done', done_at = $1 WHERE platform = $2 AND update_key = $3 AND state = 'new'",
    )
    .bind(ms(now))
    .bind(&key.platform)
    .bind(&key.update_key)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records an update that is run the moment it arrives (a Discord interaction) as done, in
/// the transaction of what it ran; false when it was recorded before (a replay).
pub async fn record_done(c: &mut Conn, key: &Key, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO chat_inbox (platform, update_key, lane, payload, received_at, state, available_at, attempts, done_at) \
         VALUES ($1, $2, $3, '', $4, 'done', $4, 1, $4) ON CONFLICT (platform, update_key) DO NOTHING",
    )
    .bind(&key.platform)
    .bind(&key.update_key)
    .bind(&key.lane)
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims the head (oldest `new` update) of up to `limit` lanes of `platform` that are due
/// and not held by anyone, for `lease`. A lane whose head is leased or waiting for a retry is
/// skipped whole, so its later updates wait: each chat's updates run in order.
pub async fn claim_heads(
    c: &mut Conn,
    backend: Backend,
    platform: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Update>> {
    claim_rows(c, backend, platform, None, now, lease, limit).await
}

/// Claims the head of one lane, when it is due and not held.
pub async fn claim_lane(
    c: &mut Conn,
    backend: Backend,
    platform: &str,
    lane: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<Update>> {
    Ok(claim_rows(c, backend, platform, Some(lane), now, lease, 1)
        .await?
        .into_iter()
        .next())
}

impl LaneRow for Update {
    const LANES: super::lanes::Table = super::lanes::Table {
        name: "chat_inbox",
        group: "platform",
        lane: "lane",
        waiting: "state = 'new'",
        also_set: ", attempts = attempts + 1",
        cols: COLS,
        held_back: None,
    };
    fn read(r: &AnyRow) -> Result<Self> {
        from_row(r)
    }
    fn id(&self) -> i64 {
        self.id
    }
}

/// An update that could not run for now (our side failed): run it again at `next`.
pub async fn retry_at(c: &mut Conn, id: i64, next: DateTime<Utc>, reason: &str) -> Result<()> {
    // The attempt was counted when the update was claimed.
    put_off::<Update>(c, "", id, next, reason).await
}

/// Updates not run yet, all platforms (for `/metrics` and the tests).
pub async fn waiting(c: &mut Conn) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM chat_inbox WHERE state = 'new'")
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get("n")?)
}

/// Forgets updates done before `before` (platforms redeliver for a day at most: Telegram keeps
/// unconfirmed updates 24 h, a Discord interaction's token lives 15 minutes).
pub async fn prune(c: &mut Conn, before: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("DELETE FROM chat_inbox WHERE state = 'done' AND done_at < $1")
        .bind(ms(before))
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected())
}

/// Removes a deleted person from the updates kept after they ran (a command that named them):
/// the text of each such update is dropped, its key kept so a redelivery still runs nothing.
/// Updates not run yet are left to run (they are seconds old; a command about the deleted
/// person then finds nobody).
pub async fn forget_mentions(c: &mut Conn, needles: &[&str]) -> Result<()> {
    for needle in needles.iter().filter(|n| n.len() >= 3) {
        let pattern = super::users::like_containing(&needle.to_lowercase());
        sqlx::query(
            "UPDATE chat_inbox SET payload = '' WHERE state = 'done' AND lower(payload) LIKE $1 ESCAPE '\\'",
        )
        .bind(&pattern)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}
