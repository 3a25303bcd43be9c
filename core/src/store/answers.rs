//! Questionnaire answers, per user and program.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, ms};
use crate::error::Result;
use crate::questionnaire::{Answer, Answers};

/// The answers of a user in a program, and the keys still open (multi-choice not finished).
pub async fn of(c: &mut Conn, user_id: i64, program_id: i64) -> Result<(Answers, Vec<String>)> {
    let rows = sqlx::query(
        "SELECT question, value, complete FROM answers WHERE user_id = $1 AND program_id = $2",
    )
    .bind(user_id)
    .bind(program_id)
    .fetch_all(&mut *c)
    .await?;
    let mut answers = Answers::new();
    let mut open = Vec::new();
    for r in rows {
        let key: String = r.try_get("question")?;
        let value: String = r.try_get("value")?;
        if let Ok(a) = serde_json::from_str::<Answer>(&value) {
            if r.try_get::<i64, _>("complete")? == 0 {
                open.push(key.clone());
            }
            answers.insert(key, a);
        }
    }
    Ok((answers, open))
}

/// Every mentor's or mentee's complete answers in a program, by user.
pub async fn of_program(
    c: &mut Conn,
    program_id: i64,
) -> Result<std::collections::HashMap<i64, Answers>> {
    let rows = sqlx::query(
        "SELECT user_id, question, value FROM answers WHERE program_id = $1 AND complete = 1",
    )
    .bind(program_id)
    .fetch_all(&mut *c)
    .await?;
    let mut out: std::collections::HashMap<i64, Answers> = std::collections::HashMap::new();
    for r in rows {
        let value: String = r.try_get("value")?;
        if let Ok(a) = serde_json::from_str::<Answer>(&value) {
            out.entry(r.try_get("user_id")?)
                .or_default()
                .insert(r.try_get("question")?, a);
        }
    }
    Ok(out)
}

pub async fn save(
    c: &mut Conn,
    user_id: i64,
    program_id: i64,
    key: &str,
    a: &Answer,
    complete: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let value = serde_json::to_string(a).map_err(|e| crate::Error::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO answers (user_id, program_id, question, value, complete, answered_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, program_id, question) DO UPDATE SET value = excluded.value, complete = excluded.complete, \
         answered_at = excluded.answered_at",
    )
    .bind(user_id)
    .bind(program_id)
    .bind(key)
    .bind(value)
    .bind(i64::from(complete))
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(())
}
