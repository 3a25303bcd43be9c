//! Close-of-match feedback (docs/domain.md#feedback): one row per (match, person, question) in
//! `match_feedback` (migration 0015), and the counts `/overview` shows.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::overview::{Scope, in_scope};
use super::{Conn, ms, sql};
use crate::error::Result;

/// Records `user_id`'s answer `code` to question `question` about match `match_id`. A second
/// answer to the same question replaces the first (docs/domain.md#feedback): each person counts
/// once per question.
pub async fn record(
    c: &mut Conn,
    match_id: i64,
    user_id: i64,
    program_id: Option<i64>,
    question: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO match_feedback (match_id, user_id, program_id, question, answer, answered_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (match_id, user_id, question) \
         DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at",
    )
    .bind(match_id)
    .bind(user_id)
    .bind(program_id)
    .bind(question)
    .bind(code)
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// `user_id`'s answers about match `match_id`, as (question, answer code), by question.
pub async fn answers(c: &mut Conn, match_id: i64, user_id: i64) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT question, answer FROM match_feedback WHERE match_id = $1 AND user_id = $2 \
         ORDER BY question",
    )
    .bind(match_id)
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("question")?, r.try_get("answer")?)))
        .collect()
}

/// One answer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub match_id: i64,
    pub question: i64,
    /// Its code (`messages::FEEDBACK_QUESTIONS`).
    pub answer: String,
    pub answered_at: DateTime<Utc>,
}

/// Every answer `user_id` gave, by match and question: what the export before a permanent
/// delete holds (docs/domain.md#permanent-delete).
pub async fn of_user(c: &mut Conn, user_id: i64) -> Result<Vec<Answer>> {
    let rows = sqlx::query(
        "SELECT match_id, question, answer, answered_at FROM match_feedback WHERE user_id = $1 \
         ORDER BY match_id, question",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Answer {
                match_id: r.try_get("match_id")?,
                question: r.try_get("question")?,
                answer: r.try_get("answer")?,
                answered_at: super::get_time(r, "answered_at")?,
            })
        })
        .collect()
}

/// How many answered what, in the scope's programs: (question, answer code, count), grouped
/// in SQL (one row per answer given, never one per person).
pub async fn counts(c: &mut Conn, scope: Scope<'_>) -> Result<Vec<(i64, String, i64)>> {
    let rows = sqlx::query(sql(format!(
        "SELECT f.question AS question, f.answer AS answer, COUNT(*) AS n FROM match_feedback f \
         WHERE {} GROUP BY f.question, f.answer ORDER BY f.question, f.answer",
        in_scope("f.program_id", scope)
    )))
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("question")?,
                r.try_get("answer")?,
                r.try_get("n")?,
            ))
        })
        .collect()
}
