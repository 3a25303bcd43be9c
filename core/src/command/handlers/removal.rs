//! Permanent delete (two steps, export first) and data export.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Seek, Write};

use chrono::Duration;
use serde_json::{Value, json};

use super::prelude::*;
use crate::csv_safe;
use crate::domain::{self, Audit};
use crate::messages::FEEDBACK_QUESTIONS;
use crate::reply::{Attachment, echo};
use crate::store::pending::PendingAction;
use crate::store::users::User;
use crate::store::{self};
use crate::values::confirmation_token;

/// How long the confirmation of a delete stays valid.
const DELETE_CONFIRM_TTL_MINUTES: i64 = 15;

command! {
    pub struct Delete {
        name: "delete",
        about: "Permanently delete a user (two steps; you get an export first)",
        access: Access::Staff(Capability::DeleteUsers),
        example: "/delete ana@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            confirm: Option<Confirm> = opt(K::Line, ABOUT_CONFIRM),
        }
    }
}

pub(crate) async fn delete(ctx: &mut Ctx<'_>, a: Delete) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::DeleteUsers).await?;
    let me = ctx.me()?.id;
    if user.id == me {
        return Err(Error::conflict(
            "you cannot delete your own account: ask another super admin",
        ));
    }
    match a.confirm.as_ref().map(Confirm::as_str) {
        None => ask_to_delete(ctx, &user, me).await,
        Some(token) => confirm_delete(ctx, &user, me, token.trim()).await,
    }
}

/// Step one: hands over everything that is about to go, and a token for step two.
async fn ask_to_delete(ctx: &mut Ctx<'_>, user: &User, me: i64) -> Result<Reply> {
    let export = export_person(ctx, user).await?;
    let token = confirmation_token();
    let now = ctx.now;
    let action = PendingAction {
        token: token.clone(),
        actor_user_id: me,
        action: "delete".into(),
        subject_user_id: user.id,
        expires_at: now + Duration::minutes(DELETE_CONFIRM_TTL_MINUTES),
    };
    store::pending::insert(ctx.c(), &action, now).await?;
    let open = domain::matches::open_matches(ctx, user).await?;
    let closes = if open.is_empty() {
        String::new()
    } else {
        format!(
            " It closes {} for the other person.",
            open.iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let command = format!("/delete #{} confirm:{token}", user.id);
    let bytes = serde_json::to_vec_pretty(&export).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Reply::text(format!(
        "This permanently deletes {} and everything about them: personas, answers, offers, sessions, chat links and queued messages.{closes} \
         Attached is an export of all of it — keep it if you may need it.\nTo go ahead, within {DELETE_CONFIRM_TTL_MINUTES} minutes press the button or send {command}",
        user.label()
    ))
    .with_button("Delete permanently", command)
    .with_attachment(Attachment {
        file_name: format!("user-{}-before-delete.json", user.id),
        media_type: "application/json".into(),
        bytes,
    }))
}

async fn confirm_delete(ctx: &mut Ctx<'_>, user: &User, me: i64, token: &str) -> Result<Reply> {
    let action = store::pending::take(ctx.c(), token).await?;
    let valid = action.as_ref().is_some_and(|a| {
        a.action == "delete" && a.actor_user_id == me && a.subject_user_id == user.id
    });
    let Some(action) = action.filter(|_| valid) else {
        return Err(Error::conflict(format!(
            "that confirmation does not match a delete of {} you asked for: start again with /delete #{}",
            user.full_name, user.id
        )));
    };
    if action.expires_at <= ctx.now {
        return Err(Error::conflict(format!(
            "that confirmation expired: start again with /delete #{}",
            user.id
        )));
    }
    for (m, _) in domain::matches::open_matches(ctx, user).await? {
        domain::matches::close_match(ctx, &m, Some("the other person was deleted")).await?;
    }
    store::audit::forget_user(ctx.c(), user.id).await?;
    let phone = user.phone.clone().unwrap_or_default();
    store::outbox::forget_mentions(ctx.c(), &[&user.email, &phone, &user.full_name]).await?;
    store::inbox::forget_mentions(ctx.c(), &[&user.email, &phone, &user.full_name]).await?;
    store::users::delete_user(ctx.c(), user.id).await?;
    // The one entry that stays: an id and the fact, no personal data.
    ctx.audit(Audit::deleted_user(user.id)).await?;
    Ok(Reply::text(format!(
        "User #{} has been permanently deleted.",
        user.id
    )))
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339()))
        .unwrap_or(Value::Null)
}

