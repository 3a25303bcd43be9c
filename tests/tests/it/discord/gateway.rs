//! The gateway transport: serenity's real client against the fake gateway websocket, every
//! interaction answered by a callback over REST (to the fake REST API): slash commands, refusals
//! to strangers, autocomplete within what the caller may see, slow work deferred then finished
//! with an edit, long answers split into follow-ups.

use std::time::Duration;

use mentorops_core::status::UserStatus;
use serde_json::{Value, json};

use crate::support::discord::{
    Gateway, assert_ana_made_active_from_discord, autocomplete, cb_content, cb_ephemeral, command,
    link_over_gateway, status_opts, status_opts_because, text_opt,
};
use crate::support::{TestApp, offer_to_maria};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_a_staff_member_changes_a_status_and_strangers_are_refused() {
    let app = TestApp::sqlite_with_ana().await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    let identify = g.gw.identified();
    assert_eq!(identify["token"], "Bot test-token");
    // Slash commands and buttons need no intents: none asked for, so none privileged.
    assert_eq!(identify["intents"], 0);

    let refused = g
        .command(5002, "status", status_opts("ana@example.org", "A"))
        .await;
    assert!(
        cb_content(&refused).contains("needs a linked account"),
        "{refused}"
    );
    assert!(cb_ephemeral(&refused));
    for only in ["start", "help"] {
        let cb = g.command(5002, only, json!([])).await;
        assert!(!cb_content(&cb).starts_with('✗'), "{cb}");
    }
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ApplicationIncomplete
    );

    link_over_gateway(&app, &g, "pm@example.org", 5001).await;
    let change = status_opts_because("ana@example.org", "A", "screened on a call");
    let done = g.command(5001, "status", change).await;
    assert!(!cb_content(&done).starts_with('✗'), "{done}");
    assert!(cb_ephemeral(&done));
    assert_ana_made_active_from_discord(&app).await;

    // A deactivated account is told so.
    app.admin("/deactivate pm@example.org").await;
    let cb = g.command(5001, "me", json!([])).await;
    assert!(
        cb_content(&cb).to_lowercase().contains("deactivated"),
        "{cb}"
    );

    // Every REST call went to the fake, with the bot token.
    let calls = g.fake.calls.lock().expect("lock").clone();
    assert!(
        calls
            .iter()
            .any(|(m, p, _)| m == "GET" && p.starts_with("/api/v10/gateway"))
    );
    assert!(
        calls
            .iter()
            .all(|(_, _, auth)| auth.as_deref() == Some("Bot test-token")),
        "{calls:?}"
    );
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_autocomplete_offers_only_what_the_caller_may_see() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    // Someone in another program the Spring manager must not see.
    app.admin("/program_add Acme Autumn").await;
    app.admin("/user_add \"Anabel Other\" anabel@example.org +14155550901 mentee program:Autumn")
        .await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    link_over_gateway(&app, &g, "pm@example.org", 5001).await;
    link_over_gateway(&app, &g, "admin@example.org", 5000).await;
    link_over_gateway(&app, &g, "maria@example.org", 8002).await;
    let names = |cb: &Value| -> Vec<String> {
        cb["data"]["choices"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (cb, _) = g
        .send(autocomplete(5001, "user_show", "person", 3, "ANA"))
        .await;
    assert_eq!(cb["type"], 8, "{cb}");
    assert_eq!(names(&cb), ["Ana Mentee <ana@example.org>"], "{cb}");
    assert_eq!(cb["data"]["choices"][0]["value"], "ana@example.org");
    let (cb, _) = g
        .send(autocomplete(5000, "user_show", "person", 3, "ana"))
        .await;
    let mut all = names(&cb);
    all.sort();
    assert_eq!(
        all,
        [
            "Ana Mentee <ana@example.org>",
            "Anabel Other <anabel@example.org>"
        ],
        "{cb}"
    );
    let (cb, _) = g
        .send(autocomplete(5001, "user_list", "program", 3, ""))
        .await;
    assert_eq!(names(&cb), ["Acme/Spring"], "{cb}");
    // A mentee's directory is not open to a mentor, nor a staff command to anyone else.
    let (cb, _) = g
        .send(autocomplete(8002, "user_show", "person", 3, "a"))
        .await;
    assert_eq!(cb["data"]["choices"], json!([]), "{cb}");
    let (cb, _) = g
        .send(autocomplete(9999, "user_show", "person", 3, "a"))
        .await;
    assert_eq!(cb["data"]["choices"], json!([]), "{cb}");
    // Offers: Maria's pending offer, as an integer.
    let (cb, _) = g.send(autocomplete(8002, "accept", "offer", 4, "")).await;
    assert_eq!(
        cb["data"]["choices"],
        json!([{ "name": format!("#{offer} from Ana Mentee"), "value": offer }]),
        "{cb}"
    );
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_is_deferred_then_finished_with_an_edit_and_its_file_follows() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    for i in 0..40 {
        app.admin(&format!(
            "/user_add \"Person Number{i} Long-Surname-For-Width\" p{i}@example.org +141555507{i:02} mentee program:Spring"
        ))
        .await;
    }
    let g = Gateway::start(&app, Duration::from_millis(300)).await;
    link_over_gateway(&app, &g, "admin@example.org", 5000).await;

    // The database is held for a second (a slow path): the export waits behind it.
    let gate = app.close_gate(&[], &[]).await;
    let opened = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        gate.rollback().await.expect("open gate");
    });
    let (cb, token) = g.send(command(5000, "export", json!([]))).await;
    assert_eq!(cb["type"], 5, "{cb}");
    assert_eq!(cb["data"]["flags"], 64, "{cb}");
    let edit = g.fake.wait_for(&format!("edit:{token}")).await;
    assert!(
        edit["content"]
            .as_str()
            .unwrap_or_default()
            .contains("xport"),
        "{edit}"
    );
    let file = g.fake.wait_for(&format!("followup:{token}")).await;
    let raw = file["multipart"].as_str().unwrap_or_default();
    assert!(raw.contains("payload_json"), "{raw}");
    assert!(raw.contains("filename=\"") && raw.contains(".csv"), "{raw}");
    assert!(raw.contains("p39@example.org"), "the CSV is attached");
    opened.await.expect("gate");

    // A long answer in time (a person with thirty long tags; lists page to fit one message
    // instead): the first part in the callback, the rest as follow-ups.
    let tags: Vec<String> = (0..30)
        .map(|i| format!("+t{i:02}={}", "v".repeat(70)))
        .collect();
    app.admin(&format!(
        "/user_edit p1@example.org tags:{}",
        tags.join(",")
    ))
    .await;
    let (cb, token) = g
        .send(command(
            5000,
            "user_show",
            json!([text_opt("person", "p1@example.org")]),
        ))
        .await;
    assert_eq!(cb["type"], 4, "{cb}");
    let first = cb_content(&cb);
    assert!(
        first.chars().count() <= 2000 && first.contains("<p1@example.org>"),
        "{cb}"
    );
    let more = g.fake.wait_for(&format!("followup:{token}")).await;
    assert_eq!(more["flags"], 64);
    let rest = more["content"].as_str().unwrap_or_default();
    assert!(
        rest.chars().count() <= 2000 && rest.contains("t00=vvv"),
        "{more}"
    );
    // Forty people match: Discord gets its maximum of 25 suggestions.
    let (cb, _) = g
        .send(autocomplete(
            5000,
            "user_show",
            "person",
            3,
            "person number",
        ))
        .await;
    assert_eq!(
        cb["data"]["choices"].as_array().map(Vec::len),
        Some(25),
        "{cb}"
    );
    g.stop().await;
    app.finish().await;
}
