//! The HTTP interactions endpoint: Discord's signed POSTs (a key pair the test makes), checked
//! before anything runs; slash commands answered in the response, or deferred and finished over
//! REST; attachments downloaded from the fake CDN; replays refused.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use mentorops_core::status::UserStatus;
use serde_json::{Value, json};

use crate::fakes::discord_rest::FakeRest;
use crate::support::discord::endpoint::now_ts;
use crate::support::discord::{
    Endpoint, assert_ana_made_active_from_discord, autocomplete, command, content, ephemeral,
    import, interaction, link_on_discord, press, status_opts, status_opts_because, text_opt,
};
use crate::support::{TestApp, offer_to_maria};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_ponged_and_unsigned_or_unreadable_requests_run_nothing() {
    let app = TestApp::sqlite_with_ana().await;
    let ep = Endpoint::start(&app).await;

    let pong = ep.send(&interaction(1, 1)).await;
    assert_eq!(pong.status, 200, "{}", pong.raw);
    assert_eq!(pong.body["type"], 1);

    // The super admin's Discord account, linked; then forged copies of a status change.
    link_on_discord(&app, &ep, "admin@example.org", 9001).await;
    let change = command(9001, "status", status_opts("ana@example.org", "SI"));
    let body = serde_json::to_vec(&change).expect("json");
    let ts_owned = now_ts(0);
    let ts = ts_owned.as_str();
    let other = SigningKey::from_bytes(&[8u8; 32]);
    let forged = Endpoint::sign_with(&other, ts, &body);
    let good = Endpoint::sign_with(&ep.key, ts, &body);
    let later = now_ts(1);
    let stale_ts = now_ts(-600);
    let stale = Endpoint::sign_with(&ep.key, &stale_ts, &body);
    let cases = [
        ("signed by another key", Some(forged.as_str()), Some(ts)),
        (
            "another timestamp",
            Some(good.as_str()),
            Some(later.as_str()),
        ),
        (
            "signed 10 minutes ago (a replay)",
            Some(stale.as_str()),
            Some(stale_ts.as_str()),
        ),
        ("no signature", None, Some(ts)),
        ("no timestamp", Some(good.as_str()), None),
        ("a signature that is not hex", Some("zz"), Some(ts)),
        ("no headers", None, None),
    ];
    for (what, sig, t) in cases {
        let a = ep.post_raw(&body, sig, t).await;
        assert_eq!(a.status, 401, "{what}: {}", a.raw);
    }
    // The body changed after signing.
    let mut tampered = body.clone();
    if let Some(b) = tampered.iter_mut().rev().find(|b| **b == b'S') {
        *b = b'A';
    }
    let a = ep.post_raw(&tampered, Some(&good), Some(ts)).await;
    assert_eq!(a.status, 401, "{}", a.raw);
    // Signed but not an interaction.
    for junk in [&b"{not json"[..], br#"{"type":2}"#, b""] {
        let sig = Endpoint::sign_with(&ep.key, ts, junk);
        let a = ep.post_raw(junk, Some(&sig), Some(ts)).await;
        assert_eq!(a.status, 400, "{}", a.raw);
    }
    // Signed, but naming nobody (serenity would default the user to id 1): nothing runs.
    let mut nobody = change.clone();
    if let Some(o) = nobody.as_object_mut() {
        o.remove("user");
    }
    let a = ep.send(&nobody).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(content(&a).contains("did not say who"), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );
    // The genuine request runs.
    let a = ep.post_raw(&body, Some(&good), Some(ts)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(!content(&a).starts_with('✗'), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_changes_a_status_with_a_slash_command_and_strangers_are_refused() {
    let app = TestApp::sqlite_with_ana().await;
    let ep = Endpoint::start(&app).await;

    // Not linked yet: the core refuses, only the caller sees it.
    let refused = ep
        .command(5002, "status", status_opts("ana@example.org", "A"))
        .await;
    assert!(
        content(&refused).contains("needs a linked account"),
        "{}",
        refused.raw
    );
    assert!(ephemeral(&refused));
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );

    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let change = status_opts_because("ana@example.org", "A", "called her: \"ok\"");
    let done = ep.command(5001, "status", change).await;
    assert!(!content(&done).starts_with('✗'), "{}", done.raw);
    assert!(ephemeral(&done));
    assert_ana_made_active_from_discord(&app).await;

    // Autocomplete: the program manager is offered Ana; a stranger is offered nobody.
    let a = ep
        .send(&autocomplete(5001, "status", "person", 3, "an"))
        .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 8, "{}", a.raw);
    assert_eq!(
        a.body["data"]["choices"],
        json!([{ "name": "Ana Lima <ana@example.org>", "value": "ana@example.org" }]),
        "{}",
        a.raw
    );
    let a = ep
        .send(&autocomplete(5002, "status", "person", 3, "an"))
        .await;
    assert_eq!(a.body["type"], 8, "{}", a.raw);
    assert_eq!(a.body["data"]["choices"], json!([]), "{}", a.raw);
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_attached_to_user_import_is_downloaded_and_imported() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let csv = "name,email,phone,role,program,external_id\n\
               Ana Lima,ana@example.org,+14155550161,mentee,Spring,\n\
               Rui Costa,rui@example.org,+14155550165,mentor,Spring,EMP-9\n";
    let fake = FakeRest::default();
    fake.files
        .lock()
        .expect("lock")
        .push(("people.csv".into(), csv.into()));
    let (base, server) = fake.start().await;
    let users = || app.count("SELECT COUNT(*) AS n FROM users");
    let before = users().await;

    // A file the CDN does not have: refused, the error page is not imported.
    let a = ep.send(&import(5001, &base, "gone.csv", 10)).await;
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(content(&a).contains("could not be downloaded"), "{}", a.raw);
    // Bigger than the limit: refused before downloading.
    let a = ep
        .send(&import(5001, &base, "people.csv", 50 * 1024 * 1024))
        .await;
    assert!(content(&a).contains("too big"), "{}", a.raw);
    assert_eq!(users().await, before);

    let a = ep.send(&import(5001, &base, "people.csv", csv.len())).await;
    assert!(content(&a).contains("Imported 2 people"), "{}", a.raw);
    assert_eq!(users().await, before + 2);
    assert_eq!(
        app.user("rui@example.org").await.external_id.as_deref(),
        Some("EMP-9")
    );
    server.abort();
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_slow_work_is_deferred_and_finished_over_rest() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    app.admin("/user_add \"Bo Lima\" bo@example.org +14155550809 mentee program:Spring")
        .await;
    let ep = Endpoint::start_deferring_after(&app, Duration::from_millis(300)).await;
    link_on_discord(&app, &ep, "admin@example.org", 5000).await;
    link_on_discord(&app, &ep, "lee@example.org", 8003).await;
    let token_of = |i: &mut Value, t: &str| i["token"] = json!(t);

    // A command behind a held database: type 5 (only the caller sees it), then the answer
    // replaces it.
    let gate = app.close_gate(&[], &[]).await;
    let mut status = command(5000, "status", status_opts("bo@example.org", "SI"));
    token_of(&mut status, "slow-command");
    let a = ep.send(&status).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body,
        json!({ "type": 5, "data": { "flags": 64 } }),
        "{}",
        a.raw
    );
    // A press behind it, by the wrong person: type 6, then the refusal to the presser alone;
    // the offer message is not edited.
    let mut wrong = press(8003, &format!("/accept {offer}"), "An offer.");
    token_of(&mut wrong, "slow-press");
    let p = ep.send(&wrong).await;
    assert_eq!(p.body, json!({ "type": 6 }), "{}", p.raw);
    tokio::time::sleep(Duration::from_millis(700)).await;
    gate.rollback().await.expect("open gate");

    let edit = ep.fake.wait_for("edit:slow-command").await;
    assert!(
        !edit["content"].as_str().unwrap_or("✗").starts_with('✗'),
        "{edit}"
    );
    assert!(edit.get("flags").is_none(), "{edit}");
    assert_eq!(
        app.user("bo@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    let refused = ep.fake.wait_for("followup:slow-press").await;
    assert_eq!(refused["flags"], 64, "{refused}");
    assert!(
        refused["content"]
            .as_str()
            .unwrap_or_default()
            .contains("made to someone else"),
        "{refused}"
    );
    assert!(ep.fake.messages_to("edit:slow-press").is_empty());
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 0);
    ep.stop().await;
    app.finish().await;
}

/// Discord never sends one interaction twice: the same signed body POSTed again inside the
/// signature's 5-minute window is a replay, and runs nothing (docs/chat-edge.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_interaction_runs_once() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    let add = command(
        5001,
        "user_add",
        json!([
            text_opt("name", "Rita Replay"),
            text_opt("email", "rita@example.org"),
            text_opt("phone", "+14155550877"),
            text_opt("role", "mentee"),
            text_opt("program", "Spring")
        ]),
    );
    let first = ep.send(&add).await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert!(!content(&first).starts_with('✗'), "{}", first.raw);
    let again = ep.send(&add).await;
    assert_eq!(again.status, 200, "{}", again.raw);
    assert!(content(&again).contains("handled already"), "{}", again.raw);
    assert!(ephemeral(&again));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users WHERE email = 'rita@example.org'")
            .await,
        1
    );
    // A second interaction with the same content is a new request: it runs (and is refused,
    // the person exists now).
    let fresh = ep
        .command(5001, "user_add", add["data"]["options"].clone())
        .await;
    assert!(content(&fresh).starts_with('✗'), "{}", fresh.raw);
    assert!(
        !content(&fresh).contains("handled already"),
        "{}",
        fresh.raw
    );
    app.finish().await;
}
