//! A mentor's pause and places (docs/domain.md#availability, docs/domain.md#capacity): "Decline
//! and pause me" and `/pause`, a paused mentor left out of recommendations, offers and
//! `/autopair`, the pause's end on the clock (told once), `/resume`; `/capacity` and the
//! program's `mentor_capacity` giving a mentor two mentees through offers and through one
//! `/autopair`; numbers out of range refused. Through the command layer on both backends, with
//! the test clock; and the button pressed in Telegram against the fake Bot API.

use std::time::Duration as Wait;

use chrono::Duration;
use figment::value::Value as Setting;
use mentorops_core::command::Caller;
use mentorops_core::db::Backend;
use mentorops_core::reply::Reply;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::{self, offers::OfferState};
use mentorops_core::timers;
use mentorops_worker::Worker;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::people::{
    ANA, ANA_MENTEE, BEN_MENTEE, LEE_MENTOR, MARIA_MENTOR, world, world_mentors,
};
use crate::support::telegram::{soon, start_polling, text_of};
use crate::support::wait::eventually;
use crate::support::{TestApp, ana_maria_and_lee, offers_of, pending_of, persona_of, uuid_like};

const MARIA: &str = "maria@example.org";

/// Cleo, a third mentee, ready in Spring.
async fn cleo(app: &TestApp) -> Caller {
    app.ready_person(
        "Cleo Mentee",
        "cleo@example.org",
        "+14155550613",
        "mentee",
        ANA,
        "e-cleo",
    )
    .await
}

