//! `/user_import` of big files (issue 11, point 9): checked whole, then added in chunks of
//! `import::CHUNK` rows, each its own transaction, so other commands run meanwhile; a cap on
//! rows per file; progress messages to a chat uploader before the final answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mentorops_core::Error;
use mentorops_core::command::import::CHUNK;
use mentorops_core::command::{Caller, Engine, Inbound, Outcome, ReplyRoute, ReplyTarget, parse};
use mentorops_core::reply::{Attachment, Reply};
use mentorops_core::store::inbox;
use sqlx::Row;

use crate::both_backends;
use crate::support::TestApp;

/// The email domain of every generated row (so counts leave the test's other people out).
const DOMAIN: &str = "big.example";

/// `n` valid rows for program Spring: `Big Person {i}`, `big{i}@big.example`, a phone of its
/// own, mentors and mentees in turn. `bad` replaces row `i`'s whole line.
fn people_csv(n: usize, bad: &[(usize, &str)]) -> Vec<u8> {
    let mut f = String::from("name,email,phone,role,program\n");
    for i in 0..n {
        match bad.iter().find(|(at, _)| *at == i) {
            Some((_, line)) => f.push_str(line),
            None => f.push_str(&format!(
                "Big Person {i},big{i}@{DOMAIN},+55119{:08},{},Spring",
                20_000_000 + i,
                if i % 2 == 0 { "mentee" } else { "mentor" }
            )),
        }
        f.push('\n');
    }
    f.into_bytes()
}

fn csv(bytes: Vec<u8>) -> Vec<Attachment> {
    vec![Attachment {
        file_name: "people.csv".into(),
        media_type: "text/csv".into(),
        bytes,
    }]
}

async fn import_as(engine: &Engine, caller: &Caller, bytes: Vec<u8>) -> Result<Reply, Error> {
    engine
        .handle_text(caller, "/user_import file:people.csv", csv(bytes))
        .await
        .result
}

async fn imported_people(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) AS n FROM users WHERE email LIKE '%@big.example'")
        .await
}

/// A 3 000-row file: every person, persona, "added" audit entry, link code and welcome email
/// exactly once; and while it ran, an observer saw people arrive a chunk at a time (never more
/// than `CHUNK` at once), with at least one count between none and all (not one transaction).
async fn a_file_of_three_thousand_rows_is_added_in_chunks_with_everything_created_once(
    app: &TestApp,
) {
    app.with_program().await;
    let rows = 3000;
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let db = app.engine.db().clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let n: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM users WHERE email LIKE '%@big.example'")
                        .fetch_one(db.pool())
                        .await
                        .and_then(|r| r.try_get("n"))
                        .expect("count");
                if seen.last() != Some(&n) {
                    seen.push(n);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            seen
        })
    };
    let r = import_as(
        &app.engine,
        &app.caller_for(app.admin_id),
        people_csv(rows, &[]),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let seen = watcher.await.expect("watcher");
    assert!(
        r.as_ref()
            .is_ok_and(|r| r.text.starts_with("Imported 3 000 people;")),
        "{r:?}"
    );
    assert_eq!(imported_people(app).await, rows as i64);
    for (what, sql) in [
        (
            "personas",
            "SELECT COUNT(DISTINCT p.user_id) AS n FROM personas p JOIN users u ON u.id = p.user_id WHERE u.email LIKE '%@big.example'",
        ),
        (
            "personas in all",
            "SELECT COUNT(*) AS n FROM personas p JOIN users u ON u.id = p.user_id WHERE u.email LIKE '%@big.example'",
        ),
        (
            "welcome emails",
            "SELECT COUNT(DISTINCT recipient) AS n FROM outbox WHERE channel = 'email' AND kind = 'welcome' AND recipient LIKE '%@big.example'",
        ),
        (
            "welcome emails in all",
            "SELECT COUNT(*) AS n FROM outbox WHERE channel = 'email' AND kind = 'welcome' AND recipient LIKE '%@big.example'",
        ),
        (
            "added entries",
            "SELECT COUNT(*) AS n FROM audit_log a JOIN users u ON u.id = a.subject_user_id WHERE u.email LIKE '%@big.example' AND a.field = 'user_status' AND a.reason = 'added'",
        ),
        (
            "link codes",
            "SELECT COUNT(*) AS n FROM link_codes c JOIN users u ON u.id = c.user_id WHERE u.email LIKE '%@big.example'",
        ),
    ] {
        assert_eq!(app.count(sql).await, rows as i64, "{what}");
    }
    let mentors = app
        .count("SELECT COUNT(*) AS n FROM personas p JOIN users u ON u.id = p.user_id WHERE u.email LIKE '%@big.example' AND p.role = 'mentor'")
        .await;
    assert_eq!(mentors, rows as i64 / 2);
    assert_eq!(
        app.user("big2999@big.example").await.full_name,
        "Big Person 2999"
    );
    assert!(seen.is_sorted(), "people went away: {seen:?}");
    assert!(
        seen.iter().any(|n| *n > 0 && *n < rows as i64),
        "never saw a chunk on its own: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[1] - w[0] <= CHUNK as i64),
        "a chunk of more than {CHUNK} rows: {seen:?}"
    );
}