/// Everything stored about one person, as JSON.
async fn export_person(ctx: &mut Ctx<'_>, user: &User) -> Result<Value> {
    let tags = store::users::tags(ctx.c(), user.id).await?;
    let mut personas = Vec::new();
    for p in store::users::personas_of(ctx.c(), user.id).await? {
        let mut matches = Vec::new();
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            matches.push(json!({
                "id": m.id, "state": m.state.code(), "via": m.via,
                "mentee_persona_id": m.mentee_persona_id, "mentor_persona_id": m.mentor_persona_id,
                "created_at": m.created_at.to_rfc3339(), "closed_at": time(m.closed_at),
            }));
        }
        personas.push(json!({
            "id": p.id, "role": p.role.code(), "program_id": p.program_id, "status": p.status.code(),
            "match_status": p.match_status.code(), "created_at": p.created_at.to_rfc3339(), "matches": matches,
        }));
    }
    let links: Vec<Value> = store::links::links_of_user(ctx.c(), user.id)
        .await?
        .into_iter()
        .map(|l| json!({"provider": l.provider, "account_id": l.account_id, "handle": l.handle}))
        .collect();
    let staff: Vec<Value> = store::staff::grants_of(ctx.c(), user.id)
        .await?
        .into_iter()
        .map(|g| json!({"role": g.role.code(), "program_id": g.program_id}))
        .collect();
    let audit: Vec<Value> = store::audit::list(ctx.c(), Some(user.id), 100_000)
        .await?
        .into_iter()
        .map(|e| json!({
            "id": e.id, "at": e.at.to_rfc3339(), "actor_user_id": e.actor_user_id, "frontend": e.frontend,
            "entity": e.entity, "entity_id": e.entity_id, "field": e.field, "old": e.old_value, "new": e.new_value,
            "reason": e.reason,
        }))
        .collect();
    let messages: Vec<Value> = store::outbox::by_recipient(ctx.c(), user.id)
        .await?
        .into_iter()
        .map(|m| json!({
            "id": m.id, "created_at": m.created_at.to_rfc3339(), "channel": m.channel, "kind": m.kind,
            "recipient": m.recipient, "subject": m.subject, "body": m.body_text, "status": m.status,
            "sent_at": time(m.sent_at),
        }))
        .collect();
    let feedback: Vec<Value> = store::feedback::of_user(ctx.c(), user.id)
        .await?
        .into_iter()
        .map(|a| json!({"match_id": a.match_id, "question": a.question, "answer": a.answer, "answered_at": a.answered_at.to_rfc3339()}))
        .collect();
    Ok(json!({
        "user": user_json(user),
        "tags": tags.iter().map(|t| (t.key.clone(), Value::String(t.value.clone()))).collect::<serde_json::Map<_, _>>(),
        "personas": personas,
        "staff_roles": staff,
        "chat_links": links,
        "audit_log": audit,
        "messages": messages,
        "match_feedback": feedback,
    }))
}

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "full_name": u.full_name, "email": u.email, "phone": u.phone, "external_id": u.external_id,
        "status": u.status.code(), "org_id": u.org_id, "created_at": u.created_at.to_rfc3339(),
        "first_seen_at": time(u.first_seen_at), "last_activity_at": time(u.last_activity_at),
    })
}

command! {
    pub struct Export {
        name: "export",
        about: "Export people, personas and matches as CSV or JSON",
        access: Access::Staff(Capability::ExportData),
        example: "/export format:json",
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
            format: Option<String> = opt(K::Choice(FORMATS), "csv (default) or json"),
        }
    }
}

