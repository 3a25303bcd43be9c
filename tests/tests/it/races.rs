//! Exactly one outcome per offer whatever races (docs/domain.md#offer-races): concurrent commands
//! and timers on the real databases — row locks and compare-and-swap on PostgreSQL, `BEGIN
//! IMMEDIATE` on SQLite. The futures run at once, each on its own pooled connection.

use chrono::Duration;
use futures::future::join_all;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::offers::{Offer, OfferState};
use mentorops_core::timers;

use crate::both_backends;
use crate::support::{
    TestApp, World, offers_of, pending_of, persona_of, world, world_mentees, world_mentors,
};

async fn many_concurrent_accepts_of_one_offer_make_one_match(app: &TestApp) {
    let w = world(app).await;
    let maria = persona_of(app, "maria@example.org").await;
    assert!(app.run(&w.ana, &format!("/choose #{maria}")).await.is_ok());
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    let line = format!("/accept {}", offer.id);
    let gate = app
        .close_gate(
            &[maria, persona_of(app, "ana@example.org").await],
            &[offer.id],
        )
        .await;
    let (results, ()) = tokio::join!(
        join_all((0..8).map(|_| app.run(&w.maria, &line))),
        TestApp::open_gate(gate)
    );
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'paired'")
            .await,
        4,
        "one confirmation each, chat + email"
    );
}

async fn accept_racing_expiry_has_exactly_one_outcome(app: &TestApp) {
    let Chosen {
        w,
        maria,
        lee,
        tom,
        a,
        b,
    } = two_mentees_choose(app, ["maria", "lee"], ["tom", "lee"]).await;
    let deadline = a.deadline_at.expect("deadline");
    // The mentors press a second before the deadline while a worker, whose clock is a second
    // past it, expires what is due.
    app.clock
        .advance(Duration::hours(72) - Duration::seconds(1));
    let (line_a, line_b) = (format!("/accept {}", a.id), format!("/accept {}", b.id));
    let (ana, ben) = world_mentees(app).await;
    let gate = app
        .close_gate(&[maria, lee, tom, ana, ben], &[a.id, b.id])
        .await;
    let (acc_a, acc_b, expired, ()) = tokio::join!(
        app.run(&w.maria, &line_a),
        app.run(&w.tom, &line_b),
        timers::expire_due_offers(&app.engine, deadline + Duration::seconds(1)),
        TestApp::open_gate(gate),
    );
    let expired = expired.expect("expiry run");
    for (email, accepted) in [
        ("ana@example.org", acc_a.is_ok()),
        ("ben@example.org", acc_b.is_ok()),
    ] {
        let offers = offers_of(app, email).await;
        let matched = app.personas(email).await[0].match_status == MatchStatus::Matched;
        if accepted {
            assert_eq!(offers[0].state, OfferState::Accepted, "{email}");
            assert!(
                matched && offers[1].state == OfferState::Cancelled,
                "{email}: {offers:?}"
            );
        } else {
            assert_eq!(offers[0].state, OfferState::Expired, "{email}");
            assert!(
                !matched && offers[1].state == OfferState::Pending,
                "{email}: {offers:?}"
            );
        }
    }
    let accepted = usize::from(acc_a.is_ok()) + usize::from(acc_b.is_ok());
    assert_eq!(accepted + expired, 2, "each offer has exactly one outcome");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM matches").await,
        i64::try_from(accepted).unwrap_or(0)
    );
}

async fn two_expiry_runs_at_once_expire_once_and_offer_the_next_choice_once(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
    );
    assert!(
        app.run(&w.ana, &format!("/choose #{maria} #{lee}"))
            .await
            .is_ok()
    );
    app.clock.advance(Duration::hours(73));
    let now = app.engine.now();
    let first = offers_of(app, "ana@example.org").await[0].id;
    let gate = app.close_gate(&[], &[first]).await;
    let (runs, ()) = tokio::join!(
        join_all((0..4).map(|_| timers::expire_due_offers(&app.engine, now))),
        TestApp::open_gate(gate)
    );
    let expired: usize = runs.into_iter().map(|r| r.expect("run")).sum();
    assert_eq!(expired, 1);
    let offers = offers_of(app, "ana@example.org").await;
    assert_eq!(
        offers.iter().map(|o| o.state).collect::<Vec<_>>(),
        [OfferState::Expired, OfferState::Pending]
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'offer' AND channel = 'email'")
            .await,
        2,
        "Maria's and Lee's, once each"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'offer_outcome'")
            .await,
        2,
        "Ana is told once (chat + email)"
    );
}

async fn a_mentor_accepting_two_offers_at_once_gets_one_match_and_the_other_moves_on(
    app: &TestApp,
) {
    let Chosen {
        w,
        maria,
        lee,
        tom,
        a,
        b,
    } = two_mentees_choose(app, ["maria", "lee"], ["maria", "tom"]).await;
    let (line_a, line_b) = (format!("/accept {}", a.id), format!("/accept {}", b.id));
    let (ana, ben) = world_mentees(app).await;
    let gate = app.close_gate(&[maria, ana, ben], &[a.id, b.id]).await;
    let (ra, rb, ()) = tokio::join!(
        app.run(&w.maria, &line_a),
        app.run(&w.maria, &line_b),
        TestApp::open_gate(gate)
    );
    assert_eq!(
        usize::from(ra.is_ok()) + usize::from(rb.is_ok()),
        1,
        "{ra:?} {rb:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    let (winner, loser, loser_next) = if ra.is_ok() {
        ("ana@example.org", "ben@example.org", tom)
    } else {
        ("ben@example.org", "ana@example.org", lee)
    };
    assert_eq!(
        app.personas(winner).await[0].match_status,
        MatchStatus::Matched
    );
    let lost = offers_of(app, loser).await;
    assert_eq!(lost[0].state, OfferState::Withdrawn, "{lost:?}");
    assert_eq!(lost[1].state, OfferState::Pending);
    assert_eq!(lost[1].mentor_persona_id, loser_next);
}

/// The matching world after Ana and Ben each chose two of Maria, Lee and Tom: the mentors'
/// persona ids and Ana's (`a`) and Ben's (`b`) pending offers.
struct Chosen {
    w: World,
    maria: i64,
    lee: i64,
    tom: i64,
    a: Offer,
    b: Offer,
}

/// The world, with Ana and Ben each choosing two mentors (by first name, lower case).
async fn two_mentees_choose(app: &TestApp, ana_picks: [&str; 2], ben_picks: [&str; 2]) -> Chosen {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    let id = |name: &str| match name {
        "maria" => maria,
        "lee" => lee,
        _ => tom,
    };
    for (who, picks) in [(&w.ana, ana_picks), (&w.ben, ben_picks)] {
        let line = format!("/choose #{} #{}", id(picks[0]), id(picks[1]));
        assert!(app.run(who, &line).await.is_ok(), "{line}");
    }
    let a = pending_of(app, "ana@example.org")
        .await
        .expect("ana's offer");
    let b = pending_of(app, "ben@example.org")
        .await
        .expect("ben's offer");
    Chosen {
        w,
        maria,
        lee,
        tom,
        a,
        b,
    }
}

both_backends!(
    many_concurrent_accepts_of_one_offer_make_one_match,
    accept_racing_expiry_has_exactly_one_outcome,
    two_expiry_runs_at_once_expire_once_and_offer_the_next_choice_once,
    a_mentor_accepting_two_offers_at_once_gets_one_match_and_the_other_moves_on,
);
