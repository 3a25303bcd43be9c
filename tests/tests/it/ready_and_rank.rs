//! Making someone matchable in one press, and ranking mentors by pressing them
//! (docs/domain.md#ready-on-approval, docs/domain.md#ranking-by-buttons): the program setting
//! `ready_on_approval` on and off, for a mentee and a mentor; `/rank` picks, Send, the limit and
//! a stale press. Through the command layer on both backends.

use mentorops_core::command::Caller;
use mentorops_core::reply::Reply;
use mentorops_core::status::{MatchStatus, UserStatus};

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::people::{BEN, TOM};
use crate::support::telegram::{keyboard, soon, start_polling, text_of};
use crate::support::{
    TestApp, ana_maria_and_lee, offers_of, pending_of, persona_of, world, world_mentors,
};

/// Someone added to Spring who completes the questionnaire (AI → SI) from chat account `chat`.
async fn applicant(
    app: &TestApp,
    name: &str,
    email: &str,
    phone: &str,
    role: &str,
    answers: &[&str],
    chat: &str,
) -> Caller {
    let caller = app.applicant(name, email, phone, role, answers, chat).await;
    assert_eq!(
        app.user(email).await.status,
        UserStatus::ScreeningIncomplete
    );
    caller
}

/// The command of the button whose label is `label`, if the reply has one.
fn button(reply: &Reply, label: &str) -> Option<String> {
    reply
        .buttons
        .iter()
        .find(|b| b.label == label)
        .map(|b| b.command.clone())
}

fn labels(reply: &Reply) -> Vec<String> {
    reply.buttons.iter().map(|b| b.label.clone()).collect()
}

/// How many messages of `kind` are queued for `email`, on any channel.
async fn queued(app: &TestApp, email: &str, kind: &str) -> usize {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM outbox WHERE recipient_user_id = $1 AND kind = $2")
            .bind(id)
            .bind(kind)
            .fetch_all(&mut *c)
            .await
            .expect("outbox");
    rows.len()
}

fn match_status(personas: &[mentorops_core::store::users::Persona]) -> MatchStatus {
    personas[0].match_status
}

async fn one_press_approves_a_mentee_and_sends_the_time_to_choose_prompt(app: &TestApp) {
    app.with_program().await;
    app.ready(crate::support::people::MARIA_MENTOR).await;
    app.ready(crate::support::people::LEE_MENTOR).await;
    let set = app.admin("/program_set Spring ready_on_approval yes").await;
    assert!(
        set.text.contains("ready_on_approval no → yes"),
        "{}",
        set.text
    );
    let shown = app.admin("/program_set Spring").await;
    assert!(
        shown.text.contains("ready_on_approval = yes"),
        "{}",
        shown.text
    );
    applicant(
        app,
        "Ben Mentee",
        "ben@example.org",
        "+14155550612",
        "mentee",
        BEN,
        "e-ben",
    )
    .await;

    let list = app.admin("/screening").await;
    assert!(
        list.text
            .contains("approving makes them ready to be matched in Acme/Spring"),
        "{}",
        list.text
    );
    let press = button(&list, "Approve Ben Mentee and make ready")
        .unwrap_or_else(|| panic!("{:?}", labels(&list)));
    let done = app.admin(&press).await;
    assert!(
        done.text.contains("SI → A (Active)")
            && done.text.contains("mentee persona #")
            && done
                .text
                .contains("N/A → RTBM, the program's ready_on_approval"),
        "{}",
        done.text
    );
    assert_eq!(app.user("ben@example.org").await.status, UserStatus::Active);
    assert_eq!(
        match_status(&app.personas("ben@example.org").await),
        MatchStatus::ReadyToBeMatched
    );
    // The prompt of a mentee made ready, by chat (with a button per mentor and one to rank
    // them) and by email, in the same transaction as the press.
    assert_eq!(queued(app, "ben@example.org", "time_to_choose").await, 2);
    let prompt = app
        .chat_rows("telegram", "pending")
        .await
        .into_iter()
        .find(|m| m.kind == "time_to_choose")
        .expect("a chat prompt");
    let prompt_labels: Vec<&str> = prompt.buttons.iter().map(|b| b.label.as_str()).collect();
    assert!(
        prompt_labels.contains(&"Choose Maria Mentor")
            && prompt_labels.contains(&"Choose Lee Mentor")
            && prompt_labels.contains(&"Rank up to 2 in order"),
        "{prompt_labels:?}"
    );
    // Each step is audited on its own: reverting the RTBM step leaves Ben Active.
    let revert = done
        .text
        .rsplit("undo with /revert ")
        .next()
        .and_then(|t| t.split(')').next())
        .map(str::to_string)
        .unwrap_or_default();
    app.admin(&format!("/revert {revert}")).await;
    assert_eq!(
        match_status(&app.personas("ben@example.org").await),
        MatchStatus::NotApplicable
    );
    assert_eq!(app.user("ben@example.org").await.status, UserStatus::Active);
}

