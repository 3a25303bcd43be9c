//! The numbers of `/overview` and of the staff digest's headline (docs/domain.md#commands): counts
//! grouped in SQL, so a program of any size costs a handful of statements, never a row per
//! person. Every function takes the programs to count (`None`: every program; an empty list:
//! none) and counts only what belongs to one of them: people by their personas' programs,
//! offers and matches by their own `program_id`. Unassigned personas belong to no program and
//! are not counted.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Conn, get_opt_time, get_time, ms, sql};
use crate::error::Result;
use crate::status::{BotAccess, MatchStatus, UserStatus};

/// The programs to count: `None` is every program.
pub type Scope<'a> = Option<&'a [i64]>;

/// `column` restricted to the scope's programs (ids are numbers from the database, written
/// into the text; no value typed by anyone goes there).
pub(super) fn in_scope(column: &str, scope: Scope<'_>) -> String {
    match scope {
        None => format!("{column} IS NOT NULL"),
        Some([]) => "1 = 0".to_string(),
        Some(ids) => format!(
            "{column} IN ({})",
            ids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where someone who may use the bot fully (A, SI) stands against their programs'
/// `inactivity_after` (docs/domain.md#inactivity).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    /// Active within `inactivity_after` (the shortest of their programs' in the scope).
    pub active: i64,
    /// Seen, but not within `inactivity_after`.
    pub inactive: i64,
    /// Never seen (`last_activity_at` unset): never ran a command or pressed a button.
    pub never: i64,
}

/// The counts of a set of programs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// People with a persona in the programs, by user status (each person once), in the order
    /// of [`UserStatus::ALL`].
    pub users: Vec<(UserStatus, i64)>,
    /// Active personas (not the ones made in error) in the programs, by match status, in the
    /// order of [`MatchStatus::ALL`].
    pub personas: Vec<(MatchStatus, i64)>,
    /// The people of `users` in A or SI, by activity.
    pub activity: Activity,
    /// Offers sent to a mentor and not answered yet.
    pub offers_pending: i64,
}

impl Counts {
    pub fn users_in(&self, s: UserStatus) -> i64 {
        self.users
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    }

    pub fn personas_in(&self, s: MatchStatus) -> i64 {
        self.personas
            .iter()
            .find(|(x, _)| *x == s)
            .map_or(0, |(_, n)| *n)
    }

    pub fn people(&self) -> i64 {
        self.users.iter().map(|(_, n)| n).sum()
    }

    /// "12 active, 4 inactive, 3 waiting for a match, 2 offers pending": the line the staff
    /// digest and `/overview` share. Inactive here is everyone in A or SI not active within
    /// `inactivity_after` (never seen included), so active + inactive is everyone who can use
    /// the bot; waiting for a match is the personas in RTBM.
    pub fn headline(&self) -> String {
        let offers = self.offers_pending;
        format!(
            "{} active, {} inactive, {} waiting for a match, {offers} offer{} pending",
            self.activity.active,
            self.activity.inactive + self.activity.never,
            self.personas_in(MatchStatus::ReadyToBeMatched),
            if offers == 1 { "" } else { "s" }
        )
    }
}

/// Counts people by user status and activity, personas by match status, and pending offers.
/// Activity is measured against the shortest `inactivity_after` among each person's programs
/// in the scope (as the inactivity rule does), from `now`.
pub async fn counts(c: &mut Conn, scope: Scope<'_>, now: DateTime<Utc>) -> Result<Counts> {
    // One row per (user status, activity): each person once, with the shortest threshold of
    // their programs in the scope.
    let rows = sqlx::query(sql(format!(
        "SELECT u.status AS status, \
                CASE WHEN u.last_activity_at IS NULL THEN 'never' \
                     WHEN u.last_activity_at >= $1 - t.after_ms THEN 'active' \
                     ELSE 'inactive' END AS activity, \
                COUNT(*) AS n \
         FROM users u \
         JOIN (SELECT p.user_id AS user_id, MIN(g.inactivity_after_secs) * 1000 AS after_ms \
               FROM personas p JOIN programs g ON g.id = p.program_id \
               WHERE {} GROUP BY p.user_id) t ON t.user_id = u.id \
         GROUP BY 1, 2",
        in_scope("p.program_id", scope)
    )))
    .bind(ms(now))
    .fetch_all(&mut *c)
    .await?;
    let mut users: Vec<(UserStatus, i64)> = UserStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut activity = Activity::default();
    for r in &rows {
        let status = UserStatus::from_code(&r.try_get::<String, _>("status")?)?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = users.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += n;
        }
        if status.info().bot_access == BotAccess::Full {
            match r.try_get::<String, _>("activity")?.as_str() {
                "active" => activity.active += n,
                "inactive" => activity.inactive += n,
                _ => activity.never += n,
            }
        }
    }

    let rows = sqlx::query(sql(format!(
        "SELECT p.match_status AS match_status, COUNT(*) AS n FROM personas p \
         WHERE p.status = 'active' AND {} GROUP BY 1",
        in_scope("p.program_id", scope)
    )))
    .fetch_all(&mut *c)
    .await?;
    let mut personas: Vec<(MatchStatus, i64)> = MatchStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for r in &rows {
        let status = MatchStatus::from_code(&r.try_get::<String, _>("match_status")?)?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = personas.iter_mut().find(|(s, _)| *s == status) {
            slot.1 += n;
        }
    }

    let offers_pending: i64 = sqlx::query(sql(format!(
        "SELECT COUNT(*) AS n FROM offers o WHERE o.state = 'pending' AND {}",
        in_scope("o.program_id", scope)
    )))
    .fetch_one(&mut *c)
    .await?
    .try_get("n")?;

    Ok(Counts {
        users,
        personas,
        activity,
        offers_pending,
    })
}

