//! The rules of the help articles the product comes from, as people meet them: who may use the
//! bot by user status and match status (docs/domain.md#bot-access), and what closing a match
//! does (docs/domain.md#closing-a-match).

use crate::both_backends;
use crate::support::TestApp;
use crate::support::people::{ANA_MENTEE, MARIA_MENTOR};
use mentorops_core::Error;
use mentorops_core::status::{MatchStatus, UserStatus};

/// What a person may run, by user status and match status: (/start, /me, /apply, /sessions).
/// Written out by hand from the two tables, not computed by the rule under test.
fn expected(user: UserStatus, matched: MatchStatus) -> [bool; 4] {
    use MatchStatus as M;
    use UserStatus as U;
    match (user, matched) {
        (U::InactiveWithdrawn | U::InactiveRejected | U::InactiveDeleted, _) => {
            [false, false, false, false]
        }
        (U::ApplicationIncomplete, _) => [true, true, true, false],
        (U::Active | U::ScreeningIncomplete, M::Closed) => [true, true, false, false],
        (U::Active | U::ScreeningIncomplete, _) => [true, true, true, true],
    }
}

/// Puts Ana's only persona in `matched` and Ana in `user`, as the database would hold them
/// after whatever path led there.
async fn put(app: &TestApp, user: UserStatus, matched: MatchStatus) {
    let id = app.user_id(ANA_MENTEE.email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    sqlx::query("UPDATE users SET status = $1 WHERE id = $2")
        .bind(user.code())
        .bind(id)
        .execute(&mut *c)
        .await
        .expect("user status");
    sqlx::query("UPDATE personas SET match_status = $1 WHERE user_id = $2")
        .bind(matched.code())
        .bind(id)
        .execute(&mut *c)
        .await
        .expect("match status");
}

/// The (channel, text) of the messages of `kind` queued for user `id`, oldest first.
async fn outbox_of(app: &TestApp, id: i64, kind: &str) -> Vec<(String, String)> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    sqlx::query_as(
        "SELECT channel, body_text FROM outbox WHERE recipient_user_id = $1 AND kind = $2 ORDER BY id",
    )
    .bind(id)
    .bind(kind)
    .fetch_all(&mut *c)
    .await
    .expect("outbox rows")
}

async fn who_may_use_the_bot_follows_both_status_tables(app: &TestApp) {
    app.with_program().await;
    let ana = app.ready(ANA_MENTEE).await;
    for user in UserStatus::ALL {
        for matched in MatchStatus::ALL {
            put(app, user, matched).await;
            let want = expected(user, matched);
            for (i, line) in ["/start", "/me", "/apply", "/sessions"].iter().enumerate() {
                let got = app.run(&ana, line).await;
                let refused = matches!(got, Err(Error::Forbidden(_) | Error::Deactivated));
                // Any other error is neither a permission answer nor a run: not what this checks.
                assert!(
                    got.is_ok() || refused,
                    "{line} as {} with match status {}: {got:?}",
                    user.code(),
                    matched.code()
                );
                assert_eq!(
                    !refused,
                    want[i],
                    "{line} as {} with match status {}: {got:?}",
                    user.code(),
                    matched.code()
                );
            }
            // The person is told why, where the bot does less for them.
            if user != UserStatus::ApplicationIncomplete
                && !user.is_deactivated()
                && matched == MatchStatus::Closed
            {
                for line in ["/start", "/me", "/help"] {
                    let text = app
                        .run(&ana, line)
                        .await
                        .map(|r| r.text)
                        .unwrap_or_default();
                    assert!(text.contains("Your match is closed"), "{line}: {text}");
                }
                let refusal = app
                    .run(&ana, "/sessions")
                    .await
                    .err()
                    .map(|e| e.to_string());
                assert!(
                    refusal
                        .as_deref()
                        .is_some_and(|m| m.contains("your match is closed") && m.contains("/me")),
                    "{refusal:?}"
                );
                let help = app
                    .run(&ana, "/help")
                    .await
                    .map(|r| r.text)
                    .unwrap_or_default();
                assert!(!help.contains("/sessions"), "{help}");
            }
        }
    }
    // A second persona that can still log in opens the bot again: the person is coming back.
    put(app, UserStatus::Active, MatchStatus::Closed).await;
    app.admin("/persona_new ana@example.org mentee program:Spring")
        .await;
    assert!(app.run(&ana, "/sessions").await.is_ok());
}

