//! What the benchmark binaries (`src/bin/*`) share: a fresh PostgreSQL database per run, an
//! engine on it, Redis keys and command statistics, the SQL statements sqlx runs, the process's
//! peak memory, the CPU, medians.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use mentorops_core::clock::{Clock, ManualClock, SystemClock};
use mentorops_core::command::{Caller, Engine, Frontend, Who};
use mentorops_core::db::Db;
use mentorops_core::settings::Settings;
use sqlx::{Connection, Executor, PgConnection};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing_subscriber::filter::dynamic_filter_fn;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// The server the benchmarks create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("MENTOROPS_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Drops and recreates database `name` on the benchmark server, runs the app's migrations on it
/// and returns its URL. `name` is the binary's own constant, never input.
pub async fn fresh_postgres(name: &str) -> Result<String> {
    if !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        bail!("database name {name:?}: lower-case letters and _ only");
    }
    let admin = postgres_admin_url();
    let mut conn = PgConnection::connect(&admin)
        .await
        .with_context(|| format!("connecting to {admin} (set MENTOROPS_BENCH_POSTGRES_URL)"))?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    conn.close().await?;
    let base = admin
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(b, _)| b.to_string())
        .context("the PostgreSQL URL has no database part")?;
    let url = format!("{base}/{name}");
    let db = Db::connect(&url, 1).await?;
    db.migrate().await?;
    db.close().await;
    Ok(url)
}

/// Drops database `name` (a binary's own constant) from the benchmark server.
pub async fn drop_postgres(name: &str) -> Result<()> {
    if !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        bail!("database name {name:?}: lower-case letters and _ only");
    }
    let mut conn = PgConnection::connect(&postgres_admin_url()).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    conn.close().await?;
    Ok(())
}

/// The cast both command benches start from: the first super admin (Ada, on the console),
/// organization Acme, its program Spring, and Paula as Spring's program manager. Returns Ada's
/// user id and her caller.
pub async fn spring_with_manager(engine: &Engine) -> Result<(i64, Caller)> {
    let (admin_id, _) = mentorops_core::bootstrap::bootstrap_admin(
        engine,
        "Ada Admin",
        "admin@example.org",
        "+14155550100",
    )
    .await?;
    let admin = Caller {
        frontend: Frontend::Console,
        who: Who::User(admin_id),
    };
    for line in [
        "/org_add Acme",
        "/program_add Acme Spring",
        "/staff_add \"Paula Pm\" pm@example.org +14155550101 program_manager program:Spring",
    ] {
        engine
            .handle_text(&admin, line, Vec::new())
            .await
            .result
            .map_err(|e| anyhow::anyhow!("{line}: {}", e.user_message()))?;
    }
    Ok((admin_id, admin))
}

/// The engine as the app builds it (config/default.toml), on `url`, with the clock at `now`.
pub async fn engine(url: &str, max_connections: u32, now: DateTime<Utc>) -> Result<Engine> {
    engine_with(url, max_connections, Arc::new(ManualClock::new(now)), &[]).await
}

/// The engine on the system clock (the queue waits in wall-clock time), with `overrides`
/// (e.g. `queue.concurrency`) on top of config/default.toml.
pub async fn live_engine(
    url: &str,
    max_connections: u32,
    overrides: &[(&str, Value)],
) -> Result<Engine> {
    engine_with(url, max_connections, Arc::new(SystemClock), overrides).await
}

async fn engine_with(
    url: &str,
    max_connections: u32,
    clock: Arc<dyn Clock>,
    overrides: &[(&str, Value)],
) -> Result<Engine> {
    let data_dir = std::env::temp_dir().join("mentorops-bench");
    let mut figment = Figment::new()
        .merge(Toml::string(include_str!("../../config/default.toml")))
        .merge(Serialized::default("database.url", url))
        .merge(Serialized::default(
            "app.data_dir",
            data_dir.display().to_string(),
        ));
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value.clone()));
    }
    let settings = Settings::from_figment(figment)?;
    let db = Db::connect(url, max_connections).await?;
    Ok(Engine::new(db, Arc::new(settings), clock)?)
}

