//! `/user_import` of a big file (issue 11, point 9), on SQLite and on PostgreSQL.
//!
//! A ~10 MB CSV of valid rows (default 130 000: `Bench Person {i}`, an email and a phone of
//! their own, mentors and mentees in turn, program Spring) is generated in memory, then
//! imported the way a Telegram upload is: a recorded inbox update run by
//! `Engine::run_inbound` with its reply routed to the outbox, by the super admin linked to a
//! Telegram account, with `import.max_rows` raised to the file's size. Meanwhile another user
//! (a program manager) runs `/me` every 100 ms (a write on every run: their activity).
//!
//! Reported per backend: the import's total time and rows/s; the other user's command latency
//! p50 / p99 / max and how many failed; the progress messages queued to the uploader and the
//! largest gap between the import's start, each of them and the final answer (by the outbox
//! rows' `created_at`); the peak resident set of the process during the import (`VmHWM`, reset
//! before each import through `/proc/self/clear_refs`; the generated file itself is in it);
//! then how long a new file of the same size with its last row bad takes to be checked and
//! refused, and the imported file sent again (every row already stored: the slowest check).
//! `--index-link-codes` creates the index on `link_codes(user_id)` if it is missing (migration
//! 0007 has it now: each new person's link code deletes their unused ones, which without it is
//! a scan of the whole table per person).
//!
//! The SQLite database is a fresh file under the system temp folder; the PostgreSQL one is
//! `mentorops_bench_import`, created fresh and dropped afterwards, on
//! `MENTOROPS_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! Both use the app's pool size (config/default.toml `database.max_connections`, 5). Nothing
//! but 127.0.0.1 is contacted. Figures are printed as a Markdown table; progress to stderr.
//!
//! ```sh
//! CARGO_TARGET_DIR=… cargo run --release -p mentorops-bench --bin import -- [both|sqlite|postgres] [--rows 130000] [--pool 5] [--index-link-codes]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use mentorops_bench::{drop_postgres, fresh_postgres, live_engine, mib, peak_rss_kib, rss_kib};
use mentorops_core::command::{Caller, Frontend, Inbound, ReplyRoute, ReplyTarget, Who, parse};
use mentorops_core::reply::Attachment;
use mentorops_core::store::inbox;
use sqlx::Row;

const DATABASE: &str = "mentorops_bench_import";
/// The uploader's Telegram account (and chat).
const UPLOADER_CHAT: &str = "9001";
/// How often the other user runs a command.
const EVERY: Duration = Duration::from_millis(100);

struct Options {
    what: String,
    rows: usize,
    pool: u32,
    /// Adds an index on `link_codes(user_id)`, which the migrations do not have, to measure
    /// what it changes (every new person's link code first deletes their unused ones, a scan
    /// of the whole table without it).
    index_link_codes: bool,
}

