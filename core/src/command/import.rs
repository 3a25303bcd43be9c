//! `/user_import`: people from a CSV file, checked whole, then added in chunks.
//!
//! One transaction for a whole file held the database for as long as the import ran (a
//! 132 000-row file over Telegram on SQLite: 199 s, and most other people's commands failed
//! waiting for it) and kept every parsed row and every welcome email in memory (RSS 27 →
//! 698 MB). So the engine hands `/user_import` here instead of opening a command transaction,
//! and it runs in steps, each in a transaction of its own:
//!
//! 1. **Who asks, and did this message run before?** A short transaction that writes nothing.
//! 2. **Count** the rows, without the database: a file with more rows than `import.max_rows`
//!    is refused at the first row over, naming the limit and asking for smaller files.
//! 3. **Check every row** in one read-only transaction, streaming the CSV: a row is read as
//!    `/user_add` reads a person (`parse_person`); duplicates within the file are found from
//!    the emails, phones and external IDs seen so far (that is all that is kept per row), and
//!    against the people already stored with one query per [`CHUNK`] rows. One bad row and
//!    nothing is imported (all or nothing, as before): the answer names the first
//!    [`SHOWN_PROBLEMS`] problems and counts the rest, and a chat caller also gets every one of
//!    them in `problems.csv`.
//! 4. **Claim** the message: a chat update is recorded as handled here, not at the end, so a
//!    second run of it (a redelivery, or a lease that ran out while a big file was checked)
//!    finds it handled and runs nothing, while the chunks below are being added.
//! 5. **Add** the rows in chunks of at most [`CHUNK`] rows or [`CHUNK_TIME`] of work, one
//!    transaction each: every person with their persona, audit entries, link code and welcome
//!    email, exactly as `/user_add` does ([`people::create_person`]). Other commands run between
//!    two chunks, so none waits much longer than one chunk; on SQLite, where writers queue on
//!    the busy timeout, each chunk is followed by a pause ([`SQLITE_PAUSE`]) long enough for
//!    every waiting writer to wake up and get in.
//! 6. **Answer**: the caller's activity and the reply, in a last transaction.
//!
//! A chat caller is told how far it got at least every [`PROGRESS_EVERY_SECS`] seconds (plus
//! the time of one chunk): while the file is checked, and after the chunk that passes the mark,
//! queued in that chunk's own transaction (so a message never claims more than is stored). The
//! messages go to the reply's lane in the outbox (the chat, or the account's DMs for Discord),
//! before the reply itself, which is queued last and so arrives last. They are replies (kind
//! `reply`): sent to whoever asked, and pruned a day after they were sent.
//!
//! Decisions:
//! - **Someone adds the same person while the import runs.** Each chunk checks its rows again
//!   in its own transaction; a row whose email, phone or external ID was taken since the check
//!   (or whose program went away) is skipped, and the answer names it, line by line. A chunk
//!   that fails (on PostgreSQL, a key taken by a transaction that committed under it) is tried
//!   again, up to [`ATTEMPTS`] times; its re-check then skips that row.
//! - **The import stops half-way** (the database is away for longer than the retries, or the
//!   uploader lost the right to add people): what was added stays. The answer says how many
//!   were added, and from which line to send the rows again; no chunk is ever half added. A
//!   process killed mid-import (a crash, a deploy that does not wait for it) leaves the chunks
//!   it committed and sends no answer; its last progress message says how far it got.
//! - **The uploader's next messages** do not wait for the import: once it is claimed (step 4)
//!   its chat's next update is the head of the chat's lane and runs (the lanes of
//!   docs/chat-edge.md), so a `/user_list` sent meanwhile is answered before the summary and
//!   sees the people added so far. Updates still start in the order they came.
//! - **Memory**: the file is read three times from the bytes that came with the command (no
//!   copy); what is kept is the emails, phones and external IDs seen, the problems found, and
//!   one chunk of rows at a time. Only the first [`KEPT_QUEUED`] queued messages are handed
//!   back to the front-end (the console prints them); all of them are in the outbox.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{error, info, warn};

use super::access::allowed;
use super::args::Invocation;
use super::caller::{Caller, Frontend, Who};
use super::ctx::Ctx;
use super::declare::command;
use super::engine::Engine;
use super::inbound::{Inbound, finish};
use super::spec::{Access, ArgKind as K, CommandSpec, Runs};
use crate::csv_safe;
use crate::db::Backend;
use crate::domain::people::{self, NewPerson};
use crate::domain::{Actor, Work};
use crate::error::{Error, Result};
use crate::reply::{Attachment, Reply};
use crate::roles::{Capability, PersonaRole};
use crate::status::UserStatus;
use crate::store::orgs::Program;
use crate::store::outbox::{self, NewMessage};
use crate::store::{self, Conn};
use crate::values::{Email, ExternalId, FullName, Phone, Tag};

/// The most rows added in one transaction (and looked up together).
pub const CHUNK: usize = 500;

/// The most time one chunk holds the database: past it, the chunk commits what it added and
/// the rest of its rows go to the next one. Others' commands wait for at most about this (plus
/// a row), however slow a row gets (a big table, a busy disk) — far below SQLite's 10 s busy
/// timeout. A row takes about a millisecond (BENCHMARKS.md), so a chunk is usually all of its
/// rows in a release build.
pub const CHUNK_TIME: Duration = Duration::from_millis(250);

