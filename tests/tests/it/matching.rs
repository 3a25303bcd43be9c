//! Questionnaire, recommendations, ranked offers and their cascade, pairing, auto-pairing and
//! sessions (docs/domain.md#matching, docs/domain.md#offers, docs/domain.md#sessions), with the
//! clock moved by hand.

use chrono::Duration;
use mentorops_core::Error;
use mentorops_core::command::Caller;
use mentorops_core::status::{MatchStatus, UserStatus};
use mentorops_core::store::{self, offers::OfferState};
use mentorops_core::timers;

use crate::both_backends;
use crate::support::{ANA, TestApp, offers_of, pending_of, persona_of, world, world_mentors};

async fn outbox_count(app: &TestApp, kind: &str, recipient: &str) -> i64 {
    let id = app.user_id(recipient).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let rows = store::outbox::by_recipient(&mut c, id)
        .await
        .expect("outbox");
    i64::try_from(rows.iter().filter(|m| m.kind == kind).count()).unwrap_or(0)
}

/// Runs the timers that are due on the test clock.
async fn due_timers(app: &TestApp) -> timers::TimerReport {
    timers::run_due(&app.engine).await.expect("timers")
}

async fn ok(app: &TestApp, who: &Caller, line: &str) -> String {
    match app.run(who, line).await {
        Ok(r) => r.text,
        Err(e) => panic!("{line}: {}", e.user_message()),
    }
}

async fn finishing_the_questionnaire_moves_ai_to_si_by_itself(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Mentee\" ana@example.org +14155550611 mentee program:Spring")
        .await;
    let code = app.code_for("ana@example.org").await;
    let ana = app.chat("e-ana");
    ok(app, &ana, &format!("/link {code}")).await;
    let first = app.run(&ana, "/apply").await.expect("first question");
    assert!(first.text.starts_with("Question 1 of 7"), "{}", first.text);
    assert_eq!(first.buttons.len(), 8);
    assert_eq!(first.buttons[0].command, "/apply q:field answer:1");
    let e = app
        .run(&ana, "/apply 9")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("1 (Software)"), "{e}");
    let q2 = app.run(&ana, "/apply 1").await.expect("q2");
    assert!(
        q2.text.contains("Question 2 of 7") && q2.buttons.iter().any(|b| b.label == "Done"),
        "{}",
        q2.text
    );
    // Multi-choice by buttons: toggle, then Done.
    let toggled = app
        .run(&ana, "/apply q:languages answer:2")
        .await
        .expect("toggle");
    assert!(
        toggled.buttons.iter().any(|b| b.label == "✓ Spanish"),
        "{:?}",
        toggled.buttons
    );
    let e = app.run(&ana, "/apply q:languages answer:9").await;
    assert!(e.is_err());
    ok(app, &ana, "/apply q:languages answer:done").await;
    for a in &ANA[2..6] {
        ok(app, &ana, &format!("/apply {a}")).await;
    }
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );
    let done = ok(app, &ana, "/apply \"I want my first job\"").await;
    assert!(done.contains("complete") && done.contains("SI"), "{done}");
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    let history = app.admin("/history ana@example.org").await.text;
    assert!(
        history.contains("AI → SI — by Ana Mentee via telegram (application complete)"),
        "{history}"
    );
    // Answers can be changed afterwards; the status stays.
    ok(app, &ana, "/apply q:field answer:Data").await;
    assert!(ok(app, &ana, "/apply").await.contains("Data"));
}

async fn mentees_see_the_best_available_mentors_with_reasons(app: &TestApp) {
    let w = world(app).await;
    let text = ok(app, &w.ana, "/mentors").await;
    let (m, l, t) = (
        text.find("Maria Mentor"),
        text.find("Lee Mentor"),
        text.find("Tom Mentor"),
    );
    assert!(m.is_some() && m < l && l < t, "best first: {text}");
    assert!(text.contains("both: Software"), "{text}");
    app.admin("/status tom@example.org SI").await;
    let text = ok(app, &w.ana, "/mentors").await;
    assert!(
        !text.contains("Tom Mentor"),
        "only available mentors: {text}"
    );
    let staff = app.admin("/suggest ana@example.org").await;
    assert!(
        staff.text.contains("Maria Mentor") && staff.buttons[0].command.starts_with("/assign #"),
        "{}",
        staff.text
    );
}

