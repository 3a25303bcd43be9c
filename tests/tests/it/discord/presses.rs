//! The button flows of issue 15 pressed on Discord, over the HTTP interactions endpoint: a
//! manager claims a mentee from the manual-match message (the other manager's copy, delivered
//! as a DM, is edited to say who claimed it), a mentee ranks mentors press by press and sends,
//! a mentor presses "Decline and pause me", and the two people of a closed match answer the
//! three feedback questions. DMs go through the Discord delivery driver to the fake REST API.

use std::sync::Arc;

use mentorops_bot::discord::Rest;
use mentorops_core::store::offers::OfferState;
use serde_json::{Value, json};

use crate::fakes::discord_rest::FakeRest;
use crate::support::discord::endpoint::ana_maria_and_lee_linked;
use crate::support::discord::{
    Endpoint, buttons, content, ephemeral, link_on_discord, press, rest,
};
use crate::support::{TestApp, ana_maria_and_lee, offers_of, pending_of, persona_of};

/// Delivers every due `chat:discord` row through the Discord delivery driver; how many went.
async fn deliver(app: &TestApp, rest: &Arc<Rest>) -> usize {
    mentorops_bot::discord::deliver_due(app.shared_engine(), rest.clone())
        .await
        .expect("delivery")
}

/// The custom_ids of the buttons in `components`, in order.
fn custom_ids(components: &Value) -> Vec<String> {
    buttons(components).into_iter().map(|(_, id)| id).collect()
}

/// The DMs with buttons the fake took for `channel` (a Discord user's DM channel): the id it gave
/// each, and what was sent.
fn dms_with_buttons(fake: &FakeRest, channel: &str) -> Vec<(String, Value)> {
    fake.dms
        .lock()
        .expect("lock")
        .iter()
        .filter(|(c, _, body)| c == channel && !custom_ids(&body["components"]).is_empty())
        .map(|(_, id, body)| (id.clone(), body.clone()))
        .collect()
}

/// Every edit of a channel message the fake took: (`channel/id`, body).
fn patches(fake: &FakeRest) -> Vec<(String, Value)> {
    fake.messages
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("patch:").map(|m| (m.to_string(), v.clone())))
        .collect()
}

fn text(v: &Value) -> String {
    v["content"].as_str().unwrap_or_default().to_string()
}

/// The feedback answers stored for `user` on match `id`: (question, answer), in order.
async fn feedback_of(app: &TestApp, id: i64, user: i64) -> Vec<(i64, String)> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    mentorops_core::store::feedback::answers(&mut c, id, user)
        .await
        .expect("feedback rows")
}