/// How often, at least, a chat caller hears how far the import got (the issue asks for 10 s; a
/// message is queued after the first chunk that ends this long after the last one).
pub const PROGRESS_EVERY_SECS: i64 = 5;

/// Problems listed in the answer; the rest are counted (and sent as `problems.csv` in chat).
pub const SHOWN_PROBLEMS: usize = 20;

/// How often a chunk is tried before the import stops.
pub const ATTEMPTS: u32 = 3;

/// The pause after each chunk on SQLite. A writer waiting on the busy timeout sleeps between
/// tries, 100 ms at most once it has waited a quarter of a second (SQLite's busy handler): a
/// shorter gap could pass while every waiter sleeps, and the next chunk would take the lock
/// again — the starvation that made other commands fail. PostgreSQL needs none: the rows a
/// chunk inserts lock nothing another command waits for.
pub const SQLITE_PAUSE: Duration = Duration::from_millis(100);

/// Messages an import hands back to the front-end with its reply (the console prints them).
pub const KEPT_QUEUED: usize = 20;

/// The columns a file may have; the first four are required.
const COLUMNS: [&str; 8] = [
    "name",
    "email",
    "phone",
    "role",
    "program",
    "org",
    "external_id",
    "tags",
];

/// Entries kept per kind of place looked up (a file of made-up program names must not grow
/// the cache without bound; past this, lookups just are not remembered).
const MAX_REMEMBERED_PLACES: usize = 1000;

/// The fields of one person as typed in a command or a CSV row.
pub(crate) struct PersonFields<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: &'a str,
    pub role: &'a str,
    pub program: Option<&'a str>,
    pub org: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub tags: Option<&'a str>,
}

/// A person as `/user_add` and each row of `/user_import` give one: every value parsed by its
/// own rule, the program and organization found within the caller's scope. `places` remembers
/// the programs and organizations found, for the rows that follow (`Places::default()` for
/// one person).
pub(crate) async fn parse_person(
    ctx: &mut Ctx<'_>,
    f: PersonFields<'_>,
    places: &mut Places,
) -> Result<NewPerson> {
    let name = FullName::parse(f.name)?;
    let email = Email::parse(f.email)?;
    let region = ctx.settings().phone_region().map(str::to_string);
    let phone = Phone::parse(f.phone, region.as_deref())?;
    let role = PersonaRole::parse(f.role)?;
    let external_id = f
        .external_id
        .filter(|s| !s.trim().is_empty())
        .map(ExternalId::parse)
        .transpose()?;
    let tags = f.tags.map(Tag::parse_list).transpose()?.unwrap_or_default();
    if !tags.is_empty() && !ctx.actor.holds(Capability::EditTags) {
        return Err(Error::forbidden(
            "identifiers (tags) are set by a super admin: leave tags out, or ask one to add them",
        ));
    }
    let program = match f.program.filter(|s| !s.trim().is_empty()) {
        Some(p) => Some(places.program(ctx, p).await?),
        None => None,
    };
    let org_id = match (&program, f.org.filter(|s| !s.trim().is_empty())) {
        (Some(p), _) => Some(p.org_id),
        (None, Some(o)) => Some(places.org(ctx, o).await?),
        (None, None) => Some(places.default_org(ctx).await?),
    };
    Ok(NewPerson {
        name,
        email,
        phone,
        external_id,
        role: Some(role),
        program,
        org_id,
        tags,
        status: UserStatus::ApplicationIncomplete,
    })
}

/// Programs and organizations looked up by what was typed, each once per file (a row of a
/// 50 000-row file otherwise read the list of programs again).
#[derive(Default)]
pub(crate) struct Places {
    programs: HashMap<String, Result<Program>>,
    orgs: HashMap<String, Result<i64>>,
    default_org: Option<Result<i64>>,
}

impl Places {
    async fn program(&mut self, ctx: &mut Ctx<'_>, reference: &str) -> Result<Program> {
        if let Some(known) = self.programs.get(reference) {
            return copy(known);
        }
        let found = ctx.find_program(reference, Capability::AddUsers).await;
        if !matches!(found, Err(Error::Internal(_))) && self.programs.len() < MAX_REMEMBERED_PLACES
        {
            self.programs.insert(reference.to_string(), copy(&found));
        }
        found
    }

    async fn org(&mut self, ctx: &mut Ctx<'_>, reference: &str) -> Result<i64> {
        if let Some(known) = self.orgs.get(reference) {
            return copy(known);
        }
        let found = org_in_scope(ctx, reference).await;
        if !matches!(found, Err(Error::Internal(_))) && self.orgs.len() < MAX_REMEMBERED_PLACES {
            self.orgs.insert(reference.to_string(), copy(&found));
        }
        found
    }

    async fn default_org(&mut self, ctx: &mut Ctx<'_>) -> Result<i64> {
        if let Some(known) = &self.default_org {
            return copy(known);
        }
        let found = default_org(ctx).await;
        if !matches!(found, Err(Error::Internal(_))) {
            self.default_org = Some(copy(&found));
        }
        found
    }
}

