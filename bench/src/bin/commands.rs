//! List and recommendation commands at program scale (issue "Performance at program scale",
//! point 2), on SQLite and on PostgreSQL.
//!
//! Seeds one program ("Spring" of "Acme", config/default.toml's questionnaire) with N people
//! (default 10 000 and 100 000) straight into the tables, in SQL built here from numbers and
//! generated names only (the seeding script the issue asks for: [`seed`]):
//!
//! - 40 % mentors, 60 % mentees; 3 % also have a second persona of the other role; 4 % are
//!   unassigned (a persona with no program). Personas 95 % Active; match statuses spread
//!   (about 45 % RTBM, 30 % M, the rest N/A, C, RS, NM).
//! - User statuses: 62 % A, 14 % SI, 10 % AI, 14 % IW / IR / ID.
//! - Activity: 65 % active in the last 14 days, 25 % quiet for 15–120 days, 10 % never seen
//!   (added 20–400 days ago): a good share is "inactive".
//! - Answers: AI people answered part of the questionnaire, 95 % of the others all 7 questions
//!   (about 6 answer rows a person: ~600 000 at 100 000 people), with skewed choices so scores
//!   spread; 30 % have a tag; 3 audit entries a person.
//! - Person 0 is a mentee (A, RTBM, every answer) who declined three mentors' offers (they must
//!   not be recommended again); person 1 is whose `/history` is read.
//!
//! Then each command is run through the real `Engine` (`handle_text`, console front-end) as the
//! program manager of Spring (`/user_list role:mentor sort:last`, `/inactive`,
//! `/suggest #MENTEE`, `/history #PERSON`), the mentee (`/mentors`) and the super admin
//! (`/export`). Each command runs in a **child process** of its own (this binary with
//! `--child`), so its memory is measured alone: the child connects its engine (pool of 5, the
//! app's size), notes its resident set (`VmRSS`), runs the command once cold (counting the SQL
//! statements it runs, from sqlx's `sqlx::query` events), then `--runs` more times (default 5;
//! 1 when the cold run took over 10 s), and reports the median, the first run, the statements
//! and its peak resident set (`VmHWM`). Beside each command, the "one-query floor": the one
//! SQL query that fetches what the reply shows (for `/mentors` and `/suggest`: what scoring
//! needs, the available mentors with their answers), timed alone on the same pool (median of
//! `--runs`, after one warm-up).
//!
//! The SQLite database is a temp file; the PostgreSQL one is `mentorops_bench_commands_<pid in
//! letters>`, created fresh and dropped afterwards, on `MENTOROPS_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Figures are printed as a Markdown table;
//! progress goes to stderr.
//!
//! ```sh
//! CARGO_TARGET_DIR=… cargo build --release -p mentorops-bench --bin commands
//! …/release/commands [both|sqlite|postgres] [--users 10000,100000] [--runs 5] [--only mentors,inactive,…] [--replies DIR] [--keep]
//! ```

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use mentorops_bench::{
    Statements, drop_postgres, engine, fresh_postgres, median, peak_rss_kib, rss_kib,
};
use mentorops_core::command::{Caller, Engine, Frontend, Who};
use mentorops_core::questionnaire::{Answer, QuestionKind, Questionnaire};
use mentorops_core::rng::SplitMix64;
use sqlx::{AnyPool, Executor, Row};

const DAY_MS: i64 = 86_400_000;
/// Rows a seeding INSERT carries.
const CHUNK: usize = 500;
/// The clock every engine of a run (parent and children) is set to.
const NOW_MS: i64 = 1_780_000_000_000;

