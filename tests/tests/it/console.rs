//! The console front-end, driven through a pipe as a person (or a script) would.

use mentorops_core::command::Who;
use mentorops_core::db::Backend;

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_prints_replies_buttons_other_peoples_messages_and_writes_emails() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    app.with_program().await;
    let script = "# a comment is skipped\n\
                  /user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring\n\
                  /status ana@example.org bogus\n\
                  /delete ana@example.org\n\
                  /export format:json\n\
                  quit\n\
                  /user_list\n";
    let out = app
        .console_output(Who::User(app.admin_id), script.as_bytes())
        .await;
    assert!(out.contains("Added Ana Lima <ana@example.org>"), "{out}");
    assert!(
        out.contains("→ email to ana@example.org: Welcome to the mentoring program"),
        "{out}"
    );
    assert!(out.contains("✉ email #") && out.contains(".eml"), "{out}");
    assert!(out.contains("✗ 'bogus' is not a user status"), "{out}");
    assert!(out.contains("[Delete permanently] → /delete #"), "{out}");
    assert!(
        out.contains("📎 user-") && out.contains("📎 mentorops-export-"),
        "{out}"
    );
    assert!(!out.contains("people:"), "nothing runs after quit: {out}");
    // The .eml file is a real email with both bodies and the code.
    let mail_dir = app.dir.path().join("mail");
    let eml = std::fs::read_dir(&mail_dir)
        .expect("mail dir")
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|t| t.contains("To: ana@example.org"))
        .expect("Ana's welcome email");
    assert!(eml.contains("Subject: Welcome to the mentoring program"));
    assert!(
        eml.contains("Content-Type: multipart/alternative") && eml.contains("text/html"),
        "{eml}"
    );
    assert!(eml.contains("Message-ID: <"), "{eml}");
    // An unlinked console session can link with the code from that email.
    let code = eml
        .split("/link ")
        .nth(1)
        .map(|s| s.chars().take(8).collect::<String>())
        .expect("code");
    let who = Who::Account {
        provider: "console".into(),
        account_id: "tester".into(),
        handle: None,
    };
    let out = app
        .console_output(who, format!("/me\n/link {code}\n/me\n").as_bytes())
        .await;
    assert!(
        out.contains("needs a linked account")
            && out.contains("Linked!")
            && out.contains("Status: AI"),
        "{out}"
    );
    app.finish().await;
}
