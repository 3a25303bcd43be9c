//! The worker against real servers (issue: reliability tests): apalis on a private
//! `redis-server` (wiped and restarted here, so not the machine's shared one) or on its SQLite
//! backend, the app's database on PostgreSQL or SQLite, email to a real SMTP conversation on a
//! loopback port. The engine runs on the system clock (shifted where a test needs "72 hours
//! ago"), because the queue waits in wall-clock time.

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use figment::value::Value;
use mentorops_core::db::Backend;
use mentorops_core::store::{self, offers::OfferState};
use mentorops_worker::{Queue, Worker};
use tokio_util::sync::CancellationToken;

use crate::fakes::redis::RedisServer;
use crate::fakes::smtp::SmtpServer;
use crate::support::wait::eventually;
use crate::support::{TestApp, offers_of, persona_of, uuid_like, world};

/// Fast settings for tests: poll often, short heartbeats, reconcile every second, and no
/// sweep or digest unless a test asks for them.
fn queue_settings(redis: Option<&RedisServer>) -> Vec<(&'static str, Value)> {
    let mut v: Vec<(&'static str, Value)> = vec![
        ("queue.name", format!("t{}", uuid_like()).into()),
        ("queue.poll_interval_ms", 50u64.into()),
        ("queue.heartbeat_secs", 1u64.into()),
        ("queue.missed_heartbeats", 2u64.into()),
        ("queue.feed_interval_ms", 200u64.into()),
        ("queue.reconcile_grace_secs", 3u64.into()),
        ("queue.reconcile_cron", "* * * * * *".into()),
        ("queue.sweep_cron", "0 0 0 1 1 *".into()),
        ("queue.digest_cron", "0 0 0 1 1 *".into()),
        ("queue.health_addr", "127.0.0.1:0".into()),
        ("smtp.retry_base_secs", 1u64.into()),
    ];
    if let Some(r) = redis {
        v.push(("queue.url", r.url().into()));
    }
    v
}

async fn live(backend: Backend, settings: Vec<(&'static str, Value)>) -> Option<TestApp> {
    TestApp::start_live(backend, &settings).await
}

async fn start_worker(app: &TestApp) -> (Worker, CancellationToken) {
    let stop = CancellationToken::new();
    let w = Worker::start(app.shared_engine(), stop.clone())
        .await
        .expect("worker starts");
    (w, stop)
}

/// Has Ana choose Maria then Lee, with the first offer due `in_secs` from now.
async fn ana_chooses_with_deadline_in(app: &TestApp, in_secs: i64) {
    let clock = app.live.as_ref().expect("live clock");
    let (maria, lee) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
    );
    clock.set_offset(Span::seconds(in_secs) - Span::hours(72));
    let ana = app.chat("e-ana");
    let r = app.run(&ana, &format!("/choose #{maria} #{lee}")).await;
    assert!(r.is_ok(), "{r:?}");
    clock.set_offset(Span::zero());
}

async fn expired_then_next(app: &TestApp, email: &str) -> bool {
    let offers = offers_of(app, email).await;
    offers.len() >= 2
        && offers[0].state == OfferState::Expired
        && offers[1].state == OfferState::Pending
}

/// The first offer expired at or after its deadline (never early), and how late.
async fn lateness(app: &TestApp, email: &str) -> Span {
    let first = &offers_of(app, email).await[0];
    let (Some(deadline), Some(decided)) = (first.deadline_at, first.decided_at) else {
        panic!("offer {first:?} has no deadline or decision time");
    };
    let late = decided - deadline;
    assert!(late >= Span::zero(), "expired {late} early");
    late
}