/// One bad row, first, in the middle (a person who exists already) or last (a phone twice in
/// the file): the file is refused, that row named, nobody added.
async fn one_bad_row_first_in_the_middle_or_last_imports_nothing_and_names_it(app: &TestApp) {
    app.with_program().await;
    let rows = 1200;
    let before = app.count("SELECT COUNT(*) AS n FROM users").await;
    let cases: [(usize, String, &str); 3] = [
        (
            0,
            "No Email,not-an-email,+5511988880000,mentee,Spring".into(),
            "line 2: 'not-an-email' is not an email address",
        ),
        (
            600,
            "Ada Again,admin@example.org,+5511988880001,mentee,Spring".into(),
            "line 602: admin@example.org is already used by Ada Admin",
        ),
        (
            rows - 1,
            format!(
                "Twin Phone,twin@{DOMAIN},+55119{:08},mentor,Spring",
                20_000_000 + 5
            ),
            "line 1201: phone +5511920000005 appears twice in the file",
        ),
    ];
    for (at, line, named) in &cases {
        let e = import_as(
            &app.engine,
            &app.caller_for(app.admin_id),
            people_csv(rows, &[(*at, line.as_str())]),
        )
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
        assert!(
            e.starts_with("nothing was imported: fix this row") && e.contains(named),
            "{named}: {e}"
        );
        assert_eq!(e.matches("line ").count(), 1, "only the bad row: {e}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, before);
    }
}

/// Many bad rows: the answer lists 20 and counts the rest; a chat uploader also gets every
/// problem in problems.csv, queued before the answer. Nothing is added.
async fn many_bad_rows_are_listed_twenty_and_sent_whole_as_problems_csv_to_a_chat_uploader(
    app: &TestApp,
) {
    app.with_program().await;
    let chat = app.link_chat("admin@example.org", "9101").await;
    let bad: Vec<(usize, String)> = (0..30)
        .map(|k| {
            (
                k * 10,
                format!("Bad {k},bad{k}-at-{DOMAIN},+5511977770{k:03},mentee,Spring"),
            )
        })
        .collect();
    let bad: Vec<(usize, &str)> = bad.iter().map(|(i, l)| (*i, l.as_str())).collect();
    let e = import_as(&app.engine, &chat, people_csv(400, &bad))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(
        e.starts_with("nothing was imported: fix these 30 rows"),
        "{e}"
    );
    assert_eq!(e.matches("is not an email address").count(), 20, "{e}");
    assert!(e.contains("line 192:") && !e.contains("line 202:"), "{e}");
    assert!(
        e.contains("…and 10 more (all of them are in problems.csv"),
        "{e}"
    );
    assert_eq!(imported_people(app).await, 0);
    let rows = chat_rows(app, "9101").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let files = mentorops_core::store::outbox::files(
        &mut app.engine.db().pool().acquire().await.expect("conn"),
        rows[0].0,
    )
    .await
    .expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_name, "problems.csv");
    let listed = String::from_utf8(files[0].bytes.clone()).expect("utf-8");
    assert_eq!(listed.lines().count(), 31, "a header and 30 rows: {listed}");
    assert!(
        listed.lines().any(|l| l.starts_with("292,")),
        "the last bad row: {listed}"
    );
}

/// The cap (`import.max_rows`, here 10): 11 rows are refused naming the limit and the fix,
/// and nothing is added; 10 rows are imported.
async fn a_file_over_the_row_cap_is_refused_naming_the_limit(app: &TestApp) {
    app.with_program().await;
    let mut settings = app.engine.settings().clone();
    settings.import.max_rows = 10;
    let capped = Engine::new(
        app.engine.db().clone(),
        Arc::new(settings),
        app.clock.clone(),
    )
    .expect("engine");
    let admin = app.caller_for(app.admin_id);
    let e = import_as(&capped, &admin, people_csv(11, &[]))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(
        e.contains("more than 10 people")
            && e.contains("import.max_rows")
            && e.contains("split it into files of at most 10 rows"),
        "{e}"
    );
    assert_eq!(imported_people(app).await, 0);
    let r = import_as(&capped, &admin, people_csv(10, &[])).await;
    assert!(
        r.as_ref()
            .is_ok_and(|r| r.text.starts_with("Imported 10 people")),
        "{r:?}"
    );
}

