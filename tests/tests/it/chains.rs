//! Property test of the offer chains (docs/domain.md#offers) over random sequences of choose,
//! accept, decline, expiry and status changes, on SQLite with the clock moved by hand.

use std::collections::HashSet;

use chrono::Duration;
use mentorops_core::db::Backend;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::{self, matches::MatchState, offers::OfferState};
use mentorops_core::timers;
use proptest::prelude::*;

use crate::support::{TestApp, World, world};

const MENTEES: [&str; 2] = ["ana@example.org", "ben@example.org"];
const MENTORS: [&str; 3] = ["maria@example.org", "lee@example.org", "tom@example.org"];

#[derive(Debug, Clone)]
enum Op {
    /// Mentee i ranks mentors in this order (indices into MENTORS; duplicates dropped).
    Choose(usize, Vec<usize>),
    Accept(usize),
    Decline(usize),
    /// Time passes by this many hours, then the timers run.
    Wait(i64),
    /// A mentor leaves (IW) or comes back (A and, if needed, RTBM).
    Leave(usize),
    Return(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, prop::collection::vec(0..3usize, 1..4)).prop_map(|(m, v)| Op::Choose(m, v)),
        2 => (0..3usize).prop_map(Op::Accept),
        2 => (0..3usize).prop_map(Op::Decline),
        2 => prop_oneof![Just(1i64), Just(25), Just(49), Just(73)].prop_map(Op::Wait),
        1 => (0..3usize).prop_map(Op::Leave),
        1 => (0..3usize).prop_map(Op::Return),
    ]
}

fn caller<'a>(w: &'a World, email: &str) -> &'a mentorops_core::command::Caller {
    match email {
        "ana@example.org" => &w.ana,
        "ben@example.org" => &w.ben,
        "maria@example.org" => &w.maria,
        "lee@example.org" => &w.lee,
        _ => &w.tom,
    }
}

async fn apply(app: &TestApp, w: &World, op: &Op) {
    match op {
        Op::Choose(m, picks) => {
            let mut seen = Vec::new();
            for p in picks {
                let id = app.personas(MENTORS[*p]).await[0].id;
                if !seen.contains(&id) {
                    seen.push(id);
                }
            }
            let line = format!(
                "/choose {}",
                seen.iter()
                    .map(|id| format!("#{id}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let _ = app.run(caller(w, MENTEES[*m]), &line).await;
        }
        Op::Accept(i) | Op::Decline(i) => {
            let mentor = app.personas(MENTORS[*i]).await[0].id;
            let mut c = app.engine.db().pool().acquire().await.expect("conn");
            let pending = store::offers::pending_for_mentor(&mut c, mentor)
                .await
                .expect("q");
            drop(c);
            if let Some(o) = pending.first() {
                let verb = if matches!(op, Op::Accept(_)) {
                    "accept"
                } else {
                    "decline"
                };
                let _ = app
                    .run(caller(w, MENTORS[*i]), &format!("/{verb} {}", o.id))
                    .await;
            }
        }
        Op::Wait(h) => {
            app.clock.advance(Duration::hours(*h));
            timers::run_due(&app.engine).await.expect("timers");
        }
        Op::Leave(i) => {
            let _ = app
                .run(
                    &app.caller_for(app.admin_id),
                    &format!("/deactivate {} confirm:yes", MENTORS[*i]),
                )
                .await;
        }
        Op::Return(i) => {
            let _ = app
                .run(
                    &app.caller_for(app.admin_id),
                    &format!("/reactivate {}", MENTORS[*i]),
                )
                .await;
        }
    }
}

async fn check(app: &TestApp) {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    for email in MENTEES {
        let persona = app.personas(email).await[0].clone();
        let offers = store::offers::of_mentee(&mut c, persona.id)
            .await
            .expect("offers");
        // At most one pending offer per mentee.
        assert!(
            offers
                .iter()
                .filter(|o| o.state == OfferState::Pending)
                .count()
                <= 1,
            "{email}: {offers:?}"
        );
        let rounds: HashSet<i64> = offers.iter().map(|o| o.round).collect();
        for round in rounds {
            let rows: Vec<_> = offers.iter().filter(|o| o.round == round).collect();
            // No mentor offered twice in one chain.
            let mentors: HashSet<i64> = rows.iter().map(|o| o.mentor_persona_id).collect();
            assert_eq!(mentors.len(), rows.len(), "{email} round {round}: {rows:?}");
            // A chain is still running (one pending), or it ended matched, exhausted or withdrawn.
            let pending = rows.iter().any(|o| o.state == OfferState::Pending);
            let queued = rows.iter().any(|o| o.state == OfferState::Queued);
            assert!(
                pending || !queued,
                "{email} round {round}: queued rows with nothing pending: {rows:?}"
            );
            if !pending {
                let accepted = rows.iter().any(|o| o.state == OfferState::Accepted);
                let withdrawn = rows
                    .iter()
                    .any(|o| matches!(o.state, OfferState::Cancelled | OfferState::Withdrawn));
                let exhausted = rows.iter().all(|o| {
                    matches!(
                        o.state,
                        OfferState::Declined
                            | OfferState::Expired
                            | OfferState::Skipped
                            | OfferState::Withdrawn
                    )
                });
                assert!(
                    accepted || withdrawn || exhausted,
                    "{email} round {round}: {rows:?}"
                );
                if accepted {
                    // The match may have been closed since (a person left), but it exists.
                    let matches = store::matches::of_persona(&mut c, persona.id)
                        .await
                        .expect("matches");
                    assert_eq!(matches.len(), 1, "{email} accepted but has no match");
                    assert!(matches!(
                        persona.match_status,
                        MatchStatus::Matched | MatchStatus::Closed
                    ));
                }
            }
        }
    }
    // A persona is matched at most once, and M exactly when one open match holds it.
    for email in MENTEES.iter().chain(MENTORS.iter()) {
        let persona = app.personas(email).await[0].clone();
        let matches = store::matches::of_persona(&mut c, persona.id)
            .await
            .expect("matches");
        assert!(matches.len() <= 1, "{email} matched twice: {matches:?}");
        let open = matches
            .iter()
            .filter(|m| m.state == MatchState::Open)
            .count();
        assert_eq!(
            open,
            usize::from(persona.match_status == MatchStatus::Matched),
            "{email}: {matches:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn offer_chains_keep_their_invariants_under_random_sequences(ops in prop::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let Some(app) = TestApp::start(Backend::Sqlite).await else { return };
            let w = world(&app).await;
            for op in &ops {
                apply(&app, &w, op).await;
                check(&app).await;
            }
            app.finish().await;
        });
    }
}
