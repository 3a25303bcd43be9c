//! Lanes of work in a table (docs/chat-edge.md): rows of one lane (a chat, a recipient) are
//! worked one at a time in id order, different lanes side by side, by any number of
//! processes. A process claims the *heads* of lanes — each lane's lowest waiting id — by moving
//! their `available_at` a lease ahead; a lane whose head is held, or waiting for a retry, is
//! skipped whole, so its later rows wait and stay in order. `store::inbox` (updates to run) and
//! `store::outbox` (messages to send) are such tables.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::{Conn, ms};
use crate::db::Backend;
use crate::error::Result;

/// How one table holds its lanes.
pub(crate) struct Table {
    pub name: &'static str,
    /// The column that splits the table first (`platform`, `channel`): bound as `$2`.
    pub group: &'static str,
    /// The lane column (`lane`, `recipient`).
    pub lane: &'static str,
    /// The condition of a waiting row (`state = 'new'`): it must match the table's partial
    /// index of waiting rows, which makes finding the heads one pass over what waits.
    pub waiting: &'static str,
    /// More to set on a claimed row (`, attempts = attempts + 1`).
    pub also_set: &'static str,
    /// The columns returned.
    pub cols: &'static str,
    /// A column holding when a waiting row may be worked at the earliest (milliseconds), or
    /// None: a row whose time has not come is left out of its lane until then, so it holds up
    /// nothing behind it (the outbox's `not_before`, docs/domain.md#quiet-hours).
    pub held_back: Option<&'static str>,
}

/// Claims the heads of up to `limit` lanes of `group` (or only `lane`'s), for `lease`.
///
/// The heads are found per lane (`MIN(id) … GROUP BY lane`) in the partial index of waiting
/// rows: a `NOT EXISTS (an earlier waiting row of the same lane)` per row was quadratic under
/// PostgreSQL's generic plan (BENCHMARKS.md "Chat edge"). On PostgreSQL the heads are locked as
/// they are picked (SKIP LOCKED): a second process picking at the same moment passes them by,
/// and cannot take the next row of the same lane either, since that one is not a head. SQLite
/// runs one writer at a time, so the UPDATE's own check is enough there.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn claim_heads(
    c: &mut Conn,
    backend: Backend,
    t: &Table,
    group: &str,
    lane: Option<&str>,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<AnyRow>> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut one_lane = if lane.is_some() {
        format!(" AND h.{} = $5", t.lane)
    } else {
        String::new()
    };
    if let Some(col) = t.held_back {
        one_lane.push_str(&format!(" AND h.{col} <= $3"));
    }
    let text = format!(
        "UPDATE {table} SET available_at = $1{also} WHERE id IN (\
           SELECT w.id FROM {table} w WHERE w.id IN (\
             SELECT MIN(h.id) FROM {table} h WHERE h.{group} = $2 AND h.{waiting}{one_lane} GROUP BY h.{lane}) \
           AND w.available_at <= $3 ORDER BY w.id LIMIT $4{lock}) \
         AND {waiting} AND available_at <= $3 RETURNING {cols}",
        table = t.name,
        also = t.also_set,
        group = t.group,
        waiting = t.waiting,
        lane = t.lane,
        cols = t.cols,
    );
    let mut q = sqlx::query(super::sql(text))
        .bind(ms(now + lease))
        .bind(group)
        .bind(ms(now))
        .bind(limit);
    if let Some(lane) = lane {
        q = q.bind(lane);
    }
    Ok(q.fetch_all(&mut *c).await?)
}