fn options() -> Result<Options> {
    let mut o = Options {
        what: "both".into(),
        rows: 130_000,
        pool: 5,
        index_link_codes: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} N"));
        match a.as_str() {
            "--rows" => o.rows = value("--rows")?.parse()?,
            "--pool" => o.pool = value("--pool")?.parse()?,
            "--index-link-codes" => o.index_link_codes = true,
            "both" | "sqlite" | "postgres" => o.what = a,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if o.rows == 0 || o.rows > 10_000_000 || o.pool == 0 {
        bail!("--rows (1..=10000000) and --pool must be at least 1");
    }
    Ok(o)
}

/// A file of valid rows, about 78 bytes each, of people `domain` (`bench` or `other`: their
/// own emails and phones); with `bad_last`, the last row's email is not one.
fn file(rows: usize, domain: &str, bad_last: bool) -> Vec<u8> {
    let first_phone = if domain == "bench" {
        10_000_000
    } else {
        50_000_000
    };
    let mut f = String::with_capacity(rows * 80 + 40);
    f.push_str("name,email,phone,role,program\n");
    for i in 0..rows {
        let email = if bad_last && i + 1 == rows {
            "not-an-email".to_string()
        } else {
            format!("bench.person{i}@{domain}.example")
        };
        f.push_str(&format!(
            "Bench Person {i},{email},+55119{:08},{},Spring\n",
            first_phone + i,
            if i % 2 == 0 { "mentee" } else { "mentor" }
        ));
    }
    f.into_bytes()
}

/// Runs `/user_import` of `bytes` as `caller` (the console: no progress messages); how long it
/// took to be refused, and how many rows the refusal names.
async fn refused_after(
    engine: &mentorops_core::command::Engine,
    caller: &Caller,
    bytes: Vec<u8>,
) -> (Duration, String) {
    let t = Instant::now();
    let r = engine
        .handle_text(
            caller,
            "/user_import file:people.csv",
            vec![Attachment {
                file_name: "people.csv".into(),
                media_type: "text/csv".into(),
                bytes,
            }],
        )
        .await
        .result;
    let took = t.elapsed();
    let said = match r {
        Ok(r) => format!("not refused: {}", r.text),
        Err(e) => e
            .user_message()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    (took, said)
}

/// What one backend's run measured.
struct Figures {
    backend: &'static str,
    rows: usize,
    imported: bool,
    answer: String,
    took: Duration,
    side: Vec<Duration>,
    side_failed: usize,
    progress: usize,
    largest_gap: Duration,
    rss_before_kib: Option<u64>,
    peak_kib: Option<u64>,
    /// A new file of the same size with its last row bad: how long until it was refused.
    refusal: Duration,
    /// The imported file sent again: how long until it was refused.
    resent: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

async fn run(backend: &'static str, url: &str, o: &Options, bytes: &[u8]) -> Result<Figures> {
    let engine =
        Arc::new(live_engine(url, o.pool, &[("import.max_rows", (o.rows as u64).into())]).await?);
    engine.db().migrate().await?;
    if o.index_link_codes {
        sqlx::query("CREATE INDEX IF NOT EXISTS link_codes_user ON link_codes(user_id)")
            .execute(engine.db().pool())
            .await?;
    }
    let (_, admin) = mentorops_bench::spring_with_manager(&engine).await?;
    let code = mentorops_core::bootstrap::new_link_code(&engine, "admin@example.org").await?;
    let uploader = Caller {
        frontend: Frontend::Telegram,
        who: Who::Account {
            provider: "telegram".into(),
            account_id: UPLOADER_CHAT.into(),
            handle: None,
        },
    };
    engine
        .handle_text(&uploader, &format!("/link {code}"), Vec::new())
        .await
        .result
        .map_err(|e| anyhow::anyhow!("/link: {}", e.user_message()))?;
    let pm_id = {
        let mut c = engine.db().pool().acquire().await?;
        mentorops_core::store::users::by_email(&mut c, "pm@example.org")
            .await?
            .map(|u| u.id)
            .context("the program manager")?
    };
    let pm = Caller {
        frontend: Frontend::Console,
        who: Who::User(pm_id),
    };

    let key = inbox::Key {
        platform: "telegram".into(),
        update_key: "1".into(),
        lane: UPLOADER_CHAT.into(),
    };
    {
        let mut c = engine.db().pool().acquire().await?;
        inbox::receive(&mut c, &key, "{}", engine.now()).await?;
    }
    let inbound = Inbound {
        key,
        received: true,
        reply: Some(ReplyRoute {
            channel: "chat:telegram".into(),
            recipient: UPLOADER_CHAT.into(),
            on_success: ReplyTarget::New,
            on_refusal: ReplyTarget::New,
        }),
    };
    let mut inv = parse("/user_import file:people.csv")
        .map_err(|e| anyhow::anyhow!("{}", e.user_message()))?;
    inv.attachments = vec![Attachment {
        file_name: "people.csv".into(),
        media_type: "text/csv".into(),
        bytes: bytes.to_vec(),
    }];

    // The other user: `/me` every 100 ms until the import is done.
    let done = Arc::new(AtomicBool::new(false));
    let side = {
        let engine = engine.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let (mut took, mut failed) = (Vec::new(), 0usize);
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                let t = Instant::now();
                let r = engine.handle_text(&pm, "/me", Vec::new()).await.result;
                took.push(t.elapsed());
                if let Err(e) = r {
                    failed += 1;
                    eprintln!("  /me failed: {}", e.user_message());
                }
            }
            (took, failed)
        })
    };

    let rss_before_kib = rss_kib();
    // Peak from here on: writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    eprintln!("{backend}: importing {} rows…", o.rows);
    let started_ms = engine.now().timestamp_millis();
    let t0 = Instant::now();
    let outcome = engine.run_inbound(&uploader, Ok(inv), &inbound).await;
    let took = t0.elapsed();
    let peak_kib = peak_rss_kib();
    done.store(true, Ordering::Relaxed);
    let (mut side_took, side_failed) = side.await?;
    side_took.sort();
    let (imported, answer) = match &outcome.result {
        Ok(r) => (true, r.text.lines().next().unwrap_or_default().to_string()),
        Err(e) => (false, e.user_message()),
    };

    let rows = sqlx::query(
        "SELECT created_at, idempotency_key FROM outbox WHERE channel = 'chat:telegram' AND recipient = $1 ORDER BY id",
    )
    .bind(UPLOADER_CHAT)
    .fetch_all(engine.db().pool())
    .await?;
    let mut times = vec![started_ms];
    let mut progress = 0;
    for r in &rows {
        let key: String = r.try_get("idempotency_key")?;
        if key.starts_with("import:") {
            progress += 1;
        }
        times.push(r.try_get::<i64, _>("created_at")?);
    }
    let largest_gap = times
        .windows(2)
        .map(|w| Duration::from_millis((w[1] - w[0]).max(0) as u64))
        .max()
        .unwrap_or_default();
    // Checked whole and refused, by the console admin: a new file whose last row is bad, and
    // the imported file sent again (every row names a person stored: the most work a check
    // does, three look-ups a row).
    let (refusal, said) = refused_after(&engine, &admin, file(o.rows, "other", true)).await;
    eprintln!("  {backend}: last row bad: {said}");
    let (resent, said) = refused_after(&engine, &admin, bytes.to_vec()).await;
    eprintln!("  {backend}: sent again: {said}");
    let users: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM users WHERE email LIKE '%@bench.example'")
            .fetch_one(engine.db().pool())
            .await?
            .try_get("n")?;
    if users as usize != o.rows {
        eprintln!("  {backend}: {users} people stored, {} expected", o.rows);
    }
    engine.db().close().await;
    Ok(Figures {
        backend,
        rows: o.rows,
        imported,
        answer,
        took,
        side: side_took,
        side_failed,
        progress,
        largest_gap,
        rss_before_kib,
        peak_kib,
        refusal,
        resent,
    })
}

