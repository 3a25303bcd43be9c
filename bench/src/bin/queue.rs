//! The worker on Redis against BullMQ, on the same Redis in the same run (issue 4):
//!
//! 1. throughput: 20,000 `Job::Noop` pushed first, then `Worker::start_on` (concurrency 1,
//!    then 50) timed from its start until `stats.processed("noop")` reaches 20,000; BullMQ
//!    the same way (`addBulk`, then a `Worker` timed until its 20,000th `completed` event) by
//!    spawning `node bench/bullmq/bench.js`. Runs alternate mentorops / BullMQ.
//! 2. Redis round trips per job: the worker's own counting connection over the run, and
//!    `INFO commandstats` around it as a cross-check.
//! 3. offer-expiry lateness: N pending offers (1 000 and 10 000) due at the same whole second,
//!    seeded in SQL on PostgreSQL, without and with a cascade (each offer has a next choice
//!    queued, which its expiry sends); the worker (its feeder queues the expiry jobs, one per
//!    batch of up to 500 offers due in the same second) expires them, and lateness is
//!    `decided_at - deadline_at` as stored (a batch's offers share the time its transaction
//!    began), with the time until all were committed beside it. Then the statements of one batch
//!    of 500, counted from sqlx's `sqlx::query` events, with and without the cascade. BullMQ:
//!    1000 delayed no-op jobs due at the same instant, lateness = processor start − due time.
//!    For the same shape on our side: 1000 `RemindOffer` jobs due at the same second for offers
//!    that do not exist (the handler holds each until due, then finds nothing), lateness = the
//!    handler's own `mentorops_job_lag_seconds` (handler start − due), captured by a metrics
//!    recorder.
//!
//! Medians of 3 runs. Every run has its own queue name and deletes its keys afterwards; only
//! 127.0.0.1 is contacted.
//!
//! ```sh
//! (cd bench/bullmq && npm install)
//! CARGO_TARGET_DIR=… cargo run --release -p mentorops-bench --bin queue -- [all|throughput|lateness] [--runs 3] [--jobs 20000] [--no-bullmq] [--pool 5] [--offers 1000,10000] [--cascade no|yes|both]
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use figment::value::Value;
use mentorops_bench::{
    Counted, Statements, command_calls, cpu_model, drop_postgres, drop_queue_keys, fresh_postgres,
    live_engine, queue_name, redis_url, total,
};
use mentorops_core::command::Engine;
use mentorops_core::timers;
use mentorops_worker::queue::Tuning;
use mentorops_worker::{Job, Queue, Worker};
use sqlx::{Connection, Executor, PgConnection};
use tokio_util::sync::CancellationToken;

const LATENESS_DB: &str = "mentorops_bench_queue";
const OFFERS: i64 = 1000;
const BATCH: usize = mentorops_core::store::jobs::BATCH;

struct Options {
    what: String,
    runs: usize,
    jobs: u64,
    bullmq: bool,
    /// The app's PostgreSQL pool in the lateness run (config/default.toml: 5).
    pool: u32,
    /// How many offers come due in the same second, per expiry case.
    offers: Vec<i64>,
    /// Expiry cases without (false) and with (true) a next choice to send for each offer.
    cascade: Vec<bool>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        what: "all".into(),
        runs: 3,
        jobs: 20_000,
        bullmq: true,
        pool: 5,
        offers: vec![OFFERS, 10 * OFFERS],
        cascade: vec![false, true],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => o.runs = args.next().context("--runs N")?.parse()?,
            "--jobs" => o.jobs = args.next().context("--jobs N")?.parse()?,
            "--no-bullmq" => o.bullmq = false,
            "--pool" => o.pool = args.next().context("--pool N")?.parse()?,
            "--offers" => {
                o.offers = args
                    .next()
                    .context("--offers N[,N…]")?
                    .split(',')
                    .map(|n| n.trim().parse::<i64>())
                    .collect::<Result<_, _>>()?;
            }
            "--cascade" => {
                o.cascade = match args.next().context("--cascade no|yes|both")?.as_str() {
                    "no" => vec![false],
                    "yes" => vec![true],
                    "both" => vec![false, true],
                    other => bail!("--cascade {other:?}: use no, yes or both"),
                };
            }
            "all" | "throughput" | "lateness" => o.what = a,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if o.runs == 0 || o.jobs == 0 {
        bail!("--runs and --jobs must be at least 1");
    }
    if o.offers.iter().any(|n| !(1..=100_000).contains(n)) {
        bail!("--offers: each from 1 to 100000");
    }
    Ok(o)
}