/// The messages of `kind` queued for `email`, any channel.
async fn queued(app: &TestApp, email: &str, kind: &str) -> Vec<store::outbox::Message> {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

fn refusal(got: Result<Reply, mentorops_core::Error>) -> String {
    match got {
        Ok(r) => panic!("should have been refused, but replied: {}", r.text),
        Err(e) => e.user_message(),
    }
}

/// The persona a mentee is shown for `name` in a recommendation list ("#12 Maria Mentor — …").
fn shown_place(list: &str, name: &str) -> Option<i64> {
    list.lines()
        .find(|l| l.contains(name))
        .and_then(|l| l.trim().strip_prefix('#'))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

async fn paused_line(app: &TestApp) -> bool {
    app.admin(&format!("/user_show {MARIA}"))
        .await
        .text
        .contains("Paused until")
}

async fn matched_personas(app: &TestApp, email: &str) -> usize {
    app.personas(email)
        .await
        .iter()
        .filter(|p| p.match_status == MatchStatus::Matched)
        .count()
}

async fn decline_and_pause_passes_the_request_on_and_pauses_the_mentor(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, _) = world_mentors(app).await;
    app.run(&w.ana, "/mentors").await.expect("mentors");
    app.run(&w.ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    let prompt = queued(app, MARIA, "offer")
        .await
        .into_iter()
        .find(|m| m.channel.starts_with("chat:"))
        .expect("the offer prompt");
    let labels: Vec<&str> = prompt.buttons.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["Accept", "Decline", "Decline and pause me"]);
    let press = prompt.buttons[2].command.clone();
    assert!(press.len() <= 64, "{press}");
    assert!(!paused_line(app).await);

    let reply = app
        .run(&w.maria, &press)
        .await
        .expect("declined and paused");
    assert!(
        reply.text.starts_with("Declined.") && reply.text.contains("You are paused until"),
        "{}",
        reply.text
    );
    let offers = offers_of(app, "ana@example.org").await;
    let first = offers.iter().find(|o| o.id == offer.id).expect("offer");
    assert_eq!(first.state, OfferState::Declined);
    let next = pending_of(app, "ana@example.org")
        .await
        .expect("next choice");
    assert_eq!(next.mentor_persona_id, lee);
    assert!(paused_line(app).await);
    // The reply offers the longer pause and the way back.
    let commands: Vec<&str> = reply.buttons.iter().map(|b| b.command.as_str()).collect();
    assert_eq!(commands, ["/pause 4", "/resume"]);
}

async fn a_paused_mentor_is_not_recommended_offered_or_autopaired(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = world_mentors(app).await;
    // Ana asks Lee then Maria; Ben asks Tom then Maria: Maria waits behind each.
    app.run(&w.ana, "/mentors").await.expect("mentors");
    app.run(&w.ana, &format!("/choose #{lee} #{maria}"))
        .await
        .expect("choose");
    app.run(&w.ben, "/mentors").await.expect("mentors");
    app.run(&w.ben, &format!("/choose #{tom} #{maria}"))
        .await
        .expect("choose");
    let before = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert!(before.text.contains("Maria Mentor"), "{}", before.text);

    let paused = app.run(&w.maria, "/pause").await.expect("pause");
    assert!(
        paused.text.contains("You are paused until"),
        "{}",
        paused.text
    );

    // Not recommended: /mentors, /suggest, and /choose by name.
    let recs = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert!(!recs.text.contains("Maria Mentor"), "{}", recs.text);
    let suggested = app.admin("/suggest ben@example.org").await;
    assert!(
        !suggested.text.contains("Maria Mentor"),
        "{}",
        suggested.text
    );
    assert!(suggested.text.contains("Lee Mentor"), "{}", suggested.text);

    // Not offered: Lee declines Ana, and Ana's request skips Maria.
    let to_lee = pending_of(app, "ana@example.org").await.expect("offer");
    app.run(&w.lee, &format!("/decline {}", to_lee.id))
        .await
        .expect("decline");
    let skipped = offers_of(app, "ana@example.org")
        .await
        .into_iter()
        .find(|o| o.mentor_persona_id == maria)
        .expect("Ana's offer to Maria");
    assert_eq!(skipped.state, OfferState::Skipped);
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("paused"),
        "{:?}",
        skipped.reason
    );
    assert!(pending_of(app, "ana@example.org").await.is_none());
    // … nor when Tom lets Ben's expire (the worker's batch).
    app.clock.advance(Duration::hours(73));
    timers::run_due(&app.engine).await.expect("timers");
    let skipped = offers_of(app, "ben@example.org")
        .await
        .into_iter()
        .find(|o| o.mentor_persona_id == maria)
        .expect("Ben's offer to Maria");
    assert_eq!(skipped.state, OfferState::Skipped);
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("paused"),
        "{:?}",
        skipped.reason
    );
    assert!(queued(app, MARIA, "offer").await.is_empty());

    // Not paired by hand, not auto-paired.
    let refused = app
        .run(
            &app.caller_for(app.admin_id),
            "/assign ana@example.org maria@example.org",
        )
        .await;
    assert!(refusal(refused).contains("paused"));
    let preview = app.admin("/autopair Spring").await;
    assert!(
        preview.text.contains("Auto-pairing preview"),
        "{}",
        preview.text
    );
    assert!(preview.text.contains("Lee Mentor"), "{}", preview.text);
    assert!(!preview.text.contains("Maria Mentor"), "{}", preview.text);
    assert_eq!(matched_personas(app, MARIA).await, 0);
}

async fn a_pause_ends_on_the_clock_and_the_mentor_is_told_once(app: &TestApp) {
    let w = world(app).await;
    app.run(&w.maria, "/pause 1").await.expect("pause");
    // Not a moment early.
    app.clock.advance(Duration::weeks(1) - Duration::seconds(1));
    let ended = timers::end_pauses(&app.engine, app.engine.now())
        .await
        .expect("pass");
    assert_eq!(ended, 0);
    assert!(queued(app, MARIA, "pause_ended").await.is_empty());
    assert!(paused_line(app).await);
    let recs = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert!(!recs.text.contains("Maria Mentor"), "{}", recs.text);

    // At the end time the worker ends it and tells her, in chat and by email.
    app.clock.advance(Duration::seconds(1));
    let report = timers::run_due(&app.engine).await.expect("timers");
    assert_eq!(report.pauses_ended, 1);
    // Run again: nothing more, nobody told twice.
    let again = timers::end_pauses(&app.engine, app.engine.now())
        .await
        .expect("pass");
    assert_eq!(again, 0);
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .pauses_ended,
        0
    );
    let told = queued(app, MARIA, "pause_ended").await;
    let channels: Vec<&str> = told.iter().map(|m| m.channel.as_str()).collect();
    assert_eq!(channels.len(), 2, "{channels:?}");
    assert!(channels.contains(&"email") && channels.contains(&"chat:telegram"));
    assert!(
        told.iter()
            .any(|m| m.body_text.contains("Your pause has ended")),
        "{:?}",
        told.iter().map(|m| &m.body_text).collect::<Vec<_>>()
    );
    assert!(!paused_line(app).await);
    let recs = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert!(recs.text.contains("Maria Mentor"), "{}", recs.text);
}

