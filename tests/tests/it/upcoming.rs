//! `/upcoming` (docs/domain.md#upcoming): a dry run of the timers for staff — offers expiring
//! (and where each then goes) or reminded, session reminders, whom the next inactivity sweep
//! reminds — within `hours:`, in the staff member's programs only, changing nothing.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::both_backends;
use crate::support::{TestApp, persona_of, world};

/// Every row of every table of the app's database, as text, table by table: equal snapshots
/// mean an identical database.
async fn snapshot(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in app.columns().await {
        tables.entry(table).or_default().push(column);
    }
    let mut out = BTreeMap::new();
    for (table, columns) in tables {
        // The migrations applied (their times are not data, and sqlx's Any driver cannot read them).
        if table == "mentorops_migrations" || table.starts_with("_sqlx") {
            continue;
        }
        let sql = format!(
            "SELECT {} FROM {table}",
            columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(app.engine.db().pool())
            .await
            .expect("read a table");
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| {
                (0..columns.len())
                    .map(|i| {
                        if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                            format!("{v:?}")
                        } else if let Ok(v) = r.try_get::<Option<String>, _>(i) {
                            format!("{v:?}")
                        } else if let Ok(v) = r.try_get::<Option<Vec<u8>>, _>(i) {
                            format!("{v:?}")
                        } else if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
                            format!("{v:?}")
                        } else {
                            panic!("{table}: a column of a type this test cannot read")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        lines.sort();
        out.insert(table, lines);
    }
    out
}

/// Spring (UTC) with the world's cast: Ana's request is with Maria (Lee next) and expires in 5 h,
/// Ben and Tom are paired with a session at 19:00 (its 1-hour reminder at 18:00), and everyone
/// with a persona is inactive after an hour (the 10:00 sweep reminds them).
async fn a_day_ahead(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring offer_reminder_before 2h")
        .await;
    app.admin("/program_set Spring offer_ttl 5h").await;
    app.admin("/program_set Spring inactivity_after 1h").await;
    let (maria, lee) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
    );
    app.run(&w.ana, "/mentors").await.expect("mentors");
    app.run(&w.ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    app.admin("/assign ben@example.org tom@example.org").await;
    app.run(&w.ben, "/session_book at:\"2026-12-01 19:00\"")
        .await
        .expect("booked");
}

async fn upcoming_lists_what_the_timers_will_do_and_changes_nothing(app: &TestApp) {
    a_day_ahead(app).await;
    // The caller's own activity is the one thing every command writes (docs/domain.md#activity):
    // the admin's is already now, and the clock stands still, so it is written unchanged.
    app.admin("/help").await;
    let before = snapshot(app).await;
    let shown = app.admin("/upcoming Spring").await;
    let after = snapshot(app).await;
    assert_eq!(before, after, "/upcoming changed the database");
    let t = &shown.text;
    assert!(
        t.contains("Coming up in Acme/Spring in the next 24 hours"),
        "{t}"
    );
    // The clock starts at 09:00 UTC: the reminder at 12:00, the expiry at 14:00, then Lee.
    assert!(
        t.contains("Tue 01 Dec 14:00 UTC · offer #")
            && t.contains("to Maria Mentor from Ana Mentee expires; then to Lee Mentor (choice 2)"),
        "{t}"
    );
    assert!(
        t.contains("Tue 01 Dec 12:00 UTC · offer #")
            && t.contains("reminder to Maria Mentor (Ana Mentee is waiting)"),
        "{t}"
    );
    assert!(
        t.contains("Tue 01 Dec 18:00 UTC · session #")
            && t.contains("1-hour reminder to Ben Mentee and Tom Mentor"),
        "{t}"
    );
    assert!(
        t.contains("Tue 01 Dec 10:00 UTC · inactivity reminder to Lee Mentor"),
        "{t}"
    );
    assert!(!t.contains("24-hour"), "booked under a day ahead: {t}");
    assert!(
        !t.contains("quiet hours"),
        "nothing falls in 21-08 UTC here: {t}"
    );
    // Soonest first.
    let at = |needle: &str| t.find(needle).unwrap_or_else(|| panic!("{needle}: {t}"));
    assert!(at("10:00 UTC") < at("12:00 UTC") && at("12:00 UTC") < at("14:00 UTC"));
    assert!(at("14:00 UTC") < at("18:00 UTC"), "{t}");
    // A shorter window leaves out what comes later.
    let soon = app.admin("/upcoming hours:4").await.text;
    assert!(soon.contains("reminder to Maria Mentor"), "{soon}");
    assert!(
        !soon.contains("expires") && !soon.contains("session #"),
        "{soon}"
    );
    // And the timers do what it said, when it said: nothing before 14:00, the expiry at 14:00.
    app.clock
        .advance(chrono::Duration::hours(5) - chrono::Duration::seconds(1));
    mentorops_core::timers::run_due(&app.engine)
        .await
        .expect("timers");
    let maria = persona_of(app, "maria@example.org").await;
    let pending = crate::support::pending_of(app, "ana@example.org").await;
    assert!(
        pending.is_some_and(|o| o.mentor_persona_id == maria),
        "not expired before 14:00"
    );
    app.clock.advance(chrono::Duration::seconds(1));
    let report = mentorops_core::timers::run_due(&app.engine)
        .await
        .expect("timers");
    assert_eq!(report.offers_expired, 1);
    let next = crate::support::pending_of(app, "ana@example.org")
        .await
        .expect("next offer");
    assert_eq!(
        next.mentor_persona_id,
        persona_of(app, "lee@example.org").await
    );
}

async fn upcoming_is_limited_to_the_callers_programs_and_checks_its_window(app: &TestApp) {
    a_day_ahead(app).await;
    app.admin("/program_add Acme Fall").await;
    app.admin("/staff_add \"Finn Pm\" finn@example.org +14155550109 program_manager program:Fall")
        .await;
    let finn = app.caller_for(app.user_id("finn@example.org").await);
    let theirs = app.run(&finn, "/upcoming").await.expect("upcoming").text;
    assert!(
        theirs.starts_with("Nothing comes up in your programs"),
        "{theirs}"
    );
    assert!(
        !theirs.contains("Maria") && !theirs.contains("Ben"),
        "{theirs}"
    );
    let e = app
        .run(&finn, "/upcoming Spring")
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(!e.is_empty(), "Spring is not Finn's program");
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let mine = app.run(&pm, "/upcoming").await.expect("upcoming").text;
    assert!(
        mine.contains("Maria Mentor from Ana Mentee expires"),
        "{mine}"
    );
    for bad in ["hours:0", "hours:169", "hours:soon"] {
        let e = app
            .admin_err(&format!("/upcoming {bad}"))
            .await
            .user_message();
        assert!(
            e.contains("hours must be a whole number from 1 to 168"),
            "{bad}: {e}"
        );
    }
    assert!(
        app.admin("/upcoming hours:168")
            .await
            .text
            .contains("the next 168 hours")
    );
}

both_backends!(
    upcoming_lists_what_the_timers_will_do_and_changes_nothing,
    upcoming_is_limited_to_the_callers_programs_and_checks_its_window,
);
