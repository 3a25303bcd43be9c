//! Link codes: from the welcome email to a bound chat account.

use crate::both_backends;
use crate::support::TestApp;
use mentorops_core::Error;
use mentorops_core::values::LINK_CODE_ALPHABET;

async fn a_welcome_code_links_a_chat_account_once(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550301 mentee program:Spring")
        .await;
    let code = app.code_for("ana@example.org").await;
    assert_eq!(code.len(), 8);
    assert!(
        code.bytes().all(|b| LINK_CODE_ALPHABET.contains(&b)),
        "{code}"
    );
    let phone = app.chat("1001");
    // Unlinked: only /start, /help, /link.
    assert!(
        app.run(&phone, "/start")
            .await
            .is_ok_and(|r| r.text.contains("/link"))
    );
    let help = app
        .run(&phone, "/help")
        .await
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(
        help.contains("/link") && !help.contains("/me") && !help.contains("/user_add"),
        "{help}"
    );
    let e = app
        .run(&phone, "/me")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("/link CODE"), "{e}");
    let r = app
        .run(&phone, &format!("/link {}", code.to_lowercase()))
        .await;
    assert!(
        r.as_ref().is_ok_and(|r| r.text.contains("Ana Lima")),
        "{r:?}"
    );
    assert!(
        app.run(&phone, "/me")
            .await
            .is_ok_and(|r| r.text.contains("ana@example.org") && r.text.contains("telegram"))
    );
    let ana = app.user("ana@example.org").await;
    assert!(
        ana.first_seen_at.is_some() && ana.last_activity_at.is_some(),
        "linking counts as activity"
    );
    // The code is single use, even from another account (told in the words of any code that
    // opens nothing: see guarding.rs).
    let e = app
        .run(&app.chat("2002"), &format!("/link {code}"))
        .await
        .err();
    assert!(matches!(e, Some(Error::WrongLinkCode)), "{e:?}");
    let e = app
        .run(&phone, &format!("/link {code}"))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("already linked"), "{e}");
    let e = app.run(&app.chat("3003"), "/link 0O1I").await.err();
    assert!(matches!(e, Some(Error::Input(_))), "{e:?}");
}

async fn a_code_expires_after_seven_days(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550301 mentee program:Spring")
        .await;
    let code = app.code_for("ana@example.org").await;
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let e = app
        .run(&app.chat("1001"), &format!("/link {code}"))
        .await
        .err();
    assert!(matches!(e, Some(Error::WrongLinkCode)), "{e:?}");
    let fresh = mentorops_core::bootstrap::new_link_code(&app.engine, "ana@example.org")
        .await
        .expect("new code");
    assert!(
        app.run(&app.chat("1001"), &format!("/link {fresh}"))
            .await
            .is_ok()
    );
}

async fn a_deactivated_account_is_told_so_even_when_linking(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550301 mentee program:Spring")
        .await;
    let code = app.code_for("ana@example.org").await;
    app.admin("/deactivate ana@example.org").await;
    let e = app
        .run(&app.chat("1001"), &format!("/link {code}"))
        .await
        .err();
    assert!(matches!(e, Some(Error::Deactivated)), "{e:?}");
    app.admin("/reactivate ana@example.org").await;
    assert!(
        app.run(&app.chat("1001"), &format!("/link {code}"))
            .await
            .is_ok()
    );
    app.admin("/deactivate ana@example.org").await;
    assert!(matches!(
        app.run(&app.chat("1001"), "/start").await,
        Err(Error::Deactivated)
    ));
}

both_backends!(
    a_welcome_code_links_a_chat_account_once,
    a_code_expires_after_seven_days,
    a_deactivated_account_is_told_so_even_when_linking,
);
