//! What the worker must do and when, read from SQL — the source of truth the queue is fed from
//! (docs/operations.md#feeder). New pending offers, booked sessions and queued emails carry
//! `queued_at = NULL` until the feeder has turned them into jobs; the reconciler finds whatever is
//! still pending well after it was due (a job the queue lost), and can mark everything for feeding
//! again when the queue lost its data.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::sessions::ReminderColumn;
use super::{Conn, ms, outbox, time};
use crate::error::Result;

/// The most items one timer job holds, and one timer transaction handles (`core::timers`):
/// the feeder's and the reconciler's batches are cut to this size.
pub const BATCH: usize = 500;

/// One piece of due work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    ExpireOffer(i64),
    RemindOffer(i64),
    RemindSession(i64, ReminderColumn),
    DeliverEmail(i64),
}

impl Work {
    /// The row this work belongs to.
    pub fn row(self) -> (Source, i64) {
        match self {
            Self::ExpireOffer(id) | Self::RemindOffer(id) => (Source::Offers, id),
            Self::RemindSession(id, _) => (Source::Sessions, id),
            Self::DeliverEmail(id) => (Source::Outbox, id),
        }
    }
}

/// Work and the moment it becomes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueWork {
    pub work: Work,
    pub at: DateTime<Utc>,
}

/// The tables the feeder marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Offers,
    Sessions,
    Outbox,
}

impl Source {
    fn table(self) -> &'static str {
        match self {
            Self::Offers => "offers",
            Self::Sessions => "sessions",
            Self::Outbox => "outbox",
        }
    }
}

/// Rows not turned into jobs yet, oldest first: the work they hold and their ids per table.
pub async fn unqueued(
    c: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<DueWork>, Vec<(Source, i64)>)> {
    let mut work = Vec::new();
    let mut rows_seen = Vec::new();
    let offers = sqlx::query(
        "SELECT id, deadline_at, remind_at, reminded_at FROM offers \
         WHERE state = 'pending' AND queued_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    for r in &offers {
        let id: i64 = r.try_get("id")?;
        rows_seen.push((Source::Offers, id));
        if let Some(deadline) = r.try_get::<Option<i64>, _>("deadline_at")? {
            work.push(DueWork {
                work: Work::ExpireOffer(id),
                at: time(deadline),
            });
        }
        let reminded = r.try_get::<Option<i64>, _>("reminded_at")?.is_some();
        if let (Some(at), false) = (r.try_get::<Option<i64>, _>("remind_at")?, reminded) {
            work.push(DueWork {
                work: Work::RemindOffer(id),
                at: time(at),
            });
        }
    }
    let sessions = sqlx::query(
        "SELECT id, starts_at, reminded_24h_at, reminded_1h_at FROM sessions \
         WHERE state = 'booked' AND queued_at IS NULL AND starts_at > $1 ORDER BY id LIMIT $2",
    )
    .bind(ms(now))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    for r in &sessions {
        let id: i64 = r.try_get("id")?;
        rows_seen.push((Source::Sessions, id));
        let starts = time(r.try_get("starts_at")?);
        for column in ReminderColumn::ALL {
            let done = r.try_get::<Option<i64>, _>(column.name())?.is_some();
            if !done {
                work.push(DueWork {
                    work: Work::RemindSession(id, column),
                    at: starts - column.lead(),
                });
            }
        }
    }
    let emails = sqlx::query(
        "SELECT id, available_at FROM outbox \
         WHERE status = 'pending' AND channel = $1 AND queued_at IS NULL ORDER BY id LIMIT $2",
    )
    .bind(outbox::EMAIL)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    for r in &emails {
        let id: i64 = r.try_get("id")?;
        rows_seen.push((Source::Outbox, id));
        work.push(DueWork {
            work: Work::DeliverEmail(id),
            at: time(r.try_get("available_at")?),
        });
    }
    Ok((work, rows_seen))
}

