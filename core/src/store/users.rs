//! Users, their tags and their personas.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conn, expect_one, get_opt_time, get_time, ms};
use crate::error::Result;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus, UserStatus};
use crate::values::{Email, ExternalId, FullName, Phone, Tag};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub full_name: String,
    pub status: UserStatus,
    pub org_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub first_seen_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl User {
    /// "Ana Lima <ana@example.org>": how people are shown to staff; "… (Deactivated)" for a
    /// deactivated person, wherever others see them (docs/domain.md#deactivation).
    pub fn label(&self) -> String {
        format!(
            "{} <{}>{}",
            self.full_name,
            self.email,
            self.deactivated_mark()
        )
    }
    /// "Ana Lima", or "Ana Lima (Deactivated)": how a person is named to the people around them.
    pub fn shown_name(&self) -> String {
        format!("{}{}", self.full_name, self.deactivated_mark())
    }
    fn deactivated_mark(&self) -> &'static str {
        if self.status.is_deactivated() {
            " (Deactivated)"
        } else {
            ""
        }
    }
    /// Last activity, or when they were added if never seen (docs/domain.md#inactivity).
    pub fn activity_reference(&self) -> DateTime<Utc> {
        self.last_activity_at.unwrap_or(self.created_at)
    }
}

#[derive(Debug, Clone)]
pub struct Persona {
    pub id: i64,
    pub user_id: i64,
    pub role: PersonaRole,
    pub program_id: Option<i64>,
    pub status: PersonaStatus,
    pub match_status: MatchStatus,
    pub created_at: DateTime<Utc>,
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub phone: &'a Phone,
    pub external_id: &'a ExternalId,
    pub full_name: &'a FullName,
    pub status: UserStatus,
    pub org_id: Option<i64>,
}

pub const USER_COLS: &str = "u.id, u.email, u.phone, u.external_id, u.full_name, u.status, u.org_id, \
     u.created_at, u.first_seen_at, u.last_activity_at";

pub fn user_from_row(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        external_id: r.try_get("external_id")?,
        full_name: r.try_get("full_name")?,
        status: UserStatus::from_code(&r.try_get::<String, _>("status")?)?,
        org_id: r.try_get("org_id")?,
        created_at: get_time(r, "created_at")?,
        first_seen_at: get_opt_time(r, "first_seen_at")?,
        last_activity_at: get_opt_time(r, "last_activity_at")?,
    })
}

pub async fn insert_user(c: &mut Conn, u: &NewUser<'_>, now: DateTime<Utc>) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO users (email, phone, external_id, full_name, status, org_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(u.email.as_str())
    .bind(u.phone.as_str())
    .bind(u.external_id.as_str())
    .bind(u.full_name.as_str())
    .bind(u.status.code())
    .bind(u.org_id)
    .bind(ms(now))
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

async fn one_user(c: &mut Conn, filter: &str, arg: &str) -> Result<Option<User>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS} FROM users u WHERE {filter}"
    )))
    .bind(arg)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn user(c: &mut Conn, id: i64) -> Result<Option<User>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS} FROM users u WHERE u.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn by_email(c: &mut Conn, email: &str) -> Result<Option<User>> {
    one_user(c, "u.email = $1", email).await
}
pub async fn by_phone(c: &mut Conn, phone: &str) -> Result<Option<User>> {
    one_user(c, "u.phone = $1", phone).await
}
pub async fn by_external_id(c: &mut Conn, id: &str) -> Result<Option<User>> {
    one_user(c, "u.external_id = $1", id).await
}

/// Which of some emails, phones and external IDs someone already has (exact values, as
/// `by_email`, `by_phone` and `by_external_id` compare them).
#[derive(Debug, Default)]
pub struct Taken {
    pub emails: HashSet<String>,
    pub phones: HashSet<String>,
    pub external_ids: HashSet<String>,
}

/// The values among these that are taken: one indexed look-up per column for a whole batch
/// (an import checks hundreds of rows at a time, where the `by_*` functions take three
/// queries a row). Keep a batch to a few thousand values (bound parameters: SQLite allows
/// 32 766 a statement).
pub async fn taken(
    c: &mut Conn,
    emails: &[String],
    phones: &[String],
    external_ids: &[String],
) -> Result<Taken> {
    Ok(Taken {
        emails: present(c, Column::Email, emails).await?,
        phones: present(c, Column::Phone, phones).await?,
        external_ids: present(c, Column::ExternalId, external_ids).await?,
    })
}

/// A column `taken` looks in (its name is ours, never input).
#[derive(Clone, Copy)]
enum Column {
    Email,
    Phone,
    ExternalId,
}

async fn present(c: &mut Conn, column: Column, values: &[String]) -> Result<HashSet<String>> {
    if values.is_empty() {
        return Ok(HashSet::new());
    }
    let column = match column {
        Column::Email => "email",
        Column::Phone => "phone",
        Column::ExternalId => "external_id",
    };
    let placeholders = (1..=values.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = sqlx::query(super::sql(format!(
        "SELECT {column} AS v FROM users WHERE {column} IN ({placeholders})"
    )));
    for v in values {
        q = q.bind(v.as_str());
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("v")?))
        .collect()
}