/// A remembered lookup, handed out again (an error is re-made with the same words).
fn copy<T: Clone>(r: &Result<T>) -> Result<T> {
    match r {
        Ok(v) => Ok(v.clone()),
        Err(e) => Err(match e {
            Error::Input(m) => Error::Input(m.clone()),
            Error::NotFound(m) => Error::NotFound(m.clone()),
            Error::Ambiguous(m) => Error::Ambiguous(m.clone()),
            Error::Forbidden(m) => Error::Forbidden(m.clone()),
            Error::Conflict(m) => Error::Conflict(m.clone()),
            other => Error::Internal(other.to_string()),
        }),
    }
}

/// An organization named by the caller, when it is one of theirs.
async fn org_in_scope(ctx: &mut Ctx<'_>, reference: &str) -> Result<i64> {
    let org = ctx.find_org(reference).await?;
    if !ctx.actor.is_global(Capability::AddUsers)
        && !ctx.actor.orgs_for(Capability::AddUsers).contains(&org.id)
    {
        return Err(Error::forbidden(format!(
            "{} is not one of your organizations",
            org.name
        )));
    }
    Ok(org.id)
}

/// The organization a person without a program joins: the actor's only one, or the only one there is.
async fn default_org(ctx: &mut Ctx<'_>) -> Result<i64> {
    let mine = ctx.actor.orgs_for(Capability::AddUsers);
    let candidates: Vec<i64> = if ctx.actor.is_global(Capability::AddUsers) {
        store::orgs::list_orgs(ctx.c())
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect()
    } else {
        mine
    };
    match candidates.as_slice() {
        [only] => Ok(*only),
        [] => Err(Error::conflict(
            "there is no organization yet: a super admin creates one with /org_add",
        )),
        _ => Err(Error::input(
            "say where they belong: add program:\"Program\" or org:\"Organization\"",
        )),
    }
}

command! {
    pub struct UserImport {
        name: "user_import",
        about: "Add many users from a CSV file (name,email,phone,role,program,external_id,tags); all or nothing",
        access: Access::Staff(Capability::AddUsers),
        example: "/user_import file:people.csv",
        runs: Runs::InChunks,
        args: {
            file: String = pos(K::Attachment, "the CSV file"),
        }
    }
}

/// The registry's entry for `/user_import`, never reached: the engine runs it through
/// [`run`] (chunks, each its own transaction), never inside one command transaction.
pub(crate) async fn in_one_transaction(_: &mut Ctx<'_>, _: UserImport) -> Result<Reply> {
    Err(Error::Internal(
        "/user_import runs through import::run, never inside a command's transaction".into(),
    ))
}

/// Who the audit log names for an import's chunks.
fn actor_of(asker: &super::access::Actor) -> Actor {
    asker
        .user
        .as_ref()
        .map_or(Actor::System, |u| Actor::User(u.id))
}

/// What every step of one import works with: the engine, who asks with which command, and the
/// file's columns.
#[derive(Clone, Copy)]
struct Job<'a> {
    engine: &'a Engine,
    caller: &'a Caller,
    spec: &'a CommandSpec,
    columns: &'a Columns,
}

impl<'a> Job<'a> {
    /// The context a step works in on `tx`, as of `now`, once the caller is found still allowed
    /// to import.
    async fn ctx<'t>(
        &self,
        tx: &'t mut sqlx::Transaction<'static, sqlx::Any>,
        now: DateTime<Utc>,
    ) -> Result<Ctx<'t>>
    where
        'a: 't,
    {
        let actor = allowed(tx, self.caller, self.spec).await?;
        Ok(Ctx::new(
            Work::new(
                tx,
                now,
                actor_of(&actor),
                self.caller.frontend,
                self.engine.settings(),
                self.engine.program_defaults(),
            ),
            actor,
            self.caller.clone(),
            &[],
        ))
    }
}