fn print(figures: &[Figures], bytes: usize, indexed: bool) {
    println!(
        "\n`/user_import` of {:.1} MB ({} rows), `/me` by another user every 100 ms meanwhile{}\n",
        bytes as f64 / 1_000_000.0,
        figures.first().map(|f| f.rows).unwrap_or_default(),
        if indexed {
            ", with an index on link_codes(user_id)"
        } else {
            ""
        }
    );
    println!(
        "| backend | import | rows/s | other user's `/me`: n, p50 / p99 / max, failed | progress messages | largest gap | RSS before → peak during | refused after: last row bad / the file sent again |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for f in figures {
        println!(
            "| {} | {:.1} s{} | {:.0} | {}, {} / {} / {}, {} | {} | {:.1} s | {} → {} | {:.1} s / {:.1} s |",
            f.backend,
            f.took.as_secs_f64(),
            if f.imported { "" } else { " (refused)" },
            f.rows as f64 / f.took.as_secs_f64().max(1e-9),
            f.side.len(),
            ms(percentile(&f.side, 0.50)),
            ms(percentile(&f.side, 0.99)),
            ms(f.side.last().copied().unwrap_or_default()),
            f.side_failed,
            f.progress,
            f.largest_gap.as_secs_f64(),
            mib(f.rss_before_kib),
            mib(f.peak_kib),
            f.refusal.as_secs_f64(),
            f.resent.as_secs_f64(),
        );
    }
    for f in figures {
        println!("\n{}: {}", f.backend, f.answer);
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let bytes = file(o.rows, "bench", false);
    eprintln!("generated {} bytes", bytes.len());
    let mut figures = Vec::new();
    if o.what != "postgres" {
        let dir =
            std::env::temp_dir().join(format!("mentorops-bench-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}/import.db?mode=rwc", dir.display());
        let ran = run("SQLite", &url, &o, &bytes).await;
        let _ = std::fs::remove_dir_all(&dir);
        figures.push(ran?);
    }
    if o.what != "sqlite" {
        let url = fresh_postgres(DATABASE).await?;
        let ran = run("PostgreSQL", &url, &o, &bytes).await;
        drop_postgres(DATABASE).await?;
        figures.push(ran?);
    }
    print(&figures, bytes.len(), o.index_link_codes);
    Ok(())
}