/// A pattern for `LIKE $n ESCAPE '\'` that matches text containing `text` literally: `%`, `_`
/// and the escape character itself are escaped, so a name typed with them (`Ann_a`) finds
/// itself and not every name of that shape. The ESCAPE clause must be written out: PostgreSQL
/// escapes with `\` by default, SQLite has no default, and `ESCAPE '\'` means the same on both.
pub(crate) fn like_containing(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Users whose name equals `name` (case-insensitive), or failing that whose name has a word
/// starting with each word typed ("ana" finds "Ana Lima", not "Paula Manager").
pub async fn by_name(c: &mut Conn, name: &str) -> Result<Vec<User>> {
    let exact = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS} FROM users u WHERE lower(u.full_name) = lower($1) ORDER BY u.id"
    )))
    .bind(name.trim())
    .fetch_all(&mut *c)
    .await?;
    if !exact.is_empty() {
        return exact.iter().map(user_from_row).collect();
    }
    let wanted: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
    let Some(first) = wanted.first() else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS} FROM users u WHERE lower(u.full_name) LIKE $1 ESCAPE '\\' ORDER BY u.id"
    )))
    .bind(like_containing(first))
    .fetch_all(&mut *c)
    .await?;
    let mut users = Vec::new();
    for row in &rows {
        let u = user_from_row(row)?;
        let words: Vec<String> = u
            .full_name
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        if wanted
            .iter()
            .all(|w| words.iter().any(|n| n.starts_with(w.as_str())))
        {
            users.push(u);
        }
    }
    Ok(users)
}

pub async fn set_status(
    c: &mut Conn,
    id: i64,
    expected: UserStatus,
    new: UserStatus,
) -> Result<()> {
    let done = sqlx::query("UPDATE users SET status = $1 WHERE id = $2 AND status = $3")
        .bind(new.code())
        .bind(id)
        .bind(expected.code())
        .execute(&mut *c)
        .await?;
    expect_one(done.rows_affected(), "the user's status")
}

/// Any command or button press by the user (docs/domain.md#activity).
pub async fn touch_activity(c: &mut Conn, id: i64, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "UPDATE users SET last_activity_at = $1, first_seen_at = COALESCE(first_seen_at, $1) WHERE id = $2",
    )
    .bind(ms(now))
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Records an inactivity reminder, only if the last one is still `expected` (so two sweeps
/// at once send one); false when another sweep got there first.
pub async fn mark_inactivity_reminded(
    c: &mut Conn,
    id: i64,
    expected: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = match expected {
        Some(t) => {
            sqlx::query("UPDATE users SET inactivity_reminded_at = $1 WHERE id = $2 AND inactivity_reminded_at = $3")
                .bind(ms(now))
                .bind(id)
                .bind(ms(t))
                .execute(&mut *c)
                .await?
        }
        None => {
            sqlx::query("UPDATE users SET inactivity_reminded_at = $1 WHERE id = $2 AND inactivity_reminded_at IS NULL")
                .bind(ms(now))
                .bind(id)
                .execute(&mut *c)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

pub async fn inactivity_reminded_at(c: &mut Conn, id: i64) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT inactivity_reminded_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *c)
        .await?;
    Ok(match row {
        Some(r) => r
            .try_get::<Option<i64>, _>("inactivity_reminded_at")?
            .map(super::time),
        None => None,
    })
}

/// The `(inactivity_after, inactivity_repeat)` of each of the user's personas: their program's,
/// or `None` for an unassigned persona (the caller applies the program defaults). Empty for
/// staff-only accounts, who are never reminded.
pub async fn inactivity_periods(
    c: &mut Conn,
    user_id: i64,
) -> Result<Vec<Option<(Duration, Duration)>>> {
    let rows = sqlx::query(
        "SELECT g.inactivity_after_secs, g.inactivity_repeat_secs FROM personas p \
         LEFT JOIN programs g ON g.id = p.program_id WHERE p.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let after: Option<i64> = r.try_get("inactivity_after_secs")?;
            let repeat: Option<i64> = r.try_get("inactivity_repeat_secs")?;
            Ok(after
                .zip(repeat)
                .map(|(a, b)| (Duration::seconds(a), Duration::seconds(b))))
        })
        .collect()
}

/// The ids of people who may be due an inactivity reminder at `now`, in id order, streamed
/// (one query, rows as they arrive). It is the rule of `timers::remind_inactive` written in SQL
/// — due under any one of their personas' (after, repeat), with the defaults for unassigned
/// personas — so it yields what that rule accepts and never less. The rule still re-checks each
/// id in its own transaction: people act, and other sweeps remind them, between this read and
/// the reminder.
/// The first activity condition repeats the per-persona one with the smallest threshold of all,
/// so that the index `users_inactivity` (status, activity) can narrow the scan before the
/// per-person check runs; EXISTS yields a person in several programs once.
pub fn inactive_candidate_ids<'e>(
    pool: &'e sqlx::AnyPool,
    now: DateTime<Utc>,
    default_after: Duration,
    default_repeat: Duration,
) -> futures_util::stream::BoxStream<'e, Result<i64>> {
    use futures_util::StreamExt;
    let text = inactive_candidates_sql();
    sqlx::query(super::sql(text))
        .bind(ms(now))
        .bind(default_after.num_milliseconds())
        .bind(default_repeat.num_milliseconds())
        .fetch(pool)
        .map(|row| Ok(row?.try_get::<i64, _>("id")?))
        .boxed()
}

pub async fn delete_user(c: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn tags(c: &mut Conn, user_id: i64) -> Result<Vec<Tag>> {
    let rows = sqlx::query("SELECT key, value FROM user_tags WHERE user_id = $1 ORDER BY key")
        .bind(user_id)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Tag {
                key: r.try_get("key")?,
                value: r.try_get("value")?,
            })
        })
        .collect()
}

