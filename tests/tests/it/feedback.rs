//! Close-of-match feedback (docs/domain.md#feedback): closing a match asks both people three
//! questions by buttons, one at a time in the same message; only they may answer; `/overview`
//! counts the answers.

use mentorops_core::Error;
use mentorops_core::reply::Reply;

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::people::{ANA_MENTEE, BEN_MENTEE, LEE_MENTOR, MARIA_MENTOR};
use crate::support::telegram::{keyboard, soon, start_polling, text_of};
use crate::support::{TestApp, ana_maria_and_lee};

/// The chat rows of kind `match_feedback` queued for user `id`: (channel, text, buttons JSON).
async fn asked(app: &TestApp, id: i64) -> Vec<(String, String, Option<String>)> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    sqlx::query_as(
        "SELECT channel, body_text, buttons FROM outbox \
         WHERE recipient_user_id = $1 AND kind = 'match_feedback' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await
    .expect("outbox rows")
}

/// The command of the reply's button labelled `label`.
fn button(reply: &Reply, label: &str) -> String {
    reply
        .buttons
        .iter()
        .find(|b| b.label == label)
        .map(|b| b.command.clone())
        .unwrap_or_else(|| panic!("no {label} button in {reply:?}"))
}

async fn closing_a_match_asks_both_and_the_answers_are_counted(app: &TestApp) {
    app.with_program().await;
    let ana = app.ready(ANA_MENTEE).await;
    let maria = app.ready(MARIA_MENTOR).await;
    let ben = app.ready(BEN_MENTEE).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let id = app.count("SELECT MAX(id) AS n FROM matches").await;
    let open = app
        .run(&ana, &format!("/feedback {id} q:1 answer:yes"))
        .await;
    assert!(
        matches!(&open, Err(Error::Conflict(m)) if m.contains("still open")),
        "{open:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        0
    );

    app.admin("/unassign ana@example.org reason:\"finished\"")
        .await;
    for (email, other) in [
        (ANA_MENTEE.email, "Maria Mentor"),
        (MARIA_MENTOR.email, "Ana Mentee"),
    ] {
        let rows = asked(app, app.user_id(email).await).await;
        assert_eq!(rows.len(), 1, "{email}: {rows:?}");
        let (channel, text, buttons) = &rows[0];
        assert!(channel.starts_with("chat:"), "{channel}");
        assert!(
            text.contains(&format!("match with {other} (match #{id})"))
                && text.contains("question 1 of 3: Was this mentorship useful?"),
            "{text}"
        );
        let buttons = buttons.clone().unwrap_or_default();
        for answer in ["yes", "somewhat", "no"] {
            assert!(
                buttons.contains(&format!("/feedback {id} q:1 answer:{answer}")),
                "{buttons}"
            );
        }
    }

    // Ana presses through the three questions; each reply asks the next.
    let first = app
        .run(&ana, &format!("/feedback {id} q:1 answer:yes"))
        .await
        .expect("q1");
    assert!(
        first
            .text
            .contains("question 2 of 3: Would you be paired with them again?"),
        "{}",
        first.text
    );
    let labels: Vec<&str> = first.buttons.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["Yes", "No"]);
    let second = app.run(&ana, &button(&first, "Yes")).await.expect("q2");
    assert!(
        second.text.contains("question 3 of 3: One word for it?"),
        "{}",
        second.text
    );
    assert!(second.buttons.iter().any(|b| b.label == "Skip"));
    let done = app
        .run(&ana, &button(&second, "Helpful"))
        .await
        .expect("q3");
    assert!(
        done.text.contains("Thank you") && done.text.contains("Helpful"),
        "{}",
        done.text
    );
    assert!(done.buttons.is_empty(), "{:?}", done.buttons);

    // Maria answers by typing, labels in any case; /feedback alone asks the next unanswered.
    app.run(&maria, &format!("/feedback {id} q:1 answer:Somewhat"))
        .await
        .expect("maria q1");
    let next = app
        .run(&maria, &format!("/feedback {id}"))
        .await
        .expect("next");
    assert!(next.text.contains("question 2 of 3"), "{}", next.text);
    app.run(&maria, &format!("/feedback {id} q:2 answer:no"))
        .await
        .expect("maria q2");
    app.run(&maria, &format!("/feedback {id} q:3 answer:skip"))
        .await
        .expect("maria q3");

    // A third person is refused, and nothing is stored for them.
    let other = app
        .run(&ben, &format!("/feedback {id} q:1 answer:no"))
        .await;
    assert!(
        matches!(&other, Err(Error::NotFound(m)) if m.contains("not one of yours")),
        "{other:?}"
    );
    // Bad input names the fix and changes nothing.
    let bad = app
        .run(&ana, &format!("/feedback {id} q:4 answer:yes"))
        .await;
    assert!(
        matches!(&bad, Err(Error::Input(m)) if m.contains("q:4 is not a question")),
        "{bad:?}"
    );
    let bad = app
        .run(&ana, &format!("/feedback {id} q:1 answer:maybe"))
        .await;
    assert!(
        matches!(&bad, Err(Error::Input(m)) if m.contains("use yes, somewhat, no")),
        "{bad:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        6
    );

    // A second answer to a question replaces the first: Ana changes her mind on question 1.
    app.run(&ana, &format!("/feedback {id} q:1 answer:no"))
        .await
        .expect("again");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        6
    );

    let overview = app.admin("/overview Spring").await;
    assert!(
        overview.text.contains(
            "Feedback on closed matches: useful 0 · somewhat 1 · not 1; would pair again 1 of 2; words: Helpful 1"
        ),
        "{}",
        overview.text
    );

    // The export carries each person's answers on the persona of that match (the codes).
    let export = app.admin("/export program:Spring format:json").await;
    let people: serde_json::Value =
        serde_json::from_slice(&export.attachments[0].bytes).expect("json export");
    let persona_of = |email: &str| {
        people
            .as_array()
            .and_then(|a| a.iter().find(|p| p["email"] == email))
            .map(|p| p["personas"][0].clone())
            .unwrap_or_else(|| panic!("{email} is not in the export"))
    };
    for (email, useful, again, word) in [
        (ANA_MENTEE.email, "no", "yes", "helpful"),
        (MARIA_MENTOR.email, "somewhat", "no", "skip"),
    ] {
        let p = persona_of(email);
        assert_eq!(p["feedback_match_id"], id, "{email}: {p}");
        assert_eq!(
            [
                &p["feedback_useful"],
                &p["feedback_again"],
                &p["feedback_word"]
            ],
            [useful, again, word],
            "{email}: {p}"
        );
    }
    let csv = app.admin("/export program:Spring").await;
    let text = String::from_utf8(csv.attachments[0].bytes.clone()).expect("utf8");
    assert!(
        text.lines().next().is_some_and(|h| h.ends_with(
            "open_match_id,feedback_match_id,feedback_useful,feedback_again,feedback_word"
        )),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(ANA_MENTEE.email) && l.ends_with(&format!(",{id},no,yes,helpful"))),
        "{text}"
    );

    // Someone with no chat account linked cannot get buttons: an email says how to answer.
    app.ready(LEE_MENTOR).await;
    let lee_id = app.user_id(LEE_MENTOR.email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    sqlx::query("DELETE FROM chat_links WHERE user_id = $1")
        .bind(lee_id)
        .execute(&mut *c)
        .await
        .expect("unlink");
    drop(c);
    app.admin("/assign ben@example.org lee@example.org").await;
    let second = app.count("SELECT MAX(id) AS n FROM matches").await;
    app.admin("/unassign ben@example.org").await;
    let rows = asked(app, lee_id).await;
    assert!(
        rows.len() == 1
            && rows[0].0 == "email"
            && rows[0]
                .1
                .contains(&format!("send /feedback {second} to the bot")),
        "{rows:?}"
    );
    let lee = app.caller_for(lee_id);
    let typed = app
        .run(&lee, &format!("/feedback {second}"))
        .await
        .expect("lee asks");
    assert!(
        typed.text.contains("question 1 of 3") && typed.buttons.len() == 3,
        "{typed:?}"
    );
}