/// Runs `/user_import` (the engine's stand-in for a command transaction; see the module
/// comment): the reply, and the first [`KEPT_QUEUED`] messages it queued.
pub(crate) async fn run(
    engine: &Engine,
    caller: &Caller,
    inv: &Invocation,
    inbound: Option<&Inbound>,
) -> Result<(Reply, Vec<NewMessage>)> {
    let spec = inv.spec;
    let started = engine.now();
    // 1. Nothing is written here: a refusal or a message handled before ends it at once.
    let user_id = {
        let mut tx = engine.db().begin().await?;
        if let Some(inbound) = inbound
            && !inbound.mark_done(&mut tx, started).await?
        {
            return Err(Error::Duplicate);
        }
        let actor = allowed(&mut tx, caller, spec).await?;
        tx.rollback().await?;
        actor.user.map(|u| u.id)
    };
    let file = inv.attachments.first().ok_or_else(|| {
        Error::input("attach the CSV file to /user_import (columns: name,email,phone,role,program,external_id,tags)")
    })?;
    let text = std::str::from_utf8(&file.bytes)
        .map_err(|_| Error::input("the file is not UTF-8 text: save it as CSV (UTF-8)"))?;
    // 2.
    let columns = Columns::read(text)?;
    let max = engine.settings().import.max_rows;
    let total = count_rows(text, max)?;
    if total == 0 {
        return Err(Error::input(
            "the file has column names but no people: add one row per person",
        ));
    }
    let mut progress = Progress::new(engine, caller, inbound, started);
    info!(rows = total, "import: file counted; checking every row");
    // 3.
    let job = Job {
        engine,
        caller,
        spec,
        columns: &columns,
    };
    let (problems, mut places) = check(job, text, total, &mut progress).await?;
    if !problems.is_empty() {
        return Err(refusal(&mut progress, problems).await?);
    }
    // 4.
    let chunks = total.div_ceil(CHUNK);
    let announce = chunks > 1 && progress.to.is_some();
    if inbound.is_some() || announce {
        let now = engine.now();
        let mut tx = engine.db().begin().await?;
        if let Some(inbound) = inbound
            && !inbound.mark_done(&mut tx, now).await?
        {
            return Err(Error::Duplicate);
        }
        if announce {
            progress
                .queue(
                    &mut tx,
                    "valid",
                    format!(
                        "{} valid. Adding them now, up to {CHUNK} at a time (other commands keep working meanwhile); I will tell you how far it got every few seconds.",
                        if total == 1 {
                            "The 1 row is".to_string()
                        } else {
                            format!("All {} rows are", thousands(total))
                        }
                    ),
                    &[],
                    now,
                )
                .await?;
        }
        tx.commit().await?;
        if announce {
            progress.sent(now);
        }
    }
    info!(rows = total, chunks, "import: every row is valid; adding");
    // 5.
    let added = add(job, text, total, &mut places, &mut progress).await;
    let reply = added.reply();
    match &added.stopped {
        Some(stop) => error!(
            imported = added.imported,
            rows = total,
            line = stop.line,
            detail = %stop.detail,
            "import stopped half-way"
        ),
        None => info!(
            imported = added.imported,
            skipped = added.skipped.len(),
            progress_messages = progress.count,
            "import done"
        ),
    }
    // 6.
    let mut attempt = 0;
    loop {
        let now = engine.now();
        let answered = async {
            let mut tx = engine.db().begin().await?;
            finish(&mut tx, user_id, inbound, &reply, now).await?;
            tx.commit().await?;
            Ok::<(), Error>(())
        }
        .await;
        match answered {
            Ok(()) => return Ok((reply, added.queued)),
            Err(e) if attempt + 1 < ATTEMPTS => {
                warn!(error = %e, "import: could not record the answer; trying again");
                tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                attempt += 1;
            }
            // A reply that goes through the outbox is lost with this transaction (the message
            // was claimed at step 4); one the front-end shows itself still gets there.
            Err(e) if inbound.is_some_and(|i| i.reply.is_some()) => {
                error!(error = %e, "import: the answer could not be queued; the uploader has the progress messages only");
                return Err(e);
            }
            Err(e) => {
                warn!(error = %e, "import: the uploader's activity was not recorded");
                return Ok((reply, added.queued));
            }
        }
    }
}

/// Where each column is in the file.
struct Columns {
    name: usize,
    email: usize,
    phone: usize,
    role: usize,
    program: Option<usize>,
    org: Option<usize>,
    external_id: Option<usize>,
    tags: Option<usize>,
}

impl Columns {
    /// The first line: every required column there, no unknown one.
    fn read(text: &str) -> Result<Self> {
        let mut r = reader(text);
        let headers: Vec<String> = r
            .headers()
            .map_err(|e| Error::input(format!("the first line must be the column names: {e}")))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
            .collect();
        let at = |name: &str| headers.iter().position(|h| h == name);
        let required = |name: &str| {
            at(name).ok_or_else(|| {
                Error::input(format!(
                    "the CSV has no '{name}' column: the first line must name the columns, e.g. name,email,phone,role,program"
                ))
            })
        };
        let (name, email, phone, role) = (
            required("name")?,
            required("email")?,
            required("phone")?,
            required("role")?,
        );
        if let Some(h) = headers.iter().find(|h| !COLUMNS.contains(&h.as_str())) {
            return Err(Error::input(format!(
                "unknown column '{}': the columns are {}",
                crate::reply::echo(h),
                COLUMNS.join(", ")
            )));
        }
        Ok(Self {
            name,
            email,
            phone,
            role,
            program: at("program"),
            org: at("org"),
            external_id: at("external_id"),
            tags: at("tags"),
        })
    }

    fn fields<'r>(&self, r: &'r csv::StringRecord) -> PersonFields<'r> {
        let get = |c: usize| r.get(c).unwrap_or_default();
        let opt = |c: Option<usize>| c.and_then(|c| r.get(c));
        PersonFields {
            name: get(self.name),
            email: get(self.email),
            phone: get(self.phone),
            role: get(self.role),
            program: opt(self.program),
            org: opt(self.org),
            external_id: opt(self.external_id),
            tags: opt(self.tags),
        }
    }
}

/// The file's reader: every pass reads it the same way (so a row is on the same line each time).
fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes())
}

/// The rows after the header (a malformed one counts: the check names it). Stops reading at
/// the first row over `max`, so a huge file costs no more than `max` rows.
fn count_rows(text: &str, max: usize) -> Result<usize> {
    let mut r = reader(text);
    let mut row = csv::ByteRecord::new();
    let mut n = 0usize;
    let _ = r.byte_headers();
    loop {
        let before = r.position().byte();
        match r.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => n += 1,
            // A row the reader cannot take as it is still moves it on; one that did not would
            // be read forever.
            Err(_) if r.position().byte() > before => n += 1,
            Err(_) => break,
        }
        if n > max {
            return Err(Error::input(format!(
                "the file has more than {} people (rows), the most one import takes (setting import.max_rows): split it into files of at most {} rows, each with the column names as its first line, and send them one after the other",
                thousands(max),
                thousands(max)
            )));
        }
    }
    Ok(n)
}