pub async fn set_tag(c: &mut Conn, user_id: i64, tag: &Tag) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_tags (user_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value",
    )
    .bind(user_id)
    .bind(&tag.key)
    .bind(&tag.value)
    .execute(&mut *c)
    .await?;
    Ok(())
}

const PERSONA_COLS: &str = "id, user_id, role, program_id, status, match_status, created_at";

fn persona_from_row(r: &AnyRow) -> Result<Persona> {
    Ok(Persona {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        role: PersonaRole::from_code(&r.try_get::<String, _>("role")?)?,
        program_id: r.try_get("program_id")?,
        status: PersonaStatus::from_code(&r.try_get::<String, _>("status")?)?,
        match_status: MatchStatus::from_code(&r.try_get::<String, _>("match_status")?)?,
        created_at: get_time(r, "created_at")?,
    })
}

/// A persona's columns beside a user's in one row (`p.…` as `persona_…`), for queries that
/// return both; read back with [`persona_from_joined`].
const JOINED_PERSONA_COLS: &str = "p.id AS persona_id, p.role AS persona_role, \
     p.program_id AS persona_program_id, p.status AS persona_status, \
     p.match_status AS persona_match_status, p.created_at AS persona_created_at";

/// The persona of a row selected with [`JOINED_PERSONA_COLS`] (and the user's `id`); None when
/// the row has none (a LEFT JOIN).
fn persona_from_joined(r: &AnyRow) -> Result<Option<Persona>> {
    let Some(id) = r.try_get::<Option<i64>, _>("persona_id")? else {
        return Ok(None);
    };
    Ok(Some(Persona {
        id,
        user_id: r.try_get("id")?,
        role: PersonaRole::from_code(&r.try_get::<String, _>("persona_role")?)?,
        program_id: r.try_get("persona_program_id")?,
        status: PersonaStatus::from_code(&r.try_get::<String, _>("persona_status")?)?,
        match_status: MatchStatus::from_code(&r.try_get::<String, _>("persona_match_status")?)?,
        created_at: get_time(r, "persona_created_at")?,
    }))
}

pub async fn insert_persona(
    c: &mut Conn,
    user_id: i64,
    role: PersonaRole,
    program_id: Option<i64>,
    match_status: MatchStatus,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO personas (user_id, role, program_id, status, match_status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(role.code())
    .bind(program_id)
    .bind(PersonaStatus::Active.code())
    .bind(match_status.code())
    .bind(ms(now))
    .fetch_one(&mut *c)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn personas_of(c: &mut Conn, user_id: i64) -> Result<Vec<Persona>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {PERSONA_COLS} FROM personas WHERE user_id = $1 ORDER BY id"
    )))
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(persona_from_row).collect()
}

/// Personas of one role in a program, oldest first.
pub async fn personas_in_program(
    c: &mut Conn,
    program_id: i64,
    role: PersonaRole,
) -> Result<Vec<Persona>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {PERSONA_COLS} FROM personas WHERE program_id = $1 AND role = $2 ORDER BY id"
    )))
    .bind(program_id)
    .bind(role.code())
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(persona_from_row).collect()
}

pub async fn persona(c: &mut Conn, id: i64) -> Result<Option<Persona>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {PERSONA_COLS} FROM personas WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(persona_from_row).transpose()
}

/// Personas with their users, in the order of `ids` (ids not found are left out): one query.
pub async fn personas_with_users(c: &mut Conn, ids: &[i64]) -> Result<Vec<(Persona, User)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (1..=ids.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS}, {JOINED_PERSONA_COLS} FROM personas p JOIN users u ON u.id = p.user_id \
         WHERE p.id IN ({placeholders})"
    )));
    for id in ids {
        q = q.bind(*id);
    }
    let mut found = Vec::new();
    for r in q.fetch_all(&mut *c).await? {
        if let Some(p) = persona_from_joined(&r)? {
            found.push((p, user_from_row(&r)?));
        }
    }
    found.sort_by_key(|(p, _)| ids.iter().position(|id| *id == p.id));
    Ok(found)
}

pub async fn set_persona_status(
    c: &mut Conn,
    id: i64,
    expected: PersonaStatus,
    new: PersonaStatus,
) -> Result<()> {
    let done = sqlx::query("UPDATE personas SET status = $1 WHERE id = $2 AND status = $3")
        .bind(new.code())
        .bind(id)
        .bind(expected.code())
        .execute(&mut *c)
        .await?;
    expect_one(done.rows_affected(), "the persona's status")
}

pub async fn set_match_status(
    c: &mut Conn,
    id: i64,
    expected: MatchStatus,
    new: MatchStatus,
) -> Result<()> {
    let done =
        sqlx::query("UPDATE personas SET match_status = $1 WHERE id = $2 AND match_status = $3")
            .bind(new.code())
            .bind(id)
            .bind(expected.code())
            .execute(&mut *c)
            .await?;
    expect_one(done.rows_affected(), "the persona's match status")
}

pub async fn set_persona_program(c: &mut Conn, id: i64, program_id: i64) -> Result<()> {
    let done =
        sqlx::query("UPDATE personas SET program_id = $1 WHERE id = $2 AND program_id IS NULL")
            .bind(program_id)
            .bind(id)
            .execute(&mut *c)
            .await?;
    expect_one(done.rows_affected(), "the persona's program")
}