struct Options {
    what: String,
    users: Vec<usize>,
    runs: usize,
    only: Option<Vec<String>>,
    /// Where each reply's text is written (`<backend>-<people>-<command>.txt`), to compare runs.
    replies: Option<std::path::PathBuf>,
    /// Leaves the PostgreSQL databases in place (their names are printed), for EXPLAIN.
    keep: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        what: "both".into(),
        users: vec![10_000, 100_000],
        runs: 5,
        only: None,
        replies: None,
        keep: false,
    };
    let mut args = args.iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} VALUE"));
        match a.as_str() {
            "--users" => {
                o.users = value("--users")?
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?
            }
            "--runs" => o.runs = value("--runs")?.parse()?,
            "--replies" => o.replies = Some(value("--replies")?.into()),
            "--keep" => o.keep = true,
            "--only" => {
                o.only = Some(
                    value("--only")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                )
            }
            "both" | "sqlite" | "postgres" => o.what = a.clone(),
            other => bail!("unknown argument {other:?}"),
        }
    }
    if o.users.iter().any(|n| !(100..=2_000_000).contains(n)) || o.runs == 0 {
        bail!("--users: each from 100 to 2000000; --runs at least 1");
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// The child: one command, alone in its process.

/// `--child URL CALLER_ID RUNS LINE [REPLY_FILE]`: prints one line of JSON; writes the reply's
/// text to REPLY_FILE when given.
async fn child(args: &[String]) -> Result<()> {
    let (url, caller, runs, line, reply_file) = match args {
        [url, caller, runs, line] => (url, caller, runs, line, None),
        [url, caller, runs, line, file] => (url, caller, runs, line, Some(file)),
        _ => bail!("--child URL CALLER_ID RUNS LINE [REPLY_FILE]"),
    };
    let caller = Caller {
        frontend: Frontend::Console,
        who: Who::User(caller.parse()?),
    };
    let runs: usize = runs.parse()?;
    let statements = Statements::default();
    statements.install()?;
    let now = DateTime::from_timestamp_millis(NOW_MS).context("now")?;
    let engine = engine(url, 5, now).await?;
    // The pool's connections opened before the baseline is read.
    drop(open_pool(&engine).await?);
    let base = rss_kib();
    statements.start();
    let t = Instant::now();
    let out = engine.handle_text(&caller, line, Vec::new()).await;
    let cold = t.elapsed();
    let counted = mentorops_bench::total(&statements.stop());
    let (ok, lines, first) = match &out.result {
        Ok(r) => (
            true,
            r.text.lines().count(),
            r.text.lines().next().unwrap_or_default().to_string(),
        ),
        Err(e) => (false, 0, e.user_message()),
    };
    let last_line = match &out.result {
        Ok(r) => r.text.lines().last().unwrap_or_default().to_string(),
        Err(_) => String::new(),
    };
    if let Some(file) = reply_file {
        let text = match &out.result {
            Ok(r) => r.text.clone(),
            Err(e) => format!("refused: {}", e.user_message()),
        };
        std::fs::write(file, text)?;
    }
    drop(out);
    let runs = if cold > Duration::from_secs(10) {
        1
    } else {
        runs
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = engine.handle_text(&caller, line, Vec::new()).await;
        times.push(t.elapsed());
        if let Err(e) = out.result {
            bail!("{line}: {}", e.user_message());
        }
    }
    let report = serde_json::json!({
        "ok": ok,
        "cold_ms": ms(cold),
        "median_ms": ms(median(times.clone())),
        "min_ms": times.iter().min().map(|d| ms(*d)).unwrap_or_default(),
        "runs": runs,
        "statements": counted,
        "lines": lines,
        "first": first.chars().take(100).collect::<String>(),
        "last": last_line.chars().take(120).collect::<String>(),
        "base_kib": base,
        "peak_kib": peak_rss_kib(),
    });
    println!("{report}");
    engine.db().close().await;
    Ok(())
}

/// Opens the engine pool's connections (5) so the baseline memory includes them.
async fn open_pool(engine: &Engine) -> Result<Vec<sqlx::pool::PoolConnection<sqlx::Any>>> {
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(engine.db().pool().acquire().await?);
    }
    Ok(held)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

// ---------------------------------------------------------------------------------------------
// Seeding

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Who the commands run as, and about whom.
struct Cast {
    program_id: i64,
    pm: i64,
    admin: i64,
    mentee: i64,
    mentee_persona: i64,
    history_of: i64,
    inactive_after_days: i64,
}

const FIRST: [&str; 40] = [
    "Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Isabel", "Joao",
    "Karin", "Luis", "Marta", "Nuno", "Olivia", "Pedro", "Quinn", "Rosa", "Sergio", "Tania", "Ugo",
    "Vera", "Walter", "Ximena", "Yuri", "Zoe", "Amir", "Bea", "Chen", "Dana", "Emil", "Fatima",
    "Goran", "Hana", "Ines", "Jonas", "Kofi", "Lena", "Mei", "Noor",
];
const LAST: [&str; 60] = [
    "Lima",
    "Souza",
    "Silva",
    "Costa",
    "Pereira",
    "Almeida",
    "Barros",
    "Castro",
    "Dias",
    "Esteves",
    "Ferreira",
    "Gomes",
    "Henriques",
    "Izquierdo",
    "Jardim",
    "Klein",
    "Lopes",
    "Moreira",
    "Nunes",
    "Oliveira",
    "Pinto",
    "Queiroz",
    "Ramos",
    "Santos",
    "Teixeira",
    "Uchoa",
    "Vieira",
    "Weber",
    "Xavier",
    "Yamada",
    "Zanetti",
    "Adams",
    "Baker",
    "Clark",
    "Davis",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Martin",
    "Novak",
    "Ortiz",
    "Park",
    "Quist",
    "Reyes",
    "Schmidt",
    "Tanaka",
    "Usman",
    "Varga",
    "Wong",
    "Young",
    "Zhang",
    "de Souza",
    "van Dijk",
    "O'Neil",
    "Nakamura",
];

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt_num(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "NULL".into())
}