/// Keeps every `mentorops_job_lag_seconds` sample (the handler's lateness); the rest is dropped.
#[derive(Clone, Default)]
struct LagRecorder(Arc<Mutex<Vec<f64>>>);

struct Samples(Arc<Mutex<Vec<f64>>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        if let Ok(mut s) = self.0.lock() {
            s.push(value);
        }
    }
}

impl metrics::Recorder for LagRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        if key.name() == "mentorops_job_lag_seconds" {
            metrics::Histogram::from_arc(Arc::new(Samples(self.0.clone())))
        } else {
            metrics::Histogram::noop()
        }
    }
}

/// One mentorops throughput run.
struct Run {
    secs: f64,
    push_secs: f64,
    /// Round trips of the worker's counting connection, worker start to stop.
    worker_rtt: u64,
    push_rtt: u64,
    /// `INFO commandstats` deltas over the worker's run (whole server).
    evals: u64,
    all_calls: u64,
    top: Vec<(String, u64)>,
}

/// One BullMQ throughput run, as bench.js reports it.
struct Bull {
    secs: f64,
    evals: u64,
    all_calls: u64,
    top: Vec<(String, u64)>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let redis = redis_url()?;
    println!(
        "machine: {} vCPU, {}; rustc {}; Redis {}; node {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        rustc_version(),
        redis_version(&redis).await?,
        if o.bullmq { node_version() } else { "-".into() }
    );
    if o.what == "all" || o.what == "throughput" {
        throughput(&o, &redis).await?;
    }
    if o.what == "all" || o.what == "lateness" {
        lateness(&o, &redis).await?;
    }
    Ok(())
}

async fn throughput(o: &Options, redis: &str) -> Result<()> {
    let db_dir = std::env::temp_dir().join(format!("mentorops-bench-queue-{}", std::process::id()));
    std::fs::create_dir_all(&db_dir)?;
    let mut rows = Vec::new();
    for concurrency in [1usize, 50] {
        let url = format!("sqlite://{}/c{concurrency}.db?mode=rwc", db_dir.display());
        let engine = std::sync::Arc::new(
            live_engine(
                &url,
                4,
                &worker_settings(concurrency, 100, 500), // the defaults but concurrency
            )
            .await?,
        );
        engine.db().migrate().await?;
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for run in 1..=o.runs {
            let r = mentorops_throughput(&engine, redis, concurrency, o.jobs).await?;
            println!(
                "  c={concurrency} run {run}: mentorops {:.0} jobs/s ({:.3} s; push {:.3} s); {:.2} round trips/job (worker), push {:.3}/job; commandstats: {:.2} EVALSHA+EVAL/job, {:.1} calls/job incl. inside scripts; top {:?}",
                o.jobs as f64 / r.secs,
                r.secs,
                r.push_secs,
                r.worker_rtt as f64 / o.jobs as f64,
                r.push_rtt as f64 / o.jobs as f64,
                r.evals as f64 / o.jobs as f64,
                r.all_calls as f64 / o.jobs as f64,
                r.top
            );
            ours.push(r);
            if o.bullmq {
                let b = bullmq_throughput(redis, concurrency, o.jobs).await?;
                println!(
                    "  c={concurrency} run {run}: BullMQ {:.0} jobs/s ({:.3} s); commandstats: {:.2} EVALSHA+EVAL/job, {:.1} calls/job incl. inside scripts; top {:?}",
                    o.jobs as f64 / b.secs,
                    b.secs,
                    b.evals as f64 / o.jobs as f64,
                    b.all_calls as f64 / o.jobs as f64,
                    b.top
                );
                theirs.push(b);
            }
        }
        engine.db().close().await;
        rows.push((concurrency, ours, theirs));
    }
    let _ = std::fs::remove_dir_all(&db_dir);

    let n = o.jobs as f64;
    println!();
    println!(
        "| concurrency | mentorops jobs/s (median; runs) | BullMQ jobs/s (median; runs) | ratio |"
    );
    println!("| --- | --- | --- | --- |");
    for (c, ours, theirs) in &rows {
        let ours_rates: Vec<f64> = ours.iter().map(|r| n / r.secs).collect();
        let theirs_rates: Vec<f64> = theirs.iter().map(|b| n / b.secs).collect();
        let (m, t) = (median_f(&ours_rates), median_f(&theirs_rates));
        println!(
            "| {c} | {m:.0} ({}) | {} | {} |",
            list(&ours_rates, 0),
            if theirs.is_empty() {
                "-".into()
            } else {
                format!("{t:.0} ({})", list(&theirs_rates, 0))
            },
            if theirs.is_empty() {
                "-".into()
            } else {
                format!("{:.2}×", m / t)
            }
        );
    }
    println!();
    println!(
        "| concurrency | mentorops round trips/job: worker (counting conn.) | push | commandstats EVALSHA+EVAL/job | all calls/job incl. inside Lua | BullMQ EVALSHA+EVAL/job | BullMQ all calls/job |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (c, ours, theirs) in &rows {
        let per = |xs: Vec<f64>| median_f(&xs);
        println!(
            "| {c} | {:.3} | {:.3} | {:.3} | {:.1} | {} | {} |",
            per(ours.iter().map(|r| r.worker_rtt as f64 / n).collect()),
            per(ours.iter().map(|r| r.push_rtt as f64 / n).collect()),
            per(ours.iter().map(|r| r.evals as f64 / n).collect()),
            per(ours.iter().map(|r| r.all_calls as f64 / n).collect()),
            if theirs.is_empty() {
                "-".into()
            } else {
                format!(
                    "{:.3}",
                    per(theirs.iter().map(|b| b.evals as f64 / n).collect())
                )
            },
            if theirs.is_empty() {
                "-".into()
            } else {
                format!(
                    "{:.1}",
                    per(theirs.iter().map(|b| b.all_calls as f64 / n).collect())
                )
            },
        );
    }
    Ok(())
}

