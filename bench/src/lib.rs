//! What the benchmark binaries (`src/bin/*`) share: a fresh PostgreSQL database per run, an
//! engine on it, the process's peak memory, medians.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use mentorops_core::clock::ManualClock;
use mentorops_core::command::Engine;
use mentorops_core::db::Db;
use mentorops_core::settings::Settings;
use sqlx::{Connection, Executor, PgConnection};

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

/// The engine as the app builds it (config/default.toml), on `url`, with the clock at `now`.
pub async fn engine(url: &str, max_connections: u32, now: DateTime<Utc>) -> Result<Engine> {
    let data_dir = std::env::temp_dir().join("mentorops-bench");
    let settings = Settings::from_figment(
        Figment::new()
            .merge(Toml::string(include_str!("../../config/default.toml")))
            .merge(Serialized::default("database.url", url))
            .merge(Serialized::default(
                "app.data_dir",
                data_dir.display().to_string(),
            )),
    )?;
    let db = Db::connect(url, max_connections).await?;
    Ok(Engine::new(
        db,
        Arc::new(settings),
        Arc::new(ManualClock::new(now)),
    )?)
}

/// The process's peak resident set so far (`VmHWM`), in KiB; None off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The current resident set (`VmRSS`), in KiB; None off Linux.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs.get(xs.len() / 2).copied().unwrap_or_default()
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}
