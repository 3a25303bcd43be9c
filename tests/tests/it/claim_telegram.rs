//! The manual-match queue in Telegram (docs/domain.md#manual-match): a manager presses a
//! mentor under the message, and the other manager's copy of it, already delivered, is edited
//! by the id Telegram gave it to say who claimed the mentee, its keyboard gone.

use serde_json::{Value, json};

use crate::fakes::telegram::Fake;
use crate::support::telegram::{soon, start_polling, text_of};
use crate::support::{TestApp, ana_maria_and_lee, pending_of, persona_of};

/// The answer to the button press `press` (a callback query id), once the front-end sent it.
fn answer_to(fake: &Fake, press: &str) -> Option<Value> {
    fake.calls("answercallbackquery")
        .into_iter()
        .find(|c| c.body["callback_query_id"] == json!(press))
        .map(|c| c.body)
}

/// The first message with a keyboard delivered to `chat`.
async fn with_buttons(fake: &Fake, chat: i64) -> Value {
    soon(&format!("the manual-match message to {chat}"), || {
        fake.to_chat("sendmessage", chat)
            .into_iter()
            .find(|m| !m["reply_markup"].is_null())
    })
    .await
}

fn callbacks(message: &Value) -> Vec<String> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| b["callback_data"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_pressed_in_telegram_edits_the_other_managers_copy() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    app.admin(
        "/staff_add \"Pete Pm\" pete@example.org +14155550103 program_manager program:Spring",
    )
    .await;
    let ana = ana_maria_and_lee(&app).await;
    app.link_chat("pm@example.org", "5001").await;
    app.link_chat("pete@example.org", "5002").await;
    let maria = persona_of(&app, "maria@example.org").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    // Ana's only choice, Maria, declines: her round runs out, and both managers are asked.
    app.run(&ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    app.run(&app.chat("7002"), &format!("/decline {}", offer.id))
        .await
        .expect("decline");
    let paulas = with_buttons(&fake, 5001).await;
    let petes = with_buttons(&fake, 5002).await;
    let pair_with_lee = callbacks(&paulas);
    assert_eq!(
        pair_with_lee.len(),
        1,
        "Lee is the one mentor left: {paulas}"
    );
    assert_eq!(callbacks(&petes), pair_with_lee);

    // Paula presses: paired; Pete's copy becomes the claim, without buttons.
    let press = fake.press(5001, &paulas, 901, &pair_with_lee[0]);
    let answer = soon("the answer to Paula", || answer_to(&fake, &press)).await;
    assert!(text_of(&answer).starts_with("Claimed by you"), "{answer}");
    let edit = soon("Pete's copy edited", || {
        fake.to_chat("editmessagetext", 5002).into_iter().next()
    })
    .await;
    assert!(
        text_of(&edit).starts_with(text_of(&petes).as_str()),
        "the same message: {edit}"
    );
    assert!(
        text_of(&edit).ends_with("— Claimed by Paula Pm: paired Ana Mentee with Lee Mentor."),
        "{edit}"
    );
    assert!(edit["reply_markup"].is_null(), "keyboard removed: {edit}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);

    // Pete presses the button he still saw: refused, naming who claimed Ana; still one match.
    let press = fake.press(5002, &petes, 902, &pair_with_lee[0]);
    let answer = soon("the answer to Pete", || answer_to(&fake, &press)).await;
    assert!(
        text_of(&answer).contains("Claimed by Paula Pm: paired Ana Mentee with Lee Mentor on"),
        "{answer}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    bot.stop().await;
    app.finish().await;
}
