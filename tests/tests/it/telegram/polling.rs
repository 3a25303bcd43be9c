//! The Telegram front-end long-polling the fake Bot API: commands and refusals, inline buttons,
//! files both ways, the command menus, an unreadable update, a flood from one chat.

use std::time::{Duration, Instant};

use mentorops_core::command::registry::menus;
use mentorops_core::status::UserStatus;
use serde_json::{Value, json};

use crate::fakes::telegram::{BOT_NAME, Fake};
use crate::support::telegram::{nth_message, soon, start_polling, text_of};
use crate::support::{TestApp, ana_maria_and_lee, pending_of, persona_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_member_changes_a_status_from_telegram_and_the_core_refuses_strangers() {
    let app = TestApp::sqlite_with_ana().await;
    let code = app.code_for("pm@example.org").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    fake.text(5001, &format!("/link {code}"));
    let linked = nth_message(&fake, 5001, 1).await;
    assert!(text_of(&linked).starts_with("Linked!"), "{linked}");

    fake.text(
        5001,
        &format!("/status@{BOT_NAME} ana@example.org A reason:\"called her\""),
    );
    let done = nth_message(&fake, 5001, 2).await;
    assert!(!text_of(&done).starts_with('✗'), "{done}");
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);

    // A command for another bot is not ours, in a private chat as in a group: nothing runs,
    // nothing is answered (the next answer is the next command's).
    fake.text(5001, "/status@other_bot ana@example.org SI");
    fake.text(5001, "/help status");
    let next = nth_message(&fake, 5001, 3).await;
    assert!(text_of(&next).contains("/status"), "{next}");
    assert!(!text_of(&next).starts_with('✗'), "{next}");
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);

    // An unlinked account is answered by the core; nothing changes.
    fake.text(5002, "/status ana@example.org SI");
    let refused = nth_message(&fake, 5002, 1).await;
    assert!(
        text_of(&refused).contains("needs a linked account"),
        "{refused}"
    );
    assert_eq!(app.user("ana@example.org").await.status, UserStatus::Active);
    // Plain text gets the core's hint.
    fake.text(5002, "hello");
    let hint = nth_message(&fake, 5002, 2).await;
    assert!(text_of(&hint).contains("/help"), "{hint}");
    bot.stop().await;
    app.finish().await;
}

