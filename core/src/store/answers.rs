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

/// The answers of several users in one program each, by (user, program): what [`of`] returns
/// first, for many people in one query.
pub async fn of_users(
    c: &mut Conn,
    user_ids: &[i64],
    program_ids: &[i64],
) -> Result<std::collections::HashMap<(i64, i64), Answers>> {
    let mut out: std::collections::HashMap<(i64, i64), Answers> = std::collections::HashMap::new();
    if user_ids.is_empty() || program_ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT user_id, program_id, question, value FROM answers WHERE user_id IN ({}) AND program_id IN ({})",
        super::id_list(user_ids),
        super::id_list(program_ids)
    );
    let rows = sqlx::query(super::sql(sql))
        .persistent(false)
        .fetch_all(&mut *c)
        .await?;
    for r in rows {
        let value: String = r.try_get("value")?;
        if let Ok(a) = serde_json::from_str::<Answer>(&value) {
            out.entry((r.try_get("user_id")?, r.try_get("program_id")?))
                .or_default()
                .insert(r.try_get("question")?, a);
        }
    }
    Ok(out)
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

/// A mentor who may be recommended now, with their answers in compact form.
pub struct MentorAnswers {
    pub persona_id: i64,
    pub user_id: i64,
    pub full_name: String,
    /// Their complete answer to each question asked for, in the order asked: an index into
    /// [`AvailableMentors::answers`].
    pub answers: Vec<Option<u32>>,
}

/// The mentors a mentee may be recommended, each distinct answer parsed once and shared.
pub struct AvailableMentors {
    pub answers: Vec<Answer>,
    pub mentors: Vec<MentorAnswers>,
}

/// The separator of the answers aggregated per mentor: a control character, which an answer
/// never holds (stored as JSON, which escapes control characters) nor a question key (a-z 0-9 _).
const SEP: char = '\u{1f}';

/// Every mentor persona of `program_id` that can be matched now (user A, persona Active, RTBM:
/// docs/domain.md#availability), that is not `mentee_user_id`'s, and that never declined
/// `mentee_persona_id` nor let one of its offers expire; with their complete answers to `keys`.
/// One query, one short row per mentor (their answers aggregated in SQL), however large the
/// program: what the recommendations read (`domain::recommend`).
pub async fn of_available_mentors(
    c: &mut Conn,
    program_id: i64,
    mentee_persona_id: i64,
    mentee_user_id: i64,
    keys: &[&str],
) -> Result<AvailableMentors> {
    use crate::roles::PersonaRole;
    use crate::status::{MatchStatus, PersonaStatus, UserStatus};
    use crate::store::offers::OfferState;
    let matchable: Vec<String> = UserStatus::ALL
        .into_iter()
        .filter(|s| s.info().can_be_matched)
        .map(|s| format!("'{}'", s.code()))
        .collect();
    // $1–$7 below; the keys follow.
    let answers = if keys.is_empty() {
        "CAST(NULL AS TEXT)".to_string()
    } else {
        let placeholders = (0..keys.len())
            .map(|i| format!("${}", 8 + i))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "(SELECT string_agg(a.question || '=' || a.value, $7) FROM answers a \
             WHERE a.user_id = p.user_id AND a.program_id = $1 AND a.complete = 1 \
             AND a.question IN ({placeholders}))"
        )
    };
    let text = format!(
        "SELECT p.id AS persona_id, p.user_id, u.full_name, {answers} AS answers \
         FROM personas p JOIN users u ON u.id = p.user_id \
         WHERE p.program_id = $1 AND p.role = $2 AND p.status = $3 AND p.match_status = $4 \
           AND u.status IN ({matchable}) AND p.user_id <> $5 \
           AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.mentee_persona_id = $6 \
               AND o.mentor_persona_id = p.id AND o.state IN ('{declined}', '{expired}'))",
        matchable = matchable.join(", "),
        declined = OfferState::Declined.code(),
        expired = OfferState::Expired.code(),
    );
    let mut q = sqlx::query(super::sql(text))
        .bind(program_id)
        .bind(PersonaRole::Mentor.code())
        .bind(PersonaStatus::Active.code())
        .bind(MatchStatus::ReadyToBeMatched.code())
        .bind(mentee_user_id)
        .bind(mentee_persona_id);
    if !keys.is_empty() {
        q = q.bind(SEP.to_string());
        for k in keys {
            q = q.bind(*k);
        }
    }
    if c.backend_name() == "PostgreSQL" {
        // The per-mentor subquery lifts PostgreSQL's estimate past `jit_above_cost`, and
        // compiling the plan (20–30 ms for 10 000 mentors) costs more than it saves: off for the
        // rest of the command's transaction (outside one, SET LOCAL changes nothing).
        sqlx::query("SET LOCAL jit = off").execute(&mut *c).await?;
    }
    let rows = q.fetch_all(&mut *c).await?;
    // Each distinct "key=value" is parsed once (a program has few distinct answers to each
    // question): piece → (which key, which answer), None when it is not one.
    let mut seen: std::collections::HashMap<String, Option<(usize, u32)>> =
        std::collections::HashMap::new();
    let mut out = AvailableMentors {
        answers: Vec::new(),
        mentors: Vec::with_capacity(rows.len()),
    };
    for r in &rows {
        let mut mine = vec![None; keys.len()];
        if let Some(all) = r.try_get::<Option<String>, _>("answers")? {
            for piece in all.split(SEP) {
                let found = match seen.get(piece) {
                    Some(found) => *found,
                    None => {
                        let found = piece.split_once('=').and_then(|(key, value)| {
                            let at = keys.iter().position(|k| *k == key)?;
                            let a = serde_json::from_str::<Answer>(value).ok()?;
                            out.answers.push(a);
                            Some((at, (out.answers.len() - 1) as u32))
                        });
                        seen.insert(piece.to_string(), found);
                        found
                    }
                };
                if let Some((at, id)) = found {
                    mine[at] = Some(id);
                }
            }
        }
        out.mentors.push(MentorAnswers {
            persona_id: r.try_get("persona_id")?,
            user_id: r.try_get("user_id")?,
            full_name: r.try_get("full_name")?,
            answers: mine,
        });
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
