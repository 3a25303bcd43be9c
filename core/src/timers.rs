//! The domain's timers, run by the worker's jobs (and by the console after each command; the
//! inactivity sweep and the digest only by the worker's cron): expire offers past their deadline,
//! remind mentors before it, remind sessions 24 h and 1 h ahead, close flash-mentoring matches
//! once their session has ended (docs/domain.md#flash-mentoring); and the hourly inactivity sweep
//! and the daily staff digest (docs/domain.md#inactivity). Offer and session timers run in
//! batches of up to `store::jobs::BATCH` items, one transaction and a constant number of
//! statements each, so one failure holds up only its batch; every item is claimed by a
//! compare-and-swap on its state, so two workers may run the same batch at once. What each
//! timer finds due is `store::jobs::due_between`, read up to now here and further ahead by
//! `/upcoming` (docs/domain.md#upcoming); deliveries that then fall in someone's quiet hours
//! wait in the outbox (docs/domain.md#quiet-hours), the timers themselves never do.

use chrono::{DateTime, Utc};
use futures_util::{Stream, TryStreamExt};
use tracing::warn;

use crate::command::engine::Engine;
use crate::domain::{Frontend, availability, inactivity, matches, offers, sessions};
use crate::error::Result;
use crate::store::jobs::Timer;
use crate::store::sessions::ReminderColumn;
use crate::store::{self};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimerReport {
    pub offers_expired: usize,
    pub offer_reminders: usize,
    pub session_reminders: usize,
    pub flash_matches_closed: usize,
    pub pauses_ended: usize,
    pub places_made: usize,
}

/// One kind of timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Expire,
    RemindOffer,
    RemindSession(ReminderColumn),
}

/// What one pass over a batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Items it expired or reminded (0: nothing was due, or another run got there first).
    pub done: usize,
    /// When the next of the batch's items still waiting comes due (None: none is left). It may
    /// be already, for an item another transaction held (a reminder never waits for a row).
    pub next_due: Option<DateTime<Utc>>,
}

/// Runs one timer over a batch of items (at most [`store::jobs::BATCH`]) in one transaction,
/// with a constant number of statements, at the time the transaction begins: only the items due
/// by then are touched, each claimed by a compare-and-swap, so a pass that runs early, twice, or
/// beside another changes nothing it should not. The worker runs passes until `next_due` is
/// None.
pub async fn run_batch(engine: &Engine, job: Job, ids: &[i64]) -> Result<Pass> {
    run_batch_at(engine, job, ids, None).await
}

/// [`run_batch`] at a given time (`at`), or at the time its transaction begins (None).
pub async fn run_batch_at(
    engine: &Engine,
    job: Job,
    ids: &[i64],
    at: Option<DateTime<Utc>>,
) -> Result<Pass> {
    let mut tx = engine.db().begin().await?;
    // Read once the connection is ours: a pass that waited for the pool acts at the time it
    // really runs, and records that time.
    let now = at.unwrap_or_else(|| engine.now());
    let backend = engine.db().backend();
    let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
    let (done, next_due) = match job {
        Job::Expire => (
            offers::expire_batch(&mut w, backend, ids).await?,
            store::offers::next_deadline(w.c(), ids).await?,
        ),
        Job::RemindOffer => (
            offers::remind_batch(&mut w, backend, ids).await?,
            store::offers::next_reminder(w.c(), ids, now).await?,
        ),
        Job::RemindSession(column) => (
            sessions::remind_batch(&mut w, ids, column).await?,
            store::sessions::next_reminder(w.c(), ids, column, now).await?,
        ),
    };
    drop(w);
    tx.commit().await?;
    Ok(Pass { done, next_due })
}

/// Runs `job` over `ids` at `now`, a batch at a time; a batch that fails is logged and left
/// for the next run.
async fn run_all(engine: &Engine, job: Job, ids: Vec<i64>, now: DateTime<Utc>) -> usize {
    let mut n = 0;
    for batch in ids.chunks(store::jobs::BATCH) {
        match run_batch_at(engine, job, batch, Some(now)).await {
            Ok(pass) => n += pass.done,
            Err(e) => warn!(
                first = batch.first().copied().unwrap_or_default(),
                items = batch.len(),
                error = %e,
                "timer batch failed; it is retried on the next pass"
            ),
        }
    }
    n
}