async fn resume_ends_a_pause_early(app: &TestApp) {
    let w = world(app).await;
    app.run(&w.maria, "/pause 3").await.expect("pause");
    assert!(paused_line(app).await);
    let back = app.run(&w.maria, "/resume").await.expect("resume");
    assert!(back.text.contains("Welcome back"), "{}", back.text);
    assert!(!paused_line(app).await);
    let recs = app.run(&w.ana, "/mentors").await.expect("mentors");
    assert!(recs.text.contains("Maria Mentor"), "{}", recs.text);
    let twice = refusal(app.run(&w.maria, "/resume").await);
    assert!(twice.contains("you are not paused"), "{twice}");
    // The pause resumed early never "ends" later.
    app.clock.advance(Duration::weeks(4));
    assert_eq!(
        timers::end_pauses(&app.engine, app.engine.now())
            .await
            .expect("pass"),
        0
    );
    assert!(queued(app, MARIA, "pause_ended").await.is_empty());
}

async fn numbers_out_of_range_are_refused_naming_the_range_and_change_nothing(app: &TestApp) {
    let w = world(app).await;
    for line in ["/pause 0", "/pause 13", "/pause two"] {
        let m = refusal(app.run(&w.maria, line).await);
        assert!(m.contains("from 1 to 12"), "{line}: {m}");
    }
    assert!(!paused_line(app).await);
    let personas = app.personas(MARIA).await.len();
    for line in ["/capacity 99", "/capacity 0"] {
        let m = refusal(app.run(&w.maria, line).await);
        assert!(m.contains("from 1 to 10"), "{line}: {m}");
    }
    assert_eq!(app.personas(MARIA).await.len(), personas);
    let shown = app.run(&w.maria, "/capacity").await.expect("capacity");
    assert!(
        shown
            .text
            .contains("up to 1 mentee at once (the program's)"),
        "{}",
        shown.text
    );
    let m = refusal(
        app.run(
            &app.caller_for(app.admin_id),
            "/program_set Spring mentor_capacity 11",
        )
        .await,
    );
    assert!(m.contains("from 1 to 10"), "{m}");
    let settings = app.admin("/program_set Spring mentor_capacity").await;
    assert!(
        settings.text.contains("mentor_capacity = 1"),
        "{}",
        settings.text
    );
    // A mentee has nothing to pause.
    let m = refusal(app.run(&w.ana, "/pause").await);
    assert!(m.contains("for mentors"), "{m}");
}

async fn capacity_two_takes_two_mentees_through_offers(app: &TestApp) {
    let w = world(app).await;
    let cleo = cleo(app).await;
    let set = app.run(&w.maria, "/capacity 2").await.expect("capacity");
    assert!(
        set.text.contains("up to 2 mentees at once") && set.text.contains("1 new place is ready"),
        "{}",
        set.text
    );
    assert_eq!(app.personas(MARIA).await.len(), 2);

    // Ana asks Maria and is accepted.
    let list = app.run(&w.ana, "/mentors").await.expect("mentors");
    let place = shown_place(&list.text, "Maria Mentor").expect("Maria shown");
    app.run(&w.ana, &format!("/choose #{place}"))
        .await
        .expect("choose");
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.run(&w.maria, &format!("/accept {}", offer.id))
        .await
        .expect("accept");
    // Ben still finds her, on her other place, and is accepted too.
    let list = app.run(&w.ben, "/mentors").await.expect("mentors");
    let other = shown_place(&list.text, "Maria Mentor").expect("Maria still shown");
    assert_ne!(other, place);
    app.run(&w.ben, &format!("/choose #{other}"))
        .await
        .expect("choose");
    let offer = pending_of(app, "ben@example.org").await.expect("offer");
    app.run(&w.maria, &format!("/accept {}", offer.id))
        .await
        .expect("accept");
    assert_eq!(matched_personas(app, MARIA).await, 2);
    assert_eq!(matched_personas(app, "ana@example.org").await, 1);
    assert_eq!(matched_personas(app, "ben@example.org").await, 1);

    // A third mentee: Maria is full.
    let list = app.run(&cleo, "/mentors").await.expect("mentors");
    assert!(!list.text.contains("Maria Mentor"), "{}", list.text);
    let m = refusal(app.run(&cleo, "/choose Maria").await);
    assert!(m.contains("not among your recommended"), "{m}");
    let shown = app.run(&w.maria, "/capacity").await.expect("capacity");
    assert!(shown.text.contains("2 taken"), "{}", shown.text);
    let staff = app.admin(&format!("/user_show {MARIA}")).await;
    assert!(
        staff
            .text
            .contains("Places in Acme/Spring: up to 2 mentees at once"),
        "{}",
        staff.text
    );

    // Ana's match closes: the place it freed is ready at once (not on the worker's next pass),
    // and Cleo is shown Maria again.
    app.admin("/unassign ana@example.org").await;
    let free = app
        .personas(MARIA)
        .await
        .iter()
        .filter(|p| p.match_status == MatchStatus::ReadyToBeMatched)
        .count();
    assert_eq!(free, 1, "{:?}", app.personas(MARIA).await);
    assert_eq!(matched_personas(app, MARIA).await, 1);
    let list = app.run(&cleo, "/mentors").await.expect("mentors");
    assert!(list.text.contains("Maria Mentor"), "{}", list.text);
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .places_made,
        0,
        "nothing left for the worker to make"
    );
}