/// One answer to `q`, skewed so that people agree often enough for scores to spread.
fn answer(q: &mentorops_core::questionnaire::Question, r: &mut SplitMix64) -> Answer {
    let skewed = |r: &mut SplitMix64, n: usize| -> usize {
        // Half the time one of the first two options, else any.
        if r.below(2) == 0 {
            r.below(2.min(n as u64)) as usize
        } else {
            r.below(n as u64) as usize
        }
    };
    match q.kind {
        QuestionKind::Single => Answer::Single(q.options[skewed(r, q.options.len())].clone()),
        QuestionKind::Multi => {
            let mut chosen = vec![q.options[skewed(r, q.options.len())].clone()];
            for o in &q.options {
                if r.below(5) == 0 && !chosen.contains(o) {
                    chosen.push(o.clone());
                }
            }
            Answer::Multi(q.in_order(chosen))
        }
        QuestionKind::Scale => Answer::Scale(1 + r.below(5) as u8),
        QuestionKind::Text => Answer::Text(format!(
            "I would like to grow in my field and meet people; number {}",
            r.below(1_000_000)
        )),
    }
}

/// Runs the statements of one chunk.
async fn exec(pool: &AnyPool, sql: String) -> Result<()> {
    if !sql.is_empty() {
        pool.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    Ok(())
}

/// Seeds `n` people into Spring (see the module's comment); returns the cast.
async fn seed(engine: &Engine, backend: Backend, n: usize) -> Result<Cast> {
    let now = NOW_MS;
    let (admin_id, _) = mentorops_bench::spring_with_manager(engine).await?;
    let pool = engine.db().pool();
    let row = sqlx::query(
        "SELECT id, org_id, questionnaire, inactivity_after_secs FROM programs WHERE name = 'Spring'",
    )
    .fetch_one(pool)
    .await?;
    let program_id: i64 = row.try_get("id")?;
    let org_id: i64 = row.try_get("org_id")?;
    let q = Questionnaire::from_json(&row.try_get::<String, _>("questionnaire")?);
    let inactive_after_days = row.try_get::<i64, _>("inactivity_after_secs")? / 86_400;
    let pm: i64 = sqlx::query("SELECT id FROM users WHERE email = 'pm@example.org'")
        .fetch_one(pool)
        .await?
        .try_get("id")?;
    let base: i64 = sqlx::query("SELECT MAX(id) AS m FROM users")
        .fetch_one(pool)
        .await?
        .try_get::<i64, _>("m")?
        + 1;

    let mut users = Vec::new();
    let mut personas = Vec::new();
    let mut answers = Vec::new();
    let mut tags = Vec::new();
    let mut audit = Vec::new();
    let t = Instant::now();
    for i in 0..n {
        let mut r = SplitMix64(0x5EED_0000 + i as u64);
        let id = base + i as i64;
        let first = FIRST[r.below(FIRST.len() as u64) as usize];
        let last = LAST[r.below(LAST.len() as u64) as usize];
        let name = if r.below(5) == 0 {
            format!(
                "{first} {} {last}",
                FIRST[r.below(FIRST.len() as u64) as usize]
            )
        } else {
            format!("{first} {last}")
        };
        let mentor = r.below(5) < 2 && i != 0;
        let x = r.below(100);
        let status = match x {
            _ if i <= 1 => "A",
            0..62 => "A",
            62..76 => "SI",
            76..86 => "AI",
            86..91 => "IW",
            91..95 => "IR",
            _ => "ID",
        };
        let created = now - (20 + r.below(380) as i64) * DAY_MS - r.below(DAY_MS as u64) as i64;
        let a = r.below(100);
        let last_activity = match a {
            _ if i == 0 => Some(now - DAY_MS),
            0..65 => Some(now - r.below(14 * DAY_MS as u64) as i64),
            65..90 => Some(now - 15 * DAY_MS - r.below(105 * DAY_MS as u64) as i64),
            _ => None,
        }
        .map(|t: i64| t.max(created));
        let first_seen = last_activity.map(|l| created + (l - created) / 3);
        users.push(format!(
            "({id}, {}, {}, {}, {}, {}, {org_id}, {created}, {}, {})",
            lit(&format!("user{i}@bench.example")),
            lit(&format!("+1{}", 2_000_000_000 + i)),
            lit(&format!("x{i}")),
            lit(&name),
            lit(status),
            opt_num(first_seen),
            opt_num(last_activity),
        ));
        let program = if r.below(100) < 4 && i > 1 {
            "NULL".to_string()
        } else {
            program_id.to_string()
        };
        let pstatus = if r.below(100) < 5 && i > 1 {
            "inactive"
        } else {
            "active"
        };
        let m = r.below(100);
        let match_status = match m {
            _ if i == 0 => "RTBM",
            0..45 => "RTBM",
            45..75 => "M",
            75..85 => "N/A",
            85..92 => "C",
            92..97 => "RS",
            _ => "NM",
        };
        let role = if mentor { "mentor" } else { "mentee" };
        personas.push(format!(
            "({id}, {}, {program}, {}, {}, {created})",
            lit(role),
            lit(pstatus),
            lit(match_status)
        ));
        if r.below(100) < 3 && i > 1 {
            let other = if mentor { "mentee" } else { "mentor" };
            personas.push(format!(
                "({id}, {}, {program_id}, 'active', 'N/A', {created})",
                lit(other)
            ));
        }
        // Answers: AI people part of them; of the others 95 % all, 5 % none.
        let how_many = if status == "AI" {
            r.below(q.questions.len() as u64) as usize
        } else if r.below(100) < 95 || i <= 1 {
            q.questions.len()
        } else {
            0
        };
        if program != "NULL" {
            for question in q.questions.iter().take(how_many) {
                let v = serde_json::to_string(&answer(question, &mut r))?;
                answers.push(format!(
                    "({id}, {program_id}, {}, {}, 1, {created})",
                    lit(&question.key),
                    lit(&v)
                ));
            }
        }
        if r.below(100) < 30 {
            tags.push(format!(
                "({id}, 'cohort', {})",
                lit(&format!("20{}", 24 + r.below(3)))
            ));
        }
        for (k, (field, old, new)) in [
            ("status", "AI", "SI"),
            ("status", "SI", status),
            ("match_status", "N/A", match_status),
        ]
        .into_iter()
        .enumerate()
        {
            audit.push(format!(
                "({}, {admin_id}, 'console', {id}, 'user', {id}, {}, {}, {}, NULL)",
                created + k as i64 * DAY_MS,
                lit(field),
                lit(old),
                lit(new)
            ));
        }
        if users.len() >= CHUNK {
            flush(
                pool,
                &mut users,
                &mut personas,
                &mut answers,
                &mut tags,
                &mut audit,
            )
            .await?;
        }
    }
    flush(
        pool,
        &mut users,
        &mut personas,
        &mut answers,
        &mut tags,
        &mut audit,
    )
    .await?;
    if backend == Backend::Postgres {
        exec(
            pool,
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))"
                .into(),
        )
        .await?;
    }
    // The mentee declined three available mentors' offers in an earlier round.
    let mentee = base;
    let mentee_persona: i64 = sqlx::query("SELECT id FROM personas WHERE user_id = $1")
        .bind(mentee)
        .fetch_one(pool)
        .await?
        .try_get("id")?;
    let declined = sqlx::query(
        "SELECT p.id FROM personas p JOIN users u ON u.id = p.user_id WHERE p.program_id = $1 \
         AND p.role = 'mentor' AND p.status = 'active' AND p.match_status = 'RTBM' AND u.status = 'A' \
         ORDER BY p.id LIMIT 3",
    )
    .bind(program_id)
    .fetch_all(pool)
    .await?;
    for (rank, r) in declined.iter().enumerate() {
        let mentor: i64 = r.try_get("id")?;
        sqlx::query(
            "INSERT INTO offers (program_id, mentee_persona_id, mentor_persona_id, round, rank, state, \
             reason, created_at, sent_at, decided_at) VALUES ($1, $2, $3, 1, $4, 'declined', NULL, $5, $5, $5)",
        )
        .bind(program_id)
        .bind(mentee_persona)
        .bind(mentor)
        .bind(rank as i64 + 1)
        .bind(now - 3 * DAY_MS)
        .execute(pool)
        .await?;
    }
    seed_matches(pool, backend, program_id, now).await?;
    match backend {
        Backend::Postgres => {
            for table in [
                "users",
                "personas",
                "answers",
                "user_tags",
                "audit_log",
                "offers",
                "matches",
                "match_feedback",
            ] {
                exec(pool, format!("VACUUM ANALYZE {table}")).await?;
            }
        }
        Backend::Sqlite => exec(pool, "ANALYZE".into()).await?,
    }
    eprintln!("  seeded {n} people in {:.1} s", t.elapsed().as_secs_f64());
    Ok(Cast {
        program_id,
        pm,
        admin: admin_id,
        mentee,
        mentee_persona,
        history_of: base + 1,
        inactive_after_days,
    })
}

