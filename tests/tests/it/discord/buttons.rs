//! Buttons and forms: a mentor accepts an offer with the button under its DM, over HTTP and over
//! the gateway, and a press by the wrong person or a second press changes nothing; a free-text
//! question opens a form (a modal) and its answer comes back as a submission.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mentorops_core::status::UserStatus;
use serde_json::json;

use crate::support::discord::endpoint::ana_maria_and_lee_linked;
use crate::support::discord::{
    Endpoint, Gateway, cb_content, cb_ephemeral, content, ephemeral, interaction, link_on_discord,
    link_over_gateway, press,
};
use crate::support::{ANA, TestApp, ana_chooses_maria, offer_to_maria};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_accepts_an_offer_with_the_button_and_the_wrong_person_changes_nothing() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let (ana, ep) = ana_maria_and_lee_linked(&app).await;

    let offer = ana_chooses_maria(&app, &ana).await;
    let accept = format!("/accept {}", offer.id);
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");
    let prompt = "Ana Mentee would like you as their mentor.";

    // Lee presses Maria's button: refused, for Lee's eyes only; the message stays.
    let a = ep.send(&press(8003, &accept, prompt)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(content(&a).contains("made to someone else"), "{}", a.raw);
    assert_eq!(matches().await, 0);

    // Maria presses it: paired; the message shows the outcome and loses its buttons.
    let a = ep.send(&press(8002, &accept, prompt)).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).starts_with(prompt), "{}", a.raw);
    assert!(
        content(&a).contains("Accepted — you are now paired with Ana Mentee"),
        "{}",
        a.raw
    );
    assert_eq!(a.body["data"]["components"], json!([]), "{}", a.raw);
    assert_eq!(matches().await, 1);

    // A second press: refused, still one match.
    let a = ep.send(&press(8002, &accept, prompt)).await;
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(
        content(&a).contains("You accepted this offer on"),
        "{}",
        a.raw
    );
    assert_eq!(matches().await, 1);
    // Answers that fit and came in time need no REST call after the response.
    assert!(ep.fake.calls.lock().expect("lock").is_empty());
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_gateway_a_mentor_accepts_with_the_button_and_the_wrong_person_or_a_second_press_changes_nothing()
 {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let offer = offer_to_maria(&app).await;
    let g = Gateway::start(&app, mentorops_bot::discord::interact::DEFER_AFTER).await;
    link_over_gateway(&app, &g, "maria@example.org", 8002).await;
    link_over_gateway(&app, &g, "lee@example.org", 8003).await;
    let accept = format!("/accept {offer}");
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");
    let prompt = "Ana Mentee would like you as their mentor.";

    let (cb, _) = g.send(press(8003, &accept, prompt)).await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    assert!(cb_content(&cb).contains("made to someone else"), "{cb}");
    assert_eq!(matches().await, 0);

    let (cb, _) = g.send(press(8002, &accept, prompt)).await;
    assert_eq!(cb["type"], 7, "{cb}");
    assert!(cb_content(&cb).starts_with(prompt), "{cb}");
    assert!(
        cb_content(&cb).contains("Accepted — you are now paired with Ana Mentee"),
        "{cb}"
    );
    assert_eq!(cb["data"]["components"], json!([]), "{cb}");
    assert_eq!(matches().await, 1);

    let (cb, _) = g.send(press(8002, &accept, prompt)).await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    assert!(
        cb_content(&cb).contains("You accepted this offer on"),
        "{cb}"
    );
    assert_eq!(matches().await, 1);
    // The client kept its heartbeat going, and the fake acknowledged it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while g.gw.heartbeats.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no heartbeat");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    g.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_text_question_is_answered_in_a_form() {
    let app = TestApp::sqlite_with_ana().await;
    let ana = app.caller_for(app.user_id("ana@example.org").await);
    for a in &ANA[..ANA.len() - 1] {
        app.run(
            &ana,
            &format!("/apply {}", mentorops_core::command::quote(a)),
        )
        .await
        .expect("apply");
    }
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "ana@example.org", 6001).await;
    let q = ep.command(6001, "apply", json!([])).await;
    let button = &q.body["data"]["components"][0]["components"][0];
    assert_eq!(
        button["custom_id"], "form:answer:/apply q:about",
        "{}",
        q.raw
    );

    // The button opens the form.
    let form = ep
        .send(&press(6001, "form:answer:/apply q:about", &content(&q)))
        .await;
    assert_eq!(form.body["type"], 9, "{}", form.raw);
    assert_eq!(form.body["data"]["custom_id"], "/apply q:about");

    // The form comes back with the text; the question's message shows the outcome.
    let mut sent = interaction(5, 6001);
    sent["data"] = json!({ "custom_id": "/apply q:about", "components": [{ "type": 1, "components": [
        { "type": 4, "custom_id": "answer", "value": "I want my first job: \"any\" field" }
    ]}]});
    sent["message"] = press(6001, "form:answer:/apply q:about", &content(&q))["message"].clone();
    let a = ep.send(&sent).await;
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).contains("complete"), "{}", a.raw);
    assert_eq!(
        app.user("ana@example.org").await.status,
        UserStatus::ScreeningIncomplete
    );
    ep.stop().await;
    app.finish().await;
}