/// The line a row starts on (a quoted value may hold line breaks); `fallback` if unknown.
fn line_of(position: Option<&csv::Position>, fallback: u64) -> u64 {
    position.map(|p| p.line()).unwrap_or(fallback)
}

/// What is wrong with a row the CSV reader could not take.
fn unreadable(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "it has {len} values where the first line names {expected_len} columns: check for a missing or extra comma (put a value holding a comma in double quotes)"
        ),
        _ => format!("it cannot be read as CSV ({e}): save the file as CSV (UTF-8)"),
    }
}

/// A problem with one row.
struct Problem {
    line: u64,
    what: String,
}

/// The emails, phones and external IDs of the rows read so far: all that is kept of a row
/// once it is checked.
#[derive(Default)]
struct Seen {
    emails: HashSet<String>,
    phones: HashSet<String>,
    external_ids: HashSet<String>,
}

impl Seen {
    /// Records the row's keys (each one, so that a later row sharing any of them is named
    /// too); the problem if one of them was on an earlier row.
    fn record(&mut self, p: &NewPerson) -> Option<String> {
        let ext = external_id(p);
        let email = self.emails.insert(p.email.as_str().to_string());
        let phone = self.phones.insert(p.phone.as_str().to_string());
        let external = self.external_ids.insert(ext.as_str().to_string());
        if !email {
            Some(format!("{} appears twice in the file", p.email))
        } else if !phone {
            Some(format!("phone {} appears twice in the file", p.phone))
        } else if !external {
            Some(format!(
                "external ID {} appears twice in the file: give each person their own",
                ext.as_str()
            ))
        } else {
            None
        }
    }
}

/// The external ID a person is stored with: the one given, or their phone (as
/// `people::create_person` stores it).
fn external_id(p: &NewPerson) -> ExternalId {
    p.external_id
        .clone()
        .unwrap_or_else(|| ExternalId::from_phone(&p.phone))
}

/// Step 3: every row read, checked and compared (read-only); the problems, in line order.
async fn check(
    job: Job<'_>,
    text: &str,
    total: usize,
    progress: &mut Progress<'_>,
) -> Result<(Vec<Problem>, Places)> {
    let (engine, columns) = (job.engine, job.columns);
    let mut places = Places::default();
    let mut problems = Vec::new();
    let mut seen = Seen::default();
    // A plain BEGIN: on SQLite it takes no write lock, so other commands write meanwhile.
    let mut tx = engine.db().pool().begin().await?;
    let mut ctx = job.ctx(&mut tx, engine.now()).await?;
    let mut r = reader(text);
    let mut batch: Vec<(u64, NewPerson)> = Vec::with_capacity(CHUNK);
    for (i, record) in r.records().enumerate() {
        let fallback = i as u64 + 2;
        match record {
            Err(e) => problems.push(Problem {
                line: line_of(e.position(), fallback),
                what: unreadable(&e),
            }),
            Ok(record) => {
                let line = line_of(record.position(), fallback);
                match parse_person(&mut ctx, columns.fields(&record), &mut places).await {
                    Err(e @ Error::Internal(_)) => return Err(e),
                    Err(e) => problems.push(Problem {
                        line,
                        what: e.user_message(),
                    }),
                    Ok(p) => match seen.record(&p) {
                        Some(what) => problems.push(Problem { line, what }),
                        None => batch.push((line, p)),
                    },
                }
            }
        }
        if batch.len() >= CHUNK {
            stored_conflicts(&mut ctx, &mut batch, &mut problems).await?;
        }
        let checked = i + 1;
        if checked % CHUNK == 0 && checked < total && progress.due(engine.now()) {
            progress
                .queue_alone(
                    &format!("checked:{checked}"),
                    format!(
                        "Checking your file: {} of {} rows checked…",
                        thousands(checked),
                        thousands(total)
                    ),
                    &[],
                )
                .await?;
        }
    }
    stored_conflicts(&mut ctx, &mut batch, &mut problems).await?;
    drop(ctx);
    tx.rollback().await?;
    problems.sort_by_key(|p| p.line);
    Ok((problems, places))
}

/// Rows of `batch` whose email, phone or external ID someone already has, as problems in
/// `people::check_unique`'s words (one query per column for the batch finds the candidates; the
/// rule itself is asked only about those).
async fn stored_conflicts(
    ctx: &mut Ctx<'_>,
    batch: &mut Vec<(u64, NewPerson)>,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let taken = Taken::among(ctx, batch.iter().map(|(_, p)| p)).await?;
    for (line, p) in batch.drain(..) {
        if taken.touches(&p) {
            match people::check_unique(ctx, &p).await {
                Ok(()) => {}
                Err(e @ Error::Internal(_)) => return Err(e),
                Err(e) => problems.push(Problem {
                    line,
                    what: e.user_message(),
                }),
            }
        }
    }
    Ok(())
}

/// The emails, phones and external IDs of some people that someone already has.
struct Taken(store::users::Taken);