/// The filters of `/user_list` (docs/domain.md#commands). `program_ids` limits
/// (docs/domain.md#scope) to people with a persona in one of them, or (with
/// `include_unassigned_of_orgs`) an unassigned persona in those organizations.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub program_ids: Option<Vec<i64>>,
    pub org_ids_for_unassigned: Vec<i64>,
    pub role: Option<PersonaRole>,
    pub status: Option<UserStatus>,
    pub tag: Option<Tag>,
    pub unassigned_only: bool,
    pub inactive_before: Option<DateTime<Utc>>,
    pub usable_only: bool,
    /// Only mentors and mentees (people with a persona), not staff-only accounts.
    pub participants_only: bool,
    pub sort: UserSort,
    /// At most this many (0: everyone), after skipping `offset` of them: both in SQL, so a
    /// list reads one page and never the whole program.
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    #[default]
    FirstName,
    LastName,
    Activity,
    /// Oldest first: the order people wait in (`/screening`).
    Added,
}

/// The sort keys of each order, as SQL over `u`, in order (the user's id breaks ties after
/// them). Names compare lower-cased in ASCII and then byte by byte, the same on both backends
/// (SQLite's `lower()` folds ASCII only; on PostgreSQL `lower()` under the "C" collation does
/// the same, and "C" compares bytes); the last name is the name's last word (names are stored
/// with single spaces: `values::FullName`). The indexes `users_first_name`, `users_last_name`
/// and `users_activity` (migrations/*/0008_list_indexes.sql) are on these very expressions:
/// change them together.
pub(crate) fn sort_keys(c: &Conn, sort: UserSort) -> Vec<&'static str> {
    let pg = c.backend_name() == "PostgreSQL";
    let first = if pg {
        "lower(u.full_name COLLATE \"C\")"
    } else {
        "lower(u.full_name)"
    };
    let last = if pg {
        "lower(substr(u.full_name, length(rtrim(u.full_name, replace(u.full_name, ' ', ''))) + 1) COLLATE \"C\")"
    } else {
        "lower(substr(u.full_name, length(rtrim(u.full_name, replace(u.full_name, ' ', ''))) + 1))"
    };
    match sort {
        UserSort::FirstName => vec![first],
        UserSort::LastName => vec![last, first],
        UserSort::Activity => vec!["COALESCE(u.last_activity_at, u.created_at)"],
        UserSort::Added => vec!["u.created_at"],
    }
}

/// `SELECT {USER_COLS}, k0[, k1] FROM users u WHERE … ORDER BY … LIMIT … OFFSET …` for `f` (the
/// keys are [`sort_keys`]), with its values to bind in order; None when no one can match (a
/// scope of no programs). Conditions on personas are one EXISTS: someone is listed once, when
/// one of their personas meets them all.
fn users_query(c: &Conn, f: &UserFilter) -> Option<(String, Vec<Bind>)> {
    let (filter, binds) = users_where(f)?;
    let keys = sort_keys(c, f.sort);
    let selected = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!(", {k} AS k{i}"))
        .collect::<String>();
    // Numbers, not binds: PostgreSQL plans a known LIMIT (a few rows: walk an index in order).
    let page = match (f.limit > 0, f.offset > 0) {
        (true, _) => format!(" LIMIT {} OFFSET {}", f.limit, f.offset.max(0)),
        (false, true) => format!(" LIMIT {} OFFSET {}", i64::MAX, f.offset),
        (false, false) => String::new(),
    };
    Some((
        format!(
            "SELECT {USER_COLS}{selected} FROM users u WHERE 1 = 1{filter} ORDER BY {}, u.id{page}",
            keys.join(", ")
        ),
        binds,
    ))
}

/// How many people `f` selects (its sort, limit and offset aside): the "of N" of a list.
pub async fn count_users(c: &mut Conn, f: &UserFilter) -> Result<i64> {
    let Some((filter, binds)) = users_where(f) else {
        return Ok(0);
    };
    let text = format!("SELECT COUNT(*) AS n FROM users u WHERE 1 = 1{filter}");
    Ok(bound(text, binds).fetch_one(&mut *c).await?.try_get("n")?)
}

/// The conditions of `f` over `u` (each beginning ` AND `) and their bound values; None when
/// `f` can select no one (a scope of no programs and no organizations).
fn users_where(f: &UserFilter) -> Option<(String, Vec<Bind>)> {
    // Each value is bound in the order its placeholder ($1, $2, …) is handed out.
    let mut binds: Vec<Bind> = Vec::new();
    let mut bind = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let id_list = |ids: &[i64]| {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut persona = Vec::new();
    if let Some(ids) = &f.program_ids {
        let mut parts = Vec::new();
        if !ids.is_empty() {
            parts.push(format!("p.program_id IN ({})", id_list(ids)));
        }
        if !f.org_ids_for_unassigned.is_empty() {
            parts.push(format!(
                "(p.program_id IS NULL AND u.org_id IN ({}))",
                id_list(&f.org_ids_for_unassigned)
            ));
        }
        if parts.is_empty() {
            return None;
        }
        persona.push(format!("({})", parts.join(" OR ")));
    }
    if let Some(role) = f.role {
        persona.push(format!("p.role = {}", bind(Bind::S(role.code().into()))));
    }
    if f.unassigned_only {
        persona.push("p.program_id IS NULL".into());
    }
    let mut filter = String::new();
    if !persona.is_empty() || f.participants_only {
        filter.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM personas p WHERE p.user_id = u.id{})",
            persona
                .iter()
                .map(|c| format!(" AND {c}"))
                .collect::<String>()
        ));
    }
    if let Some(status) = f.status {
        filter.push_str(&format!(
            " AND u.status = {}",
            bind(Bind::S(status.code().into()))
        ));
    }
    if f.usable_only {
        let usable: Vec<String> = UserStatus::ALL
            .into_iter()
            .filter(|s| s.info().bot_access == crate::status::BotAccess::Full)
            .map(|s| format!("'{}'", s.code()))
            .collect();
        filter.push_str(&format!(" AND u.status IN ({})", usable.join(", ")));
    }
    if let Some(tag) = &f.tag {
        let k = bind(Bind::S(tag.key.clone()));
        let v = bind(Bind::S(tag.value.clone()));
        filter.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM user_tags t WHERE t.user_id = u.id AND t.key = {k} AND t.value = {v})"
        ));
    }
    if let Some(before) = f.inactive_before {
        filter.push_str(&format!(
            " AND COALESCE(u.last_activity_at, u.created_at) < {}",
            bind(Bind::I(ms(before)))
        ));
    }
    Some((filter, binds))
}

