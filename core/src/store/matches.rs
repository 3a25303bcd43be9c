//! Matches: a mentee persona and a mentor persona, open or closed.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conn, expect_one, get_opt_time, get_time, ms};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchState {
    Open,
    Closed,
}

impl MatchState {
    pub fn code(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
    fn from_code(s: &str) -> Result<Self> {
        match s {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            other => Err(Error::Internal(format!(
                "unknown match state in the database: {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Match {
    pub id: i64,
    pub program_id: Option<i64>,
    pub mentee_persona_id: Option<i64>,
    pub mentor_persona_id: Option<i64>,
    pub state: MatchState,
    pub via: String,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// When a closed match was last opened again (`/match_reopen`); None if never. Flash
    /// mentoring counts only the sessions since the match was (re)opened
    /// (docs/domain.md#flash-mentoring).
    pub reopened_at: Option<DateTime<Utc>>,
}

impl Match {
    /// When the match was last opened: made, or re-opened since.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.reopened_at.unwrap_or(self.created_at)
    }

    /// The persona on the other side of `persona_id`.
    pub fn counterpart(&self, persona_id: i64) -> Option<i64> {
        if self.mentee_persona_id == Some(persona_id) {
            self.mentor_persona_id
        } else {
            self.mentee_persona_id
        }
    }
}

const COLS: &str = "id, program_id, mentee_persona_id, mentor_persona_id, status, via, created_at, \
     closed_at, reopened_at";

fn from_row(r: &AnyRow) -> Result<Match> {
    Ok(Match {
        id: r.try_get("id")?,
        program_id: r.try_get("program_id")?,
        mentee_persona_id: r.try_get("mentee_persona_id")?,
        mentor_persona_id: r.try_get("mentor_persona_id")?,
        state: MatchState::from_code(&r.try_get::<String, _>("status")?)?,
        via: r.try_get("via")?,
        created_at: get_time(r, "created_at")?,
        closed_at: get_opt_time(r, "closed_at")?,
        reopened_at: get_opt_time(r, "reopened_at")?,
    })
}

pub async fn insert(
    c: &mut Conn,
    program_id: Option<i64>,
    mentee: i64,
    mentor: i64,
    via: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO matches (program_id, mentee_persona_id, mentor_persona_id, status, via, created_at) \
         VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id",
    )
    .bind(program_id)
    .bind(mentee)
    .bind(mentor)
    .bind(via)
    .bind(ms(now))
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<Match>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM matches WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every match a persona has been in, newest first.
pub async fn of_persona(c: &mut Conn, persona_id: i64) -> Result<Vec<Match>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM matches WHERE mentee_persona_id = $1 OR mentor_persona_id = $1 ORDER BY id DESC"
    )))
    .bind(persona_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Moves a match from `expected` to `new`; a conflict if it is no longer in `expected`.
pub async fn set_state(
    c: &mut Conn,
    id: i64,
    expected: MatchState,
    new: MatchState,
    now: DateTime<Utc>,
) -> Result<()> {
    let done = transition(c, id, expected, new, now).await?;
    expect_one(u64::from(done), "the match")
}

/// Moves a match from `expected` to `new` — a compare-and-swap: false, and nothing changed,
/// when it is no longer in `expected` (another transaction moved it first). Closing records
/// when; opening again records when, and clears when it closed.
pub async fn transition(
    c: &mut Conn,
    id: i64,
    expected: MatchState,
    new: MatchState,
    now: DateTime<Utc>,
) -> Result<bool> {
    let sql = match new {
        MatchState::Closed => {
            "UPDATE matches SET status = $1, closed_at = $2 WHERE id = $3 AND status = $4"
        }
        MatchState::Open => {
            "UPDATE matches SET status = $1, closed_at = NULL, reopened_at = $2 \
             WHERE id = $3 AND status = $4"
        }
    };
    let done = sqlx::query(sql)
        .bind(new.code())
        .bind(ms(now))
        .bind(id)
        .bind(expected.code())
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The open matches of flash-mentoring programs that have a booked session since they were
/// (re)opened which ended at or before `ended_by` (its start plus its own length, migration
/// 0014), lowest id first, at most `limit`. The worker's candidates for
/// docs/domain.md#flash-mentoring; `domain::matches::close_flash` re-checks each.
pub async fn flash_due(c: &mut Conn, ended_by: DateTime<Utc>, limit: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT m.id FROM matches m JOIN programs p ON p.id = m.program_id \
         WHERE m.status = 'open' AND p.flash_mentoring <> 0 AND EXISTS ( \
           SELECT 1 FROM sessions s WHERE s.match_id = m.id AND s.state = 'booked' \
           AND s.starts_at + s.duration_minutes * 60000 <= $1 \
           AND s.starts_at >= COALESCE(m.reopened_at, m.created_at)) \
         ORDER BY m.id LIMIT $2",
    )
    .bind(ms(ended_by))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}