async fn closing_a_match_tells_both_cancels_its_sessions_and_reactivation_says_what_stayed_closed(
    app: &TestApp,
) {
    app.with_program().await;
    let ana = app.ready(ANA_MENTEE).await;
    app.ready(MARIA_MENTOR).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let booked = app.run(&ana, "/session_book at:\"2026-12-03 17:00\"").await;
    assert!(booked.is_ok(), "{booked:?}");
    let ana_id = app.user_id(ANA_MENTEE.email).await;
    let maria_id = app.user_id(MARIA_MENTOR.email).await;

    let closed = app
        .admin("/unassign ana@example.org reason:\"moved away\"")
        .await;
    assert!(closed.text.starts_with("Closed match #"), "{}", closed.text);
    for (id, other) in [(ana_id, "Maria Mentor"), (maria_id, "Ana Mentee")] {
        let rows = outbox_of(app, id, "match_closed").await;
        let chat = rows
            .iter()
            .find(|(channel, _)| channel.starts_with("chat:"))
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        assert!(
            chat.contains(&format!("Your match with {other} is closed"))
                && chat.contains("moved away")
                && chat.contains("session booked for")
                && chat.contains("is cancelled"),
            "{chat}"
        );
        assert!(
            rows.iter().any(|(channel, _)| channel == "email"),
            "no email to #{id}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM sessions WHERE state = 'booked'")
            .await,
        0,
        "the match's session is cancelled, so no reminder of it goes out"
    );
    // Her only persona is closed now: she sees where she stands, and nothing more.
    let me = app
        .run(&ana, "/me")
        .await
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(me.contains("Your match is closed"), "{me}");
    assert!(matches!(
        app.run(&ana, "/sessions").await,
        Err(Error::Forbidden(_))
    ));

    // Leaving Active closes a match the same way, and /reactivate says what stayed closed.
    app.admin("/persona_new maria@example.org mentor program:Spring")
        .await;
    app.admin("/match_status maria@example.org RTBM").await;
    app.admin("/persona_new ana@example.org mentee program:Spring")
        .await;
    app.admin("/match_status ana@example.org RTBM").await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let out = app
        .admin("/deactivate maria@example.org reason:\"moved abroad\" confirm:yes")
        .await;
    assert!(out.text.contains("closed"), "{}", out.text);
    let told = outbox_of(app, ana_id, "match_closed").await;
    assert!(
        told.iter()
            .any(|(_, text)| text.contains("user status A → IW")),
        "{told:?}"
    );
    let back = app.admin("/reactivate maria@example.org").await;
    assert!(
        back.text.contains("What stayed closed: match #")
            && back.text.contains("/match_reopen maria@example.org"),
        "{}",
        back.text
    );
}

async fn a_mentor_takes_part_in_several_programs_one_open_persona_in_each(app: &TestApp) {
    app.with_program().await;
    app.ready(MARIA_MENTOR).await;
    app.admin("/program_add Acme Fall").await;
    let added = app
        .admin("/persona_new maria@example.org mentor program:Fall")
        .await;
    assert!(
        added.text.contains("new mentor persona") && added.text.contains("Acme/Fall"),
        "{}",
        added.text
    );
    let personas = app.personas(MARIA_MENTOR.email).await;
    assert_eq!(personas.len(), 2);
    assert!(
        personas
            .iter()
            .any(|p| p.match_status == MatchStatus::NotApplicable),
        "a first persona in a program starts in N/A"
    );
    for program in ["Fall", "Spring"] {
        let refused = app
            .admin_err(&format!(
                "/persona_new maria@example.org mentor program:{program}"
            ))
            .await
            .to_string();
        assert!(
            refused.contains("already has an open persona") && refused.contains(program),
            "{refused}"
        );
    }
}

async fn refusals_name_the_fix_that_fits(app: &TestApp) {
    app.with_program().await;
    // Someone waiting for a program: the fix is to assign them, not a new persona.
    app.admin("/user_add \"Una Signed\" una@example.org +14155550701 mentee")
        .await;
    let again = app
        .admin_err("/user_add \"Una Signed\" una@example.org +14155550701 mentee")
        .await
        .to_string();
    assert!(again.contains("/program_assign una@example.org"), "{again}");
    // Someone taking part already.
    app.ready(ANA_MENTEE).await;
    let again = app
        .admin_err("/user_add \"Ana Mentee\" ana@example.org +14155550799 mentee")
        .await
        .to_string();
    assert!(again.contains("take part already"), "{again}");
    // A match status no persona can move to: each persona and its moves are named.
    app.admin("/program_add Acme Fall").await;
    app.admin("/persona_new ana@example.org mentee program:Fall")
        .await;
    let refused = app
        .admin_err("/match_status ana@example.org C")
        .await
        .to_string();
    assert!(
        refused.contains("has no persona that can move to C")
            && refused.contains("is RTBM: From RTBM a persona may go to: M")
            && refused.contains("is N/A: From N/A a persona may go to: RTBM"),
        "{refused}"
    );
}

