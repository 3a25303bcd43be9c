//! Email delivery through lettre's SMTP transport against a real SMTP conversation on a
//! loopback port: retries with backoff on 4xx, none on 5xx, exactly one delivery.

use chrono::Duration;
use mentorops_core::db::Backend;
use mentorops_core::store;
use mentorops_worker::{Mailer, deliver_due_emails};

use crate::fakes::smtp::SmtpServer;
use crate::support::TestApp;

async fn welcome_row(app: &TestApp, email: &str) -> store::outbox::Message {
    app.email_row(email, "welcome").await
}

/// Sends what is queued so far (the staff's welcome emails) to a server that takes everything,
/// so a test's scripted server sees only the emails the test is about.
async fn flush_queued(app: &TestApp, from: &str) {
    let ok = SmtpServer::start(&[]).await;
    let mailer = Mailer::smtp(&ok.url()).expect("mailer");
    deliver_due_emails(app.engine.db(), &mailer, from, app.engine.now(), 30)
        .await
        .expect("pass");
}

/// A SQLite app with Spring and its staff, their welcome emails sent already; the sender.
async fn program_with_staff_mailed() -> (TestApp, String) {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let from = app.engine.settings().smtp.from.clone();
    flush_queued(&app, &from).await;
    (app, from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_answer_is_retried_with_backoff_and_the_email_is_delivered_exactly_once() {
    let (app, from) = program_with_staff_mailed().await;
    let server = SmtpServer::start(&[
        "451 4.3.0 mailbox busy, try later",
        "421 4.7.0 too many connections",
    ])
    .await;
    let mailer = Mailer::smtp(&server.url()).expect("mailer");
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550901 mentee program:Spring")
        .await;
    let mut now = app.engine.now();
    let mut pending_before = 0;
    for round in 0..6 {
        let done = deliver_due_emails(app.engine.db(), &mailer, &from, now, 30)
            .await
            .expect("pass");
        let row = welcome_row(&app, "ana@example.org").await;
        if row.status == "sent" {
            break;
        }
        assert!(
            done.iter().all(|d| d.refused.is_none()),
            "round {round}: {done:?}"
        );
        assert!(
            row.last_error.as_deref().is_some_and(|e| e.contains("4")),
            "{row:?}"
        );
        pending_before += 1;
        // Not due again at once: the backoff holds it back.
        let again = deliver_due_emails(app.engine.db(), &mailer, &from, now, 30)
            .await
            .expect("pass");
        assert!(again.is_empty(), "retried before its time");
        now += Duration::hours(2);
    }
    let row = welcome_row(&app, "ana@example.org").await;
    assert_eq!(row.status, "sent", "{row:?}");
    // The 4xx answers before it are history: a row that was sent shows no error.
    assert_eq!(row.last_error, None, "{row:?}");
    assert_eq!(pending_before, 2, "two 4xx answers, then delivered");
    let to_ana: Vec<String> = server
        .accepted()
        .into_iter()
        .filter(|m| m.contains("To: ana@example.org"))
        .collect();
    assert_eq!(to_ana.len(), 1, "delivered exactly once");
    assert!(
        to_ana[0].contains(&format!("Message-ID: <{}.", row.id)),
        "{}",
        to_ana[0]
    );
    // Nothing left to send, nothing sent twice.
    let attempts = server.attempts();
    assert!(
        deliver_due_emails(app.engine.db(), &mailer, &from, now + Duration::days(1), 30)
            .await
            .expect("pass")
            .is_empty()
    );
    assert_eq!(server.attempts(), attempts);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_is_not_retried_and_staff_see_the_reason() {
    let (app, from) = program_with_staff_mailed().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550901 mentee program:Spring")
        .await;
    let server = SmtpServer::start(&["550 5.1.1 no such mailbox"]).await;
    let mailer = Mailer::smtp(&server.url()).expect("mailer");
    let done = deliver_due_emails(app.engine.db(), &mailer, &from, app.engine.now(), 30)
        .await
        .expect("pass");
    assert_eq!(done.len(), 1);
    assert!(
        done[0]
            .refused
            .as_deref()
            .is_some_and(|r| r.contains("550")),
        "{done:?}"
    );
    let row = welcome_row(&app, "ana@example.org").await;
    assert_eq!(row.status, "failed");
    for later in [Duration::minutes(5), Duration::days(2)] {
        assert!(
            deliver_due_emails(
                app.engine.db(),
                &mailer,
                &from,
                app.engine.now() + later,
                30
            )
            .await
            .expect("pass")
            .is_empty()
        );
    }
    assert_eq!(server.attempts(), 1, "a 5xx is never retried");
    let listed = app.admin("/deliveries").await.text;
    assert!(
        listed.contains("Ana Lima") && listed.contains("550") && listed.contains("welcome"),
        "{listed}"
    );
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    assert!(
        app.run(&pm, "/deliveries")
            .await
            .is_ok_and(|r| r.text.contains("Ana Lima"))
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_retried_then_given_up_after_the_last_attempt() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mailer = Mailer::smtp(&format!("smtp://127.0.0.1:{port}")).expect("mailer");
    let from = app.engine.settings().smtp.from.clone();
    let mut now = app.engine.now();
    for _ in 0..mentorops_worker::delivery::MAX_ATTEMPTS {
        deliver_due_emails(app.engine.db(), &mailer, &from, now, 30)
            .await
            .expect("pass");
        now += Duration::hours(2);
    }
    let row = welcome_row(&app, "admin@example.org").await;
    assert_eq!(row.status, "failed", "{row:?}");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("gave up after 8 attempts")),
        "{row:?}"
    );
    app.finish().await;
}

#[test]
fn backoff_grows_and_is_capped() {
    use mentorops_worker::delivery::backoff;
    let secs = |n| backoff(n).num_seconds();
    assert!((24..=36).contains(&secs(0)));
    assert!((48..=72).contains(&secs(1)));
    assert!(secs(10) <= 3600 + 720 && secs(10) >= 3600 - 720);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_being_delivered_is_not_sent_again_by_a_second_job() {
    use mentorops_worker::delivery::{Attempt, deliver_email};
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let from = app.engine.settings().smtp.from.clone();
    let server = SmtpServer::start(&[]).await;
    let mailer = Mailer::smtp(&server.url()).expect("mailer");
    let row = welcome_row(&app, "admin@example.org").await;
    let now = app.engine.now();
    // Another worker is in the middle of sending it (it holds the row's claim).
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    assert!(
        store::outbox::claim(&mut c, row.id, now, Duration::minutes(2))
            .await
            .expect("claim")
    );
    drop(c);
    let second = deliver_email(app.engine.db(), &mailer, &from, row.id, now, 30)
        .await
        .expect("attempt");
    assert!(matches!(second, Attempt::NotPending), "{second:?}");
    assert_eq!(
        server.attempts(),
        0,
        "nothing sent while the row is claimed"
    );
    // That worker died: once its claim runs out, the row is delivered, once.
    let later = now + Duration::minutes(3);
    let third = deliver_email(app.engine.db(), &mailer, &from, row.id, later, 30)
        .await
        .expect("attempt");
    assert!(matches!(third, Attempt::Done(_)), "{third:?}");
    assert_eq!(server.accepted().len(), 1);
    assert_eq!(welcome_row(&app, "admin@example.org").await.status, "sent");
    app.finish().await;
}