/// The matches behind the match statuses: each mentee persona in M paired with a mentor
/// persona in M (open), each in C with one in C (closed), in persona order; and for every
/// closed match the three close-of-match answers of both people (docs/domain.md#feedback). At
/// 100 000 people: about 12 000 open and 2 800 closed matches, 17 000 answers.
async fn seed_matches(pool: &AnyPool, backend: Backend, program_id: i64, now: i64) -> Result<()> {
    let of = |role: &'static str, status: &'static str| {
        sqlx::query(
            "SELECT id, user_id FROM personas WHERE program_id = $1 AND role = $2 \
             AND match_status = $3 ORDER BY id",
        )
        .bind(program_id)
        .bind(role)
        .bind(status)
        .fetch_all(pool)
    };
    let mut rows = Vec::new();
    let mut said = Vec::new();
    let mut tx = pool.begin().await?;
    let first_id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM matches")
        .fetch_one(&mut *tx)
        .await?
        .try_get("m")?;
    let mut id = first_id;
    for (status, state) in [("M", "open"), ("C", "closed")] {
        let (mentees, mentors) = (of("mentee", status).await?, of("mentor", status).await?);
        for (a, b) in mentees.iter().zip(&mentors) {
            id += 1;
            let closed_at = if state == "closed" {
                (now - 10 * DAY_MS).to_string()
            } else {
                "NULL".into()
            };
            rows.push(format!(
                "({id}, {program_id}, {}, {}, '{state}', 'assign', {}, {closed_at})",
                a.try_get::<i64, _>("id")?,
                b.try_get::<i64, _>("id")?,
                now - 60 * DAY_MS
            ));
            if state == "closed" {
                for user in [a.try_get::<i64, _>("user_id")?, b.try_get("user_id")?] {
                    for (q, answer) in [(1, "yes"), (2, "yes"), (3, "helpful")] {
                        said.push(format!(
                            "({id}, {user}, {program_id}, {q}, '{answer}', {})",
                            now - 9 * DAY_MS
                        ));
                    }
                }
            }
        }
    }
    for c in rows.chunks(CHUNK) {
        (&mut *tx)
            .execute(sqlx::AssertSqlSafe(format!(
                "INSERT INTO matches (id, program_id, mentee_persona_id, mentor_persona_id, status, via, \
                 created_at, closed_at) VALUES {}",
                c.join(", ")
            )))
            .await?;
    }
    for c in said.chunks(CHUNK) {
        (&mut *tx)
            .execute(sqlx::AssertSqlSafe(format!(
                "INSERT INTO match_feedback (match_id, user_id, program_id, question, answer, answered_at) \
                 VALUES {}",
                c.join(", ")
            )))
            .await?;
    }
    tx.commit().await?;
    if id > first_id && backend == Backend::Postgres {
        exec(
            pool,
            "SELECT setval(pg_get_serial_sequence('matches', 'id'), (SELECT MAX(id) FROM matches))"
                .into(),
        )
        .await?;
    }
    eprintln!("  {} matches, {} feedback answers", rows.len(), said.len());
    Ok(())
}