async fn capacity_two_takes_two_mentees_from_one_autopair(app: &TestApp) {
    app.with_program().await;
    app.ready(MARIA_MENTOR).await;
    app.ready(ANA_MENTEE).await;
    app.ready(BEN_MENTEE).await;
    cleo(app).await;
    let set = app.admin("/program_set Spring mentor_capacity 2").await;
    assert!(set.text.contains("mentor_capacity 1 → 2"), "{}", set.text);
    assert_eq!(app.personas(MARIA).await.len(), 2);
    // A coordinator may not set a mentor's places; the program manager may.
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    let m = refusal(app.run(&sc, &format!("/capacity 3 mentor:{MARIA}")).await);
    assert!(m.contains("staff who pair"), "{m}");
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let own = app
        .run(&pm, &format!("/capacity 2 mentor:{MARIA}"))
        .await
        .expect("capacity");
    assert!(own.text.contains("their own"), "{}", own.text);

    let preview = app.admin("/autopair Spring").await;
    let pairs: Vec<&str> = preview
        .text
        .lines()
        .filter(|l| l.contains(" ↔ Maria Mentor"))
        .collect();
    assert_eq!(pairs.len(), 2, "{}", preview.text);
    assert!(
        preview.text.contains("Mentees left unpaired"),
        "{}",
        preview.text
    );
    let apply = preview
        .buttons
        .iter()
        .find(|b| b.label == "Apply these pairs")
        .expect("apply")
        .command
        .clone();
    let done = app.admin(&apply).await;
    assert!(done.text.starts_with("Paired 2 mentees"), "{}", done.text);
    assert_eq!(matched_personas(app, MARIA).await, 2);
    // Full: no free place is left, and the mentee left over is not shown her.
    assert!(
        app.personas(MARIA)
            .await
            .iter()
            .all(|p| p.match_status == MatchStatus::Matched)
    );
    let mut left = None;
    for (email, chat) in [
        ("ana@example.org", "e-ana"),
        ("ben@example.org", "e-ben"),
        ("cleo@example.org", "e-cleo"),
    ] {
        if matched_personas(app, email).await == 0 {
            left = Some(app.chat(chat));
        }
    }
    let left = left.expect("one mentee left over");
    let list = app.run(&left, "/mentors").await.expect("mentors");
    assert!(!list.text.contains("Maria Mentor"), "{}", list.text);
}

async fn a_mentor_made_ready_later_gets_their_places_from_the_worker(app: &TestApp) {
    app.with_program().await;
    let set = app.admin("/program_set Spring mentor_capacity 2").await;
    assert!(set.text.contains("mentor_capacity 1 → 2"), "{}", set.text);
    app.ready(LEE_MENTOR).await;
    let lee = "lee@example.org";
    assert_eq!(app.personas(lee).await.len(), 1);
    let report = timers::run_due(&app.engine).await.expect("timers");
    assert_eq!(report.places_made, 1);
    let ready = app
        .personas(lee)
        .await
        .iter()
        .filter(|p| p.match_status == MatchStatus::ReadyToBeMatched)
        .count();
    assert_eq!(ready, 2);
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .places_made,
        0
    );
}

