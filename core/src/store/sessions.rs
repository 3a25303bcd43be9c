//! Mentoring sessions booked between the two people of a match (docs/domain.md#sessions).

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::{USER_COLS, User, user_from_row};
use super::{Conn, get_opt_time, get_time, ms};
use crate::error::Result;

/// Where a session stands: booked (reminded, cancellable) or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Booked,
    Cancelled,
}

impl SessionState {
    pub fn code(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
        }
    }
    /// The stored code; only `booked` is ever written besides `cancelled`.
    fn from_code(code: &str) -> Self {
        if code == "booked" {
            Self::Booked
        } else {
            Self::Cancelled
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub match_id: i64,
    pub starts_at: DateTime<Utc>,
    pub booked_by_user_id: Option<i64>,
    pub state: SessionState,
    /// When the 24-hour reminder was sent — or, for a session booked 24 hours or less ahead,
    /// when it was booked: that reminder is settled then and never sent
    /// (docs/domain.md#sessions). Likewise the 1-hour reminder.
    pub reminded_24h_at: Option<DateTime<Utc>>,
    pub reminded_1h_at: Option<DateTime<Utc>>,
    /// How long it lasts (migration 0014; sessions booked before it: an hour).
    pub length: Duration,
    /// Where it takes place, as the booker wrote it (None: not said).
    pub place: Option<String>,
}

impl Session {
    /// When it ends: a flash-mentoring match closes then (docs/domain.md#flash-mentoring), and
    /// the invitation's DTEND says it.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + self.length
    }
}

const COLS: &str = "id, match_id, starts_at, booked_by_user_id, state, reminded_24h_at, reminded_1h_at, \
                    duration_minutes, place";

fn from_row(r: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: r.try_get("id")?,
        match_id: r.try_get("match_id")?,
        starts_at: get_time(r, "starts_at")?,
        booked_by_user_id: r.try_get("booked_by_user_id")?,
        state: SessionState::from_code(&r.try_get::<String, _>("state")?),
        reminded_24h_at: get_opt_time(r, "reminded_24h_at")?,
        reminded_1h_at: get_opt_time(r, "reminded_1h_at")?,
        length: Duration::minutes(r.try_get("duration_minutes")?),
        place: r.try_get("place")?,
    })
}

/// A session to book: when it starts, how long it lasts (whole minutes are stored), where.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub match_id: i64,
    pub starts_at: DateTime<Utc>,
    pub length: Duration,
    pub place: Option<&'a str>,
    pub by: i64,
}

pub async fn insert(c: &mut Conn, s: &NewSession<'_>, now: DateTime<Utc>) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO sessions (match_id, starts_at, booked_by_user_id, state, created_at, duration_minutes, place) \
         VALUES ($1, $2, $3, 'booked', $4, $5, $6) RETURNING id",
    )
    .bind(s.match_id)
    .bind(ms(s.starts_at))
    .bind(s.by)
    .bind(ms(now))
    .bind(s.length.num_minutes())
    .bind(s.place)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