impl Taken {
    async fn among<'p>(
        ctx: &mut Ctx<'_>,
        people: impl Iterator<Item = &'p NewPerson>,
    ) -> Result<Self> {
        let (mut emails, mut phones, mut external_ids) = (Vec::new(), Vec::new(), Vec::new());
        for p in people {
            emails.push(p.email.as_str().to_string());
            phones.push(p.phone.as_str().to_string());
            external_ids.push(external_id(p).as_str().to_string());
        }
        Ok(Self(
            store::users::taken(ctx.c(), &emails, &phones, &external_ids).await?,
        ))
    }

    fn touches(&self, p: &NewPerson) -> bool {
        self.0.emails.contains(p.email.as_str())
            || self.0.phones.contains(p.phone.as_str())
            || self.0.external_ids.contains(external_id(p).as_str())
    }
}

/// The answer to a file with bad rows: the first problems and a count; the full list as
/// `problems.csv` to a chat caller, queued just before the answer.
async fn refusal(progress: &mut Progress<'_>, problems: Vec<Problem>) -> Result<Error> {
    let n = problems.len();
    let shown = problems
        .iter()
        .take(SHOWN_PROBLEMS)
        .map(|p| format!("line {}: {}", p.line, p.what))
        .collect::<Vec<_>>()
        .join("\n");
    let mut more = String::new();
    if n > SHOWN_PROBLEMS {
        let mut attached = false;
        if progress.to.is_some() {
            let mut w = csv_safe::Writer::new();
            w.row(["line", "problem"])?;
            for p in &problems {
                w.row([p.line.to_string().as_str(), p.what.as_str()])?;
            }
            let file = Attachment {
                file_name: "problems.csv".into(),
                media_type: "text/csv".into(),
                bytes: w.into_bytes()?,
            };
            progress
                .queue_alone(
                    "problems",
                    format!(
                        "Every problem in your file ({}), one row each:",
                        thousands(n)
                    ),
                    &[file],
                )
                .await?;
            attached = true;
        }
        more = format!(
            "\n…and {} more{}",
            thousands(n - SHOWN_PROBLEMS),
            if attached {
                " (all of them are in problems.csv, sent to you with this answer)"
            } else {
                ""
            }
        );
    }
    info!(problems = n, "import refused: rows to fix");
    Ok(Error::input(format!(
        "nothing was imported: fix {} and send the file again:\n{shown}{more}",
        if n == 1 {
            "this row".to_string()
        } else {
            format!("these {} rows", thousands(n))
        }
    )))
}

/// Where an import got to (step 5).
#[derive(Default)]
struct Added {
    total: usize,
    imported: usize,
    /// Rows not added because something changed after the check.
    skipped: Vec<Problem>,
    /// The last line of the last chunk added.
    last_line: u64,
    stopped: Option<Stop>,
    queued: Vec<NewMessage>,
}

/// Why the import stopped, and the first line not added.
struct Stop {
    line: u64,
    /// What the uploader is told.
    why: String,
    /// What the log is told.
    detail: String,
}

