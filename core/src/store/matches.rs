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
}

impl Match {
    /// The persona on the other side of `persona_id`.
    pub fn counterpart(&self, persona_id: i64) -> Option<i64> {
        if self.mentee_persona_id == Some(persona_id) {
            self.mentor_persona_id
        } else {
            self.mentee_persona_id
        }
    }
}

const COLS: &str =
    "id, program_id, mentee_persona_id, mentor_persona_id, status, via, created_at, closed_at";

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

pub async fn set_state(
    c: &mut Conn,
    id: i64,
    expected: MatchState,
    new: MatchState,
    now: DateTime<Utc>,
) -> Result<()> {
    let closed_at = (new == MatchState::Closed).then(|| ms(now));
    let done =
        sqlx::query("UPDATE matches SET status = $1, closed_at = $2 WHERE id = $3 AND status = $4")
            .bind(new.code())
            .bind(closed_at)
            .bind(id)
            .bind(expected.code())
            .execute(&mut *c)
            .await?;
    expect_one(done.rows_affected(), "the match")
}
