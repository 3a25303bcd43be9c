//! Reading a whole `/export` as one stream: every person with their tags and personas, in the
//! order `/user_list` shows them, from one query whose rows are handed over as they arrive —
//! however many people there are, only one person is held at a time.
//!
//! The query is a `UNION ALL` of four parts, each row carrying its user's sort key, id and
//! which part it is: the user (part 0), then their tags (part 1, by key, as `users::tags`
//! reads them), then their personas (part 2, by id, as `users::personas_of` does) with the id
//! of each one's open match (the newest, as `matches::of_persona` + "first open" found it),
//! then the close-of-match feedback they gave (part 3, one row per answer, by persona, match
//! and question; each answer belongs to the person's persona in that match).
//! One query because a command's reads share its transaction's one connection, on which only
//! one result can stream at a time. SQLite merges the parts, each read in order through
//! the index `users_first_name`; PostgreSQL sorts them once (at 100 000 people, about 330 000
//! rows in about a second, spilling to its own disk, not to our memory).

use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Conn;
use super::matches::MatchState;
use super::users::{User, UserSort, sort_keys, user_from_row};
use crate::error::{Error, Result};
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::values::Tag;

/// A persona as the export shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPersona {
    pub id: i64,
    pub role: PersonaRole,
    pub program_id: Option<i64>,
    pub status: PersonaStatus,
    pub match_status: MatchStatus,
    /// The newest open match the persona is in.
    pub open_match_id: Option<i64>,
    /// The person's close-of-match answers about this persona's matches, by match, then
    /// question (docs/domain.md#feedback).
    pub feedback: Vec<ExportedAnswer>,
}

/// One close-of-match answer: `answer` (its code) to question `question` about `match_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedAnswer {
    pub match_id: i64,
    pub question: i64,
    pub answer: String,
}

/// One person of an export.
#[derive(Debug, Clone)]
pub struct ExportedPerson {
    pub user: User,
    /// By key.
    pub tags: Vec<Tag>,
    /// By id; only the program's when the export is of one program.
    pub personas: Vec<ExportedPersona>,
}

/// The people of an export, one at a time ([`People::next`]).
pub struct People<'c> {
    rows: BoxStream<'c, std::result::Result<AnyRow, sqlx::Error>>,
    current: Option<ExportedPerson>,
}

/// Everyone (`program_id` None: staff-only accounts too, with every persona), or the people
/// with a persona in one program (with only those personas) — who `users::list_users` finds
/// for `program_ids: [program_id]`, in the same order (`users::sort_keys`, first name).
pub fn people(c: &mut Conn, program_id: Option<i64>) -> People<'_> {
    let keys = sort_keys(c, UserSort::FirstName);
    let key = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} AS k{i}, "))
        .collect::<String>();
    let order = (0..keys.len())
        .map(|i| format!("k{i}, "))
        .collect::<String>();
    let (users_where, personas_where) = match program_id {
        Some(_) => (
            "EXISTS (SELECT 1 FROM personas x WHERE x.user_id = u.id AND x.program_id = $1)",
            "p.program_id = $1",
        ),
        None => ("1 = 1", "1 = 1"),
    };
    let open = MatchState::Open.code();
    // Typed NULLs: PostgreSQL gives each column of a UNION the type of its branches.
    let (int, text) = ("CAST(NULL AS BIGINT)", "CAST(NULL AS TEXT)");
    let no_answer = format!("{int} AS fb_match_id, {int} AS fb_question, {text} AS fb_answer");
    let no_persona = format!("{text}, {int}, {text}, {text}, {int}");
    let no_user = format!(
        "{int} AS id, {text} AS email, {text} AS phone, {text} AS external_id, {text} AS full_name, \
         {text} AS status, {int} AS org_id, {int} AS created_at, {int} AS first_seen_at, {int} AS last_activity_at"
    );
    let query = format!(
        "SELECT u.id AS user_id, {key}CAST(0 AS BIGINT) AS part, {users_cols}, \
                {text} AS tag_key, {text} AS tag_value, {int} AS persona_id, {text} AS persona_role, \
                {int} AS persona_program_id, {text} AS persona_status, {text} AS persona_match_status, \
                {int} AS open_match_id, {no_answer} \
           FROM users u WHERE {users_where} \
         UNION ALL \
         SELECT u.id, {key}CAST(1 AS BIGINT), {no_user}, t.key, t.value, {int}, {no_persona}, {no_answer} \
           FROM user_tags t JOIN users u ON u.id = t.user_id WHERE {users_where} \
         UNION ALL \
         SELECT u.id, {key}CAST(2 AS BIGINT), {no_user}, {text}, {text}, p.id, p.role, p.program_id, p.status, \
                p.match_status, om.open_match_id, {no_answer} \
           FROM personas p JOIN users u ON u.id = p.user_id \
           LEFT JOIN (SELECT o.persona_id, MAX(o.id) AS open_match_id FROM \
                        (SELECT mentee_persona_id AS persona_id, id FROM matches WHERE status = '{open}' \
                         UNION ALL \
                         SELECT mentor_persona_id, id FROM matches WHERE status = '{open}') o \
                      GROUP BY o.persona_id) om ON om.persona_id = p.id \
          WHERE {personas_where} \
         UNION ALL \
         SELECT u.id, {key}CAST(3 AS BIGINT), {no_user}, {text}, {text}, p.id, {no_persona}, \
                f.match_id, f.question, f.answer \
           FROM match_feedback f JOIN matches m ON m.id = f.match_id \
           JOIN personas p ON p.user_id = f.user_id \
                          AND (p.id = m.mentee_persona_id OR p.id = m.mentor_persona_id) \
           JOIN users u ON u.id = p.user_id \
          WHERE {personas_where} \
         ORDER BY {order}user_id, part, tag_key, persona_id, fb_match_id, fb_question",
        users_cols = super::users::USER_COLS,
    );
    let mut q = sqlx::query(super::sql(query));
    if let Some(id) = program_id {
        q = q.bind(id);
    }
    People {
        rows: q.fetch(&mut *c),
        current: None,
    }
}