async fn with_the_setting_off_the_press_only_makes_them_active(app: &TestApp) {
    app.with_program().await;
    app.ready(crate::support::people::MARIA_MENTOR).await;
    assert!(
        app.admin("/program_set Spring")
            .await
            .text
            .contains("ready_on_approval = no")
    );
    applicant(
        app,
        "Ben Mentee",
        "ben@example.org",
        "+14155550612",
        "mentee",
        BEN,
        "e-ben",
    )
    .await;
    let list = app.admin("/screening").await;
    assert!(!list.text.contains("ready to be matched"), "{}", list.text);
    let press =
        button(&list, "Make Ben Mentee Active").unwrap_or_else(|| panic!("{:?}", labels(&list)));
    let done = app.admin(&press).await;
    assert!(!done.text.contains("RTBM"), "{}", done.text);
    assert_eq!(app.user("ben@example.org").await.status, UserStatus::Active);
    assert_eq!(
        match_status(&app.personas("ben@example.org").await),
        MatchStatus::NotApplicable
    );
    assert_eq!(queued(app, "ben@example.org", "time_to_choose").await, 0);
}

async fn a_mentor_approved_with_the_setting_on_is_ready_and_recommended_at_once(app: &TestApp) {
    app.with_program().await;
    let ana = app.ready(crate::support::people::ANA_MENTEE).await;
    app.admin("/program_set Spring ready_on_approval yes").await;
    applicant(
        app,
        "Tom Mentor",
        "tom@example.org",
        "+14155550603",
        "mentor",
        TOM,
        "m-tom",
    )
    .await;
    // Typed rather than pressed: /status … A is what the button sends.
    let done = app.admin("/status tom@example.org A").await;
    assert!(
        done.text.contains("mentor persona #") && done.text.contains("N/A → RTBM"),
        "{}",
        done.text
    );
    assert_eq!(
        match_status(&app.personas("tom@example.org").await),
        MatchStatus::ReadyToBeMatched
    );
    // A mentor is not asked to choose; the mentees see them among their mentors.
    assert_eq!(queued(app, "tom@example.org", "time_to_choose").await, 0);
    let mentors = app.run(&ana, "/mentors").await.expect("mentors");
    assert!(mentors.text.contains("Tom Mentor"), "{}", mentors.text);

    // Bringing someone back from IW is no approval: their persona stays where it was.
    app.admin("/user_add \"Ida Mentee\" ida@example.org +14155550620 mentee program:Spring")
        .await;
    app.admin("/deactivate ida@example.org").await;
    let back = app.admin("/status ida@example.org A").await;
    assert!(!back.text.contains("RTBM"), "{}", back.text);
    assert_eq!(
        match_status(&app.personas("ida@example.org").await),
        MatchStatus::NotApplicable
    );
}

