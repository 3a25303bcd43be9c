//! The inactivity sweep's find step on PostgreSQL (issue 4): N users (default 1,000,000), 5 %
//! of them due a reminder, across four programs with thresholds of 7, 15, 15 and 30 days plus
//! unassigned people on the defaults. Times `timers::find_inactive` — the one query, streamed,
//! handed to a sink in batches of 1000 — and the process's peak memory around it (median of 3
//! runs), then `timers::remind_inactive` on a sample of 1000 of the people found.
//!
//! Then the same find with the worker's real sink (issue 4): every batch of 1000 ids becomes
//! 1000 `Job::RemindInactive { user, tick }` pushed with `Queue::push` to a Redis queue on
//! 127.0.0.1 (a fresh queue name per run, its keys deleted afterwards) — "time to find them and
//! queue their reminders".
//!
//! ```sh
//! CARGO_TARGET_DIR=… cargo run --release -p mentorops-bench --bin sweep -- [users] [--no-redis]
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use mentorops_bench::{
    drop_queue_keys, engine, fresh_postgres, median, mib, peak_rss_kib, queue_name, redis_url,
    rss_kib,
};
use mentorops_core::timers::{self, CandidateSink};
use mentorops_worker::queue::Tuning;
use mentorops_worker::{Job, Queue};
use sqlx::{Connection, Executor, PgConnection};

const DATABASE: &str = "mentorops_bench_sweep";
const BATCH: usize = 1000;
const RUNS: usize = 3;
const REMIND_SAMPLE: usize = 1000;

/// Counts the ids, keeping every `keep_every`-th for the remind sample.
struct Counter {
    ids: usize,
    batches: usize,
    keep_every: usize,
    kept: Vec<i64>,
}

impl CandidateSink for Counter {
    async fn accept(&mut self, ids: Vec<i64>) -> mentorops_core::Result<()> {
        for id in &ids {
            if self.keep_every > 0 && self.ids.is_multiple_of(self.keep_every) {
                self.kept.push(*id);
            }
            self.ids += 1;
        }
        self.batches += 1;
        Ok(())
    }
}

/// The worker's sink: one `RemindInactive` job per id, pushed a batch at a time.
struct Pusher<'a> {
    queue: &'a Queue,
    tick: u64,
    ids: usize,
}