/// Queue settings for a benchmark worker: no cron jobs during the run, no health endpoint.
fn worker_settings(concurrency: usize, poll_ms: u64, feed_ms: u64) -> Vec<(&'static str, Value)> {
    let never = "0 0 0 1 1 *";
    vec![
        ("queue.concurrency", concurrency.into()),
        ("queue.poll_interval_ms", poll_ms.into()),
        ("queue.feed_interval_ms", feed_ms.into()),
        ("queue.sweep_cron", never.into()),
        ("queue.digest_cron", never.into()),
        ("queue.reconcile_cron", never.into()),
        ("queue.health_addr", "".into()),
    ]
}

async fn mentorops_throughput(
    engine: &std::sync::Arc<Engine>,
    redis: &str,
    concurrency: usize,
    jobs: u64,
) -> Result<Run> {
    let name = queue_name(&format!("noop-c{concurrency}"));
    let tuning = Tuning::from_settings(engine.settings());
    let queue = Queue::redis(redis, &name, &tuning).await?;
    let all: Vec<Job> = (0..jobs).map(|n| Job::Noop { n }).collect();
    let t = Instant::now();
    queue.push(&all).await?;
    let push_secs = t.elapsed().as_secs_f64();
    let push_rtt = queue.round_trips();
    drop(all);

    let before = command_calls(redis).await?;
    let rtt0 = queue.round_trips();
    let stop = CancellationToken::new();
    let start = Instant::now();
    let worker = Worker::start_on(
        engine.clone(),
        queue.clone(),
        Some(format!("{name}-w")),
        stop.clone(),
    )
    .await?;
    while worker.runtime.stats.processed("noop") < jobs {
        if start.elapsed() > Duration::from_secs(300) {
            worker.stop().await;
            drop_queue_keys(redis, &name).await?;
            bail!("the worker did not finish {jobs} jobs in 300 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    // Stopping flushes the last acknowledgements; they belong to the run.
    worker.stop().await;
    let worker_rtt = queue.round_trips() - rtt0;
    let after = command_calls(redis).await?;
    let (evals, all_calls, top) = delta(&before, &after);
    drop_queue_keys(redis, &name).await?;
    Ok(Run {
        secs,
        push_secs,
        worker_rtt,
        push_rtt,
        evals,
        all_calls,
        top,
    })
}

/// EVALSHA + EVAL calls, all calls, and the five most called commands between two snapshots.
fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> (u64, u64, Vec<(String, u64)>) {
    let mut d: Vec<(String, u64)> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0).min(*v)))
        .filter(|(_, v)| *v > 0)
        .collect();
    let evals = d
        .iter()
        .filter(|(k, _)| k == "evalsha" || k == "eval")
        .map(|(_, v)| v)
        .sum();
    let all = d.iter().map(|(_, v)| v).sum();
    d.sort_by_key(|x| std::cmp::Reverse(x.1));
    d.truncate(6);
    (evals, all, d)
}

