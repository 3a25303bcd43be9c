//! Link codes (single use, from the welcome email) and the chat accounts they bind.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, get_opt_time, get_time, ms};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct LinkCodeRow {
    pub code: String,
    pub user_id: i64,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct ChatLink {
    pub provider: String,
    pub account_id: String,
    pub user_id: i64,
    pub handle: Option<String>,
}

pub async fn insert_code(
    c: &mut Conn,
    code: &str,
    user_id: i64,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO link_codes (code, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(code)
    .bind(user_id)
    .bind(ms(now))
    .bind(ms(expires))
    .execute(&mut *c)
    .await?;
    Ok(())
}

pub async fn code(c: &mut Conn, code: &str) -> Result<Option<LinkCodeRow>> {
    let row =
        sqlx::query("SELECT code, user_id, expires_at, used_at FROM link_codes WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *c)
            .await?;
    row.map(|r| {
        Ok(LinkCodeRow {
            code: r.try_get("code")?,
            user_id: r.try_get("user_id")?,
            expires_at: get_time(&r, "expires_at")?,
            used_at: get_opt_time(&r, "used_at")?,
        })
    })
    .transpose()
}

/// Marks the code used; false when another request used it first.
pub async fn use_code(c: &mut Conn, code: &str, now: DateTime<Utc>) -> Result<bool> {
    let done =
        sqlx::query("UPDATE link_codes SET used_at = $1 WHERE code = $2 AND used_at IS NULL")
            .bind(ms(now))
            .bind(code)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn link_of_account(
    c: &mut Conn,
    provider: &str,
    account_id: &str,
) -> Result<Option<ChatLink>> {
    let row = sqlx::query("SELECT provider, account_id, user_id, handle FROM chat_links WHERE provider = $1 AND account_id = $2")
        .bind(provider)
        .bind(account_id)
        .fetch_optional(&mut *c)
        .await?;
    row.map(|r| chat_link(&r)).transpose()
}

fn chat_link(r: &sqlx::any::AnyRow) -> Result<ChatLink> {
    Ok(ChatLink {
        provider: r.try_get("provider")?,
        account_id: r.try_get("account_id")?,
        user_id: r.try_get("user_id")?,
        handle: r.try_get("handle")?,
    })
}

pub async fn links_of_user(c: &mut Conn, user_id: i64) -> Result<Vec<ChatLink>> {
    let rows = sqlx::query("SELECT provider, account_id, user_id, handle FROM chat_links WHERE user_id = $1 ORDER BY provider")
        .bind(user_id)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(chat_link).collect()
}

/// The chat accounts of several users at once, by user (each user's ordered as in
/// [`links_of_user`]; a user with none is absent).
pub async fn links_of_users(
    c: &mut Conn,
    user_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<ChatLink>>> {
    let mut out: std::collections::HashMap<i64, Vec<ChatLink>> = std::collections::HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT provider, account_id, user_id, handle FROM chat_links WHERE user_id IN ({}) \
         ORDER BY user_id, provider",
        super::id_list(user_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    for r in &rows {
        let link = chat_link(r)?;
        out.entry(link.user_id).or_default().push(link);
    }
    Ok(out)
}

/// The user behind a chat mention (`@handle` or a platform user id).
pub async fn user_by_handle(c: &mut Conn, handle: &str) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT DISTINCT user_id FROM chat_links WHERE lower(handle) = lower($1) OR account_id = $1")
        .bind(handle)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
}

pub async fn insert_link(
    c: &mut Conn,
    provider: &str,
    account_id: &str,
    handle: Option<&str>,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO chat_links (provider, account_id, user_id, handle, linked_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(provider)
        .bind(account_id)
        .bind(user_id)
        .bind(handle)
        .bind(ms(now))
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Revokes a person's codes not used yet (a new one was issued: only the newest works).
pub async fn revoke_unused(c: &mut Conn, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM link_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Counts one wrong code tried from a chat account (and forgets attempts over a day old).
pub async fn record_wrong_code(
    c: &mut Conn,
    provider: &str,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO link_attempts (provider, account_id, at) VALUES ($1, $2, $3)")
        .bind(provider)
        .bind(account_id)
        .bind(ms(now))
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM link_attempts WHERE at < $1")
        .bind(ms(now - chrono::Duration::days(1)))
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// When the wrong codes tried from this account since `since` were tried, oldest first.
pub async fn wrong_codes_of(
    c: &mut Conn,
    provider: &str,
    account_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let rows = sqlx::query(
        "SELECT at FROM link_attempts WHERE provider = $1 AND account_id = $2 AND at > $3 ORDER BY at",
    )
    .bind(provider)
    .bind(account_id)
    .bind(ms(since))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| get_time(r, "at")).collect()
}

/// Wrong codes tried from any account since `since`.
pub async fn wrong_codes_since(c: &mut Conn, since: DateTime<Utc>) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM link_attempts WHERE at > $1")
        .bind(ms(since))
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get("n")?)
}