async fn flush(
    pool: &AnyPool,
    users: &mut Vec<String>,
    personas: &mut Vec<String>,
    answers: &mut Vec<String>,
    tags: &mut Vec<String>,
    audit: &mut Vec<String>,
) -> Result<()> {
    let insert = |head: &str, rows: &mut Vec<String>| -> Vec<String> {
        let out = rows
            .chunks(CHUNK)
            .map(|c| format!("{head} VALUES {}", c.join(", ")))
            .collect();
        rows.clear();
        out
    };
    let mut statements = insert(
        "INSERT INTO users (id, email, phone, external_id, full_name, status, org_id, created_at, first_seen_at, last_activity_at)",
        users,
    );
    statements.extend(insert(
        "INSERT INTO personas (user_id, role, program_id, status, match_status, created_at)",
        personas,
    ));
    statements.extend(insert(
        "INSERT INTO answers (user_id, program_id, question, value, complete, answered_at)",
        answers,
    ));
    statements.extend(insert("INSERT INTO user_tags (user_id, key, value)", tags));
    statements.extend(insert(
        "INSERT INTO audit_log (at, actor_user_id, frontend, subject_user_id, entity, entity_id, field, old_value, new_value, reason)",
        audit,
    ));
    let mut tx = pool.begin().await?;
    for s in statements {
        (&mut *tx).execute(sqlx::AssertSqlSafe(s)).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The one-query floors

/// The lower-cased last word of the name, and the lower-cased name, as each backend writes
/// them (names are stored with single spaces between words).
fn name_keys(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "lower(substr(u.full_name, length(rtrim(u.full_name, replace(u.full_name, ' ', ''))) + 1))",
            "lower(u.full_name)",
        ),
        Backend::Postgres => (
            "lower(substr(u.full_name, length(rtrim(u.full_name, replace(u.full_name, ' ', ''))) + 1) COLLATE \"C\")",
            "lower(u.full_name COLLATE \"C\")",
        ),
    }
}