impl People<'_> {
    /// The next person, or None after the last.
    pub async fn next(&mut self) -> Result<Option<ExportedPerson>> {
        while let Some(row) = self.rows.try_next().await? {
            let user_id: i64 = row.try_get("user_id")?;
            match row.try_get::<i64, _>("part")? {
                0 => {
                    let person = ExportedPerson {
                        user: user_from_row(&row)?,
                        tags: Vec::new(),
                        personas: Vec::new(),
                    };
                    if let Some(done) = self.current.replace(person) {
                        return Ok(Some(done));
                    }
                }
                1 => self.of(user_id)?.tags.push(Tag {
                    key: row.try_get("tag_key")?,
                    value: row.try_get("tag_value")?,
                }),
                2 => {
                    let persona = persona_from_row(&row)?;
                    self.of(user_id)?.personas.push(persona);
                }
                _ => {
                    let persona_id: i64 = row.try_get("persona_id")?;
                    let answer = ExportedAnswer {
                        match_id: row.try_get("fb_match_id")?,
                        question: row.try_get("fb_question")?,
                        answer: row.try_get("fb_answer")?,
                    };
                    // Their persona rows came just before (part 2, by id).
                    self.of(user_id)?
                        .personas
                        .iter_mut()
                        .find(|p| p.id == persona_id)
                        .ok_or_else(|| {
                            Error::Internal(format!(
                                "export: feedback of persona #{persona_id} came without the persona"
                            ))
                        })?
                        .feedback
                        .push(answer);
                }
            }
        }
        Ok(self.current.take())
    }

    /// The person a tag or persona row belongs to: the one read last (their user row comes
    /// first, then theirs, before the next person's).
    fn of(&mut self, user_id: i64) -> Result<&mut ExportedPerson> {
        self.current
            .as_mut()
            .filter(|p| p.user.id == user_id)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "export: a row of user #{user_id} came apart from the user"
                ))
            })
    }
}

fn persona_from_row(r: &AnyRow) -> Result<ExportedPersona> {
    Ok(ExportedPersona {
        id: r.try_get("persona_id")?,
        role: PersonaRole::from_code(&r.try_get::<String, _>("persona_role")?)?,
        program_id: r.try_get("persona_program_id")?,
        status: PersonaStatus::from_code(&r.try_get::<String, _>("persona_status")?)?,
        match_status: MatchStatus::from_code(&r.try_get::<String, _>("persona_match_status")?)?,
        open_match_id: r.try_get("open_match_id")?,
        feedback: Vec::new(),
    })
}