/// The most items one run of a timer reads (the rest are found by the next run).
const DUE_LIMIT: i64 = 1000;

/// The items of `timer` due at `now`: `store::jobs::due_between` up to `now`, the same query
/// `/upcoming` reads further ahead (docs/domain.md#upcoming), so the dry run and the timers
/// never disagree about what falls due when.
async fn due_ids(engine: &Engine, timer: Timer, now: DateTime<Utc>) -> Result<Vec<i64>> {
    let mut conn = engine.db().pool().acquire().await?;
    store::jobs::due_now(&mut conn, timer, now, DUE_LIMIT).await
}

pub async fn expire_due_offers(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let ids = due_ids(engine, Timer::Expiry, now).await?;
    Ok(run_all(engine, Job::Expire, ids, now).await)
}

pub async fn remind_due_offers(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let ids = due_ids(engine, Timer::OfferReminder, now).await?;
    Ok(run_all(engine, Job::RemindOffer, ids, now).await)
}

pub async fn remind_due_sessions(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut n = 0;
    for column in ReminderColumn::ALL {
        let ids = due_ids(engine, Timer::SessionReminder(column), now).await?;
        n += run_all(engine, Job::RemindSession(column), ids, now).await;
    }
    Ok(n)
}

/// Every timer that is due now.
pub async fn run_due(engine: &Engine) -> Result<TimerReport> {
    let now = engine.now();
    Ok(TimerReport {
        offers_expired: expire_due_offers(engine, now).await?,
        offer_reminders: remind_due_offers(engine, now).await?,
        session_reminders: remind_due_sessions(engine, now).await?,
        flash_matches_closed: close_flash_matches(engine, now).await?,
        pauses_ended: end_pauses(engine, now).await?,
        places_made: fill_places(engine, now).await?,
    })
}

/// The most pauses one run of [`end_pauses`] ends; the rest are found by the next run.
pub const PAUSE_LIMIT: i64 = 1000;

/// docs/domain.md#availability: ends the mentors' pauses whose end has come by `now` and tells
/// each of them, once. Finds them with one query (at most [`PAUSE_LIMIT`], earliest first),
/// then ends each in a transaction of its own (`domain::availability::end_pause`: re-read,
/// claimed by a compare-and-swap on the pause's end, never before it), so one that fails is
/// logged and found again next time, and two runs at once tell each mentor once. Returns how
/// many it ended.
pub async fn end_pauses(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let ids = store::users::pauses_ended_by(&mut conn, now, PAUSE_LIMIT).await?;
    drop(conn);
    let mut ended = 0;
    for user_id in ids {
        match end_pause(engine, user_id, now).await {
            Ok(true) => ended += 1,
            Ok(false) => {}
            Err(e) => warn!(user_id, error = %e, "ending a pause failed; retried on the next run"),
        }
    }
    Ok(ended)
}

/// One mentor's pause ended at `now`, in its own transaction (the rule:
/// `domain::availability::end_pause`). False when not due, or another run ended it first.
pub async fn end_pause(engine: &Engine, user_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = engine.db().begin().await?;
    let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
    let done = availability::end_pause(&mut w, user_id).await?;
    drop(w);
    tx.commit().await?;
    Ok(done)
}

/// docs/domain.md#capacity: makes the free places mentors are short of — a mentor made ready by
/// staff in a program whose capacity is above 1, a place freed by a closed match while another
/// is open — which nothing else makes at that moment. Finds them with one query (at most
/// [`PAUSE_LIMIT`]) and tops each up in a transaction of its own
/// (`domain::availability::top_up`, which re-reads and decides). Returns how many places it made.
pub async fn fill_places(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let short = store::users::mentors_short_of_places(&mut conn, PAUSE_LIMIT).await?;
    drop(conn);
    let mut made = 0;
    for (user_id, program_id) in short {
        let run = async {
            let mut tx = engine.db().begin().await?;
            let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
            let done = availability::top_up(&mut w, user_id, program_id).await?;
            drop(w);
            tx.commit().await?;
            Ok::<usize, crate::error::Error>(done.added.len())
        };
        match run.await {
            Ok(n) => made += n,
            Err(e) => {
                warn!(user_id, program_id, error = %e, "making a mentor's places failed; retried on the next run")
            }
        }
    }
    Ok(made)
}