impl CandidateSink for Pusher<'_> {
    async fn accept(&mut self, ids: Vec<i64>) -> mentorops_core::Result<()> {
        self.ids += ids.len();
        let tick = self.tick;
        let jobs: Vec<Job> = ids
            .into_iter()
            .map(|user| Job::RemindInactive { user, tick })
            .collect();
        self.queue
            .push(&jobs)
            .await
            .map_err(|e| mentorops_core::Error::Internal(e.to_string()))
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_redis = !args.iter().any(|a| a == "--no-redis");
    let users: i64 = match args.iter().find(|a| !a.starts_with("--")) {
        Some(n) => n.parse().context("the argument is the number of users")?,
        None => 1_000_000,
    };
    if users < 100 || users % 100 != 0 {
        bail!("the number of users must be a multiple of 100");
    }
    let expected = usize::try_from(users / 20)?;
    // Whole milliseconds, as stored.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
        .context("the clock is out of range")?;

    let url = fresh_postgres(DATABASE).await?;
    let t = Instant::now();
    seed(&url, users, now.timestamp_millis()).await?;
    println!(
        "seeded {users} users ({expected} due) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let engine = engine(&url, 4, now).await?;

    println!(
        "find + count, batches of {BATCH}: VmHWM {} before, VmRSS {}",
        mib(peak_rss_kib()),
        mib(rss_kib())
    );
    let mut times = Vec::new();
    let mut sample = Vec::new();
    for run in 1..=RUNS {
        let mut sink = Counter {
            ids: 0,
            batches: 0,
            keep_every: if run == 1 {
                (expected / REMIND_SAMPLE).max(1)
            } else {
                0
            },
            kept: Vec::new(),
        };
        let t = Instant::now();
        let n = timers::find_inactive(&engine, now, BATCH, &mut sink).await?;
        let took = t.elapsed();
        println!(
            "  run {run}: {n} ids in {} batches, {:.3} s; VmHWM {}",
            sink.batches,
            took.as_secs_f64(),
            mib(peak_rss_kib())
        );
        if n != expected || sink.ids != expected {
            bail!("found {n}, expected {expected}: the query and the seed disagree");
        }
        times.push(took);
        if run == 1 {
            sample = sink.kept;
        }
    }
    println!(
        "find + count: median {:.3} s over {RUNS} runs; VmHWM after {}",
        median(times).as_secs_f64(),
        mib(peak_rss_kib())
    );

    if with_redis {
        find_and_push(&engine, now, expected).await?;
    }

    sample.truncate(REMIND_SAMPLE);
    let mut each = Vec::with_capacity(sample.len());
    let t = Instant::now();
    for &id in &sample {
        let one = Instant::now();
        if !timers::remind_inactive(&engine, id, now).await? {
            bail!("user {id} was found but not reminded");
        }
        each.push(one.elapsed());
    }
    let total = t.elapsed();
    each.sort();
    let at = |q: f64| {
        each.get(((each.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "remind_inactive, {} users one after another: {:.2} ms each on average (median {:.2} ms, p95 {:.2} ms, max {:.2} ms)",
        each.len(),
        total.as_secs_f64() * 1000.0 / each.len().max(1) as f64,
        ms(at(0.5)),
        ms(at(0.95)),
        ms(at(1.0)),
    );
    engine.db().close().await;
    Ok(())
}

/// Find + push to Redis, `RUNS` times, each into a fresh queue deleted afterwards.
async fn find_and_push(
    engine: &mentorops_core::command::Engine,
    now: DateTime<Utc>,
    expected: usize,
) -> Result<()> {
    let redis = redis_url()?;
    let tuning = Tuning::from_settings(engine.settings());
    println!(
        "find + push to Redis ({redis}), batches of {BATCH}: VmHWM {} before, VmRSS {}",
        mib(peak_rss_kib()),
        mib(rss_kib())
    );
    let mut times = Vec::new();
    for run in 1..=RUNS {
        let name = queue_name("sweep");
        let queue = Queue::redis(&redis, &name, &tuning).await?;
        let mut sink = Pusher {
            queue: &queue,
            tick: now.timestamp().max(0) as u64,
            ids: 0,
        };
        let t = Instant::now();
        let n = timers::find_inactive(engine, now, BATCH, &mut sink).await;
        let took = t.elapsed();
        let round_trips = queue.round_trips();
        let queued = queued_jobs(&redis, &name).await;
        drop_queue_keys(&redis, &name).await?;
        let (n, queued) = (n?, queued?);
        println!(
            "  run {run}: {n} ids, {queued} jobs queued in {:.3} s; {round_trips} Redis round trips; VmHWM {}",
            took.as_secs_f64(),
            mib(peak_rss_kib())
        );
        if n != expected || queued != expected {
            bail!("found {n} and queued {queued}, expected {expected}");
        }
        times.push(took);
    }
    println!(
        "find + push: median {:.3} s over {RUNS} runs; VmHWM after {}",
        median(times).as_secs_f64(),
        mib(peak_rss_kib())
    );
    Ok(())
}

/// Jobs waiting in queue `name`: the active list plus the scheduled set.
async fn queued_jobs(url: &str, name: &str) -> Result<usize> {
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let (active, scheduled): (usize, usize) = redis::pipe()
        .cmd("LLEN")
        .arg(format!("{name}:active"))
        .cmd("ZCARD")
        .arg(format!("{name}:scheduled"))
        .query_async(&mut c)
        .await?;
    Ok(active + scheduled)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Seeds in SQL (generate_series), so the database does the work. Groups by `i % 100`:
/// 0–4 due (A, one in five SI; inactive 31–90 days, past every threshold; one in seven
/// reminded in an earlier period, one in ten never seen); 5–6 A in the 30-day program only,
/// quiet 10–24 days (past the smallest threshold, not theirs); 7–8 A, quiet 31+ days but
/// reminded 1–5 days ago; 9–20 IW/IR/ID quiet for months; 21–28 AI, never seen; the rest A or
/// SI, active in the last 6 days. One in ten is unassigned (the defaults: 15 days); one in 50
/// is also in a second program. Only numbers go into the text.
async fn seed(url: &str, users: i64, now: i64) -> Result<()> {
    let mut c = PgConnection::connect(url).await?;
    // bigint, or `60 * day` overflows PostgreSQL's int4 literal arithmetic.
    let day = "86400000::bigint";
    let sql = format!(
        r#"
INSERT INTO organizations (id, name, created_at) VALUES (1, 'Acme', {now}), (2, 'Globex', {now});
INSERT INTO programs (id, org_id, name, max_choices, recommendations, offer_ttl_secs,
    offer_reminder_before_secs, inactivity_after_secs, inactivity_repeat_secs, flash_mentoring,
    timezone, created_at)
VALUES (1, 1, 'Sprint', 3, 5, 259200, 86400, 604800, 604800, 0, 'UTC', {now}),
       (2, 1, 'Spring', 3, 5, 259200, 86400, 1296000, 1296000, 0, 'UTC', {now}),
       (3, 2, 'Fall', 3, 5, 259200, 86400, 1296000, 1296000, 0, 'UTC', {now}),
       (4, 2, 'Long', 3, 5, 259200, 86400, 2592000, 2592000, 0, 'UTC', {now});
SELECT setval(pg_get_serial_sequence('organizations', 'id'), 2);
SELECT setval(pg_get_serial_sequence('programs', 'id'), 4);

CREATE TEMP TABLE seed AS
SELECT i, g, r,
    CASE WHEN g < 5 THEN {now} - (31 + r % 60) * {day} - r % {day}
         WHEN g < 7 THEN {now} - (10 + r % 15) * {day}
         WHEN g < 9 THEN {now} - (31 + r % 60) * {day}
         WHEN g < 21 THEN {now} - (31 + r % 335) * {day}
         WHEN g < 29 THEN {now} - r % (60 * {day})
         ELSE {now} - r % (6 * {day}) END AS since,
    g >= 21 AND g < 29 OR g < 5 AND i % 10 = 3 AS never_seen
FROM (SELECT i, (i % 100)::int AS g, (i * 2654435761) % 4294967291 AS r
      FROM generate_series(1::bigint, {users}::bigint) i) s;

INSERT INTO users (id, email, phone, external_id, full_name, status, org_id, created_at,
    first_seen_at, last_activity_at, inactivity_reminded_at)
SELECT i, 'user' || i || '@example.org', '+1' || (2000000000 + i), 'x' || i, 'Person ' || i,
    CASE WHEN g < 5 THEN CASE WHEN i % 5 = 0 THEN 'SI' ELSE 'A' END
         WHEN g < 9 THEN 'A'
         WHEN g < 15 THEN 'IW' WHEN g < 18 THEN 'IR' WHEN g < 21 THEN 'ID'
         WHEN g < 29 THEN 'AI'
         WHEN g < 39 THEN 'SI'
         ELSE 'A' END,
    1 + i % 2,
    CASE WHEN never_seen THEN since ELSE since - (r % 100) * {day} END,
    CASE WHEN never_seen THEN NULL ELSE since - (r % 100) * {day} END,
    CASE WHEN never_seen THEN NULL ELSE since END,
    CASE WHEN g < 5 AND i % 7 = 0 THEN since - 3 * {day}
         WHEN g >= 7 AND g < 9 THEN {now} - (1 + r % 5) * {day}
         WHEN g >= 9 AND g < 21 THEN since + {day}
         ELSE NULL END
FROM seed;

INSERT INTO personas (user_id, role, program_id, status, match_status, created_at)
SELECT i, CASE WHEN i % 3 = 0 THEN 'mentor' ELSE 'mentee' END,
    CASE WHEN g >= 5 AND g < 7 THEN 4 WHEN i % 10 = 0 THEN NULL ELSE 1 + (i / 10) % 4 END,
    'active',
    CASE WHEN g >= 29 AND i % 4 = 0 THEN 'M' WHEN g >= 29 AND i % 4 = 1 THEN 'RTBM' ELSE 'N/A' END,
    {now}
FROM seed
UNION ALL
SELECT i, 'mentor', 1 + (i / 10 + 1) % 4, 'active', 'N/A', {now}
FROM seed WHERE i % 50 = 1 AND NOT (g >= 5 AND g < 7);

SELECT setval(pg_get_serial_sequence('users', 'id'), {users});
DROP TABLE seed;
"#
    );
    c.execute(sqlx::AssertSqlSafe(sql)).await?;
    c.execute("VACUUM ANALYZE users").await?;
    c.execute("VACUUM ANALYZE personas").await?;
    c.execute("VACUUM ANALYZE programs").await?;
    c.close().await?;
    Ok(())
}