impl Added {
    fn reply(&self) -> Reply {
        let n = self.imported;
        let people = if n == 1 { "person" } else { "people" };
        let mut text = match &self.stopped {
            None => format!(
                "Imported {} {people}; each gets a welcome email with their link code.",
                thousands(n)
            ),
            Some(stop) if n == 0 => format!(
                "✗ The import stopped at line {} before anyone was added: {}\nNothing was imported: send the file again.",
                stop.line, stop.why
            ),
            Some(stop) => format!(
                "✗ The import stopped at line {}: {}\n{} {people} of {} were imported{} and stay, each with a welcome email. The rows from line {} on were not: send them again in a file of their own (with the column names as its first line).",
                stop.line,
                stop.why,
                thousands(n),
                thousands(self.total),
                if self.last_line > 0 {
                    format!(" (the rows up to line {})", self.last_line)
                } else {
                    String::new()
                },
                stop.line
            ),
        };
        if !self.skipped.is_empty() {
            let k = self.skipped.len();
            text.push_str(&format!(
                "\n{} {} not imported because {} changed while the import ran (someone added the same person meanwhile, or the program went away); add {} by hand if still needed:\n{}",
                thousands(k),
                if k == 1 { "row was" } else { "rows were" },
                if k == 1 { "it" } else { "they" },
                if k == 1 { "it" } else { "them" },
                self.skipped
                    .iter()
                    .take(SHOWN_PROBLEMS)
                    .map(|p| format!("line {}: {}", p.line, p.what))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
            if k > SHOWN_PROBLEMS {
                text.push_str(&format!("\n…and {} more", thousands(k - SHOWN_PROBLEMS)));
            }
        }
        Reply::text(text)
    }
}

/// Step 5: the rows in chunks (at most [`CHUNK`] rows or [`CHUNK_TIME`] of work), each added in
/// one transaction.
async fn add(
    job: Job<'_>,
    text: &str,
    total: usize,
    places: &mut Places,
    progress: &mut Progress<'_>,
) -> Added {
    let mut added = Added {
        total,
        ..Added::default()
    };
    let mut r = reader(text);
    let mut records = r.records().enumerate();
    // The rows read and not added yet: a chunk cut short by its time keeps the rest here.
    let mut chunk: Vec<(u64, csv::StringRecord)> = Vec::with_capacity(CHUNK);
    let mut rows_done = 0usize;
    loop {
        for (i, record) in records.by_ref() {
            let fallback = i as u64 + 2;
            match record {
                Ok(record) => chunk.push((line_of(record.position(), fallback), record)),
                // The check read these very bytes without this error: not expected, but not
                // to be added either.
                Err(e) => added.skipped.push(Problem {
                    line: line_of(e.position(), fallback),
                    what: unreadable(&e),
                }),
            }
            if chunk.len() == CHUNK {
                break;
            }
        }
        let Some((first_line, _)) = chunk.first() else {
            break;
        };
        let first_line = *first_line;
        let mut attempt = 0;
        let done = loop {
            let at = ChunkAt {
                imported_before: added.imported,
                rows_before: rows_done,
                total,
            };
            match add_chunk(job, &chunk, places, progress, at).await {
                Ok(done) => break Ok(done),
                Err(e) if attempt + 1 < ATTEMPTS => {
                    warn!(error = %e, line = first_line, attempt, "import: a chunk failed; trying it again");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => break Err(e),
            }
        };
        match done {
            Ok(done) => {
                rows_done += done.consumed;
                added.imported += done.imported;
                added.skipped.extend(done.skipped);
                added.last_line = done.last_line;
                let room = KEPT_QUEUED.saturating_sub(added.queued.len());
                added.queued.extend(done.queued.into_iter().take(room));
                chunk.drain(..done.consumed.min(chunk.len()));
            }
            Err(e) => {
                added.stopped = Some(Stop {
                    line: first_line,
                    why: match &e {
                        Error::Internal(_) => {
                            "something went wrong on our side (the database did not answer)"
                                .to_string()
                        }
                        other => other.user_message(),
                    },
                    detail: e.to_string(),
                });
                break;
            }
        }
        if rows_done < total && job.engine.db().backend() == Backend::Sqlite {
            tokio::time::sleep(SQLITE_PAUSE).await;
        }
    }
    added
}

/// Where a chunk stands in the file.
#[derive(Clone, Copy)]
struct ChunkAt {
    imported_before: usize,
    rows_before: usize,
    total: usize,
}

/// What one chunk did.
struct ChunkDone {
    /// Rows of the chunk dealt with (added or skipped), from its first: the rest wait for the
    /// next chunk.
    consumed: usize,
    /// The line of the last of them.
    last_line: u64,
    imported: usize,
    skipped: Vec<Problem>,
    queued: Vec<NewMessage>,
}

/// One chunk, in one transaction: its rows read and checked again (things may have changed
/// since step 3), then added as `/user_add` adds a person, one after the other until
/// [`CHUNK_TIME`] has passed (at least one row is dealt with).
async fn add_chunk(
    job: Job<'_>,
    chunk: &[(u64, csv::StringRecord)],
    places: &mut Places,
    progress: &mut Progress<'_>,
    at: ChunkAt,
) -> Result<ChunkDone> {
    let (engine, columns) = (job.engine, job.columns);
    let now = engine.now();
    let mut tx = engine.db().begin().await?;
    // The budget counts from when this chunk holds the database (SQLite: the write lock).
    let began = Instant::now();
    // Again for each chunk: someone who lost the right to add people stops adding them.
    let mut ctx = job.ctx(&mut tx, now).await?;
    let mut rows = Vec::with_capacity(chunk.len());
    for (line, record) in chunk {
        match parse_person(&mut ctx, columns.fields(record), places).await {
            Ok(p) => rows.push((*line, Ok(p))),
            Err(e @ Error::Internal(_)) => return Err(e),
            Err(e) => rows.push((*line, Err(e.user_message()))),
        }
    }
    let taken = Taken::among(&mut ctx, rows.iter().filter_map(|(_, p)| p.as_ref().ok())).await?;
    let (mut consumed, mut last_line, mut imported) = (0, 0, 0);
    let mut skipped = Vec::new();
    for (line, row) in rows {
        if consumed > 0 && began.elapsed() >= CHUNK_TIME {
            break;
        }
        consumed += 1;
        last_line = line;
        let p = match row {
            Ok(p) => p,
            Err(what) => {
                skipped.push(Problem { line, what });
                continue;
            }
        };
        if taken.touches(&p) {
            match people::check_unique(&mut ctx, &p).await {
                Ok(()) => {}
                Err(e @ Error::Internal(_)) => return Err(e),
                Err(e) => {
                    skipped.push(Problem {
                        line,
                        what: e.user_message(),
                    });
                    continue;
                }
            }
        }
        // Any error here fails the chunk (rolled back whole) and it is tried again: a person
        // taken between the look-up above and this insert is then skipped by the re-check.
        people::create_person(&mut ctx, p).await?;
        imported += 1;
    }
    let end = engine.now();
    let tell = at.rows_before + consumed < at.total && progress.due(end);
    if tell {
        progress
            .queue(
                ctx.c(),
                &format!("added:{last_line}"),
                format!(
                    "Importing: {} of {} people added so far (the rows up to line {last_line})…",
                    thousands(at.imported_before + imported),
                    thousands(at.total),
                ),
                &[],
                end,
            )
            .await?;
    }
    let queued = ctx.into_work().into_queued();
    tx.commit().await?;
    if tell {
        progress.sent(end);
    }
    Ok(ChunkDone {
        consumed,
        last_line,
        imported,
        skipped,
        queued,
    })
}

/// Progress messages to the uploader.
struct Progress<'a> {
    engine: &'a Engine,
    /// The outbox channel and recipient of the reply's lane; None: nowhere to send them (the
    /// console, which prints only the answer).
    to: Option<(String, String)>,
    /// Names this import in the messages' idempotency keys: the update's own key for a chat
    /// message, so a second run of it queues no second copy.
    id: String,
    /// When the last message was queued (or the import began).
    last: DateTime<Utc>,
    /// Messages queued.
    count: usize,
}

impl<'a> Progress<'a> {
    fn new(
        engine: &'a Engine,
        caller: &Caller,
        inbound: Option<&Inbound>,
        now: DateTime<Utc>,
    ) -> Self {
        static IMPORTS: AtomicU64 = AtomicU64::new(0);
        let to = match inbound.and_then(|i| i.reply.as_ref()) {
            Some(route) => Some((route.channel.clone(), route.recipient.clone())),
            None => match (&caller.who, caller.frontend) {
                (
                    Who::Account {
                        provider,
                        account_id,
                        ..
                    },
                    Frontend::Telegram | Frontend::Discord,
                ) => Some((outbox::chat_channel(provider), account_id.clone())),
                _ => None,
            },
        };
        let id = match inbound {
            Some(i) => format!("{}:{}", i.key.platform, i.key.update_key),
            None => {
                let who = match &caller.who {
                    Who::Account {
                        provider,
                        account_id,
                        ..
                    } => format!("{provider}:{account_id}"),
                    Who::User(id) => format!("user:{id}"),
                    Who::System => "system".to_string(),
                };
                format!(
                    "{who}:{}:{}:{}",
                    now.timestamp_millis(),
                    std::process::id(),
                    IMPORTS.fetch_add(1, Ordering::Relaxed)
                )
            }
        };
        Self {
            engine,
            to,
            id,
            last: now,
            count: 0,
        }
    }

    /// Whether a message is due (there is somewhere to send it, and the last is old enough).
    fn due(&self, now: DateTime<Utc>) -> bool {
        self.to.is_some() && now - self.last >= chrono::Duration::seconds(PROGRESS_EVERY_SECS)
    }

    /// Queues a message in the caller's transaction `c` (then [`Progress::sent`] once it
    /// committed). `step` makes its key.
    async fn queue(
        &self,
        c: &mut Conn,
        step: &str,
        text: String,
        files: &[Attachment],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some((channel, recipient)) = &self.to else {
            return Ok(());
        };
        info!(step, "import progress");
        let message = NewMessage {
            channel: channel.clone(),
            kind: outbox::REPLY,
            // Part of the answer: it goes to whoever asked, as the reply does.
            recipient_user_id: None,
            recipient: recipient.clone(),
            subject: String::new(),
            body_text: text,
            body_html: None,
            buttons: Vec::new(),
            idempotency_key: format!("import:{}:{step}", self.id),
        };
        outbox::insert_with(c, &message, None, files, now).await?;
        Ok(())
    }

    fn sent(&mut self, now: DateTime<Utc>) {
        self.last = now;
        self.count += 1;
    }

    /// A message in a transaction of its own (while the file is checked, nothing else is
    /// written).
    async fn queue_alone(&mut self, step: &str, text: String, files: &[Attachment]) -> Result<()> {
        if self.to.is_none() {
            return Ok(());
        }
        let now = self.engine.now();
        let mut tx = self.engine.db().begin().await?;
        self.queue(&mut tx, step, text, files, now).await?;
        tx.commit().await?;
        self.sent(now);
        Ok(())
    }
}

/// "132 000" (`text::thousands`) for the row counts this module keeps as `usize`.
fn thousands(n: usize) -> String {
    crate::text::thousands(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_in_groups_of_three_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1 000");
        assert_eq!(thousands(132_000), "132 000");
        assert_eq!(thousands(1_234_567), "1 234 567");
    }

    fn file(rows: usize) -> String {
        let mut f = String::from("name,email,phone,role\n");
        for i in 0..rows {
            f.push_str(&format!("P {i},p{i}@example.org,+1415555{i:04},mentee\n"));
        }
        f
    }

    #[test]
    fn a_file_at_the_cap_is_counted_and_one_row_over_is_refused_naming_the_limit() {
        assert_eq!(count_rows(&file(10), 10).ok(), Some(10));
        let e = count_rows(&file(11), 10)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("more than 10 people")
                && e.contains("import.max_rows")
                && e.contains("split"),
            "{e}"
        );
    }

    #[test]
    fn a_row_with_a_missing_comma_still_counts_and_reading_goes_on() {
        let f = "name,email,phone,role\nA,a@example.org,+14155550000\nB,b@example.org,+14155550001,mentee\n";
        assert_eq!(count_rows(f, 10).ok(), Some(2));
    }

    #[test]
    fn the_columns_are_found_by_name_and_an_unknown_or_missing_one_is_refused() {
        let c = Columns::read("\u{feff}Email, NAME ,phone,role,tags\n").ok();
        assert!(
            c.as_ref()
                .is_some_and(|c| c.email == 0 && c.name == 1 && c.tags == Some(4))
        );
        let e = Columns::read("name,email,phone,role,colour\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unknown column 'colour'"), "{e}");
        let e = Columns::read("name,email,role\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("no 'phone' column"), "{e}");
    }
}