/// Two managers linked on Discord get the manual-match message as DMs; Paula presses "Pair
/// with …": her message shows the outcome, Pete's copy is edited by the id Discord gave it to
/// say who claimed Ana, its buttons gone; Pete's press is refused, and there is one match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_pressed_on_discord_edits_the_other_managers_copy() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    app.admin(
        "/staff_add \"Pete Pm\" pete@example.org +14155550103 program_manager program:Spring",
    )
    .await;
    let ana = ana_maria_and_lee(&app).await;
    let maria = persona_of(&app, "maria@example.org").await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5001).await;
    link_on_discord(&app, &ep, "pete@example.org", 5002).await;
    let dms = FakeRest::default();
    let (url, server) = dms.start().await;
    let rest = rest(&url);
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");

    // Ana's only choice, Maria, declines: her round runs out, and both managers are asked.
    app.run(&ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    app.run(&app.chat("7002"), &format!("/decline {}", offer.id))
        .await
        .expect("decline");
    assert!(deliver(&app, &rest).await >= 2);
    let paulas = dms_with_buttons(&dms, "5001");
    let petes = dms_with_buttons(&dms, "5002");
    assert_eq!(paulas.len(), 1, "{paulas:?}");
    assert_eq!(petes.len(), 1, "{petes:?}");
    let (paulas, (petes_id, petes)) = (paulas[0].1.clone(), petes[0].clone());
    let pair_with = buttons(&paulas["components"]);
    assert_eq!(pair_with.len(), 1, "Lee is the one mentor left: {paulas}");
    assert_eq!(pair_with[0].0, "Pair with Lee Mentor", "{paulas}");
    assert!(pair_with[0].1.starts_with("/claim "), "{paulas}");
    assert_eq!(buttons(&petes["components"]), pair_with);
    assert_eq!(matches().await, 0);

    // Paula presses: paired; her message shows the outcome, without buttons.
    let claim = &pair_with[0].1;
    let a = ep.send(&press(5001, claim, &text(&paulas))).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).starts_with(&text(&paulas)), "{}", a.raw);
    assert!(
        content(&a).contains("✅ Claimed by you: paired Ana Mentee with Lee Mentor (match #"),
        "{}",
        a.raw
    );
    assert_eq!(a.body["data"]["components"], json!([]), "{}", a.raw);
    assert_eq!(matches().await, 1);

    // Pete's copy, already delivered, is edited in place: the same text, who claimed, no buttons.
    deliver(&app, &rest).await;
    let edits = patches(&dms);
    assert_eq!(edits.len(), 1, "only Pete's copy: {edits:?}");
    assert_eq!(edits[0].0, format!("5002/{petes_id}"));
    let edited = text(&edits[0].1);
    assert!(
        edited.starts_with(&text(&petes)),
        "the same message: {edited}"
    );
    assert!(
        edited.ends_with("— Claimed by Paula Pm: paired Ana Mentee with Lee Mentor."),
        "{edited}"
    );
    assert_eq!(edits[0].1["components"], json!([]), "{}", edits[0].1);

    // Pete presses the button he still saw: refused, for him alone, naming who claimed Ana.
    let a = ep.send(&press(5002, claim, &text(&petes))).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(
        content(&a).contains("Claimed by Paula Pm: paired Ana Mentee with Lee Mentor on"),
        "{}",
        a.raw
    );
    assert_eq!(matches().await, 1);
    deliver(&app, &rest).await;
    assert_eq!(patches(&dms).len(), 1, "nothing edited again");
    server.abort();
    ep.stop().await;
    app.finish().await;
}