/// A pending offer: who asked whom, and by when the mentor should answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOffer {
    pub id: i64,
    pub program_id: Option<i64>,
    pub mentor: String,
    pub mentee: String,
    pub deadline_at: Option<DateTime<Utc>>,
}

/// The `limit` pending offers whose deadlines come soonest.
pub async fn soonest_offers(
    c: &mut Conn,
    scope: Scope<'_>,
    limit: i64,
) -> Result<Vec<PendingOffer>> {
    let rows = sqlx::query(sql(format!(
        "SELECT o.id AS id, o.program_id AS program_id, o.deadline_at AS deadline_at, \
                mu.full_name AS mentor, eu.full_name AS mentee \
         FROM offers o \
         JOIN personas mp ON mp.id = o.mentor_persona_id JOIN users mu ON mu.id = mp.user_id \
         JOIN personas ep ON ep.id = o.mentee_persona_id JOIN users eu ON eu.id = ep.user_id \
         WHERE o.state = 'pending' AND {} \
         ORDER BY o.deadline_at, o.id LIMIT $1",
        in_scope("o.program_id", scope)
    )))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingOffer {
                id: r.try_get("id")?,
                program_id: r.try_get("program_id")?,
                mentor: r.try_get("mentor")?,
                mentee: r.try_get("mentee")?,
                deadline_at: get_opt_time(r, "deadline_at")?,
            })
        })
        .collect()
}

/// A booked session and the two people of its match (None: that person was deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedSession {
    pub id: i64,
    pub program_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub mentor: Option<String>,
    pub mentee: Option<String>,
}

