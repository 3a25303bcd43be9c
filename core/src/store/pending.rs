//! Two-step confirmations (permanent delete): the token the second step must bring back.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, get_time, ms};
use crate::error::Result;

pub struct PendingAction {
    pub token: String,
    pub actor_user_id: i64,
    pub action: String,
    pub subject_user_id: i64,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(c: &mut Conn, a: &PendingAction, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO pending_actions (token, actor_user_id, action, subject_user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.token)
    .bind(a.actor_user_id)
    .bind(&a.action)
    .bind(a.subject_user_id)
    .bind(ms(now))
    .bind(ms(a.expires_at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Takes the action out (single use); None if there is no such token.
pub async fn take(c: &mut Conn, token: &str) -> Result<Option<PendingAction>> {
    let row = sqlx::query(
        "SELECT token, actor_user_id, action, subject_user_id, expires_at FROM pending_actions WHERE token = $1",
    )
    .bind(token)
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    sqlx::query("DELETE FROM pending_actions WHERE token = $1")
        .bind(token)
        .execute(&mut *c)
        .await?;
    Ok(Some(PendingAction {
        token: r.try_get("token")?,
        actor_user_id: r.try_get("actor_user_id")?,
        action: r.try_get("action")?,
        subject_user_id: r.try_get("subject_user_id")?,
        expires_at: get_time(&r, "expires_at")?,
    }))
}
