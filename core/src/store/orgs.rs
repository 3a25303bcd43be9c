//! Organizations and their programs.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conn, expect_one, ms};
use crate::error::Result;
use crate::program::{ProgramSettings, parse_timezone};
use crate::questionnaire::Questionnaire;

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Program {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub name: String,
    pub settings: ProgramSettings,
    pub questionnaire: Questionnaire,
}

impl Program {
    /// `Org/Program`, the form that is unambiguous across organizations.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.org_name, self.name)
    }
}

pub async fn insert_org(c: &mut Conn, name: &str, now: DateTime<Utc>) -> Result<i64> {
    let row =
        sqlx::query("INSERT INTO organizations (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(ms(now))
            .fetch_one(&mut *c)
            .await?;
    Ok(row.try_get("id")?)
}

pub async fn org_by_name(c: &mut Conn, name: &str) -> Result<Option<Organization>> {
    let row = sqlx::query("SELECT id, name FROM organizations WHERE lower(name) = lower($1)")
        .bind(name.trim())
        .fetch_optional(&mut *c)
        .await?;
    row.map(|r| {
        Ok(Organization {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
        })
    })
    .transpose()
}

pub async fn list_orgs(c: &mut Conn) -> Result<Vec<Organization>> {
    let rows = sqlx::query("SELECT id, name FROM organizations ORDER BY name")
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Organization {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

const PROGRAM_SELECT: &str = "SELECT p.id, p.org_id, o.name AS org_name, p.name, p.max_choices, p.recommendations, \
     p.offer_ttl_secs, p.offer_reminder_before_secs, p.inactivity_after_secs, p.inactivity_repeat_secs, \
     p.flash_mentoring, p.timezone, p.ready_on_approval, p.mentor_capacity, p.quiet_hours, p.questionnaire FROM programs p JOIN organizations o ON o.id = p.org_id";

fn program_from_row(r: &AnyRow) -> Result<Program> {
    let secs = |col: &str| -> Result<Duration> { Ok(Duration::seconds(r.try_get::<i64, _>(col)?)) };
    let tz: String = r.try_get("timezone")?;
    Ok(Program {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        name: r.try_get("name")?,
        settings: ProgramSettings {
            max_choices: u32::try_from(r.try_get::<i64, _>("max_choices")?).unwrap_or(1),
            recommendations: u32::try_from(r.try_get::<i64, _>("recommendations")?).unwrap_or(1),
            offer_ttl: secs("offer_ttl_secs")?,
            offer_reminder_before: secs("offer_reminder_before_secs")?,
            inactivity_after: secs("inactivity_after_secs")?,
            inactivity_repeat: secs("inactivity_repeat_secs")?,
            flash_mentoring: r.try_get::<i64, _>("flash_mentoring")? != 0,
            timezone: parse_timezone(&tz).unwrap_or(chrono_tz::Tz::UTC),
            ready_on_approval: r.try_get::<i64, _>("ready_on_approval")? != 0,
            mentor_capacity: u32::try_from(r.try_get::<i64, _>("mentor_capacity")?).unwrap_or(1),
            // Checked when it was set; a value that no longer reads falls back to the default.
            quiet_hours: crate::quiet::QuietHours::parse(
                "quiet_hours",
                &r.try_get::<String, _>("quiet_hours")?,
            )
            .unwrap_or_default(),
        },
        questionnaire: Questionnaire::from_json(&r.try_get::<String, _>("questionnaire")?),
    })
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `q` with a program's settings bound next, in the order of their columns: max_choices,
/// recommendations, the four durations in seconds, flash_mentoring, timezone, ready_on_approval,
/// mentor_capacity, quiet_hours.
fn bind_settings<'q>(q: Query<'q>, s: &ProgramSettings) -> Query<'q> {
    q.bind(i64::from(s.max_choices))
        .bind(i64::from(s.recommendations))
        .bind(s.offer_ttl.num_seconds())
        .bind(s.offer_reminder_before.num_seconds())
        .bind(s.inactivity_after.num_seconds())
        .bind(s.inactivity_repeat.num_seconds())
        .bind(i64::from(s.flash_mentoring))
        .bind(s.timezone.name())
        .bind(i64::from(s.ready_on_approval))
        .bind(i64::from(s.mentor_capacity))
        .bind(s.quiet_hours.code())
}

pub async fn insert_program(
    c: &mut Conn,
    org_id: i64,
    name: &str,
    s: &ProgramSettings,
    questionnaire: &Questionnaire,
    now: DateTime<Utc>,
) -> Result<i64> {
    let q = sqlx::query(
        "INSERT INTO programs (org_id, name, max_choices, recommendations, offer_ttl_secs, \
         offer_reminder_before_secs, inactivity_after_secs, inactivity_repeat_secs, flash_mentoring, \
         timezone, ready_on_approval, mentor_capacity, quiet_hours, created_at, questionnaire) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(org_id)
    .bind(name);
    let row = bind_settings(q, s)
        .bind(ms(now))
        .bind(questionnaire.to_json())
        .fetch_one(&mut *c)
        .await?;
    Ok(row.try_get("id")?)
}

pub async fn update_program_settings(c: &mut Conn, id: i64, s: &ProgramSettings) -> Result<()> {
    let q = sqlx::query(
        "UPDATE programs SET max_choices = $1, recommendations = $2, offer_ttl_secs = $3, \
         offer_reminder_before_secs = $4, inactivity_after_secs = $5, inactivity_repeat_secs = $6, \
         flash_mentoring = $7, timezone = $8, ready_on_approval = $9, mentor_capacity = $10, \
         quiet_hours = $11 WHERE id = $12",
    );
    let done = bind_settings(q, s).bind(id).execute(&mut *c).await?;
    expect_one(done.rows_affected(), "the program")
}

pub async fn program(c: &mut Conn, id: i64) -> Result<Option<Program>> {
    let row = sqlx::query(super::sql(format!("{PROGRAM_SELECT} WHERE p.id = $1")))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    row.as_ref().map(program_from_row).transpose()
}

/// Programs whose name is `name` (any organization), case-insensitively.
pub async fn programs_named(c: &mut Conn, name: &str) -> Result<Vec<Program>> {
    let rows = sqlx::query(super::sql(format!(
        "{PROGRAM_SELECT} WHERE lower(p.name) = lower($1) ORDER BY o.name"
    )))
    .bind(name.trim())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(program_from_row).collect()
}

pub async fn list_programs(c: &mut Conn) -> Result<Vec<Program>> {
    let rows = sqlx::query(super::sql(format!(
        "{PROGRAM_SELECT} ORDER BY o.name, p.name"
    )))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(program_from_row).collect()
}