async fn an_offer_cascades_on_decline_expiry_and_withdrawal_then_tells_everyone(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    let e = app
        .run(&w.ana, &format!("/choose #{maria} #{lee} #{tom} #{maria}"))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("twice"), "{e}");
    let e = app
        .run(&w.ana, &format!("/choose #{maria} #{lee} #{tom} #999"))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("not among your recommended"), "{e}");
    let text = ok(app, &w.ana, &format!("/choose #{maria} #{lee} #{tom}")).await;
    assert!(text.contains("went to Maria Mentor"), "{text}");
    let offer = pending_of(app, "ana@example.org")
        .await
        .expect("pending offer");
    assert_eq!(offer.mentor_persona_id, maria);
    assert_eq!(
        offer.deadline_at,
        Some(app.engine.now() + Duration::hours(72))
    );
    // Maria got a chat message with the two buttons, and an email.
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let to_maria = store::outbox::by_recipient(&mut c, app.user_id("maria@example.org").await)
        .await
        .expect("outbox");
    drop(c);
    let prompt = to_maria
        .iter()
        .find(|m| m.kind == "offer" && m.channel == "chat:telegram")
        .expect("chat prompt");
    assert_eq!(
        prompt
            .buttons
            .iter()
            .map(|b| b.command.as_str())
            .collect::<Vec<_>>(),
        [
            format!("/accept {}", offer.id),
            format!("/decline {}", offer.id),
            format!("/decline {} pause:2", offer.id)
        ]
    );
    assert!(
        prompt.body_text.contains("Ana Mentee") && prompt.body_text.contains("you share: Software"),
        "{}",
        prompt.body_text
    );
    assert!(
        to_maria
            .iter()
            .any(|m| m.kind == "offer" && m.channel == "email")
    );
    // /me shows where things stand, with the buttons on the mentor's side.
    let me = app.run(&w.maria, "/me").await.expect("me");
    assert!(
        me.text
            .contains(&format!("Request #{} from Ana Mentee", offer.id)),
        "{}",
        me.text
    );
    assert_eq!(me.buttons.len(), 3);
    assert!(
        ok(app, &w.ana, "/me")
            .await
            .contains("Your request is with Maria Mentor")
    );
    let e = app
        .run(&w.ana, &format!("/choose #{lee}"))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("your request is with Maria Mentor"), "{e}");

    // The reminder goes 24 h before the deadline, once.
    app.clock.advance(Duration::hours(47));
    assert_eq!(due_timers(app).await.offer_reminders, 0);
    app.clock.advance(Duration::hours(1) + Duration::minutes(1));
    assert_eq!(due_timers(app).await.offer_reminders, 1);
    assert_eq!(due_timers(app).await.offer_reminders, 0);
    assert_eq!(
        outbox_count(app, "offer_reminder", "maria@example.org").await,
        2,
        "chat + email"
    );

    // Decline: the next choice gets it, the mentee is told.
    let text = ok(app, &w.maria, &format!("/decline {}", offer.id)).await;
    assert!(text.contains("Declined"), "{text}");
    let second = pending_of(app, "ana@example.org")
        .await
        .expect("second offer");
    assert_eq!(second.mentor_persona_id, lee);
    assert_eq!(
        outbox_count(app, "offer_outcome", "ana@example.org").await,
        2
    );

    // Expiry: after 72 h without an answer the third choice gets it.
    app.clock
        .advance(Duration::hours(72) + Duration::minutes(1));
    assert_eq!(due_timers(app).await.offers_expired, 1);
    let third = pending_of(app, "ana@example.org")
        .await
        .expect("third offer");
    assert_eq!(third.mentor_persona_id, tom);

    // Withdrawal: Tom leaves the program; Ana's list is exhausted, she and staff are told.
    app.admin("/deactivate tom@example.org").await;
    let states: Vec<_> = offers_of(app, "ana@example.org")
        .await
        .iter()
        .map(|o| o.state)
        .collect();
    assert_eq!(
        states,
        [
            OfferState::Declined,
            OfferState::Expired,
            OfferState::Withdrawn
        ]
    );
    assert!(outbox_count(app, "chain_exhausted", "ana@example.org").await >= 1);
    assert!(outbox_count(app, "staff_alert", "pm@example.org").await >= 1);
    assert!(outbox_count(app, "staff_alert", "sc@example.org").await >= 1);
    // Fresh recommendations leave out who declined or let it expire.
    let fresh = ok(app, &w.ana, "/mentors").await;
    assert!(
        !fresh.contains("Maria Mentor") && !fresh.contains("Lee Mentor"),
        "{fresh}"
    );
    let listing = app.admin("/offers program:Spring").await.text;
    assert!(
        listing.contains("declined")
            && listing.contains("expired")
            && listing.contains("withdrawn"),
        "{listing}"
    );
}

