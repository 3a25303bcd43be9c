//! The inactivity sweep and the staff digest (SPEC §7), with the clock moved by hand.

use chrono::Duration;
use futures::future::join_all;
use mentorops_core::timers;

use crate::both_backends;
use crate::support::TestApp;

async fn count(app: &TestApp, kind: &str, email: &str) -> usize {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let rows = mentorops_core::store::outbox::by_recipient(&mut c, id)
        .await
        .expect("outbox");
    rows.iter().filter(|m| m.kind == kind).count()
}

async fn one_reminder_per_period_then_one_per_repeat_and_only_to_people_who_can_use_the_bot(
    app: &TestApp,
) {
    app.with_program().await;
    for (name, email, phone, status) in [
        ("Quiet One", "quiet@example.org", "+14155550701", Some("A")),
        (
            "Screening One",
            "si@example.org",
            "+14155550702",
            Some("SI"),
        ),
        ("New One", "ai@example.org", "+14155550703", None),
        ("Gone One", "gone@example.org", "+14155550704", Some("IW")),
        ("Busy One", "busy@example.org", "+14155550705", Some("A")),
    ] {
        app.admin(&format!(
            "/user_add \"{name}\" {email} {phone} mentor program:Spring"
        ))
        .await;
        if let Some(s) = status {
            app.admin(&format!("/status {email} {s}")).await;
        }
    }
    let busy = app.caller_for(app.user_id("busy@example.org").await);
    app.clock.advance(Duration::days(14));
    assert!(app.run(&busy, "/me").await.is_ok());
    assert_eq!(
        timers::inactivity_sweep(&app.engine, app.engine.now())
            .await
            .expect("sweep"),
        0,
        "14 days is not inactive yet"
    );
    app.clock.advance(Duration::days(1) + Duration::hours(1));
    // Several workers sweeping at once still send one reminder each.
    let now = app.engine.now();
    let runs = join_all((0..3).map(|_| timers::inactivity_sweep(&app.engine, now))).await;
    let total: usize = runs.into_iter().map(|r| r.expect("sweep")).sum();
    assert_eq!(
        total, 2,
        "Quiet (A) and Screening (SI); not AI, not IW, not the busy one, not staff"
    );
    assert_eq!(
        count(app, "inactivity", "quiet@example.org").await,
        1,
        "email only: not linked to a chat"
    );
    assert_eq!(count(app, "inactivity", "si@example.org").await, 1);
    for email in [
        "ai@example.org",
        "gone@example.org",
        "busy@example.org",
        "pm@example.org",
    ] {
        assert_eq!(count(app, "inactivity", email).await, 0, "{email}");
    }
    // The next hour's sweep sends nothing new; after inactivity_repeat (15 days), one more.
    app.clock.advance(Duration::hours(1));
    assert_eq!(
        timers::inactivity_sweep(&app.engine, app.engine.now())
            .await
            .expect("sweep"),
        0
    );
    app.clock.advance(Duration::days(15));
    let reminded = timers::inactivity_sweep(&app.engine, app.engine.now())
        .await
        .expect("sweep");
    assert!(reminded >= 2, "{reminded}");
    assert_eq!(count(app, "inactivity", "quiet@example.org").await, 2);
    // Active again, then quiet again: a new period, reminded after 15 days, not before.
    let quiet = app.caller_for(app.user_id("quiet@example.org").await);
    assert!(app.run(&quiet, "/me").await.is_ok());
    app.clock.advance(Duration::days(10));
    timers::inactivity_sweep(&app.engine, app.engine.now())
        .await
        .expect("sweep");
    assert_eq!(count(app, "inactivity", "quiet@example.org").await, 2);
    app.clock.advance(Duration::days(6));
    timers::inactivity_sweep(&app.engine, app.engine.now())
        .await
        .expect("sweep");
    assert_eq!(count(app, "inactivity", "quiet@example.org").await, 3);
}

async fn staff_get_one_digest_a_day_of_their_programs_inactive_people(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Quiet One\" quiet@example.org +14155550701 mentee program:Spring")
        .await;
    app.admin("/status quiet@example.org A").await;
    assert_eq!(
        timers::staff_digest(&app.engine, app.engine.now())
            .await
            .expect("digest"),
        0,
        "nobody inactive yet"
    );
    app.clock.advance(Duration::days(16));
    assert_eq!(
        timers::staff_digest(&app.engine, app.engine.now())
            .await
            .expect("digest"),
        1
    );
    app.clock.advance(Duration::hours(1));
    timers::staff_digest(&app.engine, app.engine.now())
        .await
        .expect("digest");
    assert_eq!(
        count(app, "staff_digest", "pm@example.org").await,
        1,
        "once a day"
    );
    assert_eq!(count(app, "staff_digest", "sc@example.org").await, 1);
    assert_eq!(count(app, "staff_digest", "admin@example.org").await, 1);
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let pm = app.user_id("pm@example.org").await;
    let rows = mentorops_core::store::outbox::by_recipient(&mut c, pm)
        .await
        .expect("outbox");
    let digest = rows
        .iter()
        .find(|m| m.kind == "staff_digest")
        .expect("digest");
    assert!(
        digest.body_text.contains("Quiet One <quiet@example.org>"),
        "{}",
        digest.body_text
    );
    drop(c);
    app.clock.advance(Duration::days(1));
    timers::staff_digest(&app.engine, app.engine.now())
        .await
        .expect("digest");
    assert_eq!(
        count(app, "staff_digest", "pm@example.org").await,
        2,
        "the next day again"
    );
}

both_backends!(
    one_reminder_per_period_then_one_per_repeat_and_only_to_people_who_can_use_the_bot,
    staff_get_one_digest_a_day_of_their_programs_inactive_people,
);