fn bullmq_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bullmq/bench.js")
}

async fn run_node(args: &[String]) -> Result<serde_json::Value> {
    let script = bullmq_script();
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .args(args)
        .output()
        .await
        .context("running node (is node 20 installed?)")?;
    if !out.status.success() {
        bail!(
            "{} {args:?} failed (did you run npm install in bench/bullmq?): {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("bench.js printed {last:?}"))
}

fn num(v: &serde_json::Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(serde_json::Value::as_f64)
        .with_context(|| format!("bench.js result has no {key}: {v}"))
}

async fn bullmq_throughput(redis: &str, concurrency: usize, jobs: u64) -> Result<Bull> {
    let v = run_node(&[
        "throughput".into(),
        jobs.to_string(),
        concurrency.to_string(),
        redis.into(),
    ])
    .await?;
    let calls: BTreeMap<String, u64> = v
        .get("commandstats")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let evals =
        calls.get("evalsha").copied().unwrap_or(0) + calls.get("eval").copied().unwrap_or(0);
    let all_calls = calls.values().sum();
    let mut top: Vec<(String, u64)> = calls.into_iter().collect();
    top.sort_by_key(|x| std::cmp::Reverse(x.1));
    top.truncate(6);
    Ok(Bull {
        secs: num(&v, "secs")?,
        evals,
        all_calls,
        top,
    })
}

struct Lateness {
    min: i64,
    p50: i64,
    p95: i64,
    p99: i64,
    max: i64,
    /// From the due second until the last offer was expired (committed).
    all_done_ms: i64,
}

/// One offer-expiry case: how many offers come due in the same second, and whether each has a
/// next choice queued behind it (then every expiry also sends that offer: the cascade).
#[derive(Debug, Clone, Copy)]
struct Case {
    offers: i64,
    cascade: bool,
}

impl Case {
    fn label(self) -> String {
        format!(
            "{} offers due in the same second, {}",
            self.offers,
            if self.cascade {
                "each with a next choice to send"
            } else {
                "no next choice"
            }
        )
    }
}

async fn lateness(o: &Options, redis: &str) -> Result<()> {
    let lags = LagRecorder::default();
    metrics::set_global_recorder(lags.clone())
        .map_err(|e| anyhow::anyhow!("metrics recorder: {e}"))?;
    let statements = Statements::default();
    statements.install()?;
    let cases: Vec<Case> = o
        .offers
        .iter()
        .flat_map(|&offers| {
            o.cascade
                .iter()
                .map(move |&cascade| Case { offers, cascade })
        })
        .collect();
    let mut ours: Vec<(Case, Vec<Lateness>)> = cases.iter().map(|c| (*c, Vec::new())).collect();
    let mut light = Vec::new();
    let mut theirs = Vec::new();
    println!("load average before the runs: {}", load_average());
    for run in 1..=o.runs {
        let l = mentorops_delayed(redis, o.pool, &lags).await?;
        println!(
            "  run {run}: mentorops delayed jobs finding nothing to do, handler lateness ms: min {} p50 {} p95 {} p99 {} max {}",
            l.min, l.p50, l.p95, l.p99, l.max
        );
        light.push(l);
        for (case, results) in &mut ours {
            let l = mentorops_lateness(redis, o.pool, *case).await?;
            println!("  {}:", case.label());
            println!(
                "  run {run}: mentorops expiry lateness ms: min {} p50 {} p95 {} p99 {} max {} (all {} expired {} ms after the deadline)",
                l.min, l.p50, l.p95, l.p99, l.max, case.offers, l.all_done_ms
            );
            if l.min < 0 {
                bail!("an offer expired {} ms early", -l.min);
            }
            results.push(l);
        }
        if o.bullmq {
            let v = run_node(&["delay".into(), OFFERS.to_string(), redis.into()]).await?;
            let b = Lateness {
                min: num(&v, "min_ms")? as i64,
                p50: num(&v, "p50_ms")? as i64,
                p95: num(&v, "p95_ms")? as i64,
                p99: num(&v, "p99_ms")? as i64,
                max: num(&v, "max_ms")? as i64,
                all_done_ms: num(&v, "max_ms")? as i64,
            };
            println!(
                "  run {run}: BullMQ delayed-job lateness ms: min {} p50 {} p95 {} p99 {} max {}",
                b.min, b.p50, b.p95, b.p99, b.max
            );
            theirs.push(b);
        }
    }
    println!("load average after the runs: {}", load_average());
    let mut counts = Vec::new();
    for cascade in [false, true] {
        counts.push((
            cascade,
            statements_per_batch(o.pool, cascade, &statements).await?,
        ));
    }
    drop_postgres(LATENESS_DB).await?;
    println!();
    println!(
        "| due in the same second (median of {}) | min | p50 | p95 | p99 | max | all committed | runs' p99 |",
        o.runs
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut rows: Vec<(String, &Vec<Lateness>)> = ours
        .iter()
        .map(|(case, ls)| {
            (
                format!("mentorops: {} (`decided_at − deadline_at`)", case.label()),
                ls,
            )
        })
        .collect();
    rows.push((
        format!("mentorops: {OFFERS} delayed jobs with nothing to do (handler start − due)"),
        &light,
    ));
    rows.push((
        format!("BullMQ: {OFFERS} delayed no-op jobs (processor start − due)"),
        &theirs,
    ));
    for (label, ls) in rows {
        if ls.is_empty() {
            continue;
        }
        let med = |f: fn(&Lateness) -> i64| {
            let mut v: Vec<i64> = ls.iter().map(f).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        println!(
            "| {label} | {} ms | {} ms | {} ms | {} ms | {} ms | {} ms | {} |",
            med(|l| l.min),
            med(|l| l.p50),
            med(|l| l.p95),
            med(|l| l.p99),
            med(|l| l.max),
            med(|l| l.all_done_ms),
            ls.iter()
                .map(|l| l.p99.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!();
    println!(
        "| one batch of {BATCH} offers, one transaction | statements (COMMIT included; BEGIN rides with the first) | time | run again: statements |"
    );
    println!("| --- | --- | --- | --- |");
    for (cascade, c) in &counts {
        println!(
            "| expiry, {} | {} | {} ms | {} |",
            if *cascade {
                "each with a next choice to send"
            } else {
                "no next choice"
            },
            c.statements,
            c.ms,
            c.again
        );
    }
    for (cascade, c) in &counts {
        println!(
            "statements of one expiry batch ({}): {}",
            if *cascade { "cascade" } else { "no cascade" },
            c.by_kind
                .iter()
                .map(|(k, (n, secs))| format!("{k} ×{n} {:.1} ms", secs * 1000.0))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

/// The statements one expiry batch runs.
struct BatchCount {
    statements: u64,
    ms: u128,
    /// The same batch run again (nothing left to do).
    again: u64,
    by_kind: Counted,
}

/// Seeds `BATCH` offers already past their deadline and runs `timers::run_batch` on them once,
/// alone in the process (no worker), counting sqlx's statements; then once more.
async fn statements_per_batch(
    pool: u32,
    cascade: bool,
    counter: &Statements,
) -> Result<BatchCount> {
    let url = fresh_postgres(LATENESS_DB).await?;
    let now_ms = Utc::now().timestamp_millis();
    let n = BATCH as i64;
    seed_offers(&url, n, now_ms, cascade).await?;
    set_deadlines(&url, now_ms - 1000).await?;
    let engine = live_engine(&url, pool, &worker_settings(50, 20, 500)).await?;
    let mut c = PgConnection::connect(&url).await?;
    let ids: Vec<i64> =
        sqlx::query_as::<_, (i64,)>("SELECT id FROM offers WHERE state = 'pending' ORDER BY id")
            .fetch_all(&mut c)
            .await?
            .into_iter()
            .map(|(id,)| id)
            .collect();
    c.close().await?;
    counter.start();
    let t = Instant::now();
    let pass = timers::run_batch(&engine, timers::Job::Expire, &ids).await?;
    let ms = t.elapsed().as_millis();
    let by_kind = counter.stop();
    if pass.done != ids.len() {
        bail!("{} of {} offers expired", pass.done, ids.len());
    }
    counter.start();
    let again = timers::run_batch(&engine, timers::Job::Expire, &ids).await?;
    let again_count = total(&counter.stop());
    if again.done != 0 {
        bail!("the second run expired {} offers", again.done);
    }
    engine.db().close().await;
    Ok(BatchCount {
        statements: total(&by_kind),
        ms,
        again: again_count,
        by_kind,
    })
}

/// `OFFERS` `RemindOffer` jobs due at the same whole second about 3 s ahead, for offers that
/// do not exist, pushed straight to the queue; a worker (concurrency 50, polling every 20 ms)
/// holds each until due and finds nothing to do. Lateness from the handler's lag histogram.
async fn mentorops_delayed(redis: &str, pool: u32, lags: &LagRecorder) -> Result<Lateness> {
    let url = fresh_postgres(LATENESS_DB).await?;
    let engine = Arc::new(live_engine(&url, pool, &worker_settings(50, 20, 500)).await?);
    let name = queue_name("delayed");
    let queue = Queue::redis(redis, &name, &Tuning::from_settings(engine.settings())).await?;
    let due_ms = (Utc::now().timestamp_millis() / 1000 + 3) * 1000;
    let jobs: Vec<Job> = (1..=OFFERS)
        .map(|i| Job::RemindOffer {
            offer: -i,
            due_ms,
            round: 0,
        })
        .collect();
    queue.push(&jobs).await?;
    if let Ok(mut l) = lags.0.lock() {
        l.clear();
    }
    let stop = CancellationToken::new();
    let worker = Worker::start_on(engine.clone(), queue, Some(format!("{name}-w")), stop).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lags.0.lock().map(|l| l.len()).unwrap_or(0) < OFFERS as usize {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await;
    drop_queue_keys(redis, &name).await?;
    engine.db().close().await;
    let late: Vec<i64> = lags
        .0
        .lock()
        .map(|l| l.iter().map(|s| (s * 1000.0).round() as i64).collect())
        .unwrap_or_default();
    if late.len() != OFFERS as usize {
        bail!("{} of {OFFERS} delayed jobs ran within 60 s", late.len());
    }
    let max = late.iter().copied().max().unwrap_or(0);
    Ok(Lateness::of(late, max))
}

/// Seeds `case.offers` pending offers (each its own mentor and mentee; with the cascade, a
/// second choice queued behind each) all due at the same whole second about 4 s ahead, with
/// `queued_at` NULL so the worker's feeder queues their expiry jobs, and lets a worker
/// (concurrency 50, polling every 20 ms) expire them.
async fn mentorops_lateness(redis: &str, pool: u32, case: Case) -> Result<Lateness> {
    let url = fresh_postgres(LATENESS_DB).await?;
    let now_ms = Utc::now().timestamp_millis();
    seed_offers(&url, case.offers, now_ms, case.cascade).await?;
    // The due second is chosen once the seeding is done, however long it took.
    let due_ms = (Utc::now().timestamp_millis() / 1000 + 4) * 1000;
    set_deadlines(&url, due_ms).await?;
    let engine = std::sync::Arc::new(live_engine(&url, pool, &worker_settings(50, 20, 500)).await?);
    let name = queue_name("expiry");
    let queue = Queue::redis(redis, &name, &Tuning::from_settings(engine.settings())).await?;
    let stop = CancellationToken::new();
    let worker = Worker::start_on(engine.clone(), queue, Some(format!("{name}-w")), stop).await?;
    let mut c = PgConnection::connect(&url).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM offers WHERE state = 'pending' AND rank = 1")
                .fetch_one(&mut c)
                .await?;
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            worker.stop().await;
            drop_queue_keys(redis, &name).await?;
            bail!("{left} offers still pending 120 s later");
        }
        // Often enough to see when the last batch committed (±25 ms), rarely enough that the
        // count (over every pending offer) does not take CPU from the run.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let all_done_ms = Utc::now().timestamp_millis() - due_ms;
    worker.stop().await;
    drop_queue_keys(redis, &name).await?;
    let late: Vec<i64> = sqlx::query_as::<_, (i64,)>(
        "SELECT decided_at - deadline_at FROM offers WHERE state = 'expired' ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await?
    .into_iter()
    .map(|(l,)| l)
    .collect();
    if case.cascade {
        let (sent,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM offers WHERE state = 'pending' AND rank = 2")
                .fetch_one(&mut c)
                .await?;
        if sent != case.offers {
            bail!("{sent} next choices sent, expected {}", case.offers);
        }
    }
    c.close().await?;
    engine.db().close().await;
    if late.len() as i64 != case.offers {
        bail!("{} offers expired, expected {}", late.len(), case.offers);
    }
    Ok(Lateness::of(late, all_done_ms))
}

impl Lateness {
    /// Percentiles of `late` (milliseconds; at least one value); `all_done_ms` as measured.
    fn of(mut late: Vec<i64>, all_done_ms: i64) -> Self {
        late.sort_unstable();
        let at = |q: f64| late[((late.len() - 1) as f64 * q).round() as usize];
        Self {
            min: late[0],
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
            all_done_ms,
        }
    }
}

/// One program, `n` mentors and `n` mentees, and one pending offer each (mentee `i` to mentor
/// `i`, no deadline yet: see [`set_deadlines`]). With `cascade`, everyone is ready to be matched
/// (A, active, RTBM) and each mentee has a second choice queued (the next mentor), so each
/// expiry sends it; without, they are not (N/A), so each expiry only tells the mentee.
async fn seed_offers(url: &str, n: i64, now: i64, cascade: bool) -> Result<()> {
    let mut c = PgConnection::connect(url).await?;
    let sent = now - 1000;
    let ready = if cascade { "RTBM" } else { "N/A" };
    let second_choice = if cascade {
        format!(
            "INSERT INTO offers (program_id, mentee_persona_id, mentor_persona_id, round, rank, state, created_at)
SELECT 1, {n} + i, i % {n} + 1, 1, 2, 'queued', {sent} FROM generate_series(1, {n}) i;"
        )
    } else {
        String::new()
    };
    let sql = format!(
        r#"
INSERT INTO organizations (id, name, created_at) VALUES (1, 'Acme', {now});
INSERT INTO programs (id, org_id, name, max_choices, recommendations, offer_ttl_secs,
    offer_reminder_before_secs, inactivity_after_secs, inactivity_repeat_secs, flash_mentoring,
    timezone, created_at)
VALUES (1, 1, 'Sprint', 3, 5, 259200, 86400, 1296000, 1296000, 0, 'UTC', {now});
SELECT setval(pg_get_serial_sequence('organizations', 'id'), 1);
SELECT setval(pg_get_serial_sequence('programs', 'id'), 1);
INSERT INTO users (id, email, full_name, status, org_id, created_at, first_seen_at, last_activity_at)
SELECT i, 'user' || i || '@example.org', 'Person ' || i, 'A', 1, {now}, {now}, {now}
FROM generate_series(1, 2 * {n}) i;
SELECT setval(pg_get_serial_sequence('users', 'id'), 2 * {n});
INSERT INTO personas (id, user_id, role, program_id, status, match_status, created_at)
SELECT i, i, CASE WHEN i <= {n} THEN 'mentor' ELSE 'mentee' END, 1, 'active', '{ready}', {now}
FROM generate_series(1, 2 * {n}) i;
SELECT setval(pg_get_serial_sequence('personas', 'id'), 2 * {n});
INSERT INTO offers (program_id, mentee_persona_id, mentor_persona_id, round, rank, state,
    created_at, sent_at)
SELECT 1, {n} + i, i, 1, 1, 'pending', {sent}, {sent}
FROM generate_series(1, {n}) i;
{second_choice}
"#
    );
    c.execute(sqlx::AssertSqlSafe(sql)).await?;
    c.close().await?;
    Ok(())
}

/// Gives every pending offer the same deadline, then lets PostgreSQL catch up on statistics.
async fn set_deadlines(url: &str, due: i64) -> Result<()> {
    let mut c = PgConnection::connect(url).await?;
    c.execute(sqlx::AssertSqlSafe(format!(
        "UPDATE offers SET deadline_at = {due} WHERE state = 'pending'"
    )))
    .await?;
    c.execute("VACUUM ANALYZE").await?;
    c.close().await?;
    Ok(())
}

fn median_f(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn list(xs: &[f64], decimals: usize) -> String {
    xs.iter()
        .map(|x| format!("{x:.decimals$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `/proc/loadavg`'s three averages: other work on the machine slows the runs down.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not found".into())
}

async fn redis_version(url: &str) -> Result<String> {
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_string())
}