fn bound<'q>(
    text: String,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(super::sql(text));
    for b in binds {
        q = match b {
            Bind::I(v) => q.bind(v),
            Bind::S(v) => q.bind(v),
        };
    }
    q
}

/// Lists users by filter, sorted and paged in SQL (see [`sort_keys`]).
pub async fn list_users(c: &mut Conn, f: &UserFilter) -> Result<Vec<User>> {
    let Some((text, binds)) = users_query(c, f) else {
        return Ok(Vec::new());
    };
    let rows = bound(text, binds).fetch_all(&mut *c).await?;
    rows.iter().map(user_from_row).collect()
}

/// Someone in a list, with every persona they have and the name of each one's program (None:
/// unassigned).
#[derive(Debug, Clone)]
pub struct Listed {
    pub user: User,
    pub personas: Vec<(Persona, Option<String>)>,
}

/// [`list_users`] with each person's personas and their programs' names: one query (the page
/// of users, then their personas joined), for lists that show them (`/user_list`, `/inactive`).
pub async fn list_people(c: &mut Conn, f: &UserFilter) -> Result<Vec<Listed>> {
    let Some((inner, binds)) = users_query(c, f) else {
        return Ok(Vec::new());
    };
    let order = (0..sort_keys(c, f.sort).len())
        .map(|i| format!("u.k{i}, "))
        .collect::<String>();
    let text = format!(
        "SELECT {USER_COLS}, {JOINED_PERSONA_COLS}, g.name AS program_name FROM ({inner}) u \
         LEFT JOIN personas p ON p.user_id = u.id LEFT JOIN programs g ON g.id = p.program_id \
         ORDER BY {order}u.id, p.id"
    );
    let rows = bound(text, binds).fetch_all(&mut *c).await?;
    let mut out: Vec<Listed> = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if out.last().is_none_or(|l| l.user.id != id) {
            out.push(Listed {
                user: user_from_row(r)?,
                personas: Vec::new(),
            });
        }
        if let (Some(p), Some(l)) = (persona_from_joined(r)?, out.last_mut()) {
            l.personas.push((p, r.try_get("program_name")?));
        }
    }
    Ok(out)
}

enum Bind {
    I(i64),
    S(String),
}

// ---- editing a person (`domain::edits`) --------------------------------------------------

/// A column of `users` that `/user_edit` changes (its name is ours, never input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityColumn {
    FullName,
    Email,
    Phone,
    ExternalId,
}

impl IdentityColumn {
    fn name(self) -> &'static str {
        match self {
            Self::FullName => "full_name",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::ExternalId => "external_id",
        }
    }
}