both_backends!(
    decline_and_pause_passes_the_request_on_and_pauses_the_mentor,
    a_paused_mentor_is_not_recommended_offered_or_autopaired,
    a_pause_ends_on_the_clock_and_the_mentor_is_told_once,
    resume_ends_a_pause_early,
    numbers_out_of_range_are_refused_naming_the_range_and_change_nothing,
    capacity_two_takes_two_mentees_through_offers,
    capacity_two_takes_two_mentees_from_one_autopair,
    a_mentor_made_ready_later_gets_their_places_from_the_worker,
);

/// The answer to the button press `press` (a callback query id), once the front-end sent it.
fn answer_to(fake: &Fake, press: &str) -> Option<Value> {
    fake.calls("answercallbackquery")
        .into_iter()
        .find(|c| c.body["callback_query_id"] == json!(press))
        .map(|c| c.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mentor_presses_decline_and_pause_me_in_telegram() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ana = ana_maria_and_lee(&app).await;
    let maria = persona_of(&app, MARIA).await;
    let lee = persona_of(&app, "lee@example.org").await;
    app.run(&ana, "/mentors").await.expect("mentors");
    app.run(&ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    let prompt = soon("the offer prompt to Maria", || {
        fake.to_chat("sendmessage", 7002)
            .into_iter()
            .find(|m| !m["reply_markup"].is_null())
    })
    .await;
    let button = prompt["reply_markup"]["inline_keyboard"]
        .as_array()
        .expect("keyboard")
        .iter()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"] == json!("Decline and pause me"))
        .expect("the third button");
    let data = button["callback_data"].as_str().unwrap_or_default();
    assert_eq!(data, format!("/decline {} pause:2", offer.id));

    let press = fake.press(7002, &prompt, 555, data);
    let answer = soon("the answer to Maria", || answer_to(&fake, &press)).await;
    assert!(text_of(&answer).starts_with("Declined."), "{answer}");
    let next = pending_of(&app, "ana@example.org")
        .await
        .expect("next choice");
    assert_eq!(next.mentor_persona_id, lee);
    let shown = app.admin(&format!("/user_show {MARIA}")).await;
    assert!(shown.text.contains("Paused until"), "{}", shown.text);
    bot.stop().await;
    app.finish().await;
}

/// The worker ends a pause on its own: the reconciler's tick (every second here) queues
/// `availability` on the embedded queue, and the job ends the pause and tells the mentor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_ends_a_pause_and_tells_the_mentor() {
    let settings: Vec<(&str, Setting)> = vec![
        ("queue.name", format!("t{}", uuid_like()).into()),
        ("queue.poll_interval_ms", 50u64.into()),
        ("queue.heartbeat_secs", 1u64.into()),
        ("queue.feed_interval_ms", 200u64.into()),
        ("queue.reconcile_cron", "* * * * * *".into()),
        ("queue.sweep_cron", "0 0 0 1 1 *".into()),
        ("queue.digest_cron", "0 0 0 1 1 *".into()),
    ];
    let Some(app) = TestApp::start_live(Backend::Sqlite, &settings).await else {
        return;
    };
    let w = world(&app).await;
    // Paused for a week, eight days ago: it ended yesterday.
    let clock = app.live.as_ref().expect("live clock");
    clock.set_offset(-Duration::days(8));
    app.run(&w.maria, "/pause 1").await.expect("pause");
    clock.set_offset(Duration::zero());
    let stop = CancellationToken::new();
    let worker = Worker::start(app.shared_engine(), stop.clone())
        .await
        .expect("worker starts");
    eventually(
        Wait::from_secs(30),
        "Maria told her pause ended",
        || async { queued(&app, MARIA, "pause_ended").await.len() == 2 },
    )
    .await;
    assert!(worker.runtime.stats.processed("availability") >= 1);
    worker.stop().await;
    assert!(!paused_line(&app).await);
    assert_eq!(queued(&app, MARIA, "pause_ended").await.len(), 2);
    app.finish().await;
}