/// A 3 000-row import by the super admin, started in its own task and returned once its first
/// chunk is in (or it ended).
async fn import_under_way(
    app: &TestApp,
) -> tokio::task::JoinHandle<Result<mentorops_core::reply::Reply, mentorops_core::Error>> {
    let engine = app.shared_engine();
    let admin = app.caller_for(app.admin_id);
    let import =
        tokio::spawn(async move { import_as(&engine, &admin, people_csv(3000, &[])).await });
    while imported_people(app).await == 0 && !import.is_finished() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    import
}

/// While a 3 000-row import runs, a program manager's commands (adding people, showing one)
/// all succeed, and at least one of their writes lands between the import's first and last
/// audit entries: the import's chunks let them in.
async fn other_callers_are_served_while_a_big_import_runs(app: &TestApp) {
    app.with_program().await;
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    // Wait until the import is adding people, so the commands below run during it.
    let import = import_under_way(app).await;
    let mut served = 0;
    while !import.is_finished() {
        let add = app
            .run(
                &pm,
                &format!(
                    "/user_add \"Side Person {served}\" side{served}@side.example +55119{:08} mentee program:Spring",
                    66_600_000 + served
                ),
            )
            .await;
        assert!(add.is_ok(), "/user_add during the import: {add:?}");
        let show = app.run(&pm, "/user_show pm@example.org").await;
        assert!(show.is_ok(), "/user_show during the import: {show:?}");
        served += 1;
    }
    let r = import.await.expect("import task");
    assert!(
        r.as_ref()
            .is_ok_and(|r| r.text.starts_with("Imported 3 000 people")),
        "{r:?}"
    );
    assert!(served > 0, "the import ended before anyone else was served");
    let first = app
        .count("SELECT MIN(a.id) AS n FROM audit_log a JOIN users u ON u.id = a.subject_user_id WHERE u.email LIKE '%@big.example'")
        .await;
    let last = app
        .count("SELECT MAX(a.id) AS n FROM audit_log a JOIN users u ON u.id = a.subject_user_id WHERE u.email LIKE '%@big.example'")
        .await;
    let between = sqlx::query(
        "SELECT COUNT(*) AS n FROM audit_log a JOIN users u ON u.id = a.subject_user_id \
         WHERE u.email LIKE '%@side.example' AND a.id > $1 AND a.id < $2",
    )
    .bind(first)
    .bind(last)
    .fetch_one(app.engine.db().pool())
    .await
    .and_then(|r| r.try_get::<i64, _>("n"))
    .expect("count");
    assert!(
        between > 0,
        "no other write landed between the import's first ({first}) and last ({last}) entries ({served} commands served)"
    );
}

/// Someone adds a person of the file after the file was checked, before their chunk: that row
/// is skipped and named in the answer, every other row is imported.
async fn a_person_added_by_someone_else_during_the_import_is_skipped_and_named(app: &TestApp) {
    app.with_program().await;
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    // The first chunk is in: the file was checked, the last row's chunk is still to come.
    let import = import_under_way(app).await;
    let twin = app
        .run(
            &pm,
            "/user_add \"Side Twin\" big2999@big.example +5511955550000 mentor program:Spring",
        )
        .await;
    assert!(twin.is_ok(), "{twin:?}");
    let r = import.await.expect("import task");
    let text = r.map(|r| r.text).unwrap_or_else(|e| e.user_message());
    assert!(text.starts_with("Imported 2 999 people;"), "{text}");
    assert!(
        text.contains("1 row was not imported")
            && text.contains("line 3001: big2999@big.example is already used by Side Twin"),
        "{text}"
    );
    assert_eq!(app.user("big2999@big.example").await.full_name, "Side Twin");
    assert_eq!(imported_people(app).await, 3000);
}

