//! Keeping the program's doors: nobody can lock every super admin out, a link code stops
//! working once a newer one is issued, and guessing codes is slowed to a pace that cannot find
//! one (README "Security").

use chrono::Duration;
use mentorops_core::Error;
use mentorops_core::status::UserStatus;

use crate::both_backends;
use crate::support::TestApp;

async fn the_last_super_admin_cannot_be_deactivated_and_the_operator_has_a_way_back(app: &TestApp) {
    app.with_program().await;
    let audit_before = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
    // (`/deactivate` of oneself is refused anyway; `/status` of oneself was the way out.)
    for line in [
        "/status admin@example.org IW confirm:yes",
        "/status admin@example.org ID",
    ] {
        let e = app.admin_err(line).await;
        assert!(
            e.to_string().contains("last active super admin"),
            "{line}: {e}"
        );
    }
    assert_eq!(
        app.user("admin@example.org").await.status,
        UserStatus::Active
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        audit_before,
        "refusals change nothing"
    );
    // With a second super admin, one of them may go.
    app.admin("/staff_add \"Bo Boss\" bo@example.org +14155550199 super_admin")
        .await;
    app.admin("/deactivate bo@example.org").await;
    assert!(app.user("bo@example.org").await.status.is_deactivated());

    // A database locked out before this rule existed (or by hand): the operator's way back.
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let admin = app.user("admin@example.org").await;
        mentorops_core::store::users::set_status(
            &mut c,
            admin.id,
            UserStatus::Active,
            UserStatus::InactiveWithdrawn,
        )
        .await
        .expect("lock out");
        mentorops_core::store::audit::insert(
            &mut c,
            &mentorops_core::store::audit::NewAudit {
                actor_user_id: Some(admin.id),
                frontend: "console".into(),
                subject_user_id: Some(admin.id),
                entity: "user",
                entity_id: Some(admin.id),
                field: "user_status".into(),
                old_value: Some("A".into()),
                new_value: Some("IW".into()),
                reason: None,
                reverts: None,
            },
            app.engine.now(),
        )
        .await
        .expect("audit");
    }
    assert!(matches!(
        mentorops_core::bootstrap::new_link_code(&app.engine, "admin@example.org").await,
        Err(Error::Conflict(_))
    ));
    let done = mentorops_core::bootstrap::reactivate(&app.engine, "admin@example.org")
        .await
        .expect("reactivate");
    assert!(done.contains("back to A"), "{done}");
    assert_eq!(
        app.user("admin@example.org").await.status,
        UserStatus::Active
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_log WHERE frontend = 'cli' AND field = 'user_status' AND old_value = 'IW' AND new_value = 'A'"
        )
        .await,
        1,
        "audited as done from the command line"
    );
    assert!(
        mentorops_core::bootstrap::new_link_code(&app.engine, "admin@example.org")
            .await
            .is_ok()
    );
    // Reactivating someone active is refused.
    assert!(matches!(
        mentorops_core::bootstrap::reactivate(&app.engine, "admin@example.org").await,
        Err(Error::Conflict(_))
    ));
}

async fn a_new_link_code_revokes_the_earlier_ones(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550301 mentee program:Spring")
        .await;
    let first = app.code_for("ana@example.org").await;
    let second = mentorops_core::bootstrap::new_link_code(&app.engine, "ana@example.org")
        .await
        .expect("code");
    let old = app.run(&app.chat("2001"), &format!("/link {first}")).await;
    assert!(matches!(old, Err(Error::WrongLinkCode)), "{old:?}");
    assert!(
        app.run(&app.chat("2001"), &format!("/link {}", second.as_str()))
            .await
            .is_ok()
    );
}

/// The words of every refusal of a code that opens nothing.
async fn refusal(app: &TestApp, account: &str, code: &str) -> String {
    match app.run(&app.chat(account), &format!("/link {code}")).await {
        Ok(r) => panic!("/link {code} was accepted: {}", r.text),
        Err(e) => e.user_message(),
    }
}

async fn guessing_link_codes_locks_the_account_and_unknown_used_and_expired_codes_read_the_same(
    app: &TestApp,
) {
    app.with_program().await;
    for (i, email) in ["ana@example.org", "bo@example.org", "cy@example.org"]
        .iter()
        .enumerate()
    {
        app.admin(&format!(
            "/user_add \"Person {i}\" {email} +1415555031{i} mentee program:Spring"
        ))
        .await;
    }
    let used = app.code_for("ana@example.org").await;
    assert!(
        app.run(&app.chat("3000"), &format!("/link {used}"))
            .await
            .is_ok()
    );
    let bo = app.code_for("bo@example.org").await;
    let unknown = refusal(app, "3001", "ZZZZZZZZ").await;
    let reused = refusal(app, "3001", &used).await;
    app.clock.advance(Duration::days(8));
    let expired = refusal(app, "3002", &bo).await;
    assert_eq!(unknown, reused);
    assert_eq!(unknown, expired);
    assert!(unknown.contains("does not work"), "{unknown}");

    // Five wrong codes from one account within 15 minutes lock /link for it, even for a good
    // code; other accounts are not held up.
    let cy = mentorops_core::bootstrap::new_link_code(&app.engine, "cy@example.org")
        .await
        .expect("code");
    for _ in 0..4 {
        refusal(app, "3003", "ZZZZZZZZ").await;
    }
    let last_wrong_at = app.engine.now();
    refusal(app, "3003", "ZZZZZZZZ").await;
    let locked = refusal(app, "3003", cy.as_str()).await;
    let until = (last_wrong_at + Duration::minutes(15))
        .format("%H:%M")
        .to_string();
    assert!(
        locked.contains("too many wrong codes") && locked.contains(&until),
        "{locked} (until {until})"
    );
    let attempts = app.count("SELECT COUNT(*) AS n FROM link_attempts").await;
    app.clock.advance(Duration::minutes(15));
    assert!(
        app.run(&app.chat("3003"), &format!("/link {}", cy.as_str()))
            .await
            .is_ok(),
        "the lock ends after 15 minutes"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM link_attempts").await,
        attempts,
        "a good code is not counted"
    );

    // Many accounts guessing at once: 30 wrong codes a minute in all, then everybody waits.
    app.clock.advance(Duration::minutes(5));
    for i in 0..30 {
        refusal(app, &format!("40{i:02}"), "ZZZZZZZZ").await;
    }
    let held = refusal(app, "4999", "ZZZZZZZZ").await;
    assert!(held.contains("in the last minute"), "{held}");
    app.clock.advance(Duration::minutes(1));
    let again = refusal(app, "4999", "ZZZZZZZZ").await;
    assert!(again.contains("does not work"), "{again}");
}

both_backends!(
    the_last_super_admin_cannot_be_deactivated_and_the_operator_has_a_way_back,
    a_new_link_code_revokes_the_earlier_ones,
    guessing_link_codes_locks_the_account_and_unknown_used_and_expired_codes_read_the_same,
);
