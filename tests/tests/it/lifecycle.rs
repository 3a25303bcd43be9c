//! User, persona and match statuses through the commands; the audit log and revert;
//! deactivation.

use crate::both_backends;
use crate::support::TestApp;
use mentorops_core::Error;
use mentorops_core::reply::Reply;
use mentorops_core::status::{MatchStatus, PersonaStatus, UserStatus};
use mentorops_core::store;

/// Spring with its staff, and Ana Lima (mentee, AI) in it.
async fn ana_in_spring(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550201 mentee program:Spring")
        .await;
}

/// The audit entry a reply offers to undo ("… undo with /revert N)").
fn revert_entry(r: &Reply) -> i64 {
    r.text
        .split("/revert ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(')').parse().ok())
        .expect("entry id")
}

/// Rows in the audit log, the outbox, users and personas.
async fn row_counts(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        app.count("SELECT COUNT(*) AS n FROM outbox").await,
        app.count("SELECT COUNT(*) AS n FROM users").await,
        app.count("SELECT COUNT(*) AS n FROM personas").await,
    )
}

/// Ana (mentee) and Bruno (mentor) in Spring, both A and RTBM, paired by an open match.
async fn paired(app: &TestApp) -> i64 {
    ana_in_spring(app).await;
    app.admin("/user_add \"Bruno Reis\" bruno@example.org +14155550202 mentor program:Spring")
        .await;
    for who in ["ana@example.org", "bruno@example.org"] {
        app.admin(&format!("/status {who} A")).await;
        app.admin(&format!("/match_status {who} RTBM")).await;
    }
    app.admin("/assign ana@example.org bruno@example.org").await;
    let ana = app.personas("ana@example.org").await[0].id;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::matches::of_persona(&mut c, ana)
        .await
        .expect("match")[0]
        .id
}

async fn finishing_the_application_moves_ai_to_si_and_status_changes_are_audited(app: &TestApp) {
    ana_in_spring(app).await;
    let r = app
        .admin("/status ana@example.org SI reason:\"application complete\"")
        .await;
    assert!(r.text.contains("AI → SI"), "{}", r.text);
    let history = app.admin("/history ana@example.org").await.text;
    assert!(
        history.contains("user_status AI → SI")
            && history.contains("by Ada Admin via console")
            && history.contains("(application complete)"),
        "{history}"
    );
    let e = app.admin_err("/status ana@example.org SI").await;
    assert!(e.to_string().contains("already SI"), "{e}");
    let e = app.admin_err("/status ana@example.org XX").await;
    assert!(
        e.to_string().contains("A (Active)") && e.to_string().contains("IW (Inactive Withdrawn)"),
        "{e}"
    );
}

async fn match_statuses_follow_exactly_the_table(app: &TestApp) {
    ana_in_spring(app).await;
    // N/A → RTBM needs the user to be A.
    let e = app.admin_err("/match_status ana@example.org RTBM").await;
    assert!(e.to_string().contains("needs the user to be A"), "{e}");
    app.admin("/status ana@example.org A").await;
    app.admin("/match_status ana@example.org RTBM").await;
    let e = app.admin_err("/match_status ana@example.org C").await;
    assert!(
        matches!(e, Error::Conflict(_))
            && e.to_string().contains("From RTBM a persona may go to: M"),
        "{e}"
    );
    let e = app.admin_err("/match_status ana@example.org M").await;
    assert!(e.to_string().contains("by being paired"), "{e}");
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::ReadyToBeMatched
    );
}

async fn leaving_active_closes_matches_only_when_confirmed(app: &TestApp) {
    let match_id = paired(app).await;
    let e = app.admin_err("/status bruno@example.org IW").await;
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("match #{match_id}")) && msg.contains("confirm:yes"),
        "{msg}"
    );
    assert_eq!(
        app.user("bruno@example.org").await.status,
        UserStatus::Active,
        "refused: nothing changed"
    );
    let r = app.admin("/status bruno@example.org IW confirm:yes").await;
    assert!(r.text.contains("closed match"), "{}", r.text);
    // Both personas are closed, the match too.
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Closed
    );
    assert_eq!(
        app.personas("bruno@example.org").await[0].match_status,
        MatchStatus::Closed
    );
    // A returning mentee gets a new persona, which starts in Rescreening (docs/domain.md#personas).
    let r = app
        .admin("/persona_new ana@example.org mentee program:Spring")
        .await;
    assert!(r.text.contains("match status RS"), "{}", r.text);
    let e = app
        .admin_err("/match_status ana@example.org NM persona:#1")
        .await;
    assert!(e.to_string().contains("cannot go from C to NM"), "{e}");
}

