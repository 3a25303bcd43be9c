//! Flash mentoring and the session reminders' lead (issue 14, points 6 and 12): a match in a
//! flash-mentoring program closes by itself once its first session has ended
//! (docs/domain.md#flash-mentoring), through the one way a match closes
//! (docs/domain.md#closing-a-match); and a session booked less than a reminder's lead ahead does
//! not get that reminder (docs/domain.md#sessions). Driven through the command layer with the
//! test clock; one test runs the real worker on its embedded queue.

use std::time::Duration as Wait;

use chrono::{DateTime, Duration, Utc};
use figment::value::Value;
use futures::future::join_all;
use mentorops_core::command::Caller;
use mentorops_core::db::Backend;
use mentorops_core::domain::matches::FLASH_CLOSE_REASON;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::jobs::{self, Work};
use mentorops_core::store::matches::{Match, MatchState};
use mentorops_core::store::sessions::{ReminderColumn, Session, SessionState};
use mentorops_core::store::{self};
use mentorops_core::timers::{self, Job};
use mentorops_worker::Worker;
use tokio_util::sync::CancellationToken;

use crate::both_backends;
use crate::support::people::{ANA_MENTEE, BEN_MENTEE, MARIA_MENTOR, Ready, TOM_MENTOR};
use crate::support::wait::eventually;
use crate::support::{TestApp, persona_of, uuid_like, world};

/// Adds `p` to `program` (which Spring's cast is not, by default), answers the questionnaire,
/// and makes them A and RTBM, as `TestApp::ready` does for Spring.
async fn ready_in(app: &TestApp, p: Ready, program: &str) -> Caller {
    app.admin(&format!(
        "/user_add \"{}\" {} {} {} program:{program}",
        p.name, p.email, p.phone, p.role
    ))
    .await;
    let code = app.code_for(p.email).await;
    let caller = app.chat(p.chat);
    assert!(app.run(&caller, &format!("/link {code}")).await.is_ok());
    for a in p.answers {
        let line = format!("/apply {}", mentorops_core::command::quote(a));
        let r = app.run(&caller, &line).await;
        assert!(r.is_ok(), "{} {line}: {r:?}", p.email);
    }
    app.admin(&format!("/status {} A", p.email)).await;
    app.admin(&format!("/match_status {} RTBM", p.email)).await;
    caller
}

/// The newest match of `email`'s persona.
async fn match_of(app: &TestApp, email: &str) -> Match {
    let persona = persona_of(app, email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::matches::of_persona(&mut c, persona)
        .await
        .expect("matches")
        .into_iter()
        .next()
        .expect("a match")
}

async fn sessions_of(app: &TestApp, m: &Match) -> Vec<Session> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::sessions::of_match(&mut c, m.id)
        .await
        .expect("sessions")
}

/// (channel, subject, text) of the messages of `kind` queued for `email`, oldest first.
async fn queued(app: &TestApp, email: &str, kind: &str) -> Vec<(String, String, String)> {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    sqlx::query_as(
        "SELECT channel, subject, body_text FROM outbox WHERE recipient_user_id = $1 AND kind = $2 \
         ORDER BY id",
    )
    .bind(id)
    .bind(kind)
    .fetch_all(&mut *c)
    .await
    .expect("outbox rows")
}

async fn outbox_total(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM outbox").await
}

async fn book(app: &TestApp, who: &Caller, at: &str) -> String {
    match app.run(who, &format!("/session_book at:\"{at}\"")).await {
        Ok(r) => r.text,
        Err(e) => panic!("booking {at}: {}", e.user_message()),
    }
}

/// Moves the test clock to `at` (UTC), forward only.
fn clock_to(app: &TestApp, at: &str) {
    let to = DateTime::parse_from_rfc3339(at)
        .expect("a time")
        .with_timezone(&Utc);
    let by = to - app.engine.now();
    assert!(by >= Duration::zero(), "the clock only moves forward: {at}");
    app.clock.advance(by);
}

/// Both people of a closed flash match hear of it by chat and email, with the reason.
async fn told_of_the_close(app: &TestApp, email: &str, other: &str) {
    let rows = queued(app, email, "match_closed").await;
    let chat = rows
        .iter()
        .find(|(channel, _, _)| channel.starts_with("chat:"))
        .map(|(_, _, text)| text.clone())
        .unwrap_or_default();
    assert!(
        chat.contains(&format!("Your match with {other} is closed"))
            && chat.contains(FLASH_CLOSE_REASON),
        "{email}: {chat}"
    );
    let email_row = rows.iter().find(|(channel, _, _)| channel == "email");
    assert!(
        email_row.is_some_and(|(_, _, text)| text.contains(FLASH_CLOSE_REASON)),
        "{email}: {rows:?}"
    );
    assert_eq!(rows.len(), 2, "{email}: one chat, one email: {rows:?}");
}

