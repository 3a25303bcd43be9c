//! Where a request stands (docs/domain.md#cascade-place): the mentee reads the place of their
//! pending request in their own ranking and its deadline, the mentor their rank and the time
//! left — in `/me`, command replies and every offer message, in the program's time zone, named.

use chrono::Duration;
use mentorops_core::store::outbox;
use mentorops_core::timers;

use crate::both_backends;
use crate::support::{TestApp, pending_of, world, world_mentors};

/// `email`'s messages of `kind` on `channel` ("chat" or "email"), oldest first.
async fn rows(app: &TestApp, email: &str, kind: &str, channel: &str) -> Vec<outbox::Message> {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.kind == kind && m.channel.starts_with(channel) && m.edits.is_none())
        .collect()
}

/// The text of `email`'s newest message of `kind` on `channel`.
async fn newest(app: &TestApp, email: &str, kind: &str, channel: &str) -> String {
    rows(app, email, kind, channel)
        .await
        .pop()
        .map(|m| m.body_text)
        .unwrap_or_else(|| panic!("no {channel} {kind} to {email}"))
}

fn holds(text: &str, needle: &str) {
    assert!(text.contains(needle), "'{needle}' is not in:\n{text}");
}

async fn every_offer_message_says_where_the_request_stands(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring timezone America/Sao_Paulo")
        .await;
    let (maria, lee, tom) = world_mentors(app).await;

    // Sent Tue 01 Dec 09:00 UTC with 72 hours to answer: Fri 04 Dec 09:00 UTC, 06:00 in São Paulo.
    let chose = app
        .run(&w.ana, &format!("/choose #{maria} #{lee} #{tom}"))
        .await
        .expect("choose");
    holds(
        &chose.text,
        "Now: request 1 of 3: Maria Mentor, answer due Fri 04 Dec 06:00 America/Sao_Paulo.",
    );
    holds(
        &newest(app, "maria@example.org", "offer", "chat").await,
        "You are their 1st choice: answer within 3 days, by Fri 04 Dec 06:00 America/Sao_Paulo.",
    );

    // Five hours later Maria declines: the request moves to choice 2, Lee, due 72 hours on.
    app.clock.advance(Duration::hours(5));
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.run(&w.maria, &format!("/decline {}", offer.id))
        .await
        .expect("decline");
    let second = "request 2 of 3: Lee Mentor, answer due Fri 04 Dec 11:00 America/Sao_Paulo";
    let outcome = newest(app, "ana@example.org", "offer_outcome", "chat").await;
    holds(&outcome, "Your next choice, Lee Mentor, has been asked.");
    holds(&outcome, &format!("Now: {second}."));
    holds(
        &newest(app, "ana@example.org", "offer_outcome", "email").await,
        second,
    );
    holds(
        &newest(app, "ana@example.org", "offer_sent", "chat").await,
        &format!("Now: {second}."),
    );
    let me = app.run(&w.ana, "/me").await.expect("me").text;
    holds(&me, &format!("Your request is with Lee Mentor — {second}"));
    let lee_in_two_days =
        "You are their 2nd choice: answer within 3 days, by Fri 04 Dec 11:00 America/Sao_Paulo.";
    holds(
        &newest(app, "lee@example.org", "offer", "chat").await,
        lee_in_two_days,
    );
    holds(
        &app.run(&w.lee, "/me").await.expect("me").text,
        lee_in_two_days,
    );

    // The reminder, 24 hours before the deadline, half an hour late: the time left is what is left.
    app.clock
        .advance(Duration::hours(48) + Duration::minutes(30));
    timers::run_due(&app.engine).await.expect("timers");
    holds(
        &newest(app, "lee@example.org", "offer_reminder", "chat").await,
        "You are their 2nd choice: answer within 23 hours 30 minutes, by Fri 04 Dec 11:00 America/Sao_Paulo.",
    );

    // Lee lets it expire (the worker's batch): choice 3, Tom, sent Fri 04 Dec 14:30 UTC.
    app.clock.advance(Duration::hours(24));
    timers::run_due(&app.engine).await.expect("timers");
    let third = "request 3 of 3: Tom Mentor, answer due Mon 07 Dec 11:30 America/Sao_Paulo";
    let outcome = newest(app, "ana@example.org", "offer_outcome", "chat").await;
    holds(&outcome, "was not answered in time");
    holds(&outcome, &format!("Now: {third}."));
    holds(
        &newest(app, "ana@example.org", "offer_outcome", "email").await,
        third,
    );
    holds(
        &app.run(&w.ana, "/me").await.expect("me").text,
        &format!("Your request is with Tom Mentor — {third}"),
    );
    holds(
        &newest(app, "tom@example.org", "offer", "chat").await,
        "You are their 3rd choice: answer within 3 days, by Mon 07 Dec 11:30 America/Sao_Paulo.",
    );
}

both_backends!(every_offer_message_says_where_the_request_stands);