/// Records that these rows' jobs are in the queue.
pub async fn mark_queued(c: &mut Conn, rows: &[(Source, i64)], now: DateTime<Utc>) -> Result<()> {
    for source in [Source::Offers, Source::Sessions, Source::Outbox] {
        let ids: Vec<String> = rows
            .iter()
            .filter(|(s, _)| *s == source)
            .map(|(_, id)| id.to_string())
            .collect();
        for chunk in ids.chunks(500) {
            // The ids are integers we read ourselves, so listing them inline is safe.
            let sql = format!(
                "UPDATE {} SET queued_at = $1 WHERE id IN ({})",
                source.table(),
                chunk.join(",")
            );
            sqlx::query(super::sql(sql))
                .bind(ms(now))
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

/// Everything still pending, to be fed to the queue again (it lost its data). Returns the
/// number of rows marked.
pub async fn requeue_all(c: &mut Conn) -> Result<u64> {
    let mut n = 0;
    for sql in [
        "UPDATE offers SET queued_at = NULL WHERE state = 'pending' AND queued_at IS NOT NULL",
        "UPDATE sessions SET queued_at = NULL WHERE state = 'booked' AND queued_at IS NOT NULL",
        "UPDATE outbox SET queued_at = NULL WHERE status = 'pending' AND channel = 'email' AND queued_at IS NOT NULL",
    ] {
        n += sqlx::query(sql).execute(&mut *c).await?.rows_affected();
    }
    Ok(n)
}

/// Work that was fed at least `grace` ago and is still pending at least `grace` after it was
/// due: its job was lost (or is far behind). At most `limit` of each kind, most overdue first.
/// The caller marks what it re-queues (`mark_queued`), so an item comes back at most once per
/// grace period however long it stays stuck.
pub async fn overdue(
    c: &mut Conn,
    now: DateTime<Utc>,
    grace: Duration,
    limit: i64,
) -> Result<Vec<DueWork>> {
    let before = ms(now - grace);
    let mut work = Vec::new();
    let rows = sqlx::query(
        "SELECT id, deadline_at AS at FROM offers WHERE state = 'pending' AND queued_at <= $1 \
         AND deadline_at <= $1 ORDER BY deadline_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    collect(&rows, &mut work, Work::ExpireOffer, Duration::zero())?;
    let rows = sqlx::query(
        "SELECT id, remind_at AS at FROM offers WHERE state = 'pending' AND queued_at <= $1 \
         AND reminded_at IS NULL AND remind_at <= $1 AND deadline_at > $2 ORDER BY remind_at LIMIT $3",
    )
    .bind(before)
    .bind(ms(now))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    collect(&rows, &mut work, Work::RemindOffer, Duration::zero())?;
    for column in ReminderColumn::ALL {
        let lead = column.lead();
        let sql = format!(
            "SELECT id, starts_at AS at FROM sessions WHERE state = 'booked' AND queued_at <= $4 \
             AND {} IS NULL AND starts_at > $1 AND starts_at <= $2 ORDER BY starts_at LIMIT $3",
            column.name()
        );
        let rows = sqlx::query(super::sql(sql))
            .bind(ms(now))
            .bind(before + lead.num_milliseconds())
            .bind(limit)
            .bind(before)
            .fetch_all(&mut *c)
            .await?;
        collect(&rows, &mut work, |id| Work::RemindSession(id, column), lead)?;
    }
    let rows = sqlx::query(
        "SELECT id, available_at AS at FROM outbox WHERE status = 'pending' AND channel = $1 \
         AND queued_at <= $2 AND available_at <= $2 ORDER BY available_at LIMIT $3",
    )
    .bind(outbox::EMAIL)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    collect(&rows, &mut work, Work::DeliverEmail, Duration::zero())?;
    Ok(work)
}

/// Rows of `id` and a time `at` as work due `lead` before that time.
fn collect(
    rows: &[AnyRow],
    work: &mut Vec<DueWork>,
    make: impl Fn(i64) -> Work,
    lead: Duration,
) -> Result<()> {
    for r in rows {
        work.push(DueWork {
            work: make(r.try_get("id")?),
            at: time(r.try_get("at")?) - lead,
        });
    }
    Ok(())
}

/// Pending outbox rows per channel, for `/metrics`.
pub async fn outbox_backlog(c: &mut Conn) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT channel, COUNT(*) AS n FROM outbox WHERE status = 'pending' GROUP BY channel ORDER BY channel",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("channel")?, r.try_get("n")?)))
        .collect()
}

// What comes due between now and a later time: the timers read it with `until = now` (what is
// due now, overdue included) and `/upcoming` with a later `until` (docs/domain.md#upcoming), so
// the dry run and the timers share one rule per timer.

/// One of the timers over SQL rows (`core::timers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// A pending offer expires at its deadline (docs/domain.md#next-choice).
    Expiry,
    /// A pending offer's mentor is reminded at its reminder time, once, while the deadline has
    /// not passed (docs/domain.md#offer-reminder).
    OfferReminder,
    /// A booked session's reminder, its lead before the start, once, for a session not
    /// started (docs/domain.md#sessions).
    SessionReminder(ReminderColumn),
}

impl Timer {
    /// Every timer, in the order the timers run them.
    pub const ALL: [Self; 4] = [
        Self::Expiry,
        Self::OfferReminder,
        Self::SessionReminder(ReminderColumn::DayBefore),
        Self::SessionReminder(ReminderColumn::HourBefore),
    ];

    fn work(self, id: i64) -> Work {
        match self {
            Self::Expiry => Work::ExpireOffer(id),
            Self::OfferReminder => Work::RemindOffer(id),
            Self::SessionReminder(column) => Work::RemindSession(id, column),
        }
    }
}

/// The work of `timer` that is due by `until`, seen at `now` (`until >= now`), earliest first,
/// at most `limit`; only in `programs` when given. Each item's `at` is when it falls due, which
/// is before `now` for work overdue (the next pass runs it). With `until = now` it is exactly
/// what a timer pass at `now` claims; with a later `until`, what it will claim by then if
/// nothing changes meanwhile.
pub async fn due_between(
    c: &mut Conn,
    timer: Timer,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    programs: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<DueWork>> {
    let until = until.max(now);
    let scope = |col: &str| match programs {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => format!(" AND {col} IN ({})", super::id_list(ids)),
    };
    let (sql, binds, lead) = match timer {
        Timer::Expiry => (
            format!(
                "SELECT id, deadline_at AS at FROM offers WHERE state = 'pending' AND deadline_at <= $1{} \
                 ORDER BY deadline_at, id LIMIT $2",
                scope("program_id")
            ),
            vec![ms(until), limit],
            Duration::zero(),
        ),
        Timer::OfferReminder => (
            format!(
                "SELECT id, remind_at AS at FROM offers WHERE state = 'pending' AND reminded_at IS NULL \
                 AND remind_at <= $1 AND deadline_at > $2{} ORDER BY remind_at, id LIMIT $3",
                scope("program_id")
            ),
            vec![ms(until), ms(now), limit],
            Duration::zero(),
        ),
        Timer::SessionReminder(column) => (
            format!(
                "SELECT s.id, s.starts_at AS at FROM sessions s JOIN matches m ON m.id = s.match_id \
                 WHERE s.state = 'booked' AND s.{} IS NULL AND s.starts_at > $1 AND s.starts_at <= $2{} \
                 ORDER BY s.starts_at, s.id LIMIT $3",
                column.name(),
                scope("m.program_id")
            ),
            vec![ms(now), ms(until + column.lead()), limit],
            column.lead(),
        ),
    };
    let mut q = sqlx::query(super::sql(sql)).persistent(false);
    for b in binds {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&mut *c).await?;
    let mut work = Vec::with_capacity(rows.len());
    collect(&rows, &mut work, |id| timer.work(id), lead)?;
    Ok(work)
}

/// The ids of [`due_between`]'s work due now: what one timer pass at `now` claims.
pub async fn due_now(
    c: &mut Conn,
    timer: Timer,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>> {
    Ok(due_between(c, timer, now, now, None, limit)
        .await?
        .into_iter()
        .map(|d| d.work.row().1)
        .collect())
}

/// The next tick of a cron expression (`queue.sweep_cron`…) after `after`, or None when the
/// expression is not one (the settings refuse that at start) or never fires again.
pub fn next_tick(cron: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    <cron::Schedule as std::str::FromStr>::from_str(cron)
        .ok()?
        .after(&after)
        .next()
}