/// Sets one identity column of a user to `new`, only while it still holds `expected` (a
/// compare-and-swap: `None` is SQL NULL); false when it no longer does. A value another user
/// took a moment ago (the column's UNIQUE index) is a conflict naming the column.
pub async fn swap_identity(
    c: &mut Conn,
    id: i64,
    column: IdentityColumn,
    expected: Option<&str>,
    new: &str,
) -> Result<bool> {
    let col = column.name();
    let q = match expected {
        Some(old) => sqlx::query(super::sql(format!(
            "UPDATE users SET {col} = $1 WHERE id = $2 AND {col} = $3"
        )))
        .bind(new)
        .bind(id)
        .bind(old),
        None => sqlx::query(super::sql(format!(
            "UPDATE users SET {col} = $1 WHERE id = $2 AND {col} IS NULL"
        )))
        .bind(new)
        .bind(id),
    };
    match q.execute(&mut *c).await {
        Ok(done) => Ok(done.rows_affected() == 1),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(crate::error::Error::conflict(format!(
                "that {} was given to someone else a moment ago: look again (/user_show) and choose another",
                col.replace('_', " ")
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets, changes or removes one tag of a user, only while it still holds `expected` (`None`:
/// the user has no tag of that key); `new` None removes it. False when the tag no longer held
/// `expected`.
pub async fn swap_tag(
    c: &mut Conn,
    user_id: i64,
    key: &str,
    expected: Option<&str>,
    new: Option<&str>,
) -> Result<bool> {
    let q = match (expected, new) {
        (None, None) => return Ok(true),
        (None, Some(v)) => sqlx::query(
            "INSERT INTO user_tags (user_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, key) DO NOTHING",
        )
        .bind(user_id)
        .bind(key)
        .bind(v),
        (Some(old), Some(v)) => sqlx::query(
            "UPDATE user_tags SET value = $1 WHERE user_id = $2 AND key = $3 AND value = $4",
        )
        .bind(v)
        .bind(user_id)
        .bind(key)
        .bind(old),
        (Some(old), None) => {
            sqlx::query("DELETE FROM user_tags WHERE user_id = $1 AND key = $2 AND value = $3")
                .bind(user_id)
                .bind(key)
                .bind(old)
        }
    };
    let done = q.execute(&mut *c).await?;
    Ok(done.rows_affected() == 1)
}

// ---- auto-pairing (`/autopair`) ------------------------------------------------------------

/// The personas of one role in a program with their users, oldest persona first (as
/// [`personas_in_program`] reads them): one query for everyone.
pub async fn personas_in_program_with_users(
    c: &mut Conn,
    program_id: i64,
    role: PersonaRole,
) -> Result<Vec<(Persona, User)>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {USER_COLS}, {JOINED_PERSONA_COLS} FROM personas p JOIN users u ON u.id = p.user_id \
         WHERE p.program_id = $1 AND p.role = $2 ORDER BY p.id"
    )))
    .bind(program_id)
    .bind(role.code())
    .fetch_all(&mut *c)
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(p) = persona_from_joined(r)? {
            found.push((p, user_from_row(r)?));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::like_containing;

    #[test]
    fn like_patterns_escape_wildcards_and_the_escape_character() {
        assert_eq!(like_containing("ann"), "%ann%");
        assert_eq!(like_containing("ann_a"), "%ann\\_a%");
        assert_eq!(like_containing("100%"), "%100\\%%");
        assert_eq!(like_containing("jo\\ao"), "%jo\\\\ao%");
    }
}

// ---- scope (docs/domain.md#scope) --------------------------------------------------------

/// Whom a staff member reaches with a capability they hold for some programs only: the people
/// with a persona or a staff role in those programs, the people of those programs'
/// organizations not in a program yet, and themselves.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub actor: Option<i64>,
    pub programs: Vec<i64>,
    pub orgs: Vec<i64>,
}

impl Reach {
    /// The ids of the people reached, as a subquery (ids are numbers we hold, never input).
    pub(crate) fn sql(&self) -> String {
        self.ids(None)
    }

    /// Whether the person in column `col` is reached, as a condition: [`Reach::ids`] narrowed
    /// to that row's person, so a list that stops after a page (newest first, `LIMIT`) checks
    /// only the rows it reads (the whole set built first took 370 ms at 100 000 people).
    pub(crate) fn contains(&self, col: &str) -> String {
        format!("{col} IN ({})", self.ids(Some(col)))
    }

    /// [`Reach::sql`], each branch narrowed to the person `who` (an SQL expression, like
    /// `$1`): the same rule, but the planner reads one person's rows instead of building the
    /// whole set (which took 355 ms at 100 000 people on PostgreSQL).
    fn ids(&self, who: Option<&str>) -> String {
        let only = |col: &str| who.map(|w| format!(" AND {col} = {w}")).unwrap_or_default();
        let ids = |v: &[i64]| {
            if v.is_empty() {
                "NULL".to_string()
            } else {
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            }
        };
        let (programs, orgs) = (ids(&self.programs), ids(&self.orgs));
        let actor = self
            .actor
            .map(|id| format!(" UNION SELECT {id}"))
            .unwrap_or_default();
        format!(
            "SELECT p.user_id FROM personas p WHERE p.program_id IN ({programs}){} \
             UNION SELECT s.user_id FROM staff_roles s WHERE s.program_id IN ({programs}){} \
             UNION SELECT u.id FROM users u WHERE u.org_id IN ({orgs}){} AND (\
             NOT EXISTS (SELECT 1 FROM personas q WHERE q.user_id = u.id) \
             OR EXISTS (SELECT 1 FROM personas q WHERE q.user_id = u.id AND q.program_id IS NULL)){actor}",
            only("p.user_id"),
            only("s.user_id"),
            only("u.id")
        )
    }
}

/// Whether `reach` reaches the person `user_id`.
pub async fn within_reach(c: &mut Conn, user_id: i64, reach: &Reach) -> Result<bool> {
    let found = sqlx::query(super::sql(format!(
        "SELECT 1 AS one FROM users WHERE id = $1 AND id IN ({})",
        reach.ids(Some("$1"))
    )))
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await?;
    Ok(found.is_some())
}

/// The text of [`inactive_candidate_ids`]' query, which [`inactive_due_at`] runs too: `$1` the
/// time, `$2` and `$3` the default `inactivity_after` and `inactivity_repeat` in milliseconds;
/// `u.id`, in id order.
fn inactive_candidates_sql() -> String {
    let usable: Vec<String> = UserStatus::ALL
        .into_iter()
        .filter(|s| s.info().bot_access == crate::status::BotAccess::Full)
        .map(|s| format!("'{}'", s.code()))
        .collect();
    format!(
        "SELECT u.id FROM users u \
         WHERE u.status IN ({usable}) \
           AND COALESCE(u.last_activity_at, u.created_at) <= $1 - \
               (SELECT MIN(m.after_ms) FROM \
                   (SELECT inactivity_after_secs * 1000 AS after_ms FROM programs UNION ALL SELECT $2) m) \
           AND EXISTS (SELECT 1 FROM personas p LEFT JOIN programs g ON g.id = p.program_id \
               WHERE p.user_id = u.id \
                 AND COALESCE(u.last_activity_at, u.created_at) <= $1 - COALESCE(g.inactivity_after_secs * 1000, $2) \
                 AND (u.inactivity_reminded_at IS NULL \
                      OR u.inactivity_reminded_at < COALESCE(u.last_activity_at, u.created_at) \
                      OR u.inactivity_reminded_at <= $1 - COALESCE(g.inactivity_repeat_secs * 1000, $3))) \
         ORDER BY u.id",
        usable = usable.join(", ")
    )
}

/// docs/domain.md#upcoming: the people [`inactive_candidate_ids`] finds at `at` — the sweep's
/// own query, run on the caller's connection — who have a persona in one of `programs` (all:
/// None), A–Z by name, at most `limit`.
pub async fn inactive_due_at(
    c: &mut Conn,
    at: DateTime<Utc>,
    default_after: Duration,
    default_repeat: Duration,
    programs: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<User>> {
    let scope = match programs {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => format!(
            " AND EXISTS (SELECT 1 FROM personas q WHERE q.user_id = u.id AND q.program_id IN ({}))",
            super::id_list(ids)
        ),
    };
    let sql = format!(
        "SELECT {USER_COLS} FROM users u WHERE u.id IN ({}){scope} \
         ORDER BY lower(u.full_name), u.id LIMIT $4",
        inactive_candidates_sql()
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .bind(ms(at))
        .bind(default_after.num_milliseconds())
        .bind(default_repeat.num_milliseconds())
        .bind(limit)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(user_from_row).collect()
}

/// A person's quiet-hour settings as stored (docs/domain.md#quiet-hours): their own window and
/// time zone (None: not set), and those of their program — the program of their oldest persona
/// that has one (None: no program).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuietOf {
    pub hours: Option<String>,
    pub timezone: Option<String>,
    pub program_hours: Option<String>,
    pub program_timezone: Option<String>,
}

/// [`QuietOf`] for each of `user_ids` (one query); a person not found is absent.
pub async fn quiet_of(
    c: &mut Conn,
    user_ids: &[i64],
) -> Result<std::collections::HashMap<i64, QuietOf>> {
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT u.id, u.quiet_hours, u.timezone, g.quiet_hours AS program_hours, \
         g.timezone AS program_timezone FROM users u LEFT JOIN programs g ON g.id = \
         (SELECT p.program_id FROM personas p WHERE p.user_id = u.id AND p.program_id IS NOT NULL \
          ORDER BY p.id LIMIT 1) WHERE u.id IN ({})",
        super::id_list(user_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                QuietOf {
                    hours: r.try_get("quiet_hours")?,
                    timezone: r.try_get("timezone")?,
                    program_hours: r.try_get("program_hours")?,
                    program_timezone: r.try_get("program_timezone")?,
                },
            ))
        })
        .collect()
}