/// docs/domain.md#capabilities: exporting raw data is the super admin's. One row per persona
/// (staff: one row).
pub(crate) async fn export(ctx: &mut Ctx<'_>, a: Export) -> Result<Reply> {
    let format = a
        .format
        .as_deref()
        .map(|f| f.trim().to_lowercase())
        .unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "json" {
        return Err(Error::input(format!(
            "format:{} is not offered: use csv or json",
            echo(&format)
        )));
    }
    let program = match a.program.as_deref() {
        Some(p) => Some(ctx.find_program(p, Capability::ExportData).await?),
        None => None,
    };
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let program_names: HashMap<i64, String> =
        programs.iter().map(|p| (p.id, p.full_name())).collect();
    let program_name = |id: Option<i64>| {
        id.and_then(|id| program_names.get(&id))
            .cloned()
            .unwrap_or_default()
    };
    let json = format == "json";
    // One query (`store::export`), in `/user_list`'s order: each person goes to the file as
    // their rows arrive and is then dropped, so what this holds does not grow with the number
    // of people.
    let mut file = ExportFile::new(json)?;
    let mut people = store::export::people(ctx.c(), program.as_ref().map(|p| p.id));
    while let Some(person) = people.next().await? {
        file.person(&person_json(&person, &program_name))?;
    }
    drop(people);
    let count = file.people;
    let stamp = ctx.now.format("%Y%m%d-%H%M");
    let (extension, media_type) = if json {
        ("json", "application/json")
    } else {
        ("csv", "text/csv")
    };
    let attachment = Attachment {
        file_name: format!("mentorops-export-{stamp}.{extension}"),
        media_type: media_type.into(),
        bytes: file.finish()?,
    };
    Ok(Reply::text(format!(
        "Export of {count} {} attached.",
        if count == 1 { "person" } else { "people" }
    ))
    .with_attachment(attachment))
}