/// Ana ranks Lee then Maria by pressing on Discord: each press updates the message in place with
/// the order so far and the next buttons; Send makes the offers `/choose` makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_a_mentee_ranks_mentors_press_by_press_and_sends() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    ana_maria_and_lee(&app).await;
    let (maria, lee) = (
        persona_of(&app, "maria@example.org").await,
        persona_of(&app, "lee@example.org").await,
    );
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "ana@example.org", 6001).await;

    let list = ep.command(6001, "rank", json!([])).await;
    assert!(
        content(&list).contains("Your order so far: nobody yet."),
        "{}",
        list.raw
    );
    assert_eq!(
        buttons(&list.body["data"]["components"]),
        [
            ("1. Maria Mentor".to_string(), format!("/rank {maria}")),
            ("1. Lee Mentor".to_string(), format!("/rank {lee}")),
        ]
    );

    let first = ep
        .send(&press(6001, &format!("/rank {lee}"), &content(&list)))
        .await;
    assert_eq!(first.status, 200, "{}", first.raw);
    assert_eq!(first.body["type"], 7, "{}", first.raw);
    assert!(
        content(&first).starts_with("Rank up to 2 mentors in Acme/Spring")
            && content(&first).contains("Your order so far: 1. Lee Mentor.")
            && !content(&first).contains("nobody yet"),
        "{}",
        first.raw
    );
    assert_eq!(
        buttons(&first.body["data"]["components"]),
        [
            (
                "2. Maria Mentor".to_string(),
                format!("/rank {lee},{maria}")
            ),
            ("Start over".to_string(), "/rank".to_string()),
            ("Send".to_string(), format!("/rank {lee} send")),
        ]
    );

    let second = ep
        .send(&press(
            6001,
            &format!("/rank {lee},{maria}"),
            &content(&first),
        ))
        .await;
    assert_eq!(second.body["type"], 7, "{}", second.raw);
    assert!(
        content(&second).contains("Your order so far: 1. Lee Mentor, 2. Maria Mentor.")
            && content(&second).matches("Your order so far").count() == 1,
        "{}",
        second.raw
    );
    assert_eq!(
        buttons(&second.body["data"]["components"]),
        [
            ("Start over".to_string(), "/rank".to_string()),
            ("Send".to_string(), format!("/rank {lee},{maria} send")),
        ]
    );
    for id in [&list, &first, &second]
        .iter()
        .flat_map(|a| custom_ids(&a.body["data"]["components"]))
    {
        assert!(id.chars().count() <= 100, "{id} is longer than a custom_id");
    }
    // Nothing is stored until Send.
    assert!(offers_of(&app, "ana@example.org").await.is_empty());

    let sent = ep
        .send(&press(
            6001,
            &format!("/rank {lee},{maria} send"),
            &content(&second),
        ))
        .await;
    assert_eq!(sent.body["type"], 7, "{}", sent.raw);
    assert!(
        content(&sent).starts_with(
            "Your choices: 1. Lee Mentor, 2. Maria Mentor. Your request went to Lee Mentor"
        ),
        "{}",
        sent.raw
    );
    assert_eq!(sent.body["data"]["components"], json!([]), "{}", sent.raw);
    // As /choose #lee #maria: one round, Lee asked now, Maria queued.
    let offers: Vec<(i64, i64, i64, OfferState)> = offers_of(&app, "ana@example.org")
        .await
        .into_iter()
        .map(|o| (o.round, o.rank, o.mentor_persona_id, o.state))
        .collect();
    assert_eq!(
        offers,
        [
            (1, 1, lee, OfferState::Pending),
            (1, 2, maria, OfferState::Queued)
        ]
    );
    ep.stop().await;
    app.finish().await;
}

/// Maria gets Ana's request as a DM and presses its third button, "Decline and pause me": the
/// offer is declined and goes to Lee, Maria is paused, and her message shows the outcome with
/// the reply's buttons in place of the offer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_a_mentor_presses_decline_and_pause_me() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let (ana, ep) = ana_maria_and_lee_linked(&app).await;
    let lee = persona_of(&app, "lee@example.org").await;
    let maria = persona_of(&app, "maria@example.org").await;
    app.run(&ana, "/mentors").await.expect("mentors");
    app.run(&ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let dms = FakeRest::default();
    let (url, server) = dms.start().await;
    let rest = rest(&url);
    deliver(&app, &rest).await;
    let prompts = dms_with_buttons(&dms, "8002");
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    let prompt = &prompts[0].1;
    let third = buttons(&prompt["components"])
        .into_iter()
        .nth(2)
        .expect("a third button");
    assert_eq!(
        third,
        (
            "Decline and pause me".to_string(),
            format!("/decline {} pause:2", offer.id)
        )
    );
    let paused = async || {
        app.admin("/user_show maria@example.org")
            .await
            .text
            .contains("Paused until")
    };
    assert!(!paused().await);

    let a = ep.send(&press(8002, &third.1, &text(prompt))).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 7, "{}", a.raw);
    assert!(content(&a).starts_with(&text(prompt)), "{}", a.raw);
    assert!(
        content(&a).contains("✅ Declined.") && content(&a).contains("You are paused until"),
        "{}",
        a.raw
    );
    // The offer's buttons are gone; the reply's own (a longer pause, the way back) replace them.
    assert_eq!(
        custom_ids(&a.body["data"]["components"]),
        ["/pause 4", "/resume"],
        "{}",
        a.raw
    );
    let offers = offers_of(&app, "ana@example.org").await;
    let declined = offers.iter().find(|o| o.id == offer.id).expect("offer");
    assert_eq!(declined.state, OfferState::Declined);
    let next = pending_of(&app, "ana@example.org")
        .await
        .expect("next choice");
    assert_eq!(next.mentor_persona_id, lee);
    assert!(paused().await);
    server.abort();
    ep.stop().await;
    app.finish().await;
}