async fn people_are_prompted_when_their_turn_comes(app: &TestApp) {
    app.with_program().await;
    app.ready(MARIA_MENTOR).await;
    // Ben finishes his application: AI → SI, and the program's staff hear of it at once.
    app.admin("/user_add \"Ben Mentee\" ben@example.org +14155550612 mentee program:Spring")
        .await;
    let ben = app.link_chat("ben@example.org", "e-ben").await;
    for answer in crate::support::people::BEN {
        let r = app
            .run(
                &ben,
                &format!("/apply {}", mentorops_core::command::quote(answer)),
            )
            .await;
        assert!(r.is_ok(), "{r:?}");
    }
    let pm = app.user_id("pm@example.org").await;
    let told = outbox_of(app, pm, "application_complete").await;
    assert!(
        told.iter()
            .any(|(channel, text)| channel == "email" && text.contains("Ben Mentee")),
        "{told:?}"
    );
    // /screening lists him with a button that makes him Active.
    let list = app.admin("/screening").await;
    assert!(
        list.text
            .starts_with("Waiting to be screened, oldest first (1):"),
        "{}",
        list.text
    );
    let button = list
        .buttons
        .iter()
        .find(|b| b.label.contains("Ben Mentee"))
        .map(|b| b.command.clone())
        .unwrap_or_default();
    app.admin(&button).await;
    assert_eq!(app.user("ben@example.org").await.status, UserStatus::Active);
    assert!(
        app.admin("/screening")
            .await
            .text
            .contains("Nobody is waiting")
    );
    // Made ready to be matched: his best mentors come to him, each with a Choose button.
    app.admin("/match_status ben@example.org RTBM").await;
    let ben_id = app.user_id("ben@example.org").await;
    let prompt = outbox_of(app, ben_id, "time_to_choose").await;
    assert!(
        prompt
            .iter()
            .any(|(channel, text)| channel == "email" && text.contains("Maria Mentor")),
        "{prompt:?}"
    );
    let chat = app
        .chat_rows("telegram", "pending")
        .await
        .into_iter()
        .find(|m| m.kind == "time_to_choose")
        .expect("a chat prompt");
    let choose = chat
        .buttons
        .iter()
        .find(|b| b.label == "Choose Maria Mentor")
        .map(|b| b.command.clone())
        .unwrap_or_default();
    let chosen = app.run(&ben, &choose).await;
    assert!(chosen.is_ok(), "{choose}: {chosen:?}");
    assert!(
        crate::support::people::pending_of(app, "ben@example.org")
            .await
            .is_some(),
        "the press sent Maria his request"
    );
}

async fn a_deactivated_person_is_shown_as_deactivated(app: &TestApp) {
    app.with_program().await;
    let ana = app.ready(ANA_MENTEE).await;
    app.ready(MARIA_MENTOR).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let me = app
        .run(&ana, "/me")
        .await
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(me.contains("Matched with Maria Mentor\n"), "{me}");
    app.admin("/deactivate maria@example.org confirm:yes").await;
    let me = app
        .run(&ana, "/me")
        .await
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(
        me.contains("Match with Maria Mentor (Deactivated) closed"),
        "{me}"
    );
    let list = app.admin("/user_list role:mentor").await.text;
    assert!(
        list.contains("Maria Mentor <maria@example.org> (Deactivated)"),
        "{list}"
    );
    let history = app.admin("/history ana@example.org").await.text;
    assert!(
        history.contains("Ana Mentee linked their Telegram account"),
        "{history}"
    );
    assert!(!history.contains("since deleted"), "{history}");
    let shown = app.admin("/user_show maria@example.org").await.text;
    assert!(shown.contains("(Deactivated)"), "{shown}");
    // And to her: everything she sends is answered with it.
    let maria = app.chat(MARIA_MENTOR.chat);
    let refused = app.run(&maria, "/me").await.err().map(|e| e.user_message());
    assert!(
        refused
            .as_deref()
            .is_some_and(|m| m.contains("deactivated")),
        "{refused:?}"
    );
}

both_backends!(
    a_deactivated_person_is_shown_as_deactivated,
    people_are_prompted_when_their_turn_comes,
    a_mentor_takes_part_in_several_programs_one_open_persona_in_each,
    refusals_name_the_fix_that_fits,
    who_may_use_the_bot_follows_both_status_tables,
    closing_a_match_tells_both_cancels_its_sessions_and_reactivation_says_what_stayed_closed,
);