async fn accept_pairs_cancels_the_other_choices_and_moves_other_mentees_on(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    ok(app, &w.ana, &format!("/choose #{maria} #{lee}")).await;
    ok(app, &w.ben, &format!("/choose #{maria} #{tom}")).await;
    let ana_offer = pending_of(app, "ana@example.org")
        .await
        .expect("ana's offer");
    let ben_offer = pending_of(app, "ben@example.org")
        .await
        .expect("ben's offer");
    assert_eq!(
        ben_offer.mentor_persona_id, maria,
        "a mentor may hold several pending offers"
    );
    let text = ok(app, &w.maria, &format!("/accept {}", ana_offer.id)).await;
    assert!(
        text.contains("paired with Ana Mentee") && text.contains("/session_book"),
        "{text}"
    );
    for who in ["ana@example.org", "maria@example.org"] {
        assert_eq!(
            app.personas(who).await[0].match_status,
            MatchStatus::Matched
        );
        assert_eq!(
            outbox_count(app, "paired", who).await,
            2,
            "chat + email to {who}"
        );
    }
    let ana_states: Vec<_> = offers_of(app, "ana@example.org")
        .await
        .iter()
        .map(|o| o.state)
        .collect();
    assert_eq!(ana_states, [OfferState::Accepted, OfferState::Cancelled]);
    let ben: Vec<_> = offers_of(app, "ben@example.org").await;
    assert_eq!(ben[0].state, OfferState::Withdrawn);
    assert_eq!(ben[0].reason.as_deref(), Some("mentor no longer available"));
    assert_eq!(
        ben[1].state,
        OfferState::Pending,
        "Ben's round moved on at once"
    );
    assert_eq!(ben[1].mentor_persona_id, tom);
    ok(app, &w.tom, &format!("/accept {}", ben[1].id)).await;
    assert_eq!(
        app.personas("ben@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    assert!(
        app.admin("/user_show ana@example.org")
            .await
            .text
            .contains("Maria Mentor (mentor), open")
    );
}

async fn late_repeated_and_foreign_presses_get_a_clear_answer_and_change_nothing(app: &TestApp) {
    let w = world(app).await;
    let maria = persona_of(app, "maria@example.org").await;
    let lee = persona_of(app, "lee@example.org").await;
    ok(app, &w.ana, &format!("/choose #{maria} #{lee}")).await;
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    let snapshot = || async {
        (
            offers_of(app, "ana@example.org")
                .await
                .iter()
                .map(|o| o.state)
                .collect::<Vec<_>>(),
            app.count("SELECT COUNT(*) AS n FROM matches").await,
        )
    };
    let before = snapshot().await;
    let e = app
        .run(&w.lee, &format!("/accept {}", offer.id))
        .await
        .err();
    assert!(
        matches!(&e, Some(Error::Forbidden(m)) if m.contains("made to someone else")),
        "{e:?}"
    );
    let e = app
        .run(&w.ana, &format!("/accept {}", offer.id))
        .await
        .err();
    assert!(
        matches!(e, Some(Error::Forbidden(_))),
        "the mentee cannot accept for the mentor: {e:?}"
    );
    app.clock
        .advance(Duration::hours(72) + Duration::seconds(1));
    let e = app
        .run(&w.maria, &format!("/accept {}", offer.id))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("expired on"), "{e}");
    assert_eq!(snapshot().await, before);
    due_timers(app).await;
    let e = app
        .run(&w.maria, &format!("/decline {}", offer.id))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("expired on"), "{e}");
    let next = pending_of(app, "ana@example.org").await.expect("next");
    ok(app, &w.lee, &format!("/accept {}", next.id)).await;
    let after = snapshot().await;
    let e = app
        .run(&w.lee, &format!("/accept {}", next.id))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("You accepted this offer on"), "{e}");
    assert_eq!(snapshot().await, after);
    let e = app.run(&w.lee, "/accept 99999").await.err();
    assert!(matches!(e, Some(Error::NotFound(_))), "{e:?}");
}

async fn staff_pair_by_hand_close_and_reopen(app: &TestApp) {
    let _w = world(app).await;
    let r = app.admin("/assign ana@example.org maria@example.org").await;
    assert!(
        r.text
            .contains("Paired Ana Mentee (mentee) with Maria Mentor (mentor)"),
        "{}",
        r.text
    );
    let e = app
        .admin_err("/assign ben@example.org maria@example.org")
        .await;
    assert!(e.to_string().contains("ready to be matched"), "{e}");
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    assert!(
        app.run(&pm, "/unassign maria@example.org reason:\"schedule clash\"")
            .await
            .is_ok()
    );
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Closed
    );
    assert!(app.run(&pm, "/match_reopen ana@example.org").await.is_ok());
    assert_eq!(
        app.personas("maria@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    assert!(matches!(
        app.run(&sc, "/unassign ana@example.org").await,
        Err(Error::Forbidden(_))
    ));
}