async fn deactivation_takes_effect_at_once_and_reactivate_restores_the_status_before(
    app: &TestApp,
) {
    ana_in_spring(app).await;
    app.admin("/status ana@example.org SI").await;
    let ana = app.caller_for(app.user_id("ana@example.org").await);
    assert!(app.run(&ana, "/me").await.is_ok());
    app.admin("/deactivate ana@example.org status:IR reason:\"did not pass screening\"")
        .await;
    for line in ["/me", "/help", "/start"] {
        let e = app.run(&ana, line).await.err();
        assert!(matches!(e, Some(Error::Deactivated)), "{line}: {e:?}");
        assert_eq!(
            e.map(|e| e.user_message()).as_deref(),
            Some("your account is deactivated: ask your program manager to reactivate it")
        );
    }
    assert!(
        app.admin("/user_show ana@example.org")
            .await
            .text
            .contains("Deactivated")
    );
    let e = app.admin_err("/deactivate ana@example.org").await;
    assert!(e.to_string().contains("already deactivated"), "{e}");
    let r = app.admin("/reactivate ana@example.org").await;
    assert!(r.text.contains("back to SI"), "{}", r.text);
    assert!(app.run(&ana, "/me").await.is_ok());
}

async fn revert_restores_the_previous_status_once(app: &TestApp) {
    ana_in_spring(app).await;
    let r = app.admin("/status ana@example.org A").await;
    let entry = revert_entry(&r);
    app.admin(&format!("/revert {entry}")).await;
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );
    let e = app.admin_err(&format!("/revert {entry}")).await;
    assert!(e.to_string().contains("reverted already"), "{e}");
    let history = app.admin("/history ana@example.org").await.text;
    assert!(
        history.contains(&"[reverted by #".to_string())
            && history.contains(&format!("(revert of #{entry})")),
        "{history}"
    );
    // A revert is refused once the status moved on.
    let r = app.admin("/status ana@example.org SI").await;
    let second = revert_entry(&r);
    app.admin("/status ana@example.org A").await;
    let e = app.admin_err(&format!("/revert {second}")).await;
    assert!(e.to_string().contains("has changed since"), "{e}");
    let e = app.admin_err("/revert 99999").await;
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn the_last_active_persona_cannot_be_inactivated(app: &TestApp) {
    ana_in_spring(app).await;
    let e = app
        .admin_err("/persona_status ana@example.org inactive")
        .await;
    assert!(
        e.to_string().contains("last active persona") && e.to_string().contains("user status"),
        "{e}"
    );
    // A second open persona is in another program (one open persona per program).
    app.admin("/program_add Acme Fall").await;
    app.admin("/persona_new ana@example.org mentor program:Fall")
        .await;
    let e = app
        .admin_err("/persona_status ana@example.org inactive")
        .await;
    assert!(
        matches!(e, Error::Ambiguous(_)) && e.to_string().contains("persona:#id"),
        "{e}"
    );
    let second = app.personas("ana@example.org").await[1].id;
    app.admin(&format!(
        "/persona_status ana@example.org inactive persona:#{second}"
    ))
    .await;
    assert_eq!(
        app.personas("ana@example.org").await[1].status,
        PersonaStatus::Inactive
    );
}

async fn a_closed_match_reopens_by_revert_and_not_after_a_new_match(app: &TestApp) {
    paired(app).await;
    let r = app
        .admin("/match_status ana@example.org C reason:\"ended early\"")
        .await;
    let entry = revert_entry(&r);
    assert_eq!(
        app.personas("bruno@example.org").await[0].match_status,
        MatchStatus::Closed,
        "closing closes both sides"
    );
    app.admin(&format!("/revert {entry}")).await;
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    assert_eq!(
        app.personas("bruno@example.org").await[0].match_status,
        MatchStatus::Matched
    );
}

async fn every_refused_command_leaves_the_database_as_it_was(app: &TestApp) {
    ana_in_spring(app).await;
    let before = row_counts(app).await;
    for bad in [
        "/status ana@example.org",
        "/status nobody A",
        "/match_status ana@example.org M",
        "/user_add \"X\" bad +1 mentee",
        "/persona_status ana@example.org inactive",
        "/revert 424242",
        "/program_set Nowhere offer_ttl 1h",
        "/frobnicate",
    ] {
        assert!(
            app.run(&app.caller_for(app.admin_id), bad).await.is_err(),
            "{bad} should be refused"
        );
    }
    let after = row_counts(app).await;
    assert_eq!(before, after);
}

both_backends!(
    finishing_the_application_moves_ai_to_si_and_status_changes_are_audited,
    match_statuses_follow_exactly_the_table,
    leaving_active_closes_matches_only_when_confirmed,
    deactivation_takes_effect_at_once_and_reactivate_restores_the_status_before,
    revert_restores_the_previous_status_once,
    the_last_active_persona_cannot_be_inactivated,
    a_closed_match_reopens_by_revert_and_not_after_a_new_match,
    every_refused_command_leaves_the_database_as_it_was,
);