/// A Telegram uploader (a recorded update with a reply route): told that every row is valid,
/// then how far it got at least every few seconds (the clock moves on while it runs), and the
/// answer comes after all of those, in the same chat. The update is handled once.
async fn a_telegram_uploader_gets_progress_messages_before_the_final_answer(app: &TestApp) {
    app.with_program().await;
    let chat = app.link_chat("admin@example.org", "9001").await;
    let key = inbox::Key {
        platform: "telegram".into(),
        update_key: "777001".into(),
        lane: "9001".into(),
    };
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        inbox::receive(&mut c, &key, "{}", app.engine.now())
            .await
            .expect("receive");
    }
    let inbound = Inbound {
        key,
        received: true,
        reply: Some(ReplyRoute {
            channel: "chat:telegram".into(),
            recipient: "9001".into(),
            on_success: ReplyTarget::New,
            on_refusal: ReplyTarget::New,
        }),
    };
    let invocation = || {
        parse("/user_import file:people.csv").map(|mut inv| {
            inv.attachments = csv(people_csv(3000, &[]));
            inv
        })
    };
    // Time passes while it runs: 6 s every 20 ms, more than a chunk takes.
    let running = Arc::new(AtomicBool::new(true));
    let ticker = {
        let clock = app.clock.clone();
        let running = running.clone();
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                clock.advance(chrono::Duration::seconds(6));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let outcome: Outcome = app.engine.run_inbound(&chat, invocation(), &inbound).await;
    running.store(false, Ordering::Relaxed);
    ticker.await.expect("ticker");
    assert!(
        outcome
            .result
            .as_ref()
            .is_ok_and(|r| r.text.starts_with("Imported 3 000 people")),
        "{:?}",
        outcome.result
    );
    let rows = chat_rows(app, "9001").await;
    let texts: Vec<&str> = rows.iter().map(|(_, _, t)| t.as_str()).collect();
    let (last_key, last_text) = rows
        .last()
        .map(|(_, k, t)| (k.as_str(), t.as_str()))
        .unwrap_or_default();
    assert_eq!(last_key, "reply:telegram:777001", "{texts:?}");
    assert!(last_text.starts_with("Imported 3 000 people"), "{texts:?}");
    // Checking (maybe), then "all valid", then adding (at least once), then the answer.
    let stage = |t: &str| {
        if t.starts_with("Checking your file: ") {
            0
        } else if t.starts_with("All 3 000 rows are valid.") {
            1
        } else if t.starts_with("Importing: ") {
            2
        } else {
            3
        }
    };
    let stages: Vec<u8> = texts.iter().map(|t| stage(t)).collect();
    assert!(stages.is_sorted(), "out of order: {texts:?}");
    assert_eq!(stages.iter().filter(|s| **s == 1).count(), 1, "{texts:?}");
    assert_eq!(stages.iter().filter(|s| **s == 3).count(), 1, "{texts:?}");
    let added: Vec<&str> = texts.iter().copied().filter(|t| stage(t) == 2).collect();
    assert!(!added.is_empty(), "no progress while adding: {texts:?}");
    assert!(
        added
            .iter()
            .all(|t| t.contains(" of 3 000 people added so far")),
        "{added:?}"
    );
    // Run again (a redelivery): handled already, nothing added twice, no second answer.
    let again = app.engine.run_inbound(&chat, invocation(), &inbound).await;
    assert!(
        matches!(again.result, Err(Error::Duplicate)),
        "{:?}",
        again.result
    );
    assert_eq!(imported_people(app).await, 3000);
    assert_eq!(chat_rows(app, "9001").await.len(), rows.len());
}

/// The Telegram rows queued to chat `account`, oldest first: (id, key, text).
async fn chat_rows(app: &TestApp, account: &str) -> Vec<(i64, String, String)> {
    sqlx::query(
        "SELECT id, idempotency_key, body_text FROM outbox \
         WHERE channel = 'chat:telegram' AND recipient = $1 ORDER BY id",
    )
    .bind(account)
    .fetch_all(app.engine.db().pool())
    .await
    .expect("rows")
    .iter()
    .map(|r| {
        (
            r.try_get("id").expect("id"),
            r.try_get("idempotency_key").expect("key"),
            r.try_get("body_text").expect("text"),
        )
    })
    .collect()
}

both_backends!(
    a_file_of_three_thousand_rows_is_added_in_chunks_with_everything_created_once,
    one_bad_row_first_in_the_middle_or_last_imports_nothing_and_names_it,
    many_bad_rows_are_listed_twenty_and_sent_whole_as_problems_csv_to_a_chat_uploader,
    a_file_over_the_row_cap_is_refused_naming_the_limit,
    other_callers_are_served_while_a_big_import_runs,
    a_person_added_by_someone_else_during_the_import_is_skipped_and_named,
    a_telegram_uploader_gets_progress_messages_before_the_final_answer,
);