async fn autopair_previews_then_applies_the_best_total_and_sends_no_offers(app: &TestApp) {
    let _w = world(app).await;
    let preview = app.admin("/autopair Spring").await;
    assert!(
        preview.text.contains("2 pairs") && preview.text.contains("Mentors left free"),
        "{}",
        preview.text
    );
    // Optimal here: Ana ↔ Maria and Ben ↔ Tom (identical answers).
    assert!(
        preview.text.contains("Ana Mentee ↔ Maria Mentor")
            && preview.text.contains("Ben Mentee ↔ Tom Mentor (100)"),
        "{}",
        preview.text
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM matches").await,
        0,
        "a preview changes nothing"
    );
    let csv = String::from_utf8(preview.attachments[0].bytes.clone()).expect("csv");
    assert!(
        csv.starts_with("mentee,mentee_email,mentor,mentor_email,score\n")
            && csv.contains("ben@example.org,Tom Mentor,tom@example.org,100"),
        "{csv}"
    );
    let confirm = preview.buttons[0].command.clone();
    let other_admin = app.caller_for(app.user_id("pm@example.org").await);
    let e = app
        .run(&other_admin, &confirm)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("does not match a preview of yours"), "{e}");
    let preview = app.admin("/autopair Spring").await;
    let done = app.admin(&preview.buttons[0].command).await;
    assert!(done.text.contains("Paired 2"), "{}", done.text);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM matches WHERE status = 'open'")
            .await,
        2
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM offers").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'offer'")
            .await,
        0
    );
    assert_eq!(outbox_count(app, "paired", "ben@example.org").await, 2);
}

async fn sessions_are_booked_in_the_program_time_zone_and_reminded(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring timezone America/Sao_Paulo")
        .await;
    app.admin("/assign ana@example.org maria@example.org").await;
    // The clock starts at 2026-12-01 09:00 UTC.
    let e = app
        .run(&w.ana, "/session_book at:\"2026-11-30 10:00\"")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("in the past"), "{e}");
    let e = app
        .run(&w.ana, "/session_book at:tomorrow")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("America/Sao_Paulo"), "{e}");
    let booked = app
        .run(&w.ana, "/session_book at:\"2026-12-03 17:00\"")
        .await
        .expect("booked");
    assert!(booked.text.contains("17:00 -03"), "{}", booked.text);
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let m = store::matches::of_persona(&mut c, persona_of(app, "ana@example.org").await)
        .await
        .expect("m")[0]
        .clone();
    let s = store::sessions::of_match(&mut c, m.id).await.expect("s")[0].clone();
    drop(c);
    assert_eq!(s.starts_at.to_rfc3339(), "2026-12-03T20:00:00+00:00");
    assert!(ok(app, &w.maria, "/sessions").await.contains("Ana Mentee"));
    // Reminders: 24 h before (to both, chat and email), then 1 h before; each once.
    app.clock.advance(Duration::hours(35)); // 2026-12-02 20:00 UTC: 24 h to go
    assert_eq!(due_timers(app).await.session_reminders, 1);
    assert_eq!(
        outbox_count(app, "session_reminder", "maria@example.org").await,
        2
    );
    assert_eq!(
        outbox_count(app, "session_reminder", "ana@example.org").await,
        2
    );
    app.clock.advance(Duration::hours(22)); // 2026-12-03 18:00 UTC: 2 h to go
    assert_eq!(due_timers(app).await.session_reminders, 0);
    app.clock.advance(Duration::hours(1)); // 19:00 UTC: 1 h to go
    assert_eq!(due_timers(app).await.session_reminders, 1);
    assert_eq!(due_timers(app).await.session_reminders, 0);
    assert_eq!(
        outbox_count(app, "session_reminder", "maria@example.org").await,
        4
    );
    let cancelled = ok(app, &w.maria, &format!("/session_cancel {}", s.id)).await;
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    assert_eq!(
        outbox_count(app, "session_cancelled", "ana@example.org").await,
        2
    );
    let e = app
        .run(&w.ben, &format!("/session_cancel {}", s.id))
        .await
        .err();
    assert!(matches!(e, Some(Error::NotFound(_))), "{e:?}");
}

both_backends!(
    finishing_the_questionnaire_moves_ai_to_si_by_itself,
    mentees_see_the_best_available_mentors_with_reasons,
    an_offer_cascades_on_decline_expiry_and_withdrawal_then_tells_everyone,
    accept_pairs_cancels_the_other_choices_and_moves_other_mentees_on,
    late_repeated_and_foreign_presses_get_a_clear_answer_and_change_nothing,
    staff_pair_by_hand_close_and_reopen,
    autopair_previews_then_applies_the_best_total_and_sends_no_offers,
    sessions_are_booked_in_the_program_time_zone_and_reminded,
);
