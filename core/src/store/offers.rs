//! Ranked choices and the offers they become (docs/domain.md#offers). One row per ranked mentor of
//! a mentee's round; its state says where it is. Every change compare-and-swaps on the state it
//! expects, so two workers, a worker and a button press, or two presses never both win.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::{Persona, USER_COLS, User, user_from_row};
use super::{Conn, get_opt_time, get_time, ms};
use crate::db::Backend;
use crate::error::{Error, Result};
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferState {
    /// Ranked, waiting for its turn.
    Queued,
    /// Sent to the mentor, waiting for an answer.
    Pending,
    Accepted,
    Declined,
    Expired,
    /// Taken back after it was sent: the mentor or the mentee stopped being available.
    Withdrawn,
    /// Passed over when its turn came (the mentor was not available then).
    Skipped,
    /// Not needed any more: the mentee was matched.
    Cancelled,
}

impl OfferState {
    pub const ALL: [OfferState; 8] = [
        Self::Queued,
        Self::Pending,
        Self::Accepted,
        Self::Declined,
        Self::Expired,
        Self::Withdrawn,
        Self::Skipped,
        Self::Cancelled,
    ];
    codes_of_all!(8);
    pub const fn code(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Withdrawn => "withdrawn",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim().to_lowercase();
        Self::ALL
            .into_iter()
            .find(|x| x.code() == s)
            .ok_or_else(|| {
                Error::input(format!(
                    "'{}' is not an offer state: use {}",
                    crate::reply::echo(&s),
                    Self::ALL
                        .iter()
                        .map(|x| x.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
    /// Still to be decided: queued or pending.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Pending)
    }
}

#[derive(Debug, Clone)]
pub struct Offer {
    pub id: i64,
    pub program_id: Option<i64>,
    pub mentee_persona_id: i64,
    pub mentor_persona_id: i64,
    pub round: i64,
    pub rank: i64,
    pub state: OfferState,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub remind_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
}

const COLS: &str = "id, program_id, mentee_persona_id, mentor_persona_id, round, rank, state, reason, created_at, \
                    sent_at, deadline_at, remind_at, reminded_at, decided_at";

fn from_row(r: &AnyRow) -> Result<Offer> {
    let state: String = r.try_get("state")?;
    Ok(Offer {
        id: r.try_get("id")?,
        program_id: r.try_get("program_id")?,
        mentee_persona_id: r.try_get("mentee_persona_id")?,
        mentor_persona_id: r.try_get("mentor_persona_id")?,
        round: r.try_get("round")?,
        rank: r.try_get("rank")?,
        state: OfferState::ALL
            .into_iter()
            .find(|s| s.code() == state)
            .ok_or_else(|| Error::Internal(format!("unknown offer state {state}")))?,
        reason: r.try_get("reason")?,
        created_at: get_time(r, "created_at")?,
        sent_at: get_opt_time(r, "sent_at")?,
        deadline_at: get_opt_time(r, "deadline_at")?,
        remind_at: get_opt_time(r, "remind_at")?,
        reminded_at: get_opt_time(r, "reminded_at")?,
        decided_at: get_opt_time(r, "decided_at")?,
    })
}

async fn many(c: &mut Conn, filter: &str, arg: i64) -> Result<Vec<Offer>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM offers WHERE {filter}"
    )))
    .bind(arg)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<Offer>> {
    Ok(many(c, "id = $1", id).await?.into_iter().next())
}

pub async fn insert_queued(
    c: &mut Conn,
    program_id: Option<i64>,
    mentee: i64,
    mentor: i64,
    round: i64,
    rank: i64,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO offers (program_id, mentee_persona_id, mentor_persona_id, round, rank, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6) RETURNING id",
    )
    .bind(program_id)
    .bind(mentee)
    .bind(mentor)
    .bind(round)
    .bind(rank)
    .bind(ms(now))
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

/// All rows of a mentee persona, newest round first, then by rank.
pub async fn of_mentee(c: &mut Conn, mentee_persona_id: i64) -> Result<Vec<Offer>> {
    many(
        c,
        "mentee_persona_id = $1 ORDER BY round DESC, rank",
        mentee_persona_id,
    )
    .await
}

pub async fn pending_for_mentor(c: &mut Conn, mentor_persona_id: i64) -> Result<Vec<Offer>> {
    many(
        c,
        "mentor_persona_id = $1 AND state = 'pending' ORDER BY id",
        mentor_persona_id,
    )
    .await
}

pub async fn next_round(c: &mut Conn, mentee_persona_id: i64) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COALESCE(MAX(round), 0) + 1 AS n FROM offers WHERE mentee_persona_id = $1",
    )
    .bind(mentee_persona_id)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("n")?)
}