fn agg(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => ("group_concat", "char(31)"),
        Backend::Postgres => ("string_agg", "chr(31)"),
    }
}

/// The one query that fetches what `command`'s reply shows, or None.
fn floor_sql(command: &str, backend: Backend, cast: &Cast, q: &Questionnaire) -> Option<String> {
    let program = cast.program_id;
    let (last, first) = name_keys(backend);
    let (agg, sep) = agg(backend);
    // The page of people (26: one screen and one more) sorted by `keys`, with their personas.
    let people = |filter: &str, keys: &[&str]| {
        let selected = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!(", {k} AS k{i}"))
            .collect::<String>();
        let outer = (0..keys.len())
            .map(|i| format!("k{i}, "))
            .collect::<String>();
        format!(
            "SELECT u.id, u.full_name, u.email, u.status, u.created_at, u.last_activity_at, p.role, \
             p.match_status, g.name FROM (SELECT u.id, u.full_name, u.email, u.status, u.created_at, \
             u.last_activity_at{selected} FROM users u WHERE {filter} ORDER BY {}, u.id LIMIT 26) u \
             LEFT JOIN personas p ON p.user_id = u.id LEFT JOIN programs g ON g.id = p.program_id \
             ORDER BY {outer}u.id, p.id",
            keys.join(", ")
        )
    };
    Some(match command {
        "user_list" => people(
            &format!(
                "EXISTS (SELECT 1 FROM personas p WHERE p.user_id = u.id AND p.role = 'mentor' AND p.program_id = {program})"
            ),
            &[last, first],
        ),
        "inactive" => people(
            &format!(
                "u.status IN ('A', 'SI') AND COALESCE(u.last_activity_at, u.created_at) < {} \
                 AND EXISTS (SELECT 1 FROM personas p WHERE p.user_id = u.id AND p.program_id = {program})",
                NOW_MS - cast.inactive_after_days * DAY_MS
            ),
            &["COALESCE(u.last_activity_at, u.created_at)"],
        ),
        "mentors" | "suggest" => {
            let keys = q
                .questions
                .iter()
                .filter(|x| x.weight > 0 && x.kind != QuestionKind::Text)
                .map(|x| lit(&x.key))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT p.id, u.id AS user_id, u.full_name, \
                 (SELECT {agg}(a.question || '=' || a.value, {sep}) FROM answers a WHERE a.user_id = u.id \
                  AND a.program_id = {program} AND a.complete = 1 AND a.question IN ({keys})) AS answers \
                 FROM personas p JOIN users u ON u.id = p.user_id \
                 WHERE p.program_id = {program} AND p.role = 'mentor' AND p.status = 'active' \
                 AND p.match_status = 'RTBM' AND u.status = 'A' AND u.id <> {mentee} \
                 AND NOT EXISTS (SELECT 1 FROM offers o WHERE o.mentee_persona_id = {mp} \
                 AND o.mentor_persona_id = p.id AND o.state IN ('declined', 'expired'))",
                mentee = cast.mentee,
                mp = cast.mentee_persona,
            )
        }
        "history" => format!(
            "SELECT a.id, a.at, a.frontend, a.entity, a.entity_id, a.field, a.old_value, a.new_value, \
             a.reason, actor.full_name FROM audit_log a LEFT JOIN users actor ON actor.id = a.actor_user_id \
             WHERE a.subject_user_id = {} ORDER BY a.id DESC LIMIT 20",
            cast.history_of
        ),
        "export" => format!(
            "SELECT u.id, u.full_name, u.email, u.phone, u.external_id, u.status, u.created_at, \
             u.first_seen_at, u.last_activity_at, t.tags, p.id AS persona_id, p.role, g.name, p.status AS ps, \
             p.match_status, (SELECT m.id FROM matches m WHERE m.status = 'open' AND \
             (m.mentee_persona_id = p.id OR m.mentor_persona_id = p.id) LIMIT 1) AS open_match \
             FROM users u LEFT JOIN personas p ON p.user_id = u.id LEFT JOIN programs g ON g.id = p.program_id \
             LEFT JOIN (SELECT user_id, {agg}(key || '=' || value, ',') AS tags FROM user_tags GROUP BY user_id) t \
             ON t.user_id = u.id ORDER BY u.id, p.id"
        ),
        _ => return None,
    })
}

