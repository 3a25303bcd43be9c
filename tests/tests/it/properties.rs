//! Property tests over random sequences of status commands (on SQLite; the rules are the
//! same on both backends): no state outside the tables, and revert restores what was.

use std::collections::BTreeMap;

use mentorops_core::db::Backend;
use mentorops_core::status::{MATCH_TRANSITIONS, MatchMove, MatchStatus, UserStatus};
use mentorops_core::store::{self, matches::MatchState};
use proptest::prelude::*;

use crate::support::TestApp;

const PEOPLE: [&str; 3] = [
    "mentee@example.org",
    "mentor@example.org",
    "mentor2@example.org",
];
const USER_CODES: [&str; 6] = ["A", "AI", "SI", "IW", "IR", "ID"];
const MATCH_CODES: [&str; 6] = ["N/A", "RTBM", "M", "C", "RS", "NM"];

#[derive(Debug, Clone)]
enum Op {
    Status(usize, usize, bool),
    Match(usize, usize, usize),
    Persona(usize, bool, usize),
    NewPersona(usize),
    Pair(usize),
    Revert(usize),
}

/// Weighted towards the moves that lead somewhere (A, RTBM, pairing), so that sequences reach
/// matched and closed states often, not only the first steps.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, any::<bool>()).prop_map(|(p, c)| Op::Status(p, 0, c)),
        1 => (0..3usize, 0..6usize, any::<bool>()).prop_map(|(p, s, c)| Op::Status(p, s, c)),
        3 => (0..3usize, 0..3usize).prop_map(|(p, k)| Op::Match(p, 1, k)),
        4 => (0..3usize, 0..6usize, 0..3usize).prop_map(|(p, s, k)| Op::Match(p, s, k)),
        1 => (0..3usize, any::<bool>(), 0..3usize).prop_map(|(p, a, k)| Op::Persona(p, a, k)),
        1 => (0..3usize).prop_map(Op::NewPersona),
        2 => (1..3usize).prop_map(Op::Pair),
        2 => (0..50usize).prop_map(Op::Revert),
    ]
}

async fn setup() -> Option<TestApp> {
    let app = TestApp::start(Backend::Sqlite).await?;
    app.with_program().await;
    for (i, (email, role)) in PEOPLE
        .iter()
        .zip(["mentee", "mentor", "mentor"])
        .enumerate()
    {
        app.admin(&format!(
            "/user_add \"Person {i}\" {email} +1415555070{i} {role} program:Spring"
        ))
        .await;
    }
    Some(app)
}

/// Persona id → match status, user email → status, match id → state.
type Snapshot = (
    BTreeMap<i64, (MatchStatus, bool)>,
    BTreeMap<String, UserStatus>,
    BTreeMap<i64, MatchState>,
);

async fn snapshot(app: &TestApp) -> Snapshot {
    let mut personas = BTreeMap::new();
    let mut users = BTreeMap::new();
    let mut matches = BTreeMap::new();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    for email in PEOPLE {
        let u = store::users::by_email(&mut c, email)
            .await
            .expect("q")
            .expect("user");
        users.insert(email.to_string(), u.status);
        for p in store::users::personas_of(&mut c, u.id).await.expect("q") {
            personas.insert(
                p.id,
                (
                    p.match_status,
                    p.status == mentorops_core::status::PersonaStatus::Active,
                ),
            );
            for m in store::matches::of_persona(&mut c, p.id).await.expect("q") {
                matches.insert(m.id, m.state);
            }
        }
    }
    (personas, users, matches)
}

/// Pairs the mentee with mentor `i` by hand (refused unless both are ready).
async fn pair(app: &TestApp, i: usize) {
    let _ = app
        .run(
            &app.caller_for(app.admin_id),
            &format!("/assign {} {}", PEOPLE[0], PEOPLE[i]),
        )
        .await;
}

/// A persona's move is allowed by the table, or is the undo of a staff move (revert).
fn allowed(from: MatchStatus, to: MatchStatus) -> bool {
    from == to
        || MATCH_TRANSITIONS.iter().any(|t| {
            (t.from == from && t.to == to)
                || (t.how == MatchMove::Staff && t.from == to && t.to == from)
        })
}

fn check_invariants(before: &Snapshot, after: &Snapshot, what: &Op) {
    for (id, (status, _)) in &after.0 {
        if let Some((old, _)) = before.0.get(id) {
            assert!(
                allowed(*old, *status),
                "{what:?}: persona #{id} went {old} → {status}"
            );
        } else {
            assert!(
                matches!(
                    status,
                    MatchStatus::NotApplicable | MatchStatus::Rescreening
                ),
                "new persona starts in {status}"
            );
        }
    }
}

