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
                    persona_roles: &[],
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

/// The commands a `/help` answer lists, by name.
fn listed(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| l.strip_prefix('/'))
        .filter_map(|l| l.split(" — ").next())
        .map(str::to_string)
        .collect()
}

/// Issue 15's done-when: each audience's `/help` lists what it may use — a mentee the mentee
/// commands, a mentor the mentor ones, someone taking part as both all of them, a manager the
/// staff commands their role allows and no participant's — each on one chat screen; the chat
/// menus are the same list (`Engine::visible_commands`).
async fn help_lists_what_each_audience_may_use(app: &TestApp) {
    let w = crate::support::world(app).await;
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let help = |who: &'static str| {
        let caller = match who {
            "mentee" => &w.ana,
            "mentor" => &w.maria,
            _ => &pm,
        };
        async move { app.run(caller, "/help").await.expect("help").text }
    };
    let mentee_only = ["mentors", "choose", "rank"];
    let mentor_only = ["accept", "decline", "pause", "resume"];
    let everyone = [
        "start",
        "help",
        "me",
        "apply",
        "feedback",
        "sessions",
        "session_book",
    ];
    for (who, has, lacks) in [
        (
            "mentee",
            [&everyone[..], &mentee_only[..]].concat(),
            [&mentor_only[..], &["user_list", "claim"][..]].concat(),
        ),
        (
            "mentor",
            [&everyone[..], &mentor_only[..]].concat(),
            [&mentee_only[..], &["user_list", "claim"][..]].concat(),
        ),
        (
            "manager",
            vec![
                "user_list",
                "claim",
                "upcoming",
                "autopair",
                "capacity",
                "help",
            ],
            [
                &mentee_only[..],
                &mentor_only[..],
                &["export", "delete"][..],
            ]
            .concat(),
        ),
    ] {
        let text = help(who).await;
        let names = listed(&text);
        for name in has {
            assert!(
                names.iter().any(|n| n == name),
                "{who} lacks /{name}: {text}"
            );
        }
        for name in lacks {
            assert!(
                !names.iter().any(|n| n == name),
                "{who} sees /{name}: {text}"
            );
        }
        assert!(
            text.chars().count() <= 4_000,
            "{who}: {} characters",
            text.len()
        );
        let menu = app
            .engine
            .visible_commands(match who {
                "mentee" => &w.ana,
                "mentor" => &w.maria,
                _ => &pm,
            })
            .await
            .expect("menu");
        let menu: Vec<&str> = menu.iter().map(|c| c.name).collect();
        assert_eq!(menu, names, "{who}: the menu is the /help list");
    }
    // On Discord (2 000 characters a message) the manager's list is the names alone, all of
    // them, on one message.
    let on_discord = mentorops_core::command::Caller {
        frontend: mentorops_core::command::Frontend::Discord,
        who: pm.who.clone(),
    };
    let compact = app.run(&on_discord, "/help").await.expect("help").text;
    assert!(compact.chars().count() <= 1_950, "{compact}");
    let names: Vec<&str> = compact
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .flat_map(str::split_whitespace)
        .filter_map(|w| w.strip_prefix('/'))
        .collect();
    assert_eq!(names, listed(&help("manager").await), "{compact}");
    // Asked about a command meant for the other role, /help says whom it is for.
    let accept = app.run(&w.ana, "/help accept").await.expect("help").text;
    assert!(accept.ends_with("(This one is for mentors.)"), "{accept}");
    // Ana taking part as a mentor too, in another program, sees both kinds.
    app.admin("/program_add Acme Fall").await;
    app.admin("/persona_new ana@example.org mentor program:Acme/Fall")
        .await;
    let both = listed(&app.run(&w.ana, "/help").await.expect("help").text);
    for name in mentee_only.iter().chain(&mentor_only) {
        assert!(both.iter().any(|n| n == name), "/{name}: {both:?}");
    }
}

crate::both_backends!(help_lists_what_each_audience_may_use);
