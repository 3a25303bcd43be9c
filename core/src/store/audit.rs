//! The audit log: who changed what, when, through which front-end, old → new, and why.
//! It holds ids and status codes, so it can outlive a deleted user — except the entries of
//! `/user_edit`, which keep a person's old and new name, email, phone or external ID so `/revert`
//! can restore them; they are about that person only and go when the person is deleted.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conn, get_time, ms};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    pub frontend: String,
    pub subject_user_id: Option<i64>,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    pub reverts: Option<i64>,
    pub reverted_by: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    pub actor_user_id: Option<i64>,
    pub frontend: String,
    pub subject_user_id: Option<i64>,
    pub entity: &'static str,
    pub entity_id: Option<i64>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
    pub reverts: Option<i64>,
}

const COLS: &str = "id, at, actor_user_id, frontend, subject_user_id, entity, entity_id, field, old_value, \
                    new_value, reason, reverts, reverted_by";

fn from_row(r: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: get_time(r, "at")?,
        actor_user_id: r.try_get("actor_user_id")?,
        frontend: r.try_get("frontend")?,
        subject_user_id: r.try_get("subject_user_id")?,
        entity: r.try_get("entity")?,
        entity_id: r.try_get("entity_id")?,
        field: r.try_get("field")?,
        old_value: r.try_get("old_value")?,
        new_value: r.try_get("new_value")?,
        reason: r.try_get("reason")?,
        reverts: r.try_get("reverts")?,
        reverted_by: r.try_get("reverted_by")?,
    })
}

pub async fn insert(c: &mut Conn, a: &NewAudit, now: DateTime<Utc>) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, frontend, subject_user_id, entity, entity_id, field, \
         old_value, new_value, reason, reverts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(ms(now))
    .bind(a.actor_user_id)
    .bind(&a.frontend)
    .bind(a.subject_user_id)
    .bind(a.entity)
    .bind(a.entity_id)
    .bind(&a.field)
    .bind(a.old_value.as_deref())
    .bind(a.new_value.as_deref())
    .bind(a.reason.as_deref())
    .bind(a.reverts)
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<AuditEntry>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM audit_log WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Newest first; about one user, or everything.
pub async fn list(
    c: &mut Conn,
    subject_user_id: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let rows =
        match subject_user_id {
            Some(id) => sqlx::query(super::sql(format!(
                "SELECT {COLS} FROM audit_log WHERE subject_user_id = $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(id)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?,
            None => {
                sqlx::query(super::sql(format!(
                    "SELECT {COLS} FROM audit_log ORDER BY id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&mut *c)
                .await?
            }
        };
    rows.iter().map(from_row).collect()
}

/// Which entries `/history` shows: about one person, about the people a staff member reaches
/// (docs/domain.md#scope), or all.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub subject: Option<i64>,
    pub reach: Option<super::users::Reach>,
}

impl Shown {
    fn sql(&self) -> String {
        let mut w = String::from(" WHERE 1 = 1");
        if let Some(id) = self.subject {
            w.push_str(&format!(" AND subject_user_id = {id}"));
        }
        if let Some(r) = &self.reach {
            w.push_str(&format!(" AND {}", r.contains("audit_log.subject_user_id")));
        }
        w
    }
}

/// One page of the entries `shown` selects, newest first.
pub async fn page(c: &mut Conn, shown: &Shown, offset: i64, limit: i64) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM audit_log{} ORDER BY id DESC LIMIT {limit} OFFSET {offset}",
        shown.sql()
    )))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The most entries [`count`] counts: the log only grows, and a heading needs no more than
/// "of 10 000+".
pub const COUNT_CAP: i64 = 10_000;

/// How many entries `shown` selects, up to [`COUNT_CAP`] + 1 (more means "more than the cap").
pub async fn count(c: &mut Conn, shown: &Shown) -> Result<i64> {
    Ok(sqlx::query(super::sql(format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{} LIMIT {}) t",
        shown.sql(),
        COUNT_CAP + 1
    )))
    .fetch_one(&mut *c)
    .await?
    .try_get("n")?)
}

/// Marks `id` as reverted by `by`; false when it already was (a second revert is refused).
pub async fn mark_reverted(c: &mut Conn, id: i64, by: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE audit_log SET reverted_by = $1 WHERE id = $2 AND reverted_by IS NULL")
            .bind(by)
            .bind(id)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets everything about a user being deleted (the caller then writes one entry without
/// personal data), and makes their own acts anonymous.
pub async fn forget_user(c: &mut Conn, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM audit_log WHERE subject_user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE audit_log SET actor_user_id = NULL WHERE actor_user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