/// The answer to the button press `press` (a callback query id), once the front-end sent it.
fn answer_to(fake: &Fake, press: &str) -> Option<Value> {
    fake.calls("answercallbackquery")
        .into_iter()
        .find(|c| c.body["callback_query_id"] == json!(press))
        .map(|c| c.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_accepts_an_offer_with_the_inline_button_and_other_presses_change_nothing() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    ana_maria_and_lee(&app).await;
    let maria = persona_of(&app, "maria@example.org").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    // Ana chooses from Telegram; the offer reaches Maria as a DM with two buttons.
    fake.text(7001, "/mentors");
    nth_message(&fake, 7001, 1).await;
    fake.text(7001, &format!("/choose #{maria}"));
    let chosen = nth_message(&fake, 7001, 2).await;
    assert!(text_of(&chosen).contains("Maria Mentor"), "{chosen}");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let prompt = soon("the offer prompt to Maria", || {
        fake.to_chat("sendmessage", 7002)
            .into_iter()
            .find(|m| !m["reply_markup"].is_null())
    })
    .await;
    let buttons: Vec<String> = prompt["reply_markup"]["inline_keyboard"]
        .as_array()
        .expect("keyboard")
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| b["callback_data"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        buttons,
        [
            format!("/accept {}", offer.id),
            format!("/decline {}", offer.id),
            format!("/decline {} pause:2", offer.id)
        ]
    );
    let matches = || app.count("SELECT COUNT(*) AS n FROM matches");

    // Lee presses Maria's button: told why, nothing changes, her message stays as it was.
    let press = fake.press(7003, &prompt, 555, &buttons[0]);
    let answer = soon("the answer to Lee", || answer_to(&fake, &press)).await;
    assert!(
        text_of(&answer).contains("made to someone else"),
        "{answer}"
    );
    assert_eq!(answer["show_alert"], json!(true));
    assert_eq!(matches().await, 0);
    assert!(fake.calls("editmessagetext").is_empty());

    // Maria presses it: paired, the callback answered, the message edited, keyboard gone
    // (the edits meet a 429 first and are sent again after retry_after). The offer's own
    // message is edited too, by the id Telegram gave it (docs/domain.md#edited-messages): here
    // not the pressed one, which the fake calls 555.
    fake.too_many("editMessageText", 1, 1);
    let press = fake.press(7002, &prompt, 555, &buttons[0]);
    let pressed = || {
        fake.to_chat("editmessagetext", 7002)
            .into_iter()
            .filter(|e| e["message_id"] == json!(555))
            .collect::<Vec<_>>()
    };
    let edit = soon("the edit of Maria's message", || {
        pressed().into_iter().next()
    })
    .await;
    let edits = fake.calls("editmessagetext");
    assert!(
        edits[0].rejected && edits[1..].iter().all(|c| !c.rejected),
        "{edits:?}"
    );
    assert!(
        text_of(&edit).contains("Accepted — you are now paired with Ana Mentee"),
        "{edit}"
    );
    assert!(text_of(&edit).starts_with(text_of(&prompt).as_str()));
    assert!(edit["reply_markup"].is_null(), "keyboard removed: {edit}");
    let answer = answer_to(&fake, &press).expect("answered");
    assert!(text_of(&answer).starts_with("Accepted"), "{answer}");
    assert_eq!(matches().await, 1);

    // A second press: the core refuses, the message shows why, still one match.
    let press = fake.press(7002, &prompt, 555, &buttons[0]);
    let answer = soon("the answer to the second press", || {
        answer_to(&fake, &press)
    })
    .await;
    assert!(
        text_of(&answer).contains("You accepted this offer on"),
        "{answer}"
    );
    let edit = soon("the refusal shown", || pressed().get(1).cloned()).await;
    assert!(
        text_of(&edit).contains("⚠️ You accepted this offer on"),
        "{edit}"
    );
    assert_eq!(matches().await, 1);
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_csv_is_imported_and_an_export_comes_back_as_a_document() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    app.link_chat("admin@example.org", "9001").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);
    let csv = "name,email,phone,role,program\n\
               Cleo Csv,cleo@example.org,+14155550901,mentee,Spring\n\
               Dan Csv,dan@example.org,+14155550902,mentor,Spring\n";
    fake.document(9001, "/user_import", "people.csv", csv.as_bytes());
    let reply = nth_message(&fake, 9001, 1).await;
    assert!(text_of(&reply).starts_with("Imported 2"), "{reply}");
    assert_eq!(fake.calls("getfile").len(), 1);
    assert_eq!(app.user("dan@example.org").await.full_name, "Dan Csv");

    fake.text(9001, "/export format:json");
    let doc = soon("the export document", || {
        fake.to_chat("senddocument", 9001).into_iter().next()
    })
    .await;
    let file = &doc["document"];
    assert!(
        file["filename"]
            .as_str()
            .unwrap_or_default()
            .starts_with("mentorops-export-"),
        "{doc}"
    );
    assert!(
        file["content"]
            .as_str()
            .unwrap_or_default()
            .contains("cleo@example.org"),
        "{doc}"
    );
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_menus_are_published_from_the_registry() {
    let app = TestApp::sqlite().await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);
    let menu = |audience: &str| -> Value {
        let (_, specs) = menus()
            .into_iter()
            .find(|(a, _)| *a == audience)
            .expect("audience");
        Value::Array(
            specs
                .iter()
                .map(|c| json!({"command": c.name, "description": c.about.chars().take(256).collect::<String>()}))
                .collect(),
        )
    };
    let default = soon("the default menu", || {
        fake.calls("setmycommands")
            .into_iter()
            .find(|c| c.body["scope"].is_null())
    })
    .await;
    assert_eq!(default.body["commands"], menu("unlinked"));

    let code = app.link_code("admin@example.org").await;
    fake.text(9100, &format!("/link {code}"));
    let chat = soon("the admin's chat menu", || {
        fake.calls("setmycommands")
            .into_iter()
            .find(|c| c.body["scope"] == json!({"type": "chat", "chat_id": 9100}))
    })
    .await;
    assert_eq!(chat.body["commands"], menu("super_admin"));
    // Published once: another command with the same menu does not publish it again.
    fake.text(9100, "/me");
    nth_message(&fake, 9100, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.calls("setmycommands").len(), 2);
    for (_, specs) in menus() {
        for c in specs {
            assert!(
                c.name.len() <= 32
                    && c.name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
        }
    }
    bot.stop().await;
    app.finish().await;
}

/// An update that cannot be read is answered once, recorded as handled, and does not hold up
/// the chat's next one (docs/chat-edge.md: poison updates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_update_is_answered_once_and_the_chat_goes_on() {
    let app = TestApp::sqlite().await;
    let fake = Fake::start().await;
    fake.push_update(json!({
        "message": {"chat": {"id": 7001, "type": "private"}, "what": "not a message"}
    }));
    fake.text(7001, "/help");
    let running = start_polling(&app, &fake);
    let first = nth_message(&fake, 7001, 1).await;
    assert!(
        text_of(&first).contains("could not read that message"),
        "{first}"
    );
    let second = nth_message(&fake, 7001, 2).await;
    assert!(text_of(&second).contains("/help"), "{second}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        fake.to_chat("sendmessage", 7001).len(),
        2,
        "each answered once"
    );
    running.stop().await;
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM chat_inbox WHERE state = 'done'")
            .await,
        2
    );
    app.finish().await;
}

/// A flood from one chat is served in order, one at a time, while other chats are answered
/// at once: each chat is a lane of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_chat_is_served_in_order_without_starving_the_others() {
    let app = TestApp::sqlite().await;
    let fake = Fake::start().await;
    let flood = 150;
    for n in 0..flood {
        fake.text(7100, &format!("/help f{n}"));
    }
    for chat in 0..20 {
        fake.text(7200 + chat, &format!("/help other{chat}"));
    }
    let started = Instant::now();
    let running = start_polling(&app, &fake);
    for chat in 0..20 {
        let m = nth_message(&fake, 7200 + chat, 1).await;
        assert!(text_of(&m).contains(&format!("/other{chat}:")), "{m}");
    }
    let others_in = started.elapsed();
    let flooded = fake.to_chat("sendmessage", 7100);
    assert!(
        flooded.len() < flood / 2,
        "the others waited for the flood: {} of {flood} flood replies came first",
        flooded.len()
    );
    // The flood's commands all run (its replies are paced one a second to that chat).
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .count("SELECT COUNT(*) AS n FROM chat_inbox WHERE state = 'new'")
        .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the flood was not all handled in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.stop().await;
    let flooded = fake.to_chat("sendmessage", 7100);
    for (n, m) in flooded.iter().enumerate() {
        assert!(
            text_of(m).contains(&format!("/f{n}:")),
            "flood reply {n} in order: {m}"
        );
    }
    eprintln!(
        "20 other chats answered in {others_in:?}; {} flood replies by then",
        flooded.len()
    );
    app.finish().await;
}