async fn pressing_two_mentors_then_send_makes_the_offers_choose_makes(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    // /mentors offers the ranking too, under its Choose buttons.
    let listed = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert_eq!(
        button(&listed, "Rank up to 3 in order").as_deref(),
        Some("/rank"),
        "{:?}",
        labels(&listed)
    );
    let start = app.run(&w.ana, "/rank").await.expect("rank");
    assert!(
        start.text.contains("Rank up to 3 mentors in Acme/Spring")
            && start.text.contains("Your order so far: nobody yet."),
        "{}",
        start.text
    );
    assert_eq!(
        labels(&start),
        ["1. Maria Mentor", "1. Lee Mentor", "1. Tom Mentor"],
        "best first, as /mentors ranks them"
    );
    let first = app
        .run(
            &w.ana,
            &button(&start, "1. Lee Mentor").expect("Lee's button"),
        )
        .await
        .expect("first pick");
    assert!(
        first.text.contains("Your order so far: 1. Lee Mentor."),
        "{}",
        first.text
    );
    assert_eq!(
        labels(&first),
        ["2. Maria Mentor", "2. Tom Mentor", "Start over", "Send"]
    );
    assert_eq!(button(&first, "Start over").as_deref(), Some("/rank"));
    let second = app
        .run(
            &w.ana,
            &button(&first, "2. Maria Mentor").expect("Maria's button"),
        )
        .await
        .expect("second pick");
    assert!(
        second
            .text
            .contains("Your order so far: 1. Lee Mentor, 2. Maria Mentor."),
        "{}",
        second.text
    );
    assert_eq!(
        button(&second, "Send"),
        Some(format!("/rank {lee},{maria} send"))
    );
    for b in start
        .buttons
        .iter()
        .chain(&first.buttons)
        .chain(&second.buttons)
    {
        assert!(
            b.command.len() <= 64,
            "{b:?} is longer than Telegram's callback data"
        );
    }
    // Nothing is stored until Send.
    assert!(offers_of(app, "ana@example.org").await.is_empty());
    let sent = app
        .run(&w.ana, &button(&second, "Send").expect("Send"))
        .await
        .expect("send");
    assert!(
        sent.text.starts_with(
            "Your choices: 1. Lee Mentor, 2. Maria Mentor. Your request went to Lee Mentor"
        ),
        "{}",
        sent.text
    );
    // Ben types the same ranking: both rounds are alike, offer for offer.
    app.run(&w.ben, &format!("/choose #{lee} #{maria}"))
        .await
        .expect("choose");
    let shape = |offers: Vec<mentorops_core::store::offers::Offer>| {
        offers
            .into_iter()
            .map(|o| (o.round, o.rank, o.mentor_persona_id, o.state))
            .collect::<Vec<_>>()
    };
    let ana = shape(offers_of(app, "ana@example.org").await);
    assert_eq!(ana.len(), 2, "{ana:?}");
    assert_eq!(ana, shape(offers_of(app, "ben@example.org").await));
    assert_eq!(ana[0].2, lee);
    // One request out at a time: a second Send is refused as /choose refuses it.
    let again = app
        .run(&w.ana, &format!("/rank {tom} send"))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(again.contains("your request is with Lee Mentor"), "{again}");
    assert_eq!(offers_of(app, "ana@example.org").await.len(), 2);
}

async fn more_picks_than_max_choices_are_refused_naming_the_limit(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    app.admin("/program_set Spring max_choices 2").await;
    let two = app
        .run(&w.ana, &format!("/rank {maria},{lee}"))
        .await
        .expect("two picks");
    assert!(
        two.text
            .contains("That is 2, as many as Acme/Spring lets you rank"),
        "{}",
        two.text
    );
    assert_eq!(
        labels(&two),
        ["Start over", "Send"],
        "no third pick offered"
    );
    for line in [
        format!("/rank {maria},{lee},{tom}"),
        format!("/rank {maria},{lee},{tom} send"),
    ] {
        let refused = app
            .run(&w.ana, &line)
            .await
            .err()
            .map(|e| e.user_message())
            .unwrap_or_default();
        assert!(
            refused.contains("you may rank up to 2 mentors in Acme/Spring and this list has 3"),
            "{line}: {refused}"
        );
    }
    assert!(offers_of(app, "ana@example.org").await.is_empty());
    // A pick twice, and a word that is not send, are refused too.
    let twice = app
        .run(&w.ana, &format!("/rank {maria},{maria}"))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(twice.contains("Maria Mentor is picked twice"), "{twice}");
    let word = app
        .run(&w.ana, &format!("/rank {maria} now"))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(
        word.contains("'now' after the picks is not understood"),
        "{word}"
    );
}

async fn a_stale_press_for_a_mentor_no_longer_available_is_refused(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, _) = world_mentors(app).await;
    let first = app
        .run(&w.ana, &format!("/rank {maria}"))
        .await
        .expect("first pick");
    let lee_next = button(&first, "2. Lee Mentor").expect("Lee's button");
    // Meanwhile Maria is paired with Ben: Ana's message still holds her in the buttons.
    app.admin("/assign ben@example.org maria@example.org").await;
    for line in [lee_next, format!("/rank {maria},{lee} send")] {
        let refused = app
            .run(&w.ana, &line)
            .await
            .err()
            .map(|e| e.user_message())
            .unwrap_or_default();
        assert!(
            refused.contains("Maria Mentor can no longer be ranked")
                && refused.contains("Nothing was sent: Start over with /rank"),
            "{line}: {refused}"
        );
    }
    assert!(offers_of(app, "ana@example.org").await.is_empty());
    // A number that is no mentor of the program names nobody.
    let ben = persona_of(app, "ben@example.org").await;
    let refused = app
        .run(&w.ana, &format!("/rank {ben}"))
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(
        refused.contains(&format!(
            "mentor #{ben} is not among your recommended mentors"
        )) && !refused.contains("Ben"),
        "{refused}"
    );
    // Start over shows the mentors available now.
    let again = app.run(&w.ana, "/rank").await.expect("start over");
    assert_eq!(labels(&again), ["1. Lee Mentor", "1. Tom Mentor"]);
}