async fn time_floor(pool: &AnyPool, sql: &str, runs: usize) -> Result<(Duration, usize)> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(pool)
        .await
        .with_context(|| format!("floor: {sql}"))?
        .len();
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let got = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(pool)
            .await?;
        times.push(t.elapsed());
        drop(got);
    }
    Ok((median(times), rows))
}

// ---------------------------------------------------------------------------------------------

struct Line {
    backend: &'static str,
    users: usize,
    command: String,
    report: serde_json::Value,
    floor: Option<(Duration, usize)>,
}

async fn run(
    backend: Backend,
    url: &str,
    n: usize,
    o: &Options,
    out: &mut Vec<Line>,
) -> Result<()> {
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let now = DateTime::<Utc>::from_timestamp_millis(NOW_MS).context("now")?;
    let engine = engine(url, 5, now).await?;
    let cast = seed(&engine, backend, n).await?;
    let q = mentorops_core::store::orgs::list_programs(&mut *engine.db().pool().acquire().await?)
        .await?
        .into_iter()
        .find(|p| p.id == cast.program_id)
        .map(|p| p.questionnaire)
        .unwrap_or_default();
    // (name, who runs it, the line, the line as the table shows it)
    let commands: Vec<(&str, i64, String, &str)> = vec![
        (
            "user_list",
            cast.pm,
            "/user_list role:mentor sort:last".into(),
            "/user_list role:mentor sort:last",
        ),
        ("inactive", cast.pm, "/inactive".into(), "/inactive"),
        ("mentors", cast.mentee, "/mentors".into(), "/mentors"),
        (
            "suggest",
            cast.pm,
            format!("/suggest #{}", cast.mentee),
            "/suggest MENTEE",
        ),
        (
            "history",
            cast.pm,
            format!("/history #{}", cast.history_of),
            "/history PERSON",
        ),
        // A program manager's whole log: entries about the people they reach, counted and
        // paged in SQL (docs/domain.md#scope).
        (
            "history_all",
            cast.pm,
            "/history".into(),
            "/history (a PM's reach)",
        ),
        ("export", cast.admin, "/export".into(), "/export"),
    ];
    let exe = std::env::current_exe()?;
    for (what, caller, line, shown) in commands {
        if o.only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|x| x == what))
        {
            continue;
        }
        eprintln!("  {name} {n}: {line}");
        let mut command = tokio::process::Command::new(&exe);
        command
            .arg("--child")
            .arg(url)
            .arg(caller.to_string())
            .arg(o.runs.to_string())
            .arg(&line);
        if let Some(dir) = &o.replies {
            std::fs::create_dir_all(dir)?;
            command.arg(dir.join(format!("{}-{n}-{what}.txt", name.to_lowercase())));
        }
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output()
            .await?;
        if !child.status.success() {
            bail!("{line}: the child failed ({})", child.status);
        }
        let report: serde_json::Value = serde_json::from_slice(&child.stdout)
            .with_context(|| String::from_utf8_lossy(&child.stdout).to_string())?;
        eprintln!("    {report}");
        let floor = match floor_sql(what, backend, &cast, &q) {
            Some(sql) => Some(time_floor(engine.db().pool(), &sql, o.runs).await?),
            None => None,
        };
        out.push(Line {
            backend: name,
            users: n,
            command: shown.to_string(),
            report,
            floor,
        });
    }
    engine.db().close().await;
    Ok(())
}

