//! Staff roles: a super admin everywhere, program managers and coordinators per program.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, ms};
use crate::error::Result;
use crate::roles::StaffRole;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: StaffRole,
    pub program_id: Option<i64>,
    /// The organization of `program_id`.
    pub org_id: Option<i64>,
}

pub async fn grants_of(c: &mut Conn, user_id: i64) -> Result<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT s.role, s.program_id, p.org_id FROM staff_roles s LEFT JOIN programs p ON p.id = s.program_id \
         WHERE s.user_id = $1 ORDER BY s.id",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Grant {
                role: StaffRole::from_code(&r.try_get::<String, _>("role")?)?,
                program_id: r.try_get("program_id")?,
                org_id: r.try_get("org_id")?,
            })
        })
        .collect()
}

pub async fn insert_grant(
    c: &mut Conn,
    user_id: i64,
    role: StaffRole,
    program_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO staff_roles (user_id, role, program_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(user_id)
    .bind(role.code())
    .bind(program_id)
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Staff of a program (its managers and coordinators) and every super admin: who hears about it.
pub async fn staff_user_ids_of_program(c: &mut Conn, program_id: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT user_id FROM staff_roles WHERE program_id = $1 OR role = 'super_admin' ORDER BY user_id",
    )
    .bind(program_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
}

pub async fn any_super_admin(c: &mut Conn) -> Result<bool> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM staff_roles WHERE role = 'super_admin'")
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Super admins whose account is not deactivated (the people who can still run everything).
pub async fn active_super_admins(c: &mut Conn) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT s.user_id, u.status FROM staff_roles s JOIN users u ON u.id = s.user_id \
         WHERE s.role = 'super_admin' ORDER BY s.user_id",
    )
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        // Which statuses leave the bot usable is the status table's to say, not this query's.
        let status = crate::status::UserStatus::from_code(&r.try_get::<String, _>("status")?)?;
        if !status.is_deactivated() {
            out.push(r.try_get("user_id")?);
        }
    }
    Ok(out)
}