/// The most flash-mentoring matches one run of [`close_flash_matches`] closes; the rest are
/// found again by the next run.
pub const FLASH_LIMIT: i64 = 1000;

/// docs/domain.md#flash-mentoring: closes the open matches of flash-mentoring programs whose
/// first session has ended by `now`. Finds them with one query (at most [`FLASH_LIMIT`]), then
/// closes each in a transaction of its own (`domain::matches::close_flash`: re-checked, claimed
/// by a compare-and-swap, both people told), so one that fails is logged and found again next
/// time, and two runs at once close each match once. Returns how many it closed.
pub async fn close_flash_matches(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let ids = store::matches::flash_due(&mut conn, now, FLASH_LIMIT).await?;
    drop(conn);
    let mut closed = 0;
    for match_id in ids {
        match close_flash_match(engine, match_id, now).await {
            Ok(true) => closed += 1,
            Ok(false) => {}
            Err(e) => {
                warn!(match_id, error = %e, "closing a flash-mentoring match failed; retried on the next run")
            }
        }
    }
    Ok(closed)
}

/// One flash-mentoring match's close at `now`, in its own transaction (the rule:
/// `domain::matches::close_flash`). False when not due, or another run closed it first.
pub async fn close_flash_match(engine: &Engine, match_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = engine.db().begin().await?;
    let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
    let done = matches::close_flash(&mut w, match_id).await?;
    drop(w);
    tx.commit().await?;
    Ok(done)
}

/// docs/domain.md#inactivity: mentors and mentees who can use the bot (A, SI) and have been
/// inactive for their program's `inactivity_after` (never seen: counted from when they were added)
/// get one reminder per inactivity period — chat where linked, and email — then at most one more
/// every `inactivity_repeat`. Finds them with [`inactive_candidates`] and reminds each with
/// [`remind_inactive`]. Safe to run on several workers at once: the reminder is claimed with a
/// compare-and-swap on the user's last reminder time. Returns how many were reminded.
pub async fn inactivity_sweep(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    // The ids are read to the end before the first reminder: each reminder takes a connection of
    // its own, and with a pool of one the open read would wait on itself. Ids only (8 bytes
    // each), so this stays small; the queue-driven worker streams them into jobs instead.
    let ids: Vec<i64> = inactive_candidates(engine, now).try_collect().await?;
    let mut reminded = 0;
    for user_id in ids {
        match remind_inactive(engine, user_id, now).await {
            Ok(true) => reminded += 1,
            Ok(false) => {}
            Err(e) => {
                warn!(user_id, error = %e, "inactivity reminder failed; retried on the next sweep")
            }
        }
    }
    Ok(reminded)
}

/// The ids of the people who may be due an inactivity reminder at `now`, in id order, each
/// once, streamed from one query (memory stays flat however many there are). It never misses
/// anyone [`remind_inactive`] would remind at `now`; that function re-checks each id, so an id
/// that is no longer due by the time it runs (they came back, another worker got there first)
/// costs one read.
pub fn inactive_candidates(
    engine: &Engine,
    now: DateTime<Utc>,
) -> impl Stream<Item = Result<i64>> + Send + '_ {
    let d = &engine.program_defaults;
    store::users::inactive_candidate_ids(
        engine.db().pool(),
        now,
        d.inactivity_after,
        d.inactivity_repeat,
    )
}

/// Where [`find_inactive`] hands the ids it finds, a batch at a time: the job queue in the
/// worker, a counter in the benchmark. An error stops the search and is returned; the ids
/// already handed over stay handed over (the next sweep finds the rest again).
pub trait CandidateSink {
    fn accept(&mut self, ids: Vec<i64>) -> impl Future<Output = Result<()>> + Send;
}