fn print(lines: &[Line], runs: usize) {
    println!(
        "\nmachine: {} vCPU; each command in its own process (median of {runs} runs after a cold one; 1 when the cold one took > 10 s)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| backend | people | command | median | cold | SQL statements | lines | one-query floor (rows) | RSS before | peak RSS |"
    );
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or_default();
    let mib = |v: &serde_json::Value| {
        v.as_u64()
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    for l in lines {
        let r = &l.report;
        println!(
            "| {} | {} | `{}` | {:.1} ms | {:.1} ms | {} | {} | {} | {} | {} |",
            l.backend,
            l.users,
            l.command,
            f(&r["median_ms"]),
            f(&r["cold_ms"]),
            r["statements"],
            r["lines"],
            l.floor
                .map(|(d, rows)| format!("{:.1} ms ({rows})", d.as_secs_f64() * 1000.0))
                .unwrap_or_else(|| "-".into()),
            mib(&r["base_kib"]),
            mib(&r["peak_kib"]),
        );
    }
    println!();
    for l in lines {
        println!(
            "{} {} `{}`: {} … {}",
            l.backend, l.users, l.command, l.report["first"], l.report["last"]
        );
    }
}

/// `mentorops_bench_commands_` and the process id in letters (database names here take
/// letters and _ only).
fn database_name(n: usize) -> String {
    let letters = |x: u64| -> String {
        x.to_string()
            .chars()
            .map(|c| (b'a' + c.to_digit(10).unwrap_or(0) as u8) as char)
            .collect()
    };
    format!(
        "mentorops_bench_commands_{}_{}",
        letters(u64::from(std::process::id())),
        letters(n as u64)
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]).await;
    }
    let o = options(&args)?;
    let mut lines = Vec::new();
    for &n in &o.users {
        if o.what != "postgres" {
            let dir = std::env::temp_dir().join(format!(
                "mentorops-bench-commands-{}-{n}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}/commands.db?mode=rwc", dir.display());
            mentorops_core::db::Db::connect(&url, 1)
                .await?
                .migrate()
                .await?;
            let ran = run(Backend::Sqlite, &url, n, &o, &mut lines).await;
            let _ = std::fs::remove_dir_all(&dir);
            ran?;
        }
        if o.what != "sqlite" {
            let name = database_name(n);
            let url = fresh_postgres(&name).await?;
            let ran = run(Backend::Postgres, &url, n, &o, &mut lines).await;
            if o.keep {
                eprintln!("kept {url}");
            } else {
                drop_postgres(&name).await?;
            }
            ran?;
        }
    }
    print(&lines, o.runs);
    Ok(())
}