async fn a_flash_match_closes_once_its_session_has_ended_and_a_plain_one_stays_open(app: &TestApp) {
    // Spring runs flash mentoring; Autumn, in the same organization, does not.
    app.with_program().await;
    app.admin("/program_add Acme Autumn").await;
    let set = app.admin("/program_set Spring flash_mentoring yes").await;
    assert!(set.text.contains("flash_mentoring"), "{}", set.text);
    let ana = ready_in(app, ANA_MENTEE, "Spring").await;
    ready_in(app, MARIA_MENTOR, "Spring").await;
    let ben = ready_in(app, BEN_MENTEE, "Autumn").await;
    ready_in(app, TOM_MENTOR, "Autumn").await;
    app.admin("/assign ana@example.org maria@example.org").await;
    app.admin("/assign ben@example.org tom@example.org").await;
    // Both flash people are told up front that the match is for one session; Autumn's are not.
    for email in ["ana@example.org", "maria@example.org"] {
        let paired = queued(app, email, "paired").await;
        assert!(
            paired
                .iter()
                .any(|(channel, _, text)| channel.starts_with("chat:")
                    && text.contains("flash mentoring")),
            "{email}: {paired:?}"
        );
    }
    let ben_paired = queued(app, "ben@example.org", "paired").await;
    assert!(
        !ben_paired.is_empty() && ben_paired.iter().all(|(_, _, t)| !t.contains("flash")),
        "{ben_paired:?}"
    );

    // The clock starts at 2026-12-01 09:00 UTC; both programs are on UTC.
    let reply = book(app, &ana, "2026-12-03 17:00").await;
    assert!(reply.contains("flash mentoring"), "{reply}");
    book(app, &ana, "2026-12-05 17:00").await;
    let reply = book(app, &ben, "2026-12-03 17:00").await;
    assert!(!reply.contains("flash"), "{reply}");
    let flash = match_of(app, "ana@example.org").await;
    let plain = match_of(app, "ben@example.org").await;

    // During the session (it is taken to last an hour) nothing closes.
    clock_to(app, "2026-12-03T17:59:00Z");
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .flash_matches_closed,
        0
    );
    assert_eq!(
        match_of(app, "ana@example.org").await.state,
        MatchState::Open
    );

    // Once it has ended, the flash match closes, the way every match closes.
    clock_to(app, "2026-12-03T18:00:00Z");
    let closed = timers::close_flash_matches(&app.engine, app.engine.now())
        .await
        .expect("close");
    assert_eq!(closed, 1);
    assert_eq!(
        match_of(app, "ana@example.org").await.state,
        MatchState::Closed
    );
    for email in ["ana@example.org", "maria@example.org"] {
        assert_eq!(
            app.personas(email).await[0].match_status,
            MatchStatus::Closed,
            "{email}"
        );
    }
    told_of_the_close(app, "ana@example.org", "Maria Mentor").await;
    told_of_the_close(app, "maria@example.org", "Ana Mentee").await;
    // The session that took place stays booked; the next one is cancelled, and both are told.
    let states: Vec<SessionState> = sessions_of(app, &flash)
        .await
        .iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(states, [SessionState::Booked, SessionState::Cancelled]);
    let chat = queued(app, "ana@example.org", "match_closed").await[0]
        .2
        .clone();
    assert!(
        chat.contains("The session booked for Sat 05 Dec 2026 17:00 UTC is cancelled"),
        "{chat}"
    );
    let audited = app
        .count(
            "SELECT COUNT(*) AS n FROM audit_log WHERE field = 'match_status' AND new_value = 'C' \
             AND reason = 'flash mentoring: the session took place'",
        )
        .await;
    assert_eq!(
        audited, 2,
        "both personas' moves are audited with the reason"
    );

    // Run again (a re-delivered job, the console after the next command): nothing more.
    let before = outbox_total(app).await;
    assert_eq!(
        timers::close_flash_matches(&app.engine, app.engine.now())
            .await
            .expect("again"),
        0
    );
    assert!(
        !timers::close_flash_match(&app.engine, flash.id, app.engine.now())
            .await
            .expect("the one match again")
    );
    assert_eq!(outbox_total(app).await, before);

    // Autumn's match had its session too, and stays open.
    assert_eq!(
        match_of(app, "ben@example.org").await.state,
        MatchState::Open
    );
    assert_eq!(
        app.personas("ben@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    assert!(
        queued(app, "ben@example.org", "match_closed")
            .await
            .is_empty()
    );
    assert_eq!(
        sessions_of(app, &plain).await[0].state,
        SessionState::Booked
    );
}

