//! Every command run as every kind of caller, checked against the permission table.

use mentorops_core::Error;
use mentorops_core::command::COMMANDS;
use mentorops_core::command::spec::{Audience, refusal};
use mentorops_core::db::Backend;
use mentorops_core::roles::StaffRole;
use mentorops_core::status::UserStatus;

use crate::support::TestApp;

/// A line for each command whose people and programs are within Spring (so a program
/// manager's or coordinator's scope is not what refuses it).
const SAMPLES: &[(&str, &str)] = &[
    ("start", "/start"),
    ("help", "/help"),
    ("link", "/link ABCDEFGH"),
    ("me", "/me"),
    ("org_add", "/org_add \"Another Org\""),
    ("program_add", "/program_add Acme Winter"),
    ("program_set", "/program_set Spring"),
    (
        "staff_add",
        "/staff_add \"New Sc\" newsc@example.org +14155550599 success_coordinator program:Spring",
    ),
    (
        "user_add",
        "/user_add \"New Person\" new@example.org +14155550598 mentee program:Spring",
    ),
    ("user_import", "/user_import file:none.csv"),
    ("user_show", "/user_show target@example.org"),
    (
        "user_edit",
        "/user_edit target@example.org name:\"Target Person\"",
    ),
    ("user_list", "/user_list"),
    ("status", "/status target@example.org SI"),
    ("deactivate", "/deactivate target@example.org"),
    ("reactivate", "/reactivate target@example.org"),
    ("delete", "/delete target@example.org"),
    (
        "persona_new",
        "/persona_new target@example.org mentor program:Spring",
    ),
    (
        "persona_status",
        "/persona_status target@example.org inactive",
    ),
    (
        "program_assign",
        "/program_assign target@example.org Spring",
    ),
    ("match_status", "/match_status target@example.org RTBM"),
    ("inactive", "/inactive"),
    ("overview", "/overview"),
    ("upcoming", "/upcoming"),
    ("screening", "/screening"),
    ("nudge", "/nudge target@example.org"),
    ("history", "/history"),
    ("revert", "/revert 1"),
    ("export", "/export"),
    ("apply", "/apply"),
    ("mentors", "/mentors"),
    ("suggest", "/suggest target@example.org"),
    ("choose", "/choose #1"),
    ("rank", "/rank"),
    ("feedback", "/feedback 1 q:1 answer:yes"),
    ("accept", "/accept 1"),
    ("decline", "/decline 1"),
    ("pause", "/pause 2"),
    ("resume", "/resume"),
    ("capacity", "/capacity 2"),
    ("offers", "/offers"),
    ("assign", "/assign target@example.org mentor@example.org"),
    ("unassign", "/unassign target@example.org"),
    ("match_reopen", "/match_reopen target@example.org"),
    ("autopair", "/autopair Spring"),
    ("claim", "/claim 999 998"),
    ("session_book", "/session_book at:\"2027-01-05 10:00\""),
    ("sessions", "/sessions"),
    ("session_cancel", "/session_cancel 1"),
    ("deliveries", "/deliveries"),
];

#[test]
fn every_command_has_a_sample() {
    for c in COMMANDS {
        assert!(
            SAMPLES.iter().any(|(n, _)| *n == c.name),
            "add a sample line for /{}",
            c.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_as_every_role_matches_the_permission_table() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    app.with_program().await;
    let people = [
        ("ai@example.org", "mentee", None),
        ("mentee@example.org", "mentee", Some("A")),
        ("mentor@example.org", "mentor", Some("A")),
        ("si@example.org", "mentor", Some("SI")),
        ("gone@example.org", "mentor", Some("IW")),
        ("target@example.org", "mentee", None),
    ];
    for (i, (email, role, status)) in people.iter().enumerate() {
        app.admin(&format!(
            "/user_add \"Person {i}\" {email} +1415555060{i} {role} program:Spring"
        ))
        .await;
        if let Some(s) = status {
            app.admin(&format!("/status {email} {s}")).await;
        }
    }
    // (label, caller, linked, status, staff roles)
    let mut callers = vec![("unlinked", app.chat("9999"), false, None, vec![])];
    for (email, status, roles) in [
        ("ai@example.org", UserStatus::ApplicationIncomplete, vec![]),
        ("mentee@example.org", UserStatus::Active, vec![]),
        ("mentor@example.org", UserStatus::Active, vec![]),
        ("si@example.org", UserStatus::ScreeningIncomplete, vec![]),
        ("gone@example.org", UserStatus::InactiveWithdrawn, vec![]),
        (
            "sc@example.org",
            UserStatus::Active,
            vec![StaffRole::SuccessCoordinator],
        ),
        (
            "pm@example.org",
            UserStatus::Active,
            vec![StaffRole::ProgramManager],
        ),
        (
            "admin@example.org",
            UserStatus::Active,
            vec![StaffRole::SuperAdmin],
        ),
    ] {
        let id = app.user_id(email).await;
        callers.push((email, app.caller_for(id), true, Some(status), roles));
    }
    for spec in COMMANDS {
        let line = SAMPLES
            .iter()
            .find(|(n, _)| *n == spec.name)
            .map(|(_, l)| *l)
            .unwrap_or_default();
        for (label, caller, linked, status, roles) in &callers {
            let expected = refusal(
                spec,
                Audience {
                    linked: *linked,
                    // None of these callers has only closed matches: the user status decides.
                    access: status.map(|s| s.info().bot_access),
                    staff_roles: roles,
                },
            );
            let got = app.run(caller, line).await;
            let refused = matches!(got, Err(Error::Forbidden(_)) | Err(Error::Deactivated));
            assert_eq!(
                refused,
                expected.is_some(),
                "/{} as {label}: table says {expected:?}, got {got:?}",
                spec.name
            );
            if let Some(mentorops_core::command::spec::Refusal::Deactivated) = expected {
                assert!(
                    matches!(got, Err(Error::Deactivated)),
                    "/{} as {label}: {got:?}",
                    spec.name
                );
            }
        }
    }
    app.finish().await;
}