async fn offer_expiry_end_to_end(app: &TestApp) {
    world(app).await;
    ana_chooses_with_deadline_in(app, 3).await;
    let (worker, _) = start_worker(app).await;
    eventually(
        Duration::from_secs(20),
        "offer expired, next choice offered",
        || expired_then_next(app, "ana@example.org"),
    )
    .await;
    let late = lateness(app, "ana@example.org").await;
    assert!(late < Span::seconds(2), "expired {late} late");
    // The mentee was told, and the next mentor got the offer by email, through the worker.
    eventually(Duration::from_secs(10), "emails delivered", || async {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let lee = app.user_id("lee@example.org").await;
        store::outbox::by_recipient(&mut c, lee)
            .await
            .expect("outbox")
            .iter()
            .any(|m| m.kind == "offer" && m.channel == "email" && m.status == "sent")
    })
    .await;
    assert!(worker.runtime.stats.processed("expire_offer") >= 1);
    // Nothing left waiting once it is all done (the queue's depth, as /metrics reports it).
    eventually(Duration::from_secs(10), "queue drained", || async {
        matches!(worker.runtime.queue.depth().await, Ok((0, _)))
    })
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_past_its_deadline_expires_and_the_next_choice_is_offered_on_redis() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let Some(app) = live(Backend::Postgres, queue_settings(Some(&redis))).await else {
        return;
    };
    offer_expiry_end_to_end(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_past_its_deadline_expires_and_the_next_choice_is_offered_on_the_embedded_queue() {
    let Some(app) = live(Backend::Sqlite, queue_settings(None)).await else {
        return;
    };
    offer_expiry_end_to_end(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_still_expire_after_redis_is_wiped() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let Some(app) = live(Backend::Postgres, queue_settings(Some(&redis))).await else {
        return;
    };
    world(&app).await;
    ana_chooses_with_deadline_in(&app, 5).await;
    let tom = persona_of(&app, "tom@example.org").await;
    let clock = app.live.as_ref().expect("live");
    clock.set_offset(Span::seconds(6) - Span::hours(72));
    let r = app
        .run(&app.chat("e-ben"), &format!("/choose #{tom}"))
        .await;
    assert!(r.is_ok(), "{r:?}");
    clock.set_offset(Span::zero());
    let (worker, _) = start_worker(&app).await;
    // Both expiries are queued (fed), then the queue's data is wiped.
    eventually(Duration::from_secs(5), "offers fed to the queue", || async {
        app.count("SELECT COUNT(*) AS n FROM offers WHERE state = 'pending' AND queued_at IS NOT NULL")
            .await
            == 2
    })
    .await;
    redis.flushall().await;
    eventually(Duration::from_secs(25), "both offers expired", || async {
        app.count("SELECT COUNT(*) AS n FROM offers WHERE state = 'expired'")
            .await
            == 2
    })
    .await;
    assert!(expired_then_next(&app, "ana@example.org").await);
    // Fed again at once when the wipe was noticed, so still on time, not a grace period late.
    let late = lateness(&app, "ana@example.org").await;
    assert!(
        late < Span::seconds(2),
        "expired {late} late after the wipe"
    );
    worker.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_recovers_by_itself_when_redis_restarts_under_it() {
    let Some(mut redis) = RedisServer::start().await else {
        return;
    };
    let Some(app) = live(Backend::Postgres, queue_settings(Some(&redis))).await else {
        return;
    };
    world(&app).await;
    let (worker, _) = start_worker(&app).await;
    // Let it settle on the first server, then restart Redis (all data gone) under it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart().await;
    ana_chooses_with_deadline_in(&app, 3).await;
    eventually(
        Duration::from_secs(30),
        "offer expired after the restart",
        || expired_then_next(&app, "ana@example.org"),
    )
    .await;
    worker.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_over_thirty_ticks_sweep_once_per_tick_and_remind_each_person_once() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let mut settings = queue_settings(Some(&redis));
    settings.push(("queue.sweep_cron", "* * * * * *".into()));
    settings.push(("queue.health_addr", "".into()));
    let Some(app) = live(Backend::Postgres, settings).await else {
        return;
    };
    world(&app).await;
    // Sixteen days later, all five mentors and mentees are inactive.
    app.live.as_ref().expect("live").set_offset(Span::days(16));
    let stop = CancellationToken::new();
    let mut replicas = Vec::new();
    for i in 0..3 {
        let queue = Queue::open(app.engine.settings()).await.expect("queue");
        let w = Worker::start_on(
            app.shared_engine(),
            queue,
            Some(format!("replica-{i}-{}", std::process::id())),
            stop.clone(),
        )
        .await
        .expect("replica");
        replicas.push(w);
    }
    let runtimes: Vec<_> = replicas.iter().map(|w| w.runtime.clone()).collect();
    let ticks = || {
        let mut all: Vec<u64> = runtimes
            .iter()
            .flat_map(|r| r.stats.sweep_ticks())
            .collect();
        all.sort_unstable();
        all
    };
    let start = Instant::now();
    while ticks().len() < 31 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    for w in replicas {
        w.wait().await;
    }
    let all = ticks();
    // One sweep per tick across the three replicas: no tick twice, none skipped.
    assert!(all.len() >= 30, "only {} sweeps in a minute", all.len());
    let mut distinct = all.clone();
    distinct.dedup();
    assert_eq!(distinct, all, "a tick was swept twice");
    let first = all[0];
    let expected: Vec<u64> = (first..first + all.len() as u64).collect();
    assert_eq!(all, expected, "a tick was skipped");
    let per_replica: Vec<usize> = runtimes
        .iter()
        .map(|r| r.stats.sweep_ticks().len())
        .collect();
    // Thirty sweeps, yet each inactive person got exactly one reminder (chat and email).
    for email in [
        "maria@example.org",
        "lee@example.org",
        "tom@example.org",
        "ana@example.org",
        "ben@example.org",
    ] {
        let id = app.user_id(email).await;
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let reminders: Vec<String> = store::outbox::by_recipient(&mut c, id)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|m| m.kind == "inactivity")
            .map(|m| m.channel)
            .collect();
        assert_eq!(
            reminders.len(),
            2,
            "{email}: {reminders:?} (sweeps per replica {per_replica:?})"
        );
    }
    // Staff are not participants: no reminder for them.
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox o JOIN users u ON u.id = o.recipient_user_id WHERE o.kind = 'inactivity' AND u.email = 'pm@example.org'")
            .await,
        0
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_queue_two_4xx_then_250_deliver_once() {
    let server = SmtpServer::start(&[
        "451 4.3.0 mailbox busy, try later",
        "421 4.7.0 too many connections",
    ])
    .await;
    let mut settings = queue_settings(None);
    settings.push(("smtp.url", server.url().into()));
    let Some(app) = live(Backend::Sqlite, settings).await else {
        return;
    };
    // The bootstrap admin's welcome email is queued; the worker delivers it.
    let (worker, _) = start_worker(&app).await;
    eventually(Duration::from_secs(20), "welcome delivered", || async {
        app.email_row("admin@example.org", "welcome").await.status == "sent"
    })
    .await;
    // Retried on its own schedule (1 s, then 2 s here) and delivered exactly once.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(server.attempts(), 3);
    assert_eq!(server.accepted().len(), 1);
    let row = app.email_row("admin@example.org", "welcome").await;
    assert_eq!(row.attempts, 3, "{row:?}");
    worker.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_queue_a_5xx_is_not_retried_and_the_row_is_marked_failed() {
    let server = SmtpServer::start(&["550 5.1.1 no such mailbox"]).await;
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let mut settings = queue_settings(Some(&redis));
    settings.push(("smtp.url", server.url().into()));
    let Some(app) = live(Backend::Postgres, settings).await else {
        return;
    };
    let (worker, _) = start_worker(&app).await;
    eventually(Duration::from_secs(20), "welcome refused", || async {
        app.email_row("admin@example.org", "welcome").await.status == "failed"
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.attempts(), 1, "a 5xx must not be retried");
    assert!(server.accepted().is_empty());
    let row = app.email_row("admin@example.org", "welcome").await;
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("550")),
        "{row:?}"
    );
    // Staff see it among the failed deliveries.
    let listed = app.admin("/deliveries").await.text;
    assert!(listed.contains("admin@example.org"), "{listed}");
    worker.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sends_nothing_to_a_deactivated_or_deleted_person() {
    let server = SmtpServer::start(&[]).await;
    let mut settings = queue_settings(None);
    settings.push(("smtp.url", server.url().into()));
    let Some(app) = live(Backend::Sqlite, settings).await else {
        return;
    };
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550901 mentee program:Spring")
        .await;
    app.admin("/user_add \"Bob Reis\" bob@example.org +14155550902 mentee program:Spring")
        .await;
    app.admin("/user_add \"Cid Melo\" cid@example.org +14155550903 mentee program:Spring")
        .await;
    // Ana is deactivated and Bob deleted while their welcome emails wait in the outbox.
    app.admin("/deactivate ana@example.org status:IR").await;
    let ask = app.admin("/delete bob@example.org").await;
    app.admin(&ask.buttons[0].command).await;
    let (worker, _) = start_worker(&app).await;
    eventually(Duration::from_secs(20), "the outbox drained", || async {
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending' AND channel = 'email'")
            .await
            == 0
    })
    .await;
    let accepted = server.accepted().join("\n");
    assert!(
        accepted.contains("cid@example.org"),
        "Cid's welcome went out"
    );
    assert!(!accepted.contains("ana@example.org"), "nothing to Ana");
    assert!(!accepted.contains("bob@example.org"), "nothing to Bob");
    let row = app.email_row("ana@example.org", "welcome").await;
    assert_eq!(row.status, "failed");
    worker.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_answer_on_the_configured_address() {
    let Some(redis) = RedisServer::start().await else {
        return;
    };
    let Some(app) = live(Backend::Sqlite, queue_settings(Some(&redis))).await else {
        return;
    };
    let (worker, _) = start_worker(&app).await;
    let addr = worker.health_addr.expect("health address");
    let client = reqwest::Client::new();
    // Before anything failed, the failure counters are there: Prometheus sees no increase in
    // a series that first appears at 1, so an alert on them would miss the first failures.
    let first = metrics_of(&client, addr).await;
    let lines: Vec<&str> = first.lines().collect();
    // The recorder is the process's: another test in this binary may have counted a failed
    // email already, so here any count will do; no job of kind noop ever fails.
    assert!(
        lines.iter().any(|l| l
            .strip_prefix("mentorops_emails_failed_total ")
            .is_some_and(|n| n.parse::<u64>().is_ok())),
        "mentorops_emails_failed_total missing from:\n{first}"
    );
    let noop = "mentorops_jobs_failed_total{kind=\"noop\"} 0";
    assert!(lines.contains(&noop), "{noop} missing from:\n{first}");
    // The admin's welcome email is delivered (to a file) by a job.
    eventually(Duration::from_secs(20), "welcome delivered", || async {
        app.email_row("admin@example.org", "welcome").await.status == "sent"
    })
    .await;
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let metrics = metrics_of(&client, addr).await;
    for name in [
        "mentorops_jobs_processed_total{kind=\"deliver_email\"}",
        "mentorops_emails_sent_total",
        "mentorops_outbox_backlog{channel=\"email\"}",
        "mentorops_job_lag_seconds_bucket",
        "mentorops_redis_round_trips_total",
        "mentorops_queue_jobs{state=\"scheduled\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    // With Redis gone, /healthz says so.
    drop(redis);
    let down = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(down.status().as_u16(), 503);
    assert!(down.text().await.unwrap_or_default().contains("queue"));
    worker.stop().await;
    app.finish().await;
}

/// `mentorops worker` as a process of its own, on this app's database and queue.
fn spawn_worker(app: &TestApp, settings: &[(&'static str, Value)]) -> tokio::process::Child {
    use secrecy::ExposeSecret;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mentorops-test-worker"));
    for (key, value) in settings {
        let text = match value {
            Value::String(_, s) => s.clone(),
            Value::Num(_, n) => n.to_u128().map(|n| n.to_string()).unwrap_or_default(),
            other => panic!("{key}: {other:?} is not a setting the test passes on"),
        };
        let env = format!("MENTOROPS__{}", key.to_uppercase().replace('.', "__"));
        cmd.env(env, text);
    }
    cmd.env(
        "MENTOROPS__DATABASE__URL",
        app.engine.settings().database.url.expose_secret(),
    )
    .env("MENTOROPS__APP__DATA_DIR", app.dir.path())
    .env("RUST_LOG", "warn")
    .kill_on_drop(true)
    .spawn()
    .expect("start the worker process")
}

/// Blocks the offer's expiry mid-job: the worker's transaction waits on this row lock.
async fn wait_until_a_job_waits_on_the_gate(app: &TestApp) {
    eventually(
        Duration::from_secs(20),
        "the expiry job is in flight",
        || async {
            app.count(
                // The expiry's own write, not the feeder marking the row queued, which waits too.
                "SELECT COUNT(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock' \
             AND query LIKE 'UPDATE offers SET state%'",
            )
            .await
                >= 1
        },
    )
    .await;
}

/// A worker process in the middle of an offer's expiry, held there by a row lock (`gate`).
struct MidJob {
    _redis: RedisServer,
    app: TestApp,
    settings: Vec<(&'static str, Value)>,
    gate: sqlx::Transaction<'static, sqlx::Any>,
    worker: tokio::process::Child,
}

async fn mid_job() -> Option<MidJob> {
    let redis = RedisServer::start().await?;
    let settings = queue_settings(Some(&redis));
    let app = live(Backend::Postgres, settings.clone()).await?;
    world(&app).await;
    ana_chooses_with_deadline_in(&app, 2).await;
    let offer = offers_of(&app, "ana@example.org").await[0].id;
    let gate = app.close_gate(&[], &[offer]).await;
    let worker = spawn_worker(&app, &settings);
    wait_until_a_job_waits_on_the_gate(&app).await;
    Some(MidJob {
        _redis: redis,
        app,
        settings,
        gate,
        worker,
    })
}

async fn expiry_notices_to(app: &TestApp, email: &str) -> usize {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::outbox::by_recipient(&mut c, id)
        .await
        .expect("outbox")
        .iter()
        .filter(|m| m.kind == "offer_expired")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_leaves_the_job_to_complete_exactly_once() {
    let Some(MidJob {
        _redis,
        app,
        settings,
        gate,
        worker: mut first,
    }) = mid_job().await
    else {
        return;
    };
    first.kill().await.expect("kill -9");
    TestApp::open_gate(gate).await;
    // The killed worker's transaction died with it: nothing changed.
    assert_eq!(
        offers_of(&app, "ana@example.org").await[0].state,
        OfferState::Pending
    );
    let mut second = spawn_worker(&app, &settings);
    eventually(
        Duration::from_secs(30),
        "the orphaned expiry completed",
        || expired_then_next(&app, "ana@example.org"),
    )
    .await;
    // Exactly once in effect, however many times the job ran.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(offers_of(&app, "ana@example.org").await.len(), 2);
    assert_eq!(expiry_notices_to(&app, "maria@example.org").await, 1);
    second.kill().await.expect("stop");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_job_finish_before_the_worker_exits() {
    let Some(MidJob {
        _redis,
        app,
        gate,
        mut worker,
        ..
    }) = mid_job().await
    else {
        return;
    };
    let pid = worker.id().expect("pid").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    // Still finishing its job: it does not exit while the job waits.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        worker.try_wait().expect("status").is_none(),
        "exited mid-job"
    );
    TestApp::open_gate(gate).await;
    let status = tokio::time::timeout(Duration::from_secs(20), worker.wait())
        .await
        .expect("exits after its job")
        .expect("status");
    assert!(status.success(), "{status:?}");
    assert!(
        expired_then_next(&app, "ana@example.org").await,
        "the running job finished before the exit"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_requeues_a_stuck_item_at_most_once_per_grace_period() {
    use mentorops_core::store::jobs;
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    world(&app).await;
    let maria = persona_of(&app, "maria@example.org").await;
    let r = app
        .run(&app.chat("e-ana"), &format!("/choose #{maria}"))
        .await;
    assert!(r.is_ok(), "{r:?}");
    let grace = Span::seconds(60);
    let fed_at = app.engine.now();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let (work, rows) = jobs::unqueued(&mut c, fed_at, 500).await.expect("unqueued");
    assert!(!work.is_empty());
    jobs::mark_queued(&mut c, &rows, fed_at)
        .await
        .expect("mark");
    // Its job is lost: past the deadline and the grace, the reconciler finds it …
    let t1 = fed_at + Span::hours(72) + grace + Span::seconds(1);
    let stuck = jobs::overdue(&mut c, t1, grace, 1000)
        .await
        .expect("overdue");
    assert!(
        stuck
            .iter()
            .any(|w| matches!(w.work, jobs::Work::ExpireOffer(_))),
        "{stuck:?}"
    );
    let marked: Vec<_> = stuck.iter().map(|w| w.work.row()).collect();
    jobs::mark_queued(&mut c, &marked, t1).await.expect("mark");
    // … not again on the next ticks while the re-queued job has its grace period …
    let soon = jobs::overdue(&mut c, t1 + Span::seconds(30), grace, 1000)
        .await
        .expect("overdue");
    assert!(soon.is_empty(), "{soon:?}");
    // … and again once that has passed too.
    let again = jobs::overdue(&mut c, t1 + grace + Span::seconds(1), grace, 1000)
        .await
        .expect("overdue");
    assert!(!again.is_empty());
    drop(c);
    app.finish().await;
}

/// The worker's `/metrics` page.
async fn metrics_of(client: &reqwest::Client, addr: std::net::SocketAddr) -> String {
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}