async fn a_reopened_flash_match_lasts_one_more_session(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring flash_mentoring yes").await;
    app.admin("/assign ana@example.org maria@example.org").await;
    book(app, &w.ana, "2026-12-02 10:00").await;
    clock_to(app, "2026-12-02T11:00:00Z");
    assert_eq!(
        timers::close_flash_matches(&app.engine, app.engine.now())
            .await
            .expect("close"),
        1
    );
    let reopened = app.admin("/match_reopen ana@example.org").await;
    assert!(!reopened.text.is_empty());
    assert_eq!(
        match_of(app, "ana@example.org").await.state,
        MatchState::Open
    );
    // The session held before it closed does not close it again …
    clock_to(app, "2026-12-02T11:05:00Z");
    assert_eq!(
        timers::close_flash_matches(&app.engine, app.engine.now())
            .await
            .expect("not again"),
        0
    );
    assert_eq!(
        match_of(app, "ana@example.org").await.state,
        MatchState::Open
    );
    // … the next one does.
    book(app, &w.maria, "2026-12-04 10:00").await;
    clock_to(app, "2026-12-04T11:00:00Z");
    assert_eq!(
        timers::close_flash_matches(&app.engine, app.engine.now())
            .await
            .expect("close again"),
        1
    );
    assert_eq!(
        match_of(app, "ana@example.org").await.state,
        MatchState::Closed
    );
    assert_eq!(
        queued(app, "ana@example.org", "match_closed").await.len(),
        4,
        "two closes, each by chat and email"
    );
}

/// Four runs at once over the same due match: on PostgreSQL all read it before any writes (the
/// match row is held by a gate), then one claims it and the others find it closed; on SQLite
/// they queue on the write lock. Either way it closes once and each person is told once.
async fn flash_closes_racing_each_other_close_the_match_once(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring flash_mentoring yes").await;
    app.admin("/assign ana@example.org maria@example.org").await;
    book(app, &w.ana, "2026-12-02 10:00").await;
    clock_to(app, "2026-12-02T11:00:00Z");
    let m = match_of(app, "ana@example.org").await;
    let now = app.engine.now();
    let mut gate = app.engine.db().begin().await.expect("gate");
    if app.backend == Backend::Postgres {
        sqlx::query("SELECT id FROM matches WHERE id = $1 FOR UPDATE")
            .bind(m.id)
            .fetch_all(&mut *gate)
            .await
            .expect("lock the match");
    }
    let (runs, ()) = tokio::join!(
        join_all((0..4).map(|_| timers::close_flash_matches(&app.engine, now))),
        TestApp::open_gate(gate)
    );
    let closed: usize = runs.into_iter().map(|r| r.expect("run")).sum();
    assert_eq!(closed, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'match_closed'")
            .await,
        4,
        "each of the two told once, by chat and email"
    );
}