impl<F, Fut> CandidateSink for F
where
    F: FnMut(Vec<i64>) -> Fut,
    Fut: Future<Output = Result<()>> + Send,
{
    fn accept(&mut self, ids: Vec<i64>) -> impl Future<Output = Result<()>> + Send {
        self(ids)
    }
}

/// Streams [`inactive_candidates`] into `sink` in batches of at most `batch_size` ids (the last
/// one shorter); returns how many ids it handed over.
pub async fn find_inactive<S: CandidateSink + Send>(
    engine: &Engine,
    now: DateTime<Utc>,
    batch_size: usize,
    sink: &mut S,
) -> Result<usize> {
    let batch_size = batch_size.max(1);
    let mut ids = std::pin::pin!(inactive_candidates(engine, now));
    let mut batch = Vec::with_capacity(batch_size);
    let mut total = 0;
    while let Some(id) = ids.try_next().await? {
        batch.push(id);
        if batch.len() == batch_size {
            total += batch.len();
            sink.accept(std::mem::replace(
                &mut batch,
                Vec::with_capacity(batch_size),
            ))
            .await?;
        }
    }
    if !batch.is_empty() {
        total += batch.len();
        sink.accept(batch).await?;
    }
    Ok(total)
}

/// One person's inactivity reminder, in its own transaction (the rule:
/// `domain::inactivity::remind`). False when not due or another worker claimed it first, so a
/// job may run it twice.
pub async fn remind_inactive(engine: &Engine, user_id: i64, now: DateTime<Utc>) -> Result<bool> {
    let mut tx = engine.db().begin().await?;
    let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
    let done = inactivity::remind(&mut w, user_id).await?;
    drop(w);
    tx.commit().await?;
    Ok(done)
}

/// The daily digest of inactive people per program (docs/domain.md#digest), to its staff and the
/// super admins; once per program and day (the outbox key holds the date), so it may run hourly.
pub async fn staff_digest(engine: &Engine, now: DateTime<Utc>) -> Result<usize> {
    let mut conn = engine.db().pool().acquire().await?;
    let programs = store::orgs::list_programs(&mut conn).await?;
    drop(conn);
    let mut sent = 0;
    for p in programs {
        let mut tx = engine.db().begin().await?;
        let mut w = engine.system_work(&mut tx, Frontend::Worker, now);
        let f = store::users::UserFilter {
            program_ids: Some(vec![p.id]),
            usable_only: true,
            participants_only: true,
            inactive_before: Some(now - p.settings.inactivity_after),
            sort: store::users::UserSort::Activity,
            ..Default::default()
        };
        let people = store::users::list_users(w.c(), &f).await?;
        if people.is_empty() {
            continue;
        }
        // The program at a glance, as `/overview` counts it (docs/domain.md#digest).
        let headline = store::overview::counts(w.c(), Some(&[p.id]), now)
            .await?
            .headline();
        let lines = people
            .iter()
            .map(|u| {
                format!(
                    "{} — last active {}",
                    u.label(),
                    u.last_activity_at
                        .map(|t| t.format("%Y-%m-%d").to_string())
                        .unwrap_or_else(|| "never".into())
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
            + &format!("\n\nThe program today: {headline}.");
        let day = now.with_timezone(&p.settings.timezone).format("%Y-%m-%d");
        for staff_id in store::staff::staff_user_ids_of_program(w.c(), p.id).await? {
            let Some(staff) = store::users::user(w.c(), staff_id).await? else {
                continue;
            };
            let key = format!("digest:{}:{day}:{staff_id}", p.id);
            let mail = crate::messages::staff_digest(&p.full_name(), &lines, people.len());
            w.email(&staff, "staff_digest", key.clone(), mail).await?;
            let text = format!(
                "{}: {} inactive for {}+ {}. /inactive program:\"{}\" lists them.\n\
                 Today: {headline}. /overview {} shows more.",
                p.full_name(),
                crate::text::counted(people.len() as i64, "person", "people"),
                p.settings.inactivity_after.num_days(),
                if p.settings.inactivity_after.num_days() == 1 {
                    "day"
                } else {
                    "days"
                },
                p.name,
                crate::command::quote(&p.full_name())
            );
            w.chat(&staff, "staff_digest", &key, text, Vec::new())
                .await?;
        }
        drop(w);
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}
