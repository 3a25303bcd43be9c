//! Previews of bulk changes (auto-pairing): shown first, applied only with their token.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, get_time, ms};
use crate::error::Result;

pub struct Preview {
    pub token: String,
    pub actor_user_id: i64,
    pub action: String,
    pub program_id: i64,
    pub payload: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(c: &mut Conn, p: &Preview, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO previews (token, actor_user_id, action, program_id, payload, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&p.token)
    .bind(p.actor_user_id)
    .bind(&p.action)
    .bind(p.program_id)
    .bind(&p.payload)
    .bind(ms(now))
    .bind(ms(p.expires_at))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Takes the preview out (single use).
pub async fn take(c: &mut Conn, token: &str) -> Result<Option<Preview>> {
    let row = sqlx::query("SELECT token, actor_user_id, action, program_id, payload, expires_at FROM previews WHERE token = $1")
        .bind(token)
        .fetch_optional(&mut *c)
        .await?;
    let Some(r) = row else { return Ok(None) };
    sqlx::query("DELETE FROM previews WHERE token = $1")
        .bind(token)
        .execute(&mut *c)
        .await?;
    Ok(Some(Preview {
        token: r.try_get("token")?,
        actor_user_id: r.try_get("actor_user_id")?,
        action: r.try_get("action")?,
        program_id: r.try_get("program_id")?,
        payload: r.try_get("payload")?,
        expires_at: get_time(&r, "expires_at")?,
    }))
}
