//! The Telegram chat edge end to end, in one process, against the fake Bot API
//! (`mentorops_tests::fake_telegram`) on 127.0.0.1, on a fresh PostgreSQL database.
//!
//! A. The edge: the real front-end (`mentorops_bot::telegram::Telegram`: long polling, the
//!    inbox's lanes, the outbox delivery driver) with production's tuning
//!    (`Tuning::from_settings`: 28 messages/s per process, 1 s between two messages to one
//!    chat, 16 chats run at once), only `poll_timeout` shortened to 1 s. 200 chats
//!    (ids 70000..70200, unlinked accounts) × 20 commands `/help c{chat}n{i}`, all pushed to
//!    the fake at t0, round robin over the chats. Each is refused by the core with its own text
//!    ("✗ there is no command /c70000n0: …"), so it takes the whole command path: recorded in
//!    the inbox by the poller, claimed by a lane, run in a transaction that marks it done, the
//!    refusal queued in the outbox, delivered by the paced driver. Measured until every
//!    command has an accepted `sendMessage` (then 2 s more, to see late doubles): commands/s,
//!    replies/s against Telegram's 30/s, latency push → reply, lost and doubled replies, and
//!    where the time goes — every update recorded (`MAX(received_at)`), the last command done
//!    (`MAX(done_at)` of `chat_inbox`), the last reply — against the pace's own floor
//!    (max(N / pace per s, (per chat − 1) × 1 s)).
//! B. The cost of the exactly-once record: N commands (default 2000) run straight through the
//!    engine, one at a time, as `engine.handle_text(caller, "/help")` and as
//!    `engine.run_inbound(caller, parse("/help"), inbound)` with a Telegram `Inbound` (its key
//!    recorded done in the command's transaction, the reply queued in the outbox in it),
//!    alternating which goes first; mean, p50 and p99 of each and the difference. The SQL
//!    statements each runs are counted from sqlx's own `sqlx::query` events, on 20 more
//!    commands of each kind (sqlx sends BEGIN, and the ROLLBACK of a dropped transaction,
//!    without an event: one BEGIN per COMMIT is added; A states its estimate of both).
//!
//! Both scenarios use the app's pool size (config/default.toml `database.max_connections`,
//! 5) and their own database `mentorops_bench_chat`, created fresh and dropped afterwards, on
//! `MENTOROPS_BENCH_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! Nothing but 127.0.0.1 is contacted. Scenario A takes about two and a half minutes (the
//! pace's floor is 142 s at 28/s; see BENCHMARKS.md "Chat edge" for how the claim queries
//! once made it processing-bound); B about ten seconds. The figures
//! are printed as Markdown tables, progress goes to stderr.
//!
//! ```sh
//! CARGO_TARGET_DIR=… cargo run --release -p mentorops-bench --bin chat -- [all|edge|direct] [--chats 200] [--per-chat 20] [--direct 2000] [--pool 5] [--timeout 600]
//! ```

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use mentorops_bench::{
    Counted, Statements, count_of, cpu_model, drop_postgres, fresh_postgres, live_engine, total,
};
use mentorops_bot::telegram::{Telegram, Tuning};
use mentorops_core::command::{
    Caller, Engine, Frontend, Inbound, Outcome, ReplyRoute, ReplyTarget, Who, parse,
};
use mentorops_core::store::inbox;
use mentorops_tests::fake_telegram::{Call, Fake, chat_of};
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

const DATABASE: &str = "mentorops_bench_chat";
const FIRST_CHAT: i64 = 70_000;
/// Scenario B's callers: 200 chats of their own.
const DIRECT_FIRST_CHAT: i64 = 80_000;
/// Telegram's limit for a bot: about 30 messages a second in all.
const TELEGRAM_PER_SECOND: f64 = 30.0;
/// Scenario B: untimed commands of each kind first (connections, statement caches).
const WARM_UP: usize = 100;
/// Scenario B: commands of each kind whose SQL statements are counted.
const COUNTED: usize = 20;