/// How many sessions are booked to start in `[from, to)`.
pub async fn sessions_between(
    c: &mut Conn,
    scope: Scope<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64> {
    Ok(sqlx::query(sql(format!(
        "SELECT COUNT(*) AS n FROM sessions s JOIN matches m ON m.id = s.match_id \
         WHERE s.state = 'booked' AND s.starts_at >= $1 AND s.starts_at < $2 AND {}",
        in_scope("m.program_id", scope)
    )))
    .bind(ms(from))
    .bind(ms(to))
    .fetch_one(&mut *c)
    .await?
    .try_get("n")?)
}

/// The first `limit` sessions booked to start in `[from, to)`, soonest first.
pub async fn next_sessions(
    c: &mut Conn,
    scope: Scope<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BookedSession>> {
    let rows = sqlx::query(sql(format!(
        "SELECT s.id AS id, m.program_id AS program_id, s.starts_at AS starts_at, \
                mu.full_name AS mentor, eu.full_name AS mentee \
         FROM sessions s JOIN matches m ON m.id = s.match_id \
         LEFT JOIN personas mp ON mp.id = m.mentor_persona_id \
         LEFT JOIN users mu ON mu.id = mp.user_id \
         LEFT JOIN personas ep ON ep.id = m.mentee_persona_id \
         LEFT JOIN users eu ON eu.id = ep.user_id \
         WHERE s.state = 'booked' AND s.starts_at >= $1 AND s.starts_at < $2 AND {} \
         ORDER BY s.starts_at, s.id LIMIT $3",
        in_scope("m.program_id", scope)
    )))
    .bind(ms(from))
    .bind(ms(to))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BookedSession {
                id: r.try_get("id")?,
                program_id: r.try_get("program_id")?,
                starts_at: get_time(r, "starts_at")?,
                mentor: r.try_get("mentor")?,
                mentee: r.try_get("mentee")?,
            })
        })
        .collect()
}

/// For each pair of consecutive `bounds` (`[b0, b1)`, `[b1, b2)`, …), how many people with a
/// persona in the scope had their **last** activity in it. `users.last_activity_at` is the only
/// record of activity there is (the audit log holds changes, not every command; the chat inbox
/// is pruned and names chats, not people), so this is "people whose last activity falls in each
/// week": someone active every week counts once, in the latest. It is cheap (one statement) and
/// honest about what it shows; the chart says so in its caption.
pub async fn last_active_between(
    c: &mut Conn,
    scope: Scope<'_>,
    bounds: &[DateTime<Utc>],
) -> Result<Vec<i64>> {
    if bounds.len() < 2 {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = (0..bounds.len() - 1)
        .map(|i| {
            format!(
                "COUNT(CASE WHEN u.last_activity_at >= ${} AND u.last_activity_at < ${} THEN 1 END) AS w{i}",
                i + 1,
                i + 2
            )
        })
        .collect();
    let mut q = sqlx::query(sql(format!(
        "SELECT {} FROM users u \
         WHERE EXISTS (SELECT 1 FROM personas p WHERE p.user_id = u.id AND {})",
        columns.join(", "),
        in_scope("p.program_id", scope)
    )));
    for b in bounds {
        q = q.bind(ms(*b));
    }
    let row = q.fetch_one(&mut *c).await?;
    (0..bounds.len() - 1)
        .map(|i| Ok(row.try_get::<i64, _>(format!("w{i}").as_str())?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_is_a_list_of_numbers_or_every_program_or_none() {
        assert_eq!(in_scope("p.program_id", None), "p.program_id IS NOT NULL");
        assert_eq!(in_scope("p.program_id", Some(&[])), "1 = 0");
        assert_eq!(
            in_scope("o.program_id", Some(&[3, 14])),
            "o.program_id IN (3, 14)"
        );
    }

    #[test]
    fn the_headline_counts_the_never_seen_as_inactive_and_says_offer_once() {
        let mut c = Counts {
            activity: Activity {
                active: 12,
                inactive: 3,
                never: 1,
            },
            offers_pending: 1,
            ..Counts::default()
        };
        c.personas = vec![(MatchStatus::ReadyToBeMatched, 3)];
        assert_eq!(
            c.headline(),
            "12 active, 4 inactive, 3 waiting for a match, 1 offer pending"
        );
        c.offers_pending = 2;
        assert!(c.headline().ends_with("2 offers pending"));
    }
}