/// The Redis the queue benchmarks use: the machine's own, on loopback only.
pub fn redis_url() -> Result<String> {
    let url = std::env::var("MENTOROPS_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let host = url
        .trim_start_matches("redis://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if !["127.0.0.1", "localhost"].contains(&host) {
        bail!("{url}: the benchmarks only talk to a Redis on 127.0.0.1");
    }
    Ok(url)
}

/// A queue name no other run uses: `mentorops-bench-<what>-<pid>-<ms>`.
pub fn queue_name(what: &str) -> String {
    format!(
        "mentorops-bench-{what}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    )
}

/// Deletes every key of queue `name` (`name:*`), never anything else; returns how many.
pub async fn drop_queue_keys(url: &str, name: &str) -> Result<usize> {
    if name.is_empty() || name.contains(['*', '?', '[', ']', '\\']) {
        bail!("queue name {name:?} would match other keys");
    }
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{name}:*"))
            .arg("COUNT")
            .arg(5000)
            .query_async(&mut c)
            .await?;
        if !keys.is_empty() {
            let n: usize = redis::cmd("UNLINK").arg(&keys).query_async(&mut c).await?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// `INFO commandstats` as command → calls. Redis counts the commands a Lua script runs under
/// their own names too, so only `eval`/`evalsha`/`script` are surely top-level.
pub async fn command_calls(url: &str) -> Result<std::collections::BTreeMap<String, u64>> {
    let client = redis::Client::open(url)?;
    let mut c = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await?;
    Ok(info
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .collect())
}

/// The process's peak resident set so far (`VmHWM`), in KiB; None off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// The current resident set (`VmRSS`), in KiB; None off Linux.
pub fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// A `… kB` line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The machine's CPU, as `/proc/cpuinfo` names it.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

// ---------------------------------------------------------------------------------------------
// SQL statements, as sqlx reports them

/// Counts sqlx's `sqlx::query` events (one per statement run; BEGIN and the ROLLBACK of a
/// dropped transaction are sent without one) by their first four words, with the time they
/// took as sqlx measured it, while switched on. Off, the events are not even built.
#[derive(Clone, Default)]
pub struct Statements {
    on: Arc<AtomicBool>,
    seen: Arc<Mutex<Counted>>,
}

/// Statement (first four words) → (how many, seconds in all).
pub type Counted = BTreeMap<String, (u64, f64)>;

impl Statements {
    /// Makes this the process's tracing subscriber (once a process).
    pub fn install(&self) -> Result<()> {
        let on = self.on.clone();
        let filter = dynamic_filter_fn(
            move |m: &tracing::Metadata<'_>, _: &LayerContext<'_, Registry>| {
                m.target() == "sqlx::query" && on.load(Ordering::Relaxed)
            },
        )
        .with_callsite_filter(|m: &'static tracing::Metadata<'static>| {
            if m.target() == "sqlx::query" {
                Interest::sometimes()
            } else {
                Interest::never()
            }
        });
        let subscriber = Registry::default().with(self.clone().with_filter(filter));
        tracing::subscriber::set_global_default(subscriber)
            .context("installing the statement counter")?;
        Ok(())
    }

    /// Switches counting on, from zero.
    pub fn start(&self) {
        self.lock().clear();
        self.on.store(true, Ordering::SeqCst);
    }

    /// Switches counting off; what was counted since `start`, by statement.
    pub fn stop(&self) -> Counted {
        self.on.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counted> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `summary` (the statement's first four words) and `elapsed_secs` of a `sqlx::query`
/// event.
#[derive(Default)]
struct Summary(String, f64);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            // sqlx appends " …" to a statement longer than its summary; the key is the words.
            self.0 = value.trim_end_matches(" …").to_string();
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.1 = value;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" && self.0.is_empty() {
            self.0 = format!("{value:?}")
                .trim_matches('"')
                .trim_end_matches(" …")
                .to_string();
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let mut summary = Summary::default();
        event.record(&mut summary);
        let mut seen = self.lock();
        let entry = seen.entry(summary.0).or_default();
        entry.0 += 1;
        entry.1 += summary.1;
    }
}

/// Statements counted in all.
pub fn total(counted: &Counted) -> u64 {
    counted.values().map(|(k, _)| k).sum()
}

/// How many times `statement` (its first four words) was counted.
pub fn count_of(counted: &Counted, statement: &str) -> u64 {
    counted.get(statement).map_or(0, |(k, _)| *k)
}