/// Sets a person's own quiet hours (`off`, `22-07`…) and time zone (an IANA name), each when
/// given; None leaves that one as it is (docs/domain.md#quiet-hours).
pub async fn set_quiet(
    c: &mut Conn,
    user_id: i64,
    hours: Option<&str>,
    timezone: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET quiet_hours = COALESCE($1, quiet_hours), timezone = COALESCE($2, timezone) \
         WHERE id = $3",
    )
    .bind(hours)
    .bind(timezone)
    .bind(user_id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

// ---- a mentor's pause and places (docs/domain.md#availability) ---------------------------

/// A mentor's standing in one program, as the availability rules read it
/// (`domain::recommend::busy_reason`, `domain::recommend::places`): their pause, their own
/// capacity there if one was set (`/capacity`), the program's `mentor_capacity`, and how many
/// of their mentor personas there are matched now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentorLoad {
    pub user_id: i64,
    pub paused_until: Option<DateTime<Utc>>,
    pub own_capacity: Option<i64>,
    pub program_capacity: i64,
    pub matched: i64,
}

/// The columns of a [`MentorLoad`], for `users u`, `programs pr` and a LEFT JOINed
/// `mentor_capacities mc`; `$2` is the mentor role's code and `$3` the Matched status's.
const LOAD_COLS: &str = "u.id AS user_id, u.paused_until AS paused_until, \
     mc.capacity AS own_capacity, pr.mentor_capacity AS program_capacity, \
     (SELECT COUNT(*) FROM personas m WHERE m.user_id = u.id AND m.program_id = pr.id \
        AND m.role = $2 AND m.match_status = $3) AS matched";

fn load_from_row(r: &AnyRow) -> Result<MentorLoad> {
    Ok(MentorLoad {
        user_id: r.try_get("user_id")?,
        paused_until: get_opt_time(r, "paused_until")?,
        own_capacity: r.try_get("own_capacity")?,
        program_capacity: r.try_get("program_capacity")?,
        matched: r.try_get("matched")?,
    })
}

/// One mentor's load in one program (None: no such person or program).
pub async fn mentor_load(
    c: &mut Conn,
    user_id: i64,
    program_id: i64,
) -> Result<Option<MentorLoad>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {LOAD_COLS} FROM users u JOIN programs pr ON pr.id = $1 \
         LEFT JOIN mentor_capacities mc ON mc.user_id = u.id AND mc.program_id = pr.id \
         WHERE u.id = $4"
    )))
    .bind(program_id)
    .bind(PersonaRole::Mentor.code())
    .bind(MatchStatus::Matched.code())
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(load_from_row).transpose()
}