struct Options {
    what: String,
    chats: i64,
    per_chat: usize,
    direct: usize,
    /// The app's PostgreSQL pool (config/default.toml: 5).
    pool: u32,
    /// Scenario A gives up waiting for replies after this long.
    timeout: Duration,
}

fn options() -> Result<Options> {
    let mut o = Options {
        what: "all".into(),
        chats: 200,
        per_chat: 20,
        direct: 2000,
        pool: 5,
        timeout: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} N"));
        match a.as_str() {
            "--chats" => o.chats = value("--chats")?.parse()?,
            "--per-chat" => o.per_chat = value("--per-chat")?.parse()?,
            "--direct" => o.direct = value("--direct")?.parse()?,
            "--pool" => o.pool = value("--pool")?.parse()?,
            "--timeout" => o.timeout = Duration::from_secs(value("--timeout")?.parse()?),
            "all" | "edge" | "direct" => o.what = a,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if !(1..=10_000).contains(&o.chats) || o.per_chat == 0 || o.direct == 0 || o.pool == 0 {
        bail!("--chats (1..=10000), --per-chat, --direct and --pool must be at least 1");
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let statements = Statements::default();
    statements.install()?;
    println!(
        "machine: {} vCPU, {}; PostgreSQL {}; pool {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        postgres_version().await?,
        o.pool
    );
    if o.what == "all" || o.what == "direct" {
        let url = fresh_postgres(DATABASE).await?;
        let result = direct(&o, &url, &statements).await;
        drop_postgres(DATABASE).await?;
        print_direct(&o, &result?);
    }
    if o.what == "all" || o.what == "edge" {
        let url = fresh_postgres(DATABASE).await?;
        let result = edge(&o, &url, &statements).await;
        drop_postgres(DATABASE).await?;
        print_edge(&o, &result?);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A. The edge

struct Edge {
    commands: usize,
    per_second: usize,
    push: Duration,
    /// t0 → the last accepted reply.
    last_reply: Duration,
    /// t0 → each accepted sendMessage, sorted.
    reply_times: Vec<Duration>,
    first_reply: Duration,
    /// t0 → the last update written to the inbox (`MAX(received_at)`).
    all_recorded: Option<Duration>,
    /// t0 → the last command done (`MAX(done_at)`).
    all_done: Option<Duration>,
    inbox_done: i64,
    max_attempts: i64,
    /// Push → first accepted reply, per answered command, sorted.
    latencies: Vec<Duration>,
    lost: usize,
    doubled: usize,
    extra_replies: usize,
    unmatched: usize,
    rejected: usize,
    /// The most accepted sendMessage calls in any one second.
    busiest_second: usize,
    /// The shortest gap between two replies to one chat.
    closest_in_chat: Option<Duration>,
    other_calls: BTreeMap<String, usize>,
    statements: Counted,
    cpu: Cpu,
}

/// `(chat index, command index)` of a reply's text: `… /c{chat}n{i}: …`.
fn key_of(text: &str) -> Option<(i64, usize)> {
    let rest = text.split("/c").nth(1)?;
    let (chat, rest) = rest.split_once('n')?;
    let i: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((chat.parse().ok()?, i.parse().ok()?))
}

/// The slot of a reply among the commands, when it answers one of them in the right chat.
fn slot_of(call: &Call, o: &Options) -> Option<usize> {
    let (chat, i) = key_of(call.body["text"].as_str()?)?;
    let c = chat - FIRST_CHAT;
    if !(0..o.chats).contains(&c) || i >= o.per_chat || chat_of(&call.body) != Some(chat) {
        return None;
    }
    Some(usize::try_from(c).ok()? * o.per_chat + i)
}

async fn edge(o: &Options, url: &str, statements: &Statements) -> Result<Edge> {
    let engine = Arc::new(live_engine(url, o.pool, &[]).await?);
    let fake = Fake::start().await;
    let tuning = Tuning {
        poll_timeout: Duration::from_secs(1),
        ..Tuning::from_settings(&engine.settings().chat)
    };
    let per_second = tuning.per_second;
    let stop = CancellationToken::new();
    let mut front = tokio::spawn(
        Telegram::new(engine.clone(), fake.settings())
            .tuning(tuning)
            .run(stop.clone()),
    );
    // Up once it polls.
    let starting = Instant::now();
    while fake.lock().polls.is_empty() {
        if front.is_finished() {
            let ended = (&mut front).await;
            bail!("the Telegram front-end ended before it polled: {ended:?}");
        }
        if starting.elapsed() > Duration::from_secs(30) {
            bail!("the Telegram front-end did not poll within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let n = usize::try_from(o.chats)? * o.per_chat;
    let cpu_before = cpu_sample(DATABASE);
    statements.start();
    let t0 = Instant::now();
    let t0_ms = Utc::now().timestamp_millis();
    let mut pushed = vec![t0; n];
    for i in 0..o.per_chat {
        for c in 0..o.chats {
            let chat = FIRST_CHAT + c;
            fake.text(chat, &format!("/help c{chat}n{i}"));
            pushed[usize::try_from(c)? * o.per_chat + i] = Instant::now();
        }
    }
    let push = t0.elapsed();
    eprintln!(
        "edge: {n} commands pushed in {:.0} ms; waiting for the replies",
        push.as_secs_f64() * 1000.0
    );

    let mut said = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut answered = vec![false; n];
        for call in fake.calls("sendmessage").iter().filter(|c| !c.rejected) {
            if let Some(s) = slot_of(call, o) {
                answered[s] = true;
            }
        }
        let answered = answered.iter().filter(|a| **a).count();
        if answered == n {
            break;
        }
        if front.is_finished() {
            eprintln!("edge: the front-end stopped with {answered} of {n} answered");
            break;
        }
        if t0.elapsed() > o.timeout {
            eprintln!("edge: timed out with {answered} of {n} answered");
            break;
        }
        if said.elapsed() >= Duration::from_secs(15) {
            eprintln!(
                "edge: {:>5.1} s: {answered} of {n} answered",
                t0.elapsed().as_secs_f64()
            );
            said = Instant::now();
        }
    }
    let cpu = cpu_sample(DATABASE).since(&cpu_before, t0.elapsed());
    // Late doubles would come now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counted = statements.stop();
    stop.cancel();
    match tokio::time::timeout(Duration::from_secs(30), front).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("edge: the front-end ended with {e:#}"),
        Ok(Err(e)) => eprintln!("edge: the front-end task failed: {e}"),
        Err(_) => eprintln!("edge: the front-end did not stop within 30 s"),
    }

    // What the fake saw.
    let sends = fake.calls("sendmessage");
    let mut first: Vec<Option<Duration>> = vec![None; n];
    let mut replies = vec![0usize; n];
    let mut unmatched = 0;
    let mut accepted_at = Vec::new();
    let mut per_chat: BTreeMap<i64, Vec<Instant>> = BTreeMap::new();
    for call in sends.iter().filter(|c| !c.rejected) {
        accepted_at.push(call.at);
        if let Some(chat) = chat_of(&call.body) {
            per_chat.entry(chat).or_default().push(call.at);
        }
        match slot_of(call, o) {
            Some(s) => {
                replies[s] += 1;
                let latency = call.at.saturating_duration_since(pushed[s]);
                if first[s].is_none_or(|f| latency < f) {
                    first[s] = Some(latency);
                }
            }
            None => unmatched += 1,
        }
    }
    accepted_at.sort();
    let mut latencies: Vec<Duration> = first.iter().flatten().copied().collect();
    latencies.sort();
    let busiest_second = {
        let mut most = 0;
        let mut start = 0;
        for (end, at) in accepted_at.iter().enumerate() {
            while at.duration_since(accepted_at[start]) >= Duration::from_secs(1) {
                start += 1;
            }
            most = most.max(end + 1 - start);
        }
        most
    };
    let closest_in_chat = per_chat
        .values_mut()
        .flat_map(|ats| {
            ats.sort();
            ats.windows(2)
                .map(|w| w[1].duration_since(w[0]))
                .collect::<Vec<_>>()
        })
        .min();
    let mut other_calls = BTreeMap::new();
    for method in ["setmycommands", "getme", "deletewebhook"] {
        other_calls.insert(method.to_string(), fake.calls(method).len());
    }
    other_calls.insert("getupdates".into(), fake.lock().polls.len());

    // What the database saw.
    let mut c = PgConnection::connect(url).await?;
    let (inbox_done, last_received, last_done, max_attempts): (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    ) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state = 'done'), MAX(received_at), MAX(done_at), \
         MAX(attempts) FROM chat_inbox WHERE platform = 'telegram'",
    )
    .fetch_one(&mut c)
    .await?;
    c.close().await?;
    engine.db().close().await;
    let since_t0 = |ms: Option<i64>| {
        ms.and_then(|ms| u64::try_from(ms - t0_ms).ok())
            .map(Duration::from_millis)
    };

    let since = |at: Option<&Instant>| at.map_or(Duration::ZERO, |a| a.duration_since(t0));
    Ok(Edge {
        commands: n,
        per_second,
        push,
        last_reply: since(accepted_at.last()),
        reply_times: accepted_at.iter().map(|a| a.duration_since(t0)).collect(),
        first_reply: since(accepted_at.first()),
        all_recorded: since_t0(last_received),
        all_done: since_t0(last_done),
        inbox_done,
        max_attempts: max_attempts.unwrap_or(0),
        lost: replies.iter().filter(|r| **r == 0).count(),
        doubled: replies.iter().filter(|r| **r > 1).count(),
        extra_replies: replies.iter().map(|r| r.saturating_sub(1)).sum(),
        latencies,
        unmatched,
        rejected: sends.iter().filter(|c| c.rejected).count(),
        busiest_second,
        closest_in_chat,
        other_calls,
        statements: counted,
        cpu,
    })
}

fn print_edge(o: &Options, e: &Edge) {
    let n = e.commands as f64;
    let secs = |d: Duration| d.as_secs_f64();
    let opt_secs = |d: Option<Duration>| d.map_or("n/a".into(), |d| format!("{:.2} s", secs(d)));
    let answered = e.commands - e.lost;
    // The pace's own floor: the first `per_second` go at once, then `per_second` a second; a
    // chat's replies 1 s apart.
    let pace_floor = ((n - e.per_second as f64) / e.per_second as f64)
        .max((o.per_chat as f64 - 1.0) * 1.0)
        .max(0.0);
    let delivered_whole = answered as f64 / secs(e.last_reply).max(f64::EPSILON);
    let window = secs(e.last_reply) - secs(e.first_reply);
    let delivered_steady = (answered.saturating_sub(1)) as f64 / window.max(f64::EPSILON);
    let pct = |r: f64| 100.0 * r / TELEGRAM_PER_SECOND;
    println!();
    println!(
        "### A. Telegram edge: {} chats × {} commands (`/help c{{chat}}n{{i}}`), all pushed at t0",
        o.chats, o.per_chat
    );
    println!();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!(
        "| commands pushed to the fake | {} in {:.0} ms |",
        e.commands,
        secs(e.push) * 1000.0
    );
    println!(
        "| **commands/s** ({} / time to the last reply) | **{:.1}/s** ({:.1} s) |",
        e.commands,
        answered as f64 / secs(e.last_reply).max(f64::EPSILON),
        secs(e.last_reply)
    );
    println!(
        "| **replies/s delivered**, t0 → last reply | **{delivered_whole:.1}/s = {:.0} % of Telegram's 30/s** (pacer: {}/s = {:.0} %) |",
        pct(delivered_whole),
        e.per_second,
        pct(e.per_second as f64)
    );
    println!(
        "| replies/s, first → last reply | {delivered_steady:.1}/s = {:.0} % of 30/s |",
        pct(delivered_steady)
    );
    println!(
        "| most replies in any 1 s | {} = {:.0} % of 30/s |",
        e.busiest_second,
        pct(e.busiest_second as f64)
    );
    println!(
        "| closest two replies to one chat | {} |",
        e.closest_in_chat
            .map_or("n/a".into(), |d| format!("{:.3} s", secs(d)))
    );
    println!(
        "| reply latency (push → accepted sendMessage) p50 / p99 / max | {:.1} s / {:.1} s / {:.1} s |",
        secs(percentile(&e.latencies, 0.50)),
        secs(percentile(&e.latencies, 0.99)),
        secs(e.latencies.last().copied().unwrap_or_default())
    );
    println!("| lost (no reply) | {} |", e.lost);
    println!(
        "| doubled (a command answered twice) | {} ({} extra replies) |",
        e.doubled, e.extra_replies
    );
    println!(
        "| replies matching no command / 429s from the fake | {} / {} |",
        e.unmatched, e.rejected
    );
    println!("| first reply accepted | {:.2} s |", secs(e.first_reply));
    println!(
        "| every update written to the inbox (`MAX(received_at)`) | {} |",
        opt_secs(e.all_recorded)
    );
    println!(
        "| **last command done** (`MAX(done_at)` of `chat_inbox`) | **{}** ({} rows done, most attempts {}) → {} commands/s processed |",
        opt_secs(e.all_done),
        e.inbox_done,
        e.max_attempts,
        e.all_done.map_or("n/a".into(), |d| format!(
            "{:.0}",
            n / secs(d).max(f64::EPSILON)
        ))
    );
    println!(
        "| last reply accepted | {:.1} s (the pace's floor: max({} / {}/s, ({} − 1) × 1 s) ≈ {:.1} s) |",
        secs(e.last_reply),
        e.commands,
        e.per_second,
        o.per_chat,
        pace_floor
    );
    println!(
        "| other Bot API calls | {} |",
        e.other_calls
            .iter()
            .map(|(m, k)| format!("{m} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let reported = total(&e.statements);
    let commits = count_of(&e.statements, "COMMIT");
    // sqlx reports neither BEGIN nor the ROLLBACK of a dropped transaction: one BEGIN per
    // COMMIT, and a refused command's own transaction (BEGIN … ROLLBACK) before the one that
    // records the refusal.
    let unreported = commits + 2 * e.inbox_done.max(0) as u64;
    println!(
        "| SQL statements, t0 → end, all tasks (poller, lanes, menus, delivery, leases) | {reported} reported by sqlx = {:.1} per command; with the unreported BEGINs and ROLLBACKs ({commits} + 2 × {}) {} = {:.1} per command |",
        reported as f64 / n,
        e.inbox_done,
        reported + unreported,
        (reported + unreported) as f64 / n
    );
    println!();
    if let Some(done) = e.all_done {
        let last = secs(e.last_reply);
        let before = e.reply_times.iter().filter(|t| **t <= done).count();
        let after = e.reply_times.len() - before;
        let bound = if secs(done) >= 0.5 * last {
            "processing-bound"
        } else {
            "pace-bound"
        };
        println!(
            "Where the time goes ({bound}): the commands were run at {:.1}/s, the last one done \
             {:.1} s after t0 ({:.0} % of the run); while they ran, {before} replies went out \
             ({:.1}/s: a chat's replies go 1 s apart, so the delivery is limited to the chats \
             that have replies waiting), then the other {after} in {:.1} s ({:.1}/s, the \
             pacer's {}/s). The last reply came {:.1} s after t0, {:.1} s over the pace's \
             floor of {pace_floor:.1} s.",
            n / secs(done).max(f64::EPSILON),
            secs(done),
            100.0 * secs(done) / last.max(f64::EPSILON),
            before as f64 / secs(done).max(f64::EPSILON),
            (last - secs(done)).max(0.0),
            after as f64 / (last - secs(done)).max(f64::EPSILON),
            e.per_second,
            last,
            last - pace_floor
        );
        println!();
    }
    if let Some((statement, (k, busy))) = e
        .statements
        .iter()
        .filter(|(_, (_, t))| t.is_finite())
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
    {
        println!(
            "The statement that held connections longest: `{statement}` — {k} runs, {busy:.1} s in all \
             ({:.1} of the pool's {} connections busy with it on average over the run), {:.1} ms each.",
            busy / secs(e.last_reply).max(f64::EPSILON),
            o.pool,
            1000.0 * busy / (*k).max(1) as f64
        );
        println!();
    }
    let c = &e.cpu;
    println!(
        "CPU from t0 to the last reply ({:.1} s): this process {:.1} s ({:.0} % of a core), this database's \
         PostgreSQL backends {:.1} s ({:.0} %), the machine busy {:.1} s of {:.1} s ({:.0} % of its {} cores; the rest of the busy time is other processes).",
        c.wall,
        c.process,
        100.0 * c.process / c.wall.max(f64::EPSILON),
        c.backends,
        100.0 * c.backends / c.wall.max(f64::EPSILON),
        c.machine_busy,
        c.machine_all,
        100.0 * c.machine_busy / c.machine_all.max(f64::EPSILON),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "SQL statements in A by kind (first four words, as sqlx reports them; not BEGIN, nor the ROLLBACK of a dropped transaction):"
    );
    println!();
    print_statements(&e.statements, e.commands);
}

// ---------------------------------------------------------------------------------------------
// B. The inbound record's cost

struct Direct {
    plain: Vec<Duration>,
    inbound: Vec<Duration>,
    plain_statements: Counted,
    inbound_statements: Counted,
    inbox_rows: i64,
    outbox_rows: i64,
}

fn caller(chat: &str) -> Caller {
    Caller {
        frontend: Frontend::Telegram,
        who: Who::Account {
            provider: "telegram".into(),
            account_id: chat.to_string(),
            handle: None,
        },
    }
}

fn inbound(key: usize, chat: &str) -> Inbound {
    Inbound {
        key: inbox::Key {
            platform: "telegram".into(),
            update_key: key.to_string(),
            lane: chat.to_string(),
        },
        received: false,
        reply: Some(ReplyRoute {
            channel: "chat:telegram".into(),
            recipient: chat.to_string(),
            on_success: ReplyTarget::New,
            on_refusal: ReplyTarget::New,
        }),
    }
}

async fn timed(run: impl Future<Output = Outcome>) -> Result<Duration> {
    let t = Instant::now();
    let outcome = run.await;
    let took = t.elapsed();
    if let Err(e) = outcome.result {
        bail!("/help failed: {e}");
    }
    Ok(took)
}

async fn plain(engine: &Engine, chat: &str) -> Result<Duration> {
    let who = caller(chat);
    timed(engine.handle_text(&who, "/help", vec![])).await
}

async fn recorded(engine: &Engine, key: usize, chat: &str) -> Result<Duration> {
    let (who, inbound) = (caller(chat), inbound(key, chat));
    timed(engine.run_inbound(&who, parse("/help"), &inbound)).await
}

async fn direct(o: &Options, url: &str, statements: &Statements) -> Result<Direct> {
    let engine = live_engine(url, o.pool, &[]).await?;
    let mut key = 0usize;
    let mut next = |i: usize| {
        key += 1;
        (key, (DIRECT_FIRST_CHAT + (i % 200) as i64).to_string())
    };

    for i in 0..WARM_UP {
        let (k, chat) = next(i);
        plain(&engine, &chat).await?;
        recorded(&engine, k, &chat).await?;
    }
    let mut plain_times = Vec::with_capacity(o.direct);
    let mut inbound_times = Vec::with_capacity(o.direct);
    for i in 0..o.direct {
        let (k, chat) = next(i);
        if i % 2 == 0 {
            plain_times.push(plain(&engine, &chat).await?);
            inbound_times.push(recorded(&engine, k, &chat).await?);
        } else {
            inbound_times.push(recorded(&engine, k, &chat).await?);
            plain_times.push(plain(&engine, &chat).await?);
        }
    }

    statements.start();
    for i in 0..COUNTED {
        let (_, chat) = next(i);
        plain(&engine, &chat).await?;
    }
    let mut plain_statements = statements.stop();
    statements.start();
    for i in 0..COUNTED {
        let (k, chat) = next(i);
        recorded(&engine, k, &chat).await?;
    }
    let mut inbound_statements = statements.stop();
    // sqlx sends BEGIN without a `sqlx::query` event; every command here is one transaction
    // that commits.
    for counted in [&mut plain_statements, &mut inbound_statements] {
        let commits = count_of(counted, "COMMIT");
        counted.insert(
            "BEGIN (not reported by sqlx: one per COMMIT)".into(),
            (commits, f64::NAN),
        );
    }

    let mut c = PgConnection::connect(url).await?;
    let (inbox_rows, outbox_rows): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM chat_inbox), (SELECT COUNT(*) FROM outbox WHERE kind = 'reply')",
    )
    .fetch_one(&mut c)
    .await?;
    c.close().await?;
    engine.db().close().await;
    plain_times.sort();
    inbound_times.sort();
    Ok(Direct {
        plain: plain_times,
        inbound: inbound_times,
        plain_statements,
        inbound_statements,
        inbox_rows,
        outbox_rows,
    })
}

fn print_direct(o: &Options, d: &Direct) {
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let mean = |xs: &[Duration]| ms(xs.iter().sum::<Duration>()) / xs.len().max(1) as f64;
    let per = |s: &Counted| total(s) as f64 / COUNTED as f64;
    let rows = [
        (
            "`handle_text(caller, \"/help\")` (no record)",
            &d.plain,
            &d.plain_statements,
        ),
        (
            "`run_inbound(caller, parse(\"/help\"), inbound)` (key recorded done + reply queued, same transaction)",
            &d.inbound,
            &d.inbound_statements,
        ),
    ];
    println!();
    println!(
        "### B. The exactly-once record: {} `/help` commands each, sequential, unlinked Telegram callers",
        o.direct
    );
    println!();
    println!("| path | mean ms | p50 ms | p99 ms | SQL statements / command |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, times, counted) in rows {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.1} |",
            mean(times),
            ms(percentile(times, 0.50)),
            ms(percentile(times, 0.99)),
            per(counted)
        );
    }
    println!(
        "| **difference** | **{:+.3}** | {:+.3} | {:+.3} | **{:+.1}** |",
        mean(&d.inbound) - mean(&d.plain),
        ms(percentile(&d.inbound, 0.50)) - ms(percentile(&d.plain, 0.50)),
        ms(percentile(&d.inbound, 0.99)) - ms(percentile(&d.plain, 0.99)),
        per(&d.inbound_statements) - per(&d.plain_statements)
    );
    println!();
    println!(
        "Rows written by the recorded runs: chat_inbox {}, outbox replies {} (one each per command, warm-up and counted runs included).",
        d.inbox_rows, d.outbox_rows
    );
    println!();
    println!("Statements per `handle_text` command:");
    println!();
    print_statements(&d.plain_statements, COUNTED);
    println!();
    println!("Statements per `run_inbound` command:");
    println!();
    print_statements(&d.inbound_statements, COUNTED);
}

// ---------------------------------------------------------------------------------------------

fn print_statements(counted: &Counted, per: usize) {
    let mut rows: Vec<_> = counted.iter().collect();
    rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    println!("| statement | count | per command | time in all (as sqlx timed it) | mean ms |");
    println!("| --- | --- | --- | --- | --- |");
    for (statement, (k, secs)) in rows {
        let (all, mean) = if secs.is_nan() {
            ("n/a".to_string(), "n/a".to_string())
        } else {
            (
                format!("{secs:.2} s"),
                format!("{:.3}", 1000.0 * secs / (*k).max(1) as f64),
            )
        };
        println!(
            "| `{}` | {k} | {:.2} | {all} | {mean} |",
            statement.replace('|', "\\|"),
            *k as f64 / per.max(1) as f64
        );
    }
}

/// Linux's USER_HZ: the unit of the CPU times in /proc.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU ticks so far: this process, each PostgreSQL backend of `database` (by pid), and the
/// machine's busy and total ticks (all cores).
struct CpuSample {
    process: u64,
    backends: HashMap<u32, u64>,
    machine_busy: u64,
    machine_all: u64,
}

/// CPU seconds over a stretch of wall time.
#[derive(Default)]
struct Cpu {
    wall: f64,
    process: f64,
    /// This benchmark database's PostgreSQL backends.
    backends: f64,
    /// Every core's busy time (this process, PostgreSQL, and anything else running).
    machine_busy: f64,
    /// Every core's time (busy or not): cores × wall.
    machine_all: f64,
}

/// utime + stime of /proc/<pid>/stat's text.
fn ticks_of(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn cpu_sample(database: &str) -> CpuSample {
    let read = |p: String| std::fs::read_to_string(p).unwrap_or_default();
    let process = ticks_of(&read("/proc/self/stat".into())).unwrap_or(0);
    let mut backends = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let cmdline = read(format!("/proc/{pid}/cmdline"));
            if cmdline.starts_with("postgres:")
                && cmdline.contains(database)
                && let Some(t) = ticks_of(&read(format!("/proc/{pid}/stat")))
            {
                backends.insert(pid, t);
            }
        }
    }
    let stat = read("/proc/stat".into());
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| {
            l.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let idle = field(3) + field(4);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    CpuSample {
        process,
        backends,
        machine_busy: busy,
        machine_all: busy + idle,
    }
}

impl CpuSample {
    fn since(&self, before: &CpuSample, wall: Duration) -> Cpu {
        let secs = |t: u64| t as f64 / TICKS_PER_SECOND;
        let backends: u64 = self
            .backends
            .iter()
            .map(|(pid, t)| t.saturating_sub(before.backends.get(pid).copied().unwrap_or(0)))
            .sum();
        Cpu {
            wall: wall.as_secs_f64(),
            process: secs(self.process.saturating_sub(before.process)),
            backends: secs(backends),
            machine_busy: secs(self.machine_busy.saturating_sub(before.machine_busy)),
            machine_all: secs(self.machine_all.saturating_sub(before.machine_all)),
        }
    }
}

/// Nearest rank of sorted `xs`.
fn percentile(xs: &[Duration], p: f64) -> Duration {
    if xs.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

async fn postgres_version() -> Result<String> {
    let admin = mentorops_bench::postgres_admin_url();
    let mut c = PgConnection::connect(&admin)
        .await
        .with_context(|| format!("connecting to {admin} (set MENTOROPS_BENCH_POSTGRES_URL)"))?;
    let (v,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(&mut c)
        .await?;
    c.close().await?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_names_its_command() {
        assert_eq!(
            key_of("✗ there is no command /c70012n19: send /help for the list"),
            Some((70012, 19))
        );
        assert_eq!(key_of("Commands you can use"), None);
    }

    #[test]
    fn nearest_rank() {
        let xs: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&xs, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&xs, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
    }
}