async fn check_matches(app: &TestApp) {
    // M ⇔ exactly one open match holds the persona.
    let snap = snapshot(app).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    for (id, (status, _)) in &snap.0 {
        let open = store::matches::of_persona(&mut c, *id)
            .await
            .expect("q")
            .into_iter()
            .filter(|m| m.state == MatchState::Open)
            .count();
        assert_eq!(
            open,
            usize::from(*status == MatchStatus::Matched),
            "persona #{id} is {status} with {open} open matches"
        );
    }
}

/// ` persona:#id` for the k-th persona of person p, when they have several.
async fn persona_arg(app: &TestApp, p: usize, k: usize) -> String {
    let personas = app.personas(PEOPLE[p]).await;
    if personas.len() < 2 {
        String::new()
    } else {
        format!(" persona:#{}", personas[k % personas.len()].id)
    }
}

async fn apply(app: &TestApp, op: &Op, entries: &mut Vec<i64>) {
    let line = match op {
        Op::Status(p, s, c) => format!(
            "/status {} {}{}",
            PEOPLE[*p],
            USER_CODES[*s],
            if *c { " confirm:yes" } else { "" }
        ),
        Op::Match(p, s, k) => format!(
            "/match_status {} {}{}",
            PEOPLE[*p],
            MATCH_CODES[*s],
            persona_arg(app, *p, *k).await
        ),
        Op::Persona(p, a, k) => {
            format!(
                "/persona_status {} {}{}",
                PEOPLE[*p],
                if *a { "active" } else { "inactive" },
                persona_arg(app, *p, *k).await
            )
        }
        // The other role than the first persona's: a person may be a mentee and a mentor.
        Op::NewPersona(p) => format!(
            "/persona_new {} {} program:Spring",
            PEOPLE[*p],
            if *p == 0 { "mentor" } else { "mentee" }
        ),
        Op::Pair(i) => return pair(app, *i).await,
        Op::Revert(k) => match entries.get(k % entries.len().max(1)) {
            Some(id) => format!("/revert {id} confirm:yes"),
            None => return,
        },
    };
    if let Ok(reply) = app.run(&app.caller_for(app.admin_id), &line).await
        && let Some(id) = reply
            .text
            .split("/revert ")
            .nth(1)
            .and_then(|s| s.trim_end_matches(')').split(')').next()?.parse().ok())
    {
        entries.push(id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_never_leave_the_tables(ops in prop::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let Some(app) = setup().await else { return };
            let mut entries = Vec::new();
            for op in &ops {
                let before = snapshot(&app).await;
                apply(&app, op, &mut entries).await;
                let after = snapshot(&app).await;
                check_invariants(&before, &after, op);
                check_matches(&app).await;
            }
            app.finish().await;
        });
    }

    #[test]
    fn revert_after_a_change_restores_the_exact_previous_state(
        ops in prop::collection::vec(op(), 0..12),
        pick in 0..1000usize,
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        rt.block_on(async {
            let Some(app) = setup().await else { return };
            let mut entries = Vec::new();
            for op in &ops {
                apply(&app, op, &mut entries).await;
            }
            let before = snapshot(&app).await;
            // Every status change the state allows, without side effects on matches (no
            // confirm:yes); the first one from `pick` on that is accepted is made, then reverted.
            let mut candidates = Vec::new();
            for email in PEOPLE {
                for code in USER_CODES {
                    candidates.push(format!("/status {email} {code}"));
                }
                for p in app.personas(email).await {
                    for code in MATCH_CODES {
                        candidates.push(format!("/match_status {email} {code} persona:#{}", p.id));
                    }
                    candidates.push(format!("/persona_status {email} inactive persona:#{}", p.id));
                    candidates.push(format!("/persona_status {email} active persona:#{}", p.id));
                }
            }
            let n = candidates.len();
            let mut made = None;
            for i in 0..n {
                let line = &candidates[(pick + i) % n];
                match app.run(&app.caller_for(app.admin_id), line).await {
                    Ok(reply) => {
                        made = Some((line.clone(), reply));
                        break;
                    }
                    Err(_) => assert_eq!(snapshot(&app).await, before, "a refused {line} changed something"),
                }
            }
            let (line, reply) = made.expect("some status change is always possible");
            let id: i64 = reply.text.split("/revert ").nth(1).and_then(|s| s.trim_end_matches(')').split(')').next()?.parse().ok()).expect("an undo hint");
            assert_ne!(snapshot(&app).await, before, "{line} changed nothing");
            let undone = app.run(&app.caller_for(app.admin_id), &format!("/revert {id}")).await;
            assert!(undone.is_ok(), "{line} then /revert {id}: {undone:?}");
            assert_eq!(snapshot(&app).await, before, "{line} then /revert {id}");
            app.finish().await;
        });
    }
}