both_backends!(closing_a_match_asks_both_and_the_answers_are_counted);

/// On Telegram the questions come with an inline keyboard, and each press edits that message
/// (the pressed one, id 901) into the next question, then the thank-you without buttons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_telegram_the_questions_are_answered_by_pressing_in_one_message() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    ana_maria_and_lee(&app).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let id = app.count("SELECT MAX(id) AS n FROM matches").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);
    app.admin("/unassign ana@example.org reason:\"finished\"")
        .await;

    let asked = soon("the first question to Ana", || {
        fake.to_chat("sendmessage", 7001)
            .into_iter()
            .find(|m| text_of(m).contains("question 1 of 3"))
    })
    .await;
    assert_eq!(
        keyboard(&asked),
        ["Yes", "Somewhat", "No"].map(|label| (
            label.to_string(),
            format!("/feedback {id} q:1 answer:{}", label.to_lowercase())
        ))
    );
    let edit = |n: usize| {
        let fake = &fake;
        async move {
            soon(&format!("edit {n} of Ana's question"), || {
                fake.to_chat("editmessagetext", 7001).get(n - 1).cloned()
            })
            .await
        }
    };
    fake.press(
        7001,
        &asked,
        901,
        &format!("/feedback {id} q:1 answer:somewhat"),
    );
    let second = edit(1).await;
    assert_eq!(second["message_id"], serde_json::json!(901));
    assert!(
        text_of(&second).contains("question 2 of 3: Would you be paired with them again?"),
        "{second}"
    );
    assert_eq!(keyboard(&second).len(), 2, "{second}");
    fake.press(
        7001,
        &second,
        901,
        &format!("/feedback {id} q:2 answer:yes"),
    );
    let third = edit(2).await;
    assert!(text_of(&third).contains("question 3 of 3"), "{third}");
    fake.press(
        7001,
        &third,
        901,
        &format!("/feedback {id} q:3 answer:inspiring"),
    );
    let done = edit(3).await;
    assert!(
        text_of(&done).contains("Thank you") && keyboard(&done).is_empty(),
        "{done}"
    );
    let ana_id = app.user_id("ana@example.org").await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let stored = mentorops_core::store::feedback::answers(&mut c, id, ana_id)
        .await
        .expect("answers");
    drop(c);
    assert_eq!(
        stored,
        [
            (1, "somewhat".to_string()),
            (2, "yes".to_string()),
            (3, "inspiring".to_string())
        ]
    );
    bot.stop().await;
    app.finish().await;
}