/// The loads of the mentors of a program who hold a free place there (an RTBM mentor persona)
/// and may yet take no new mentee: paused after `now`, or matched there already (so possibly
/// at capacity). Everyone else with a free place is free (capacity is at least 1). One query;
/// `only` narrows it to one person.
pub async fn loads_of_mentors_with_free_places(
    c: &mut Conn,
    program_id: i64,
    now: DateTime<Utc>,
    only: Option<i64>,
) -> Result<Vec<MentorLoad>> {
    let one = if only.is_some() { " AND u.id = $6" } else { "" };
    let mut q = sqlx::query(super::sql(format!(
        "SELECT DISTINCT {LOAD_COLS} FROM personas f \
         JOIN users u ON u.id = f.user_id \
         JOIN programs pr ON pr.id = f.program_id \
         LEFT JOIN mentor_capacities mc ON mc.user_id = u.id AND mc.program_id = pr.id \
         WHERE f.program_id = $1 AND f.role = $2 AND f.match_status = $4 \
           AND (u.paused_until > $5 OR EXISTS (SELECT 1 FROM personas b WHERE b.user_id = u.id \
                AND b.program_id = $1 AND b.role = $2 AND b.match_status = $3)){one}"
    )))
    .bind(program_id)
    .bind(PersonaRole::Mentor.code())
    .bind(MatchStatus::Matched.code())
    .bind(MatchStatus::ReadyToBeMatched.code())
    .bind(ms(now));
    if let Some(id) = only {
        q = q.bind(id);
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter().map(load_from_row).collect()
}

/// When `user_id`'s pause ends (None: not paused, or never was).
pub async fn paused_until(c: &mut Conn, user_id: i64) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT paused_until FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *c)
        .await?;
    match row {
        Some(r) => get_opt_time(&r, "paused_until"),
        None => Ok(None),
    }
}

/// Sets a pause's end (None: no pause) by a compare-and-swap on the end `expected`; false when
/// it was no longer that.
pub async fn set_paused_until(
    c: &mut Conn,
    user_id: i64,
    expected: Option<DateTime<Utc>>,
    new: Option<DateTime<Utc>>,
) -> Result<bool> {
    let done = match expected {
        Some(old) => {
            sqlx::query("UPDATE users SET paused_until = $1 WHERE id = $2 AND paused_until = $3")
                .bind(new.map(ms))
                .bind(user_id)
                .bind(ms(old))
                .execute(&mut *c)
                .await?
        }
        None => {
            sqlx::query("UPDATE users SET paused_until = $1 WHERE id = $2 AND paused_until IS NULL")
                .bind(new.map(ms))
                .bind(user_id)
                .execute(&mut *c)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// The people whose pause ended by `now` and is still recorded (not told yet), earliest end
/// first, at most `limit`.
pub async fn pauses_ended_by(c: &mut Conn, now: DateTime<Utc>, limit: i64) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM users WHERE paused_until IS NOT NULL AND paused_until <= $1 \
         ORDER BY paused_until, id LIMIT $2",
    )
    .bind(ms(now))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// A mentor's own capacity in a program (`/capacity`), replacing any set before.
pub async fn set_own_capacity(
    c: &mut Conn,
    user_id: i64,
    program_id: i64,
    capacity: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mentor_capacities (user_id, program_id, capacity) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, program_id) DO UPDATE SET capacity = excluded.capacity",
    )
    .bind(user_id)
    .bind(program_id)
    .bind(capacity)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// (user, program) of the mentors who may be short of free places (docs/domain.md#capacity):
/// taking part in a program whose capacity, or their own there, is above 1, with fewer open
/// mentor personas (RTBM or M) there than it. `domain::availability::top_up` decides each; this
/// query finds at least everyone it would change by adding, and only programs or people with a
/// number above 1 are read. At most `limit`.
pub async fn mentors_short_of_places(c: &mut Conn, limit: i64) -> Result<Vec<(i64, i64)>> {
    // Deactivated people get no places (nothing is done for them); the codes are the table's.
    let gone: Vec<String> = UserStatus::ALL
        .into_iter()
        .filter(|s| s.is_deactivated())
        .map(|s| format!("'{}'", s.code()))
        .collect();
    let rows = sqlx::query(super::sql(format!(
        "SELECT p.user_id AS user_id, p.program_id AS program_id FROM personas p \
         JOIN users u ON u.id = p.user_id \
         JOIN programs pr ON pr.id = p.program_id \
         LEFT JOIN mentor_capacities mc ON mc.user_id = p.user_id AND mc.program_id = p.program_id \
         WHERE p.role = $1 AND p.status = $2 AND p.match_status IN ($3, $4) \
           AND u.status NOT IN ({}) AND (pr.mentor_capacity > 1 OR mc.capacity > 1) \
         GROUP BY p.user_id, p.program_id, pr.mentor_capacity, mc.capacity \
         HAVING COUNT(*) < COALESCE(mc.capacity, pr.mentor_capacity) \
         ORDER BY p.user_id, p.program_id LIMIT $5",
        gone.join(", ")
    )))
    .bind(PersonaRole::Mentor.code())
    .bind(PersonaStatus::Active.code())
    .bind(MatchStatus::ReadyToBeMatched.code())
    .bind(MatchStatus::Matched.code())
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("user_id")?, r.try_get("program_id")?)))
        .collect()
}

/// Holds `user_id`'s row until the transaction ends (a write that changes nothing), so two
/// transactions counting and making that person's places (`domain::availability::top_up`)
/// run one after the other on PostgreSQL rather than both adding the same place; SQLite runs
/// one writer at a time anyway.
pub async fn hold(c: &mut Conn, user_id: i64) -> Result<()> {
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}
