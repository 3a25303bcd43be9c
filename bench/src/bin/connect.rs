//! Connection start-up on PostgreSQL (issue "Performance at program scale", point 5): N
//! sequential connections (default 50) to the URL as the app writes it
//! (`postgres://postgres@127.0.0.1:5432/test`, or `MENTOROPS_BENCH_CONNECT_URL`), with no
//! `sslmode` and with `sslmode=prefer`, `disable` and `require`, each timed three ways:
//!
//! - `PgConnection, sqlx` and `AnyConnection, sqlx`: sqlx's own `connect` on the URL — what
//!   `Db::connect` did before `plain_on_loopback` (the "before" figure). Both run on the
//!   workspace's sqlx-core, which sets TCP_NODELAY (vendor/README.md); without that patch the
//!   TLS rows cost ~92 ms (BENCHMARKS.md);
//! - `Db::connect`: the app's pool of one on the URL (opens one connection), with
//!   `db::plain_on_loopback` — the "after" figure.
//!
//! Only the connect is timed; each connection is closed before the next. `require` fails on a
//! server without TLS and is then reported as skipped.
//!
//! ```sh
//! CARGO_TARGET_DIR=… cargo run --release -p mentorops-bench --bin connect -- [n]
//! ```

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Result;
use mentorops_core::db::Db;
use sqlx::any::AnyConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection};

fn base_url() -> String {
    std::env::var("MENTOROPS_BENCH_CONNECT_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Times `n` runs of `connect` (each returns its own time, the close left out).
async fn time<F, Fut>(n: usize, mut connect: F) -> Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Duration>>,
{
    let mut xs = Vec::with_capacity(n);
    for _ in 0..n {
        xs.push(connect().await?);
    }
    Ok(xs)
}

fn report(label: &str, xs: Result<Vec<Duration>>) {
    let mut xs = match xs {
        Ok(xs) if !xs.is_empty() => xs,
        Ok(_) => return,
        Err(e) => {
            println!("mentorops pg connect ms: skipped ({label}): {e:#}");
            return;
        }
    };
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    println!(
        "mentorops pg connect ms: min {:.1} p50 {:.1} p95 {:.1} max {:.1}  ({label}, n={})",
        ms(xs[0]),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(xs[xs.len() - 1]),
        xs.len()
    );
}

#[tokio::main]
async fn main() -> Result<()> {
    sqlx::any::install_default_drivers();
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50);
    let base = base_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    println!("connect benchmark: {base}, n={n}");
    for mode in [None, Some("prefer"), Some("disable"), Some("require")] {
        let (url, what) = match mode {
            Some(m) => (format!("{base}{sep}sslmode={m}"), format!("sslmode={m}")),
            None => (base.clone(), "no sslmode (the app's URL)".to_string()),
        };
        let pg = PgConnectOptions::from_str(&url);
        let xs = match pg {
            Ok(pg) => {
                time(n, || async {
                    let t = Instant::now();
                    let c = pg.connect().await?;
                    let took = t.elapsed();
                    c.close().await?;
                    Ok(took)
                })
                .await
            }
            Err(e) => Err(e.into()),
        };
        report(&format!("{what}, PgConnection, sqlx"), xs);
        let any = AnyConnectOptions::from_str(&url)?;
        let xs = time(n, || async {
            let t = Instant::now();
            let c = AnyConnection::connect_with(&any).await?;
            let took = t.elapsed();
            c.close().await?;
            Ok(took)
        })
        .await;
        report(&format!("{what}, AnyConnection, sqlx (before)"), xs);
        let xs = time(n, || async {
            let t = Instant::now();
            let db = Db::connect(&url, 1).await?;
            let took = t.elapsed();
            db.close().await;
            Ok(took)
        })
        .await;
        let plain = if mentorops_core::db::plain_on_loopback(&url).is_some() {
            "plain on loopback"
        } else {
            "URL as is"
        };
        report(&format!("{what}, Db::connect, {plain} (after)"), xs);
    }
    Ok(())
}
