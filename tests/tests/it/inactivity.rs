//! The inactivity sweep and the staff digest (docs/domain.md#inactivity), with the clock moved by
//! hand.

use chrono::Duration;
use futures::TryStreamExt;
use futures::future::join_all;
use mentorops_core::rng::SplitMix64;
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

async fn candidates(app: &TestApp) -> Vec<i64> {
    timers::inactive_candidates(&app.engine, app.engine.now())
        .try_collect()
        .await
        .expect("candidates")
}

/// Spring is 15 days (the defaults), Autumn 7 days, Winter 30 days with a 10-day repeat.
async fn with_three_programs(app: &TestApp) {
    app.with_program().await;
    for line in [
        "/program_add Acme Autumn",
        "/program_set Autumn inactivity_after 7d",
        "/program_set Autumn inactivity_repeat 7d",
        "/program_add Acme Winter",
        "/program_set Winter inactivity_after 30d",
        "/program_set Winter inactivity_repeat 10d",
    ] {
        app.admin(line).await;
    }
}

async fn a_person_in_two_programs_is_reminded_once_on_the_shorter_threshold(app: &TestApp) {
    with_three_programs(app).await;
    app.admin("/user_add \"Two Hats\" two@example.org +14155550801 mentor program:Winter")
        .await;
    app.admin("/persona_new two@example.org mentee program:Autumn")
        .await;
    app.admin("/status two@example.org A").await;
    let id = app.user_id("two@example.org").await;
    app.clock
        .advance(Duration::days(7) - Duration::milliseconds(1));
    assert!(candidates(app).await.is_empty(), "not yet 7 days");
    app.clock.advance(Duration::milliseconds(1));
    assert_eq!(
        candidates(app).await,
        vec![id],
        "yielded once, not once per program"
    );
    let now = app.engine.now();
    let runs = join_all((0..3).map(|_| timers::inactivity_sweep(&app.engine, now))).await;
    let total: usize = runs.into_iter().map(|r| r.expect("sweep")).sum();
    assert_eq!(total, 1);
    assert_eq!(count(app, "inactivity", "two@example.org").await, 1);
    // Autumn's repeat (7 days) comes before Winter's threshold (30 days).
    app.clock.advance(Duration::days(6));
    assert_eq!(
        timers::inactivity_sweep(&app.engine, app.engine.now())
            .await
            .expect("sweep"),
        0
    );
    app.clock.advance(Duration::days(1));
    assert_eq!(
        timers::inactivity_sweep(&app.engine, app.engine.now())
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(count(app, "inactivity", "two@example.org").await, 2);
}

/// One of `from`, from a deterministic generator, so that a failure names a population that can
/// be rebuilt.
fn pick<T: Copy>(rng: &mut SplitMix64, from: &[T]) -> T {
    from[rng.below(from.len() as u64) as usize]
}

async fn streamed_candidates_are_exactly_the_people_the_rule_reminds(app: &TestApp) {
    with_three_programs(app).await;
    let places = [
        "Spring", "Autumn", "Winter", "", // unassigned: the defaults (15 days)
    ];
    let mut rng = SplitMix64(2026);
    let mut csv = String::from("name,email,phone,role,program,org\n");
    let n = 90;
    let mut roles = Vec::new();
    let mut firsts = Vec::new();
    for i in 0..n {
        let program = pick(&mut rng, &places);
        let role = pick(&mut rng, &["mentor", "mentee"]);
        roles.push(role);
        firsts.push(program);
        csv.push_str(&format!(
            "Person {i},p{i}@example.org,+1415555{:04},{role},{program},Acme\n",
            2000 + i,
        ));
    }
    app.admin_with_file("/user_import file:people.csv", "people.csv", csv.as_bytes())
        .await
        .expect("import");
    // Some people are in a second program (or also unassigned), in their other role: one open
    // persona per program (docs/domain.md#one-open-persona), so never the place of their first.
    for i in (0..n).step_by(4) {
        let mut program = pick(&mut rng, &places);
        while program == firsts[i] {
            program = pick(&mut rng, &places);
        }
        let other = if roles[i] == "mentor" {
            "mentee"
        } else {
            "mentor"
        };
        let line = if program.is_empty() {
            format!("/persona_new p{i}@example.org {other}")
        } else {
            format!("/persona_new p{i}@example.org {other} program:{program}")
        };
        app.admin(&line).await;
    }
    app.clock.advance(Duration::days(60));
    let now = app.engine.now().timestamp_millis();
    let day = Duration::days(1).num_milliseconds();
    // Ages around every threshold (7, 15, 30 days), a millisecond either side included.
    let ages = [
        0,
        3 * day,
        7 * day - 1,
        7 * day,
        10 * day,
        15 * day - 1,
        15 * day,
        20 * day,
        30 * day - 1,
        30 * day,
        45 * day,
    ];
    for i in 0..n {
        let id = app.user_id(&format!("p{i}@example.org")).await;
        let status = pick(
            &mut rng,
            &["A", "A", "A", "SI", "SI", "AI", "IW", "IR", "ID"],
        );
        let since = now - pick(&mut rng, &ages);
        let seen = pick(&mut rng, &[true, true, false]);
        // Never reminded, reminded in an earlier period, or at times around each repeat.
        let reminded = match pick(&mut rng, &[0, 1, 2, 2, 2]) {
            0 => None,
            1 => Some(since - day),
            _ => Some(now - pick(&mut rng, &[day, 7 * day - 1, 7 * day, 10 * day, 15 * day])),
        };
        let (created, last) = if seen {
            (since - day, Some(since))
        } else {
            (since, None)
        };
        sqlx::query(
            "UPDATE users SET status = $1, created_at = $2, last_activity_at = $3, \
             first_seen_at = $3, inactivity_reminded_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(created)
        .bind(last)
        .bind(reminded)
        .bind(id)
        .execute(app.engine.db().pool())
        .await
        .expect("set up");
    }
    let everyone: Vec<i64> = sqlx::query_scalar("SELECT id FROM users ORDER BY id")
        .fetch_all(app.engine.db().pool())
        .await
        .expect("ids");
    // Three rounds: the reminders of one round make the states of the next.
    for round in 0..3 {
        let streamed = candidates(app).await;
        let mut accepted = Vec::new();
        for &id in &everyone {
            if timers::remind_inactive(&app.engine, id, app.engine.now())
                .await
                .expect("remind")
            {
                accepted.push(id);
            }
        }
        assert_eq!(streamed, accepted, "round {round}");
        if round == 0 {
            assert!(
                accepted.len() >= 10 && accepted.len() < n / 2,
                "a mixed population: {} of {n} due",
                accepted.len()
            );
        }
        assert!(
            candidates(app).await.is_empty(),
            "all reminded: round {round}"
        );
        app.clock.advance(Duration::days(7));
    }
}

both_backends!(
    one_reminder_per_period_then_one_per_repeat_and_only_to_people_who_can_use_the_bot,
    staff_get_one_digest_a_day_of_their_programs_inactive_people,
    a_person_in_two_programs_is_reminded_once_on_the_shorter_threshold,
    streamed_candidates_are_exactly_the_people_the_rule_reminds,
);