/// docs/domain.md#sessions: a session booked 66 minutes ahead gets no 24-hour reminder (not at
/// once, not ever), only the 1-hour one when it is due; one booked under an hour ahead gets
/// none; one booked 3 days ahead still gets the 24-hour reminder 24 hours before.
async fn a_session_booked_under_a_day_ahead_gets_no_day_reminder(app: &TestApp) {
    let w = world(app).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    app.admin("/assign ben@example.org tom@example.org").await;
    // The clock starts at 2026-12-01 09:00 UTC: 10:06 is 66 minutes ahead.
    let soon = book(app, &w.ana, "2026-12-01 10:06").await;
    assert!(
        soon.contains("reminded an hour before") && !soon.contains("a day"),
        "{soon}"
    );
    let booked = queued(app, "maria@example.org", "session_booked").await;
    let mail = booked
        .iter()
        .find(|(channel, _, _)| channel == "email")
        .map(|(_, _, text)| text.clone())
        .unwrap_or_default();
    assert!(
        mail.contains("a reminder an hour before") && !mail.contains("the day before"),
        "{mail}"
    );
    let later = book(app, &w.ben, "2026-12-04 09:00").await;
    assert!(later.contains("a day and an hour before"), "{later}");
    let m = match_of(app, "ana@example.org").await;
    let soon_id = sessions_of(app, &m).await[0].id;
    let later_id = sessions_of(app, &match_of(app, "ben@example.org").await).await[0].id;

    // The feeder queues no 24-hour reminder for it, only the 1-hour one …
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let (work, _) = jobs::unqueued(&mut c, app.engine.now(), 500)
        .await
        .expect("unqueued");
    drop(c);
    let kinds: Vec<Work> = work
        .iter()
        .map(|d| d.work)
        .filter(|w| matches!(w, Work::RemindSession(id, _) if *id == soon_id))
        .collect();
    assert_eq!(
        kinds,
        [Work::RemindSession(soon_id, ReminderColumn::HourBefore)]
    );
    // … and the timers, run now and by a batch naming it, send none.
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        0
    );
    let pass = timers::run_batch(
        &app.engine,
        Job::RemindSession(ReminderColumn::DayBefore),
        &[soon_id],
    )
    .await
    .expect("day batch");
    assert_eq!((pass.done, pass.next_due), (0, None));
    assert!(
        queued(app, "ana@example.org", "session_reminder")
            .await
            .is_empty()
    );

    // Booked 30 minutes ahead: no reminder at all.
    let closest = book(app, &w.maria, "2026-12-01 09:30").await;
    assert!(closest.contains("no reminder will follow"), "{closest}");
    let closest_id = sessions_of(app, &m).await[0].id;
    assert_ne!(closest_id, soon_id);
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        0
    );

    // 1 hour before the 10:06 session: its 1-hour reminder, to both, chat and email.
    clock_to(app, "2026-12-01T09:06:00Z");
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        1
    );
    for email in ["ana@example.org", "maria@example.org"] {
        let rows = queued(app, email, "session_reminder").await;
        assert_eq!(rows.len(), 2, "{email}: {rows:?}");
        let subject = rows
            .iter()
            .find(|(channel, _, _)| channel == "email")
            .map(|(_, subject, _)| subject.clone())
            .unwrap_or_default();
        assert!(subject.starts_with("In 1 hour"), "{email}: {subject}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE subject LIKE 'In 24 hours%'")
            .await,
        0
    );
    let day_keys = app
        .count("SELECT COUNT(*) AS n FROM outbox WHERE idempotency_key LIKE 'session:%:24 hours:%'")
        .await;
    assert_eq!(day_keys, 0);

    // The session booked 3 days ahead: nothing a minute before 24 hours to go, then its reminder.
    clock_to(app, "2026-12-03T08:59:00Z");
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        0
    );
    clock_to(app, "2026-12-03T09:00:00Z");
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        1
    );
    for email in ["ben@example.org", "tom@example.org"] {
        let rows = queued(app, email, "session_reminder").await;
        let subjects: Vec<&str> = rows
            .iter()
            .filter(|(channel, _, _)| channel == "email")
            .map(|(_, subject, _)| subject.as_str())
            .collect();
        assert_eq!(subjects.len(), 1, "{email}: {rows:?}");
        assert!(
            subjects[0].starts_with("In 24 hours"),
            "{email}: {subjects:?}"
        );
    }
    let later_key = format!("session:{later_id}:24 hours:%");
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) AS n FROM outbox WHERE idempotency_key LIKE $1")
            .bind(later_key)
            .fetch_one(&mut *c)
            .await
            .expect("count");
    assert_eq!(n, 4, "both, chat and email");
}

both_backends!(
    a_flash_match_closes_once_its_session_has_ended_and_a_plain_one_stays_open,
    a_reopened_flash_match_lasts_one_more_session,
    flash_closes_racing_each_other_close_the_match_once,
    a_session_booked_under_a_day_ahead_gets_no_day_reminder,
);

/// The worker closes a flash match on its own: the reconciler's tick (every second here) queues
/// `close_flash` on the embedded queue, and the job closes the match and tells both people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_closes_a_flash_match_after_its_session() {
    let settings: Vec<(&str, Value)> = vec![
        ("queue.name", format!("t{}", uuid_like()).into()),
        ("queue.poll_interval_ms", 50u64.into()),
        ("queue.heartbeat_secs", 1u64.into()),
        ("queue.feed_interval_ms", 200u64.into()),
        ("queue.reconcile_cron", "* * * * * *".into()),
        ("queue.sweep_cron", "0 0 0 1 1 *".into()),
        ("queue.digest_cron", "0 0 0 1 1 *".into()),
    ];
    let Some(app) = TestApp::start_live(Backend::Sqlite, &settings).await else {
        return;
    };
    let w = world(&app).await;
    app.admin("/program_set Spring flash_mentoring yes").await;
    // Paired and booked three hours ago, for 60 to 70 minutes later: the session started over
    // 110 minutes ago, so it has ended.
    let clock = app.live.as_ref().expect("live clock");
    clock.set_offset(-Duration::hours(3));
    app.admin("/assign ana@example.org maria@example.org").await;
    let starts = app.engine.now() + Duration::minutes(70);
    book(&app, &w.ana, &starts.format("%Y-%m-%d %H:%M").to_string()).await;
    clock.set_offset(Duration::zero());
    let stop = CancellationToken::new();
    let worker = Worker::start(app.shared_engine(), stop.clone())
        .await
        .expect("worker starts");
    eventually(Wait::from_secs(30), "the flash match closed", || async {
        match_of(&app, "ana@example.org").await.state == MatchState::Closed
    })
    .await;
    assert!(worker.runtime.stats.processed("close_flash") >= 1);
    worker.stop().await;
    told_of_the_close(&app, "ana@example.org", "Maria Mentor").await;
    told_of_the_close(&app, "maria@example.org", "Ana Mentee").await;
    app.finish().await;
}