async fn someone_not_ready_cannot_rank(app: &TestApp) {
    app.with_program().await;
    app.ready(crate::support::people::MARIA_MENTOR).await;
    let ben = applicant(
        app,
        "Ben Mentee",
        "ben@example.org",
        "+14155550612",
        "mentee",
        BEN,
        "e-ben",
    )
    .await;
    let refused = app
        .run(&ben, "/rank")
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default();
    assert!(
        refused.contains("you cannot rank mentors yet")
            && refused.contains("SI (Screening Incomplete)"),
        "{refused}"
    );
}

both_backends!(
    one_press_approves_a_mentee_and_sends_the_time_to_choose_prompt,
    with_the_setting_off_the_press_only_makes_them_active,
    a_mentor_approved_with_the_setting_on_is_ready_and_recommended_at_once,
    pressing_two_mentors_then_send_makes_the_offers_choose_makes,
    more_picks_than_max_choices_are_refused_naming_the_limit,
    a_stale_press_for_a_mentor_no_longer_available_is_refused,
    someone_not_ready_cannot_rank,
);

/// Ana ranks Lee then Maria by pressing buttons on Telegram: each press replaces the pressed
/// message with the list, the order so far and the next buttons; Send sends her request to Lee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranking_by_buttons_on_telegram_edits_the_message_press_by_press() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    ana_maria_and_lee(&app).await;
    let (maria, lee) = (
        persona_of(&app, "maria@example.org").await,
        persona_of(&app, "lee@example.org").await,
    );
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    fake.text(7001, "/rank");
    // (Her time-to-choose prompt, queued when she was made ready, may come first.)
    let list = soon("the ranking message", || {
        fake.to_chat("sendmessage", 7001)
            .into_iter()
            .find(|m| text_of(m).contains("Your order so far"))
    })
    .await;
    assert!(
        text_of(&list).contains("Your order so far: nobody yet."),
        "{list}"
    );
    assert_eq!(
        keyboard(&list),
        [
            ("1. Maria Mentor".to_string(), format!("/rank {maria}")),
            ("1. Lee Mentor".to_string(), format!("/rank {lee}")),
        ]
    );

    // Each press's reply takes the pressed message's place (id 901), buttons and all.
    let edit = |n: usize| {
        let fake = &fake;
        async move {
            soon(&format!("edit {n} of Ana's message"), || {
                fake.to_chat("editmessagetext", 7001).get(n - 1).cloned()
            })
            .await
        }
    };
    fake.press(7001, &list, 901, &format!("/rank {lee}"));
    let first = edit(1).await;
    assert_eq!(first["message_id"], serde_json::json!(901));
    assert!(
        text_of(&first).contains("Your order so far: 1. Lee Mentor.")
            && text_of(&first).starts_with("Rank up to 2 mentors in Acme/Spring")
            && !text_of(&first).contains("nobody yet"),
        "{first}"
    );
    assert_eq!(
        keyboard(&first),
        [
            (
                "2. Maria Mentor".to_string(),
                format!("/rank {lee},{maria}")
            ),
            ("Start over".to_string(), "/rank".to_string()),
            ("Send".to_string(), format!("/rank {lee} send")),
        ]
    );
    fake.press(7001, &first, 901, &format!("/rank {lee},{maria}"));
    let second = edit(2).await;
    assert!(
        text_of(&second).contains("Your order so far: 1. Lee Mentor, 2. Maria Mentor.")
            && text_of(&second).matches("Your order so far").count() == 1,
        "{second}"
    );
    assert_eq!(
        keyboard(&second),
        [
            ("Start over".to_string(), "/rank".to_string()),
            ("Send".to_string(), format!("/rank {lee},{maria} send")),
        ]
    );
    assert!(pending_of(&app, "ana@example.org").await.is_none());
    fake.press(7001, &second, 901, &format!("/rank {lee},{maria} send"));
    let sent = edit(3).await;
    assert!(
        text_of(&sent).starts_with(
            "Your choices: 1. Lee Mentor, 2. Maria Mentor. Your request went to Lee Mentor"
        ),
        "{sent}"
    );
    assert!(keyboard(&sent).is_empty(), "the buttons are gone: {sent}");
    let offer = pending_of(&app, "ana@example.org")
        .await
        .expect("a request");
    assert_eq!(offer.mentor_persona_id, lee);
    // Lee's offer reaches him with its Accept and Decline buttons.
    let to_lee = soon("the offer to Lee", || {
        fake.to_chat("sendmessage", 7003)
            .into_iter()
            .find(|m| !m["reply_markup"].is_null())
    })
    .await;
    assert!(text_of(&to_lee).contains("Ana Mentee"), "{to_lee}");
    bot.stop().await;
    app.finish().await;
}