/// Moves an offer from `from` to `to`; false when it was not in `from` any more.
pub async fn transition(
    c: &mut Conn,
    id: i64,
    from: OfferState,
    to: OfferState,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query("UPDATE offers SET state = $1, reason = COALESCE($2, reason), decided_at = $3 WHERE id = $4 AND state = $5")
        .bind(to.code())
        .bind(reason)
        .bind(ms(now))
        .bind(id)
        .bind(from.code())
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Sends a queued offer: it becomes pending with its deadline and reminder time.
pub async fn send(
    c: &mut Conn,
    id: i64,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
    remind_at: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE offers SET state = 'pending', sent_at = $1, deadline_at = $2, remind_at = $3 WHERE id = $4 AND state = 'queued'",
    )
    .bind(ms(now))
    .bind(ms(deadline))
    .bind(ms(remind_at))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Offers in a program (or all), newest first, optionally in one state.
pub async fn list(
    c: &mut Conn,
    program_ids: Option<&[i64]>,
    state: Option<OfferState>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Offer>> {
    let Some(filter) = listed(program_ids, state) else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "SELECT {COLS} FROM offers WHERE {filter} ORDER BY id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut q = sqlx::query(super::sql(sql));
    if let Some(s) = state {
        q = q.bind(s.code());
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter().map(from_row).collect()
}

/// How many offers [`list`] pages through.
pub async fn count_listed(
    c: &mut Conn,
    program_ids: Option<&[i64]>,
    state: Option<OfferState>,
) -> Result<i64> {
    let Some(filter) = listed(program_ids, state) else {
        return Ok(0);
    };
    let mut q = sqlx::query(super::sql(format!(
        "SELECT COUNT(*) AS n FROM offers WHERE {filter}"
    )));
    if let Some(s) = state {
        q = q.bind(s.code());
    }
    Ok(q.fetch_one(&mut *c).await?.try_get("n")?)
}

/// The condition of `/offers`: the offers of `program_ids` (all: None) in `state` (bound as
/// `$1`; without one, every state but queued); None when no program is in scope.
fn listed(program_ids: Option<&[i64]>, state: Option<OfferState>) -> Option<String> {
    let mut sql = String::from(if state.is_some() {
        "state = $1"
    } else {
        "state <> 'queued'"
    });
    if let Some(ids) = program_ids {
        if ids.is_empty() {
            return None;
        }
        sql.push_str(&format!(
            " AND program_id IN ({})",
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(sql)
}

// Batches: the timers handle up to `jobs::BATCH` offers per transaction, with one statement per
// step whatever the number of offers (`domain::offers::expire_batch`, `remind_batch`).

/// Expires those of `ids` still pending whose deadline has passed at `now` — one
/// compare-and-swap for all of them — and returns the rows that won it. On PostgreSQL the rows
/// are locked in id order first, so two batches sharing offers queue behind each other rather
/// than deadlock; a row another transaction holds is waited for, then checked again.
pub async fn expire_due(
    c: &mut Conn,
    backend: Backend,
    ids: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Offer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::id_list(ids);
    let rows = match backend {
        Backend::Postgres => format!(
            "SELECT id FROM offers WHERE id IN ({list}) AND state = 'pending' AND deadline_at <= $2 \
             ORDER BY id FOR UPDATE"
        ),
        Backend::Sqlite => list,
    };
    let sql = format!(
        "UPDATE offers SET state = 'expired', reason = $1, decided_at = $2 \
         WHERE id IN ({rows}) AND state = 'pending' AND deadline_at <= $2 RETURNING {COLS}"
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .bind(reason)
        .bind(ms(now))
        .fetch_all(&mut *c)
        .await?;
    sorted(rows.iter().map(from_row).collect())
}

/// Marks those of `ids` due a reminder at `now` (pending, not reminded, reminder time come,
/// deadline not passed) as reminded — one compare-and-swap for all — and returns them. On
/// PostgreSQL a row held by another transaction (an accept in progress) is skipped rather than
/// waited for: a reminder never holds up a mentor's answer, and the caller tries the row again
/// (see [`next_reminder`]).
pub async fn remind_due(
    c: &mut Conn,
    backend: Backend,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<Offer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = super::id_list(ids);
    let due = "state = 'pending' AND reminded_at IS NULL AND remind_at <= $1 AND deadline_at > $1";
    let rows = match backend {
        Backend::Postgres => format!(
            "SELECT id FROM offers WHERE id IN ({list}) AND {due} ORDER BY id FOR UPDATE SKIP LOCKED"
        ),
        Backend::Sqlite => list,
    };
    let sql = format!(
        "UPDATE offers SET reminded_at = $1 WHERE id IN ({rows}) AND {due} RETURNING {COLS}"
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .bind(ms(now))
        .fetch_all(&mut *c)
        .await?;
    sorted(rows.iter().map(from_row).collect())
}

fn sorted(offers: Result<Vec<Offer>>) -> Result<Vec<Offer>> {
    let mut offers = offers?;
    offers.sort_by_key(|o| o.id);
    Ok(offers)
}

/// The earliest deadline among those of `ids` still pending (None: nothing left to expire).
pub async fn next_deadline(c: &mut Conn, ids: &[i64]) -> Result<Option<DateTime<Utc>>> {
    next_time(c, "MIN(deadline_at)", ids, "state = 'pending'", None).await
}

/// The earliest reminder time among those of `ids` still due a reminder after `now` (pending,
/// not reminded, deadline not passed). It may be `now` or earlier: a row skipped because
/// another transaction held it.
pub async fn next_reminder(
    c: &mut Conn,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    next_time(
        c,
        "MIN(remind_at)",
        ids,
        "state = 'pending' AND reminded_at IS NULL AND deadline_at > $1",
        Some(now),
    )
    .await
}

async fn next_time(
    c: &mut Conn,
    what: &str,
    ids: &[i64],
    filter: &str,
    now: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {what} AS next FROM offers WHERE id IN ({}) AND {filter}",
        super::id_list(ids)
    );
    let mut q = sqlx::query(super::sql(sql)).persistent(false);
    if let Some(now) = now {
        q = q.bind(ms(now));
    }
    let row = q.fetch_one(&mut *c).await?;
    Ok(row.try_get::<Option<i64>, _>("next")?.map(super::time))
}

/// Every row of these mentees, by mentee, newest round first, then by rank.
pub async fn of_mentees(c: &mut Conn, mentee_persona_ids: &[i64]) -> Result<Vec<Offer>> {
    if mentee_persona_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLS} FROM offers WHERE mentee_persona_id IN ({}) \
         ORDER BY mentee_persona_id, round DESC, rank",
        super::id_list(mentee_persona_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Closes queued offers that will never be sent, each with its own state (skipped or
/// cancelled) and reason, in one statement; a row no longer queued is left as it is. Returns
/// how many changed.
pub async fn close_queued(
    c: &mut Conn,
    closing: &[(i64, OfferState, String)],
    now: DateTime<Utc>,
) -> Result<u64> {
    if closing.is_empty() {
        return Ok(0);
    }
    let rows: Vec<String> = (0..closing.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
        .collect();
    let sql = format!(
        "UPDATE offers SET state = v.column2, reason = v.column3, decided_at = $1 \
         FROM (VALUES {}) AS v WHERE offers.id = v.column1 AND offers.state = 'queued'",
        rows.join(", ")
    );
    let mut q = sqlx::query(super::sql(sql)).persistent(false).bind(ms(now));
    for (id, to, reason) in closing {
        q = q.bind(*id).bind(to.code()).bind(reason.as_str());
    }
    Ok(q.execute(&mut *c).await?.rows_affected())
}

/// Sends queued offers with their deadline and reminder time — one statement per distinct
/// pair of those (one per program: a batch's offers are sent at the same moment) — and returns
/// the ids that were still queued and are now pending.
pub async fn send_many(
    c: &mut Conn,
    sending: &[(i64, DateTime<Utc>, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut by_times: Vec<((i64, i64), Vec<i64>)> = Vec::new();
    for (id, deadline, remind_at) in sending {
        let times = (ms(*deadline), ms(*remind_at));
        match by_times.iter_mut().find(|(t, _)| *t == times) {
            Some((_, ids)) => ids.push(*id),
            None => by_times.push((times, vec![*id])),
        }
    }
    let mut sent = Vec::with_capacity(sending.len());
    for ((deadline, remind_at), ids) in by_times {
        let sql = format!(
            "UPDATE offers SET state = 'pending', sent_at = $1, deadline_at = $2, remind_at = $3 \
             WHERE id IN ({}) AND state = 'queued' RETURNING id",
            super::id_list(&ids)
        );
        let rows = sqlx::query(super::sql(sql))
            .persistent(false)
            .bind(ms(now))
            .bind(deadline)
            .bind(remind_at)
            .fetch_all(&mut *c)
            .await?;
        for r in &rows {
            sent.push(r.try_get("id")?);
        }
    }
    Ok(sent)
}

/// These personas with their users, by persona id (one query; a persona that no longer exists
/// is absent).
pub async fn parties(c: &mut Conn, persona_ids: &[i64]) -> Result<HashMap<i64, (Persona, User)>> {
    if persona_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT p.id AS persona_id, p.role AS persona_role, p.program_id AS persona_program_id, \
         p.status AS persona_status, p.match_status AS persona_match_status, \
         p.created_at AS persona_created_at, {USER_COLS} \
         FROM personas p JOIN users u ON u.id = p.user_id WHERE p.id IN ({})",
        super::id_list(persona_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let user = user_from_row(r)?;
        let persona = Persona {
            id: r.try_get("persona_id")?,
            user_id: user.id,
            role: PersonaRole::from_code(&r.try_get::<String, _>("persona_role")?)?,
            program_id: r.try_get("persona_program_id")?,
            status: PersonaStatus::from_code(&r.try_get::<String, _>("persona_status")?)?,
            match_status: MatchStatus::from_code(&r.try_get::<String, _>("persona_match_status")?)?,
            created_at: get_time(r, "persona_created_at")?,
        };
        out.insert(persona.id, (persona, user));
    }
    Ok(out)
}
