//! Lists one chat screen at a time through the real front-ends (docs/domain.md#lists): the
//! first screen with its place in the list, a Next button and the whole list as a CSV file; a
//! press of Next or Previous shows the other screen in place of the pressed message (Telegram:
//! `editMessageText`; Discord: an UPDATE_MESSAGE response), and no second file.

use serde_json::{Value, json};

use crate::fakes::telegram::Fake;
use crate::support::TestApp;
use crate::support::discord::{Endpoint, buttons, content, link_on_discord, press, text_opt};
use crate::support::telegram::{keyboard, nth_message, soon, start_polling, text_of};

/// Thirty mentees in Spring, imported as a program manager would.
async fn thirty_mentees(app: &TestApp) {
    app.with_program().await;
    let mut csv = String::from("name,email,phone,role,program\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "Page Person{i:02},p{i}@paging.example,+1415555{:04},mentee,Spring\n",
            1000 + i
        ));
    }
    let imported = app
        .admin_with_file("/user_import file:people.csv", "people.csv", csv.as_bytes())
        .await
        .expect("imported");
    assert!(
        imported.text.starts_with("Imported 30"),
        "{}",
        imported.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_telegram_a_long_list_pages_in_place_with_its_buttons() {
    let app = TestApp::sqlite().await;
    thirty_mentees(&app).await;
    app.link_chat("pm@example.org", "9401").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    fake.text(9401, "/user_list role:mentee");
    let first = nth_message(&fake, 9401, 1).await;
    assert!(
        text_of(&first).starts_with("People: 1–25 of 30:"),
        "{first}"
    );
    assert!(text_of(&first).contains("…and 5 more"), "{first}");
    let next = keyboard(&first);
    assert_eq!(
        next,
        [(
            "Next ▶".to_string(),
            "/user_list role:mentee page:2".to_string()
        )]
    );
    let file = soon("the whole list as a CSV", || {
        fake.to_chat("senddocument", 9401).into_iter().next()
    })
    .await;
    assert_eq!(file["document"]["filename"], json!("people.csv"), "{file}");
    let csv = file["document"]["content"].as_str().unwrap_or_default();
    assert_eq!(csv.lines().count(), 31, "a header and 30 people: {csv}");

    // Next: the same message shows the last five, with Previous under it.
    fake.press(9401, &first, 777, &next[0].1);
    let edit = soon("the second screen in place", || {
        fake.to_chat("editmessagetext", 9401).into_iter().next()
    })
    .await;
    assert_eq!(edit["message_id"], json!(777));
    assert!(
        text_of(&edit).starts_with("People: 26–30 of 30:"),
        "the screen replaces the text, not appended to it: {edit}"
    );
    assert_eq!(
        text_of(&edit)
            .lines()
            .filter(|l| l.starts_with('#'))
            .count(),
        5
    );
    let previous = keyboard(&edit);
    assert_eq!(previous.len(), 1, "{edit}");
    assert_eq!(previous[0].0, "◀ Previous");

    // Previous: back to the first screen, in the same message; no second file.
    fake.press(9401, &edit, 777, &previous[0].1);
    let back = soon("the first screen again", || {
        fake.to_chat("editmessagetext", 9401).get(1).cloned()
    })
    .await;
    assert!(text_of(&back).starts_with("People: 1–25 of 30:"), "{back}");
    assert_eq!(keyboard(&back), next);
    assert_eq!(fake.to_chat("senddocument", 9401).len(), 1);
    assert_eq!(
        fake.to_chat("sendmessage", 9401).len(),
        1,
        "no new messages"
    );
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_a_long_list_pages_in_place_with_its_buttons() {
    let app = TestApp::sqlite().await;
    thirty_mentees(&app).await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5401).await;

    let first = ep
        .command(5401, "user_list", json!([text_opt("role", "mentee")]))
        .await;
    // A Discord message holds 2 000 characters: a screen there is 15 people, one message.
    assert!(
        content(&first).starts_with("People: 1–15 of 30:")
            && content(&first).contains("…and 15 more"),
        "{}",
        first.raw
    );
    assert!(content(&first).chars().count() <= 2000);
    let ids = |body: &Value| buttons(&body["data"]["components"]);
    let next = ids(&first.body);
    assert_eq!(
        next,
        [(
            "Next ▶".to_string(),
            "/user_list role:mentee page:2".to_string()
        )],
        "{}",
        first.raw
    );
    let file = ep.fake.wait_for("followup:interaction-token").await;
    let raw = file["multipart"].as_str().unwrap_or_default();
    assert!(raw.contains("filename=\"people.csv\""), "{file}");

    // Next: an UPDATE_MESSAGE whose content is the second screen alone.
    let second = ep.send(&press(5401, &next[0].1, &content(&first))).await;
    assert_eq!(second.body["type"], 7, "{}", second.raw);
    assert!(
        content(&second).starts_with("People: 16–30 of 30:"),
        "{}",
        second.raw
    );
    let previous = ids(&second.body);
    assert_eq!(previous.len(), 1, "{}", second.raw);
    assert_eq!(previous[0].0, "◀ Previous");
    let back = ep
        .send(&press(5401, &previous[0].1, &content(&second)))
        .await;
    assert_eq!(back.body["type"], 7, "{}", back.raw);
    assert!(
        content(&back).starts_with("People: 1–15 of 30:"),
        "{}",
        back.raw
    );
    ep.stop().await;
    app.finish().await;
}

/// `/history` pages like every list, and a program manager's shows only entries about the
/// people they reach (docs/domain.md#scope) — counted in SQL, so "of N" is theirs too.
async fn history_pages_and_shows_staff_only_the_people_they_reach(app: &TestApp) {
    thirty_mentees(app).await;
    app.admin("/program_add Acme Fall").await;
    app.admin("/user_add \"Fay Elsewhere\" fay@example.org +14155559001 mentee program:Fall")
        .await;
    app.admin("/status fay@example.org SI reason:\"form done\"")
        .await;

    let all = app.admin("/history").await;
    assert!(
        all.text.starts_with("History, newest first: 1–25 of "),
        "{}",
        all.text
    );
    assert!(all.text.contains("Fay Elsewhere"), "{}", all.text);
    assert_eq!(all.buttons.len(), 1);
    assert_eq!(all.buttons[0].command, "/history page:2");
    assert_eq!(all.attachments[0].file_name, "history.csv");
    let second = app.admin(&all.buttons[0].command).await;
    assert!(
        second.text.starts_with("History, newest first: 26–"),
        "{}",
        second.text
    );

    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let theirs = app.run(&pm, "/history").await.expect("the PM's history");
    assert!(!theirs.text.contains("Fay"), "{}", theirs.text);
    assert!(theirs.text.contains("Page Person"), "{}", theirs.text);
    let csv = String::from_utf8(theirs.attachments[0].bytes.clone()).expect("utf-8");
    let fay = app.user_id("fay@example.org").await;
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.split(',').nth(4) != Some(&fay.to_string())),
        "{csv}"
    );
    // The PM's count is smaller than everyone's by Fay's entries.
    let of = |t: &str| -> u64 {
        t.lines()
            .next()
            .and_then(|l| l.rsplit("of ").next())
            .map(|n| n.trim_end_matches(':').replace(' ', ""))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        of(&theirs.text) > 25 && of(&theirs.text) < of(&all.text),
        "{}",
        theirs.text
    );
}

/// An ambiguous name lists five of the people it matches and how many more, and the way out.
async fn an_ambiguous_name_lists_five_candidates_and_how_many_more(app: &TestApp) {
    app.with_program().await;
    for i in 0..7 {
        app.admin(&format!(
            "/user_add \"Sam Same\" sam{i}@example.org +1415555{:04} mentee program:Spring",
            2000 + i
        ))
        .await;
    }
    let e = app
        .admin_err("/user_show \"Sam Same\"")
        .await
        .user_message();
    assert!(e.contains("matches 7 people"), "{e}");
    assert!(e.contains("and 2 more"), "{e}");
    assert_eq!(e.matches("@example.org").count(), 5, "{e}");
    assert!(e.contains("Use the email or #id"), "{e}");
}

crate::both_backends!(
    history_pages_and_shows_staff_only_the_people_they_reach,
    an_ambiguous_name_lists_five_candidates_and_how_many_more,
);