/// One person of `/export` as JSON: their user fields, `tags` as `key=value,…`, and
/// `personas`. The CSV is made from this same value (`csv_rows`), so both say the same.
///
/// Close-of-match feedback (docs/domain.md#feedback) is given per match, and a persona is
/// matched once (seed 000), so each persona carries the answers its person gave about its
/// match: `feedback_match_id` and one column per question (`FEEDBACK_QUESTIONS`' `column`, the
/// answer's code), empty where nothing was answered. Should a persona ever have answers about
/// two matches (a match closed, then a new one), the newest match's are shown.
fn person_json(
    person: &store::export::ExportedPerson,
    program_name: &dyn Fn(Option<i64>) -> String,
) -> Value {
    let personas = person
        .personas
        .iter()
        .map(|p| {
            let mut v = json!({
                "persona_id": p.id, "role": p.role.code(), "program": program_name(p.program_id),
                "persona_status": p.status.code(), "match_status": p.match_status.code(),
                "open_match_id": p.open_match_id,
            });
            let newest = p.feedback.iter().map(|a| a.match_id).max();
            v[CSV_FEEDBACK_MATCH] = newest.map_or(Value::Null, Value::from);
            for q in &FEEDBACK_QUESTIONS {
                v[q.column] = p
                    .feedback
                    .iter()
                    .find(|a| Some(a.match_id) == newest && a.question == q.number)
                    .map_or(Value::Null, |a| Value::String(a.answer.clone()));
            }
            v
        })
        .collect();
    let mut v = user_json(&person.user);
    v["tags"] = Value::String(
        person
            .tags
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    v["personas"] = Value::Array(personas);
    v
}

/// The export file, written as people are read: to a temporary file (anonymous: the system
/// removes it even if we die half-way), then read back whole for the reply.
///
/// Why the reply still carries bytes (`Attachment::bytes`) rather than the file's path: a chat
/// command's reply is queued in the outbox with its files, in the command's own transaction
/// (`command::inbound`, `store::outbox::insert_with`), so the bytes are needed there anyway and
/// a temporary file would be gone before the reply is delivered; and `Attachment` is also what
/// people send in (`/user_import`). What stays in memory is the file itself, read once at its
/// exact size (at 100 000 people: 23 MB of CSV, 63 MB of JSON).
struct ExportFile {
    out: BufWriter<std::fs::File>,
    json: bool,
    people: usize,
}

impl ExportFile {
    fn new(json: bool) -> Result<Self> {
        let mut out = BufWriter::new(tempfile::tempfile().map_err(io_error)?);
        if !json {
            let mut header = csv_safe::Writer::new();
            header.row(CSV_USER.iter().copied().chain(persona_columns()))?;
            out.write_all(&header.into_bytes()?).map_err(io_error)?;
        }
        Ok(Self {
            out,
            json,
            people: 0,
        })
    }

    /// Appends one person: a JSON array element, or their CSV rows.
    fn person(&mut self, v: &Value) -> Result<()> {
        if self.json {
            // What `serde_json::to_vec_pretty` writes for the whole array: `[`, each element on
            // its own lines one level in, `,` between, `]`. One level in is two more spaces on
            // every line (a JSON string never holds a raw line break).
            let pretty =
                serde_json::to_vec_pretty(v).map_err(|e| Error::Internal(e.to_string()))?;
            self.out
                .write_all(if self.people == 0 { b"[\n" } else { b",\n" })
                .map_err(io_error)?;
            for (i, line) in pretty.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    self.out.write_all(b"\n").map_err(io_error)?;
                }
                self.out.write_all(b"  ").map_err(io_error)?;
                self.out.write_all(line).map_err(io_error)?;
            }
        } else {
            let mut w = csv_safe::Writer::new();
            csv_rows(&mut w, v)?;
            self.out.write_all(&w.into_bytes()?).map_err(io_error)?;
        }
        self.people += 1;
        Ok(())
    }

    /// The whole file.
    fn finish(mut self) -> Result<Vec<u8>> {
        if self.json {
            let end: &[u8] = if self.people == 0 { b"[]" } else { b"\n]" };
            self.out.write_all(end).map_err(io_error)?;
        }
        let mut file = self
            .out
            .into_inner()
            .map_err(|e| io_error(e.into_error()))?;
        let len = file.stream_position().map_err(io_error)?;
        file.rewind().map_err(io_error)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or_default());
        file.read_to_end(&mut bytes).map_err(io_error)?;
        Ok(bytes)
    }
}

/// A temporary file that cannot be written or read is ours to fix, not the person's.
fn io_error(e: std::io::Error) -> Error {
    Error::Internal(format!("export file: {e}"))
}

const CSV_USER: [&str; 10] = [
    "id",
    "full_name",
    "email",
    "phone",
    "external_id",
    "status",
    "tags",
    "created_at",
    "first_seen_at",
    "last_activity_at",
];
const CSV_PERSONA: [&str; 6] = [
    "persona_id",
    "role",
    "program",
    "persona_status",
    "match_status",
    "open_match_id",
];

/// A persona's columns: `CSV_PERSONA`, then its feedback (`person_json`).
fn persona_columns() -> impl Iterator<Item = &'static str> {
    CSV_PERSONA
        .iter()
        .copied()
        .chain([CSV_FEEDBACK_MATCH])
        .chain(FEEDBACK_QUESTIONS.iter().map(|q| q.column))
}

const CSV_FEEDBACK_MATCH: &str = "feedback_match_id";

/// One person's CSV rows (one per persona, or one with empty persona cells), through
/// `csv_safe`: names, external ids and tags are whatever people typed, and this file is opened
/// in spreadsheets.
fn csv_rows(w: &mut csv_safe::Writer, r: &Value) -> Result<()> {
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let user: Vec<String> = CSV_USER.iter().map(|k| cell(&r[*k])).collect();
    let personas = r["personas"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if personas.is_empty() {
        w.row(
            user.iter()
                .cloned()
                .chain(persona_columns().map(|_| String::new())),
        )?;
    }
    for p in personas {
        w.row(
            user.iter()
                .cloned()
                .chain(persona_columns().map(|k| cell(&p[k]))),
        )?;
    }
    Ok(())
}