/// When Ana's match with Maria closes, her feedback questions reach her Discord account as a
/// DM; she answers the three by pressing, each press replacing the message with the next
/// question, the third with a thank-you; Lee, not in the match, is refused and nothing is
/// stored for him.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_the_close_of_match_feedback_is_answered_by_pressing() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let (_, ep) = ana_maria_and_lee_linked(&app).await;
    link_on_discord(&app, &ep, "ana@example.org", 6001).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let id = app.count("SELECT MAX(id) AS n FROM matches").await;
    app.admin("/unassign ana@example.org reason:\"finished\"")
        .await;
    let (ana_id, lee_id) = (
        app.user_id("ana@example.org").await,
        app.user_id("lee@example.org").await,
    );
    let dms = FakeRest::default();
    let (url, server) = dms.start().await;
    let rest = rest(&url);
    deliver(&app, &rest).await;
    let asked: Vec<Value> = dms_with_buttons(&dms, "6001")
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| text(m).contains("question 1 of 3"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let q1 = &asked[0];
    assert!(
        text(q1).contains(&format!("match with Maria Mentor (match #{id})"))
            && text(q1).contains("Was this mentorship useful?"),
        "{q1}"
    );
    assert_eq!(
        custom_ids(&q1["components"]),
        ["yes", "somewhat", "no"].map(|a| format!("/feedback {id} q:1 answer:{a}"))
    );

    // Lee, not in the match, presses: refused, for his eyes only; nothing stored.
    let q1_yes = format!("/feedback {id} q:1 answer:yes");
    let a = ep.send(&press(8003, &q1_yes, &text(q1))).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["type"], 4, "{}", a.raw);
    assert!(ephemeral(&a));
    assert!(content(&a).contains("not one of yours"), "{}", a.raw);
    assert!(feedback_of(&app, id, lee_id).await.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        0
    );

    // Ana presses through the three questions; each press replaces the message with the next.
    let second = ep.send(&press(6001, &q1_yes, &text(q1))).await;
    assert_eq!(second.body["type"], 7, "{}", second.raw);
    assert!(
        content(&second).contains("question 2 of 3: Would you be paired with them again?")
            && !content(&second).contains("question 1 of 3"),
        "{}",
        second.raw
    );
    assert_eq!(
        buttons(&second.body["data"]["components"]),
        [
            ("Yes".to_string(), format!("/feedback {id} q:2 answer:yes")),
            ("No".to_string(), format!("/feedback {id} q:2 answer:no")),
        ]
    );
    let third = ep
        .send(&press(
            6001,
            &format!("/feedback {id} q:2 answer:yes"),
            &content(&second),
        ))
        .await;
    assert_eq!(third.body["type"], 7, "{}", third.raw);
    assert!(
        content(&third).contains("question 3 of 3: One word for it?")
            && !content(&third).contains("question 2 of 3"),
        "{}",
        third.raw
    );
    let helpful = buttons(&third.body["data"]["components"])
        .into_iter()
        .find(|(label, _)| label == "Helpful")
        .expect("a Helpful button");
    assert_eq!(helpful.1, format!("/feedback {id} q:3 answer:helpful"));
    let done = ep.send(&press(6001, &helpful.1, &content(&third))).await;
    assert_eq!(done.body["type"], 7, "{}", done.raw);
    assert!(
        content(&done).starts_with("Thank you")
            && content(&done).contains("Helpful")
            && !content(&done).contains("question 3 of 3"),
        "{}",
        done.raw
    );
    assert_eq!(done.body["data"]["components"], json!([]), "{}", done.raw);
    assert_eq!(
        feedback_of(&app, id, ana_id).await,
        [
            (1, "yes".to_string()),
            (2, "yes".to_string()),
            (3, "helpful".to_string())
        ]
    );
    assert!(feedback_of(&app, id, lee_id).await.is_empty());
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        3
    );
    server.abort();
    ep.stop().await;
    app.finish().await;
}