/// Marks these reminders of session `id` as settled at `now` without sending them (a session
/// booked too close to its start for them: `domain::sessions::book`). The feeder, the
/// reconciler and the reminder timers all skip a reminder whose column is set.
pub async fn settle_reminders(
    c: &mut Conn,
    id: i64,
    columns: &[ReminderColumn],
    now: DateTime<Utc>,
) -> Result<()> {
    for column in columns {
        let sql = format!(
            "UPDATE sessions SET {0} = $1 WHERE id = $2 AND {0} IS NULL",
            column.name()
        );
        sqlx::query(super::sql(sql))
            .bind(ms(now))
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<Session>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM sessions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn of_match(c: &mut Conn, match_id: i64) -> Result<Vec<Session>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM sessions WHERE match_id = $1 ORDER BY starts_at"
    )))
    .bind(match_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Cancels a booked session (false if it was not booked any more), and withdraws its
/// reminders still waiting in the outbox — held for someone's quiet hours — so nobody is
/// reminded in the morning of a session cancelled in the night (docs/domain.md#quiet-hours).
/// A withdrawn reminder is settled like a skipped edit: done, never delivered, with why.
pub async fn cancel(c: &mut Conn, id: i64, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query("UPDATE sessions SET state = 'cancelled', cancelled_at = $1 WHERE id = $2 AND state = 'booked'")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *c)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // The reminders' keys are `session:{id}:{lead}:{user}` (chat ones with the account after).
    sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = $2 \
         WHERE status = 'pending' AND kind = 'session_reminder' AND idempotency_key LIKE $3",
    )
    .bind(ms(now))
    .bind("not sent: the session was cancelled while this reminder waited for quiet hours to end")
    .bind(format!("session:{id}:%"))
    .execute(&mut *c)
    .await?;
    Ok(true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReminderColumn {
    DayBefore,
    HourBefore,
}

impl ReminderColumn {
    /// Both reminders (docs/domain.md#sessions).
    pub const ALL: [Self; 2] = [Self::DayBefore, Self::HourBefore];

    /// How long before the session this reminder goes out.
    pub fn lead(self) -> chrono::Duration {
        match self {
            Self::DayBefore => chrono::Duration::hours(24),
            Self::HourBefore => chrono::Duration::hours(1),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::DayBefore => "reminded_24h_at",
            Self::HourBefore => "reminded_1h_at",
        }
    }
}

/// Marks those of `ids` due this reminder at `now` (booked, not reminded, starting within the
/// reminder's lead but not started) as reminded — one compare-and-swap for all — and returns
/// their ids.
pub async fn remind_due(
    c: &mut Conn,
    ids: &[i64],
    column: ReminderColumn,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE sessions SET {0} = $1 WHERE id IN ({1}) AND {0} IS NULL AND state = 'booked' \
         AND starts_at > $1 AND starts_at <= $2 RETURNING id",
        column.name(),
        super::id_list(ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .bind(ms(now))
        .bind(ms(now + column.lead()))
        .fetch_all(&mut *c)
        .await?;
    let mut done: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
    done.sort_unstable();
    Ok(done)
}

/// When the next of `ids` comes due this reminder after a run at `now` (None: none left).
pub async fn next_reminder(
    c: &mut Conn,
    ids: &[i64],
    column: ReminderColumn,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT MIN(starts_at) AS next FROM sessions WHERE id IN ({}) AND {} IS NULL \
         AND state = 'booked' AND starts_at > $1",
        super::id_list(ids),
        column.name()
    );
    let row = sqlx::query(super::sql(sql))
        .persistent(false)
        .bind(ms(now))
        .fetch_one(&mut *c)
        .await?;
    Ok(row
        .try_get::<Option<i64>, _>("next")?
        .map(|t| super::time(t) - column.lead()))
}

/// One person of a session's match, for its reminders.
#[derive(Debug, Clone)]
pub struct Party {
    pub session_id: i64,
    pub starts_at: DateTime<Utc>,
    /// The match's program (None once it was deleted).
    pub program_id: Option<i64>,
    pub user: User,
}

/// The people of these sessions' matches (one query): per session, the mentee first, then the
/// mentor; a person deleted since is absent.
pub async fn parties(c: &mut Conn, session_ids: &[i64]) -> Result<Vec<Party>> {
    if session_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT s.id AS session_id, s.starts_at AS session_starts_at, m.program_id AS match_program_id, \
         CASE WHEN p.id = m.mentee_persona_id THEN 0 ELSE 1 END AS side, {USER_COLS} \
         FROM sessions s JOIN matches m ON m.id = s.match_id \
         JOIN personas p ON p.id = m.mentee_persona_id OR p.id = m.mentor_persona_id \
         JOIN users u ON u.id = p.user_id \
         WHERE s.id IN ({}) ORDER BY s.id, side",
        super::id_list(session_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Party {
                session_id: r.try_get("session_id")?,
                starts_at: get_time(r, "session_starts_at")?,
                program_id: r.try_get("match_program_id")?,
                user: user_from_row(r)?,
            })
        })
        .collect()
}
