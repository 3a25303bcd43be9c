//! The timers' batches (`core::timers::run_batch`): many offers expired or reminded, or
//! sessions reminded, in one transaction — with the guarantees of one at a time: one outcome
//! per offer when an accept races the batch, nothing written twice when a batch runs twice
//! (outbox keys, the next choice), and nothing done to an item of the batch not due yet. On
//! SQLite and PostgreSQL.

use chrono::Duration;
use mentorops_core::command::Caller;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::offers::{Offer, OfferState};
use mentorops_core::store::sessions::ReminderColumn;
use mentorops_core::store::{self};
use mentorops_core::timers::{self, Job};
use sqlx::Row;

use crate::both_backends;
use crate::support::{TestApp, World, offers_of, pending_of, persona_of, world, world_mentors};

/// Every outbox row's key, in the order written.
async fn outbox_keys(app: &TestApp) -> Vec<String> {
    sqlx::query("SELECT idempotency_key FROM outbox ORDER BY id")
        .fetch_all(app.engine.db().pool())
        .await
        .expect("outbox")
        .iter()
        .map(|r| r.try_get("idempotency_key").expect("key"))
        .collect()
}

/// How many outbox rows have a key starting with `prefix`.
async fn keyed(app: &TestApp, prefix: &str) -> usize {
    outbox_keys(app)
        .await
        .iter()
        .filter(|k| k.starts_with(prefix))
        .count()
}

/// Every offer row (id, state, reason, decided_at, reminded_at), for before/after comparisons.
async fn all_offers(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for email in ["ana@example.org", "ben@example.org"] {
        for o in offers_of(app, email).await {
            out.push(format!(
                "{} {:?} {:?} {:?} {:?} {:?}",
                o.id, o.state, o.reason, o.decided_at, o.deadline_at, o.reminded_at
            ));
        }
    }
    out
}

/// Ana and Ben each choose mentors (by first name); their pending offers.
async fn choose(app: &TestApp, w: &World, ana: &[&str], ben: &[&str]) -> (Offer, Offer) {
    choose_one(app, &w.ana, ana).await;
    choose_one(app, &w.ben, ben).await;
    (
        pending_of(app, "ana@example.org")
            .await
            .expect("ana's offer"),
        pending_of(app, "ben@example.org")
            .await
            .expect("ben's offer"),
    )
}

async fn choose_one(app: &TestApp, who: &Caller, picks: &[&str]) {
    let (maria, lee, tom) = world_mentors(app).await;
    let ids: Vec<String> = picks
        .iter()
        .map(|p| match *p {
            "maria" => format!("#{maria}"),
            "lee" => format!("#{lee}"),
            _ => format!("#{tom}"),
        })
        .collect();
    let line = format!("/choose {}", ids.join(" "));
    assert!(app.run(who, &line).await.is_ok(), "{line}");
}

async fn a_batch_racing_an_accept_gives_each_offer_exactly_one_outcome(app: &TestApp) {
    let w = world(app).await;
    let (a, b) = choose(app, &w, &["maria", "lee"], &["tom", "lee"]).await;
    let deadline = a.deadline_at.expect("deadline");
    // Maria presses a second before the deadline while a worker whose clock is a second past
    // it expires both offers in one batch.
    app.clock
        .advance(Duration::hours(72) - Duration::seconds(1));
    let (maria, lee, tom) = world_mentors(app).await;
    let everyone = [
        maria,
        lee,
        tom,
        persona_of(app, "ana@example.org").await,
        persona_of(app, "ben@example.org").await,
    ];
    let gate = app.close_gate(&everyone, &[a.id, b.id]).await;
    let ids = [a.id, b.id];
    let line = format!("/accept {}", a.id);
    let (accepted, pass, ()) = tokio::join!(
        app.run(&w.maria, &line),
        timers::run_batch_at(
            &app.engine,
            Job::Expire,
            &ids,
            Some(deadline + Duration::seconds(1))
        ),
        TestApp::open_gate(gate),
    );
    let pass = pass.expect("batch");
    let accepted = accepted.is_ok();
    assert_eq!(
        pass.done + usize::from(accepted),
        2,
        "each offer has exactly one outcome"
    );
    let ana = offers_of(app, "ana@example.org").await;
    let ana_matched = app.personas("ana@example.org").await[0].match_status == MatchStatus::Matched;
    if accepted {
        assert_eq!(ana[0].state, OfferState::Accepted);
        assert!(
            ana_matched && ana[1].state == OfferState::Cancelled,
            "{ana:?}"
        );
        assert_eq!(keyed(app, &format!("offer:{}:expired", a.id)).await, 0);
        assert_eq!(keyed(app, &format!("offer:{}:outcome", a.id)).await, 0);
    } else {
        assert_eq!(ana[0].state, OfferState::Expired);
        assert!(
            !ana_matched && ana[1].state == OfferState::Pending,
            "{ana:?}"
        );
        assert_eq!(keyed(app, &format!("offer:{}:sent", ana[1].id)).await, 2);
    }
    // Ben's offer was not contested: expired, and his next choice asked, once.
    let ben = offers_of(app, "ben@example.org").await;
    assert_eq!(ben[0].state, OfferState::Expired, "{ben:?}");
    assert_eq!(ben[1].state, OfferState::Pending, "{ben:?}");
    assert_eq!(keyed(app, &format!("offer:{}:outcome", b.id)).await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM matches").await,
        i64::from(accepted)
    );
}

async fn a_batch_run_twice_changes_nothing_the_second_time(app: &TestApp) {
    let w = world(app).await;
    // Ana's second choice has left by the time her first expires, so it is skipped and her
    // third asked; Ben has no other choice, so his round runs out (he and staff are told).
    let (a, b) = choose(app, &w, &["maria", "lee", "tom"], &["tom"]).await;
    app.admin("/deactivate lee@example.org").await;
    app.clock.advance(Duration::hours(73));
    let ids = [a.id, b.id];
    let first = timers::run_batch(&app.engine, Job::Expire, &ids)
        .await
        .expect("first run");
    assert_eq!(first.done, 2);
    assert_eq!(first.next_due, None);
    let offers = all_offers(app).await;
    let keys = outbox_keys(app).await;
    let again = timers::run_batch(&app.engine, Job::Expire, &ids)
        .await
        .expect("second run");
    assert_eq!(again.done, 0);
    assert_eq!(all_offers(app).await, offers, "no offer changed");
    assert_eq!(outbox_keys(app).await, keys, "no message written twice");

    // The next choice was offered once, and everyone was told once, under the usual keys.
    let next = pending_of(app, "ana@example.org").await.expect("next");
    assert_eq!(
        next.mentor_persona_id,
        persona_of(app, "tom@example.org").await
    );
    let ana = offers_of(app, "ana@example.org").await;
    assert_eq!(
        ana.iter().map(|o| o.state).collect::<Vec<_>>(),
        [
            OfferState::Expired,
            OfferState::Skipped,
            OfferState::Pending
        ]
    );
    let skipped = ana[1].reason.as_deref().unwrap_or_default();
    assert!(skipped.contains("Lee Mentor"), "{skipped}");
    assert!(pending_of(app, "ben@example.org").await.is_none());
    for (prefix, rows) in [
        (format!("offer:{}:expired", a.id), 1),   // Maria, chat
        (format!("offer:{}:expired", b.id), 1),   // Tom, chat
        (format!("offer:{}:outcome", a.id), 2),   // Ana, chat + email
        (format!("offer:{}:outcome", b.id), 2),   // Ben, chat + email
        (format!("offer:{}:sent", next.id), 2),   // Tom, chat + email
        (format!("offer:{}:mentee", next.id), 1), // Ana, chat
    ] {
        assert_eq!(keyed(app, &prefix).await, rows, "{prefix}: {keys:?}");
    }
    let ben = persona_of(app, "ben@example.org").await;
    assert!(
        keyed(app, &format!("round:{ben}:1:exhausted")).await >= 2,
        "Ben is told his round ran out: {keys:?}"
    );
    // Per person, in the order one expiry at a time writes them, cause before effect: Ana hears
    // what became of her request before who has it now (docs/domain.md#notifications), and Ben
    // that his went unanswered before that his round ran out.
    let ana_note = keys
        .iter()
        .position(|k| k.starts_with(&format!("offer:{}:mentee", next.id)));
    let ana_outcome = keys
        .iter()
        .position(|k| k.starts_with(&format!("offer:{}:outcome", a.id)));
    assert!(ana_outcome.is_some() && ana_outcome < ana_note, "{keys:?}");
    let ben_outcome = keys
        .iter()
        .position(|k| k.starts_with(&format!("offer:{}:outcome", b.id)));
    let ben_exhausted = keys
        .iter()
        .position(|k| k.starts_with(&format!("round:{ben}:1:exhausted")));
    assert!(
        ben_outcome.is_some() && ben_outcome < ben_exhausted,
        "{keys:?}"
    );
    let outcome = app.email_row("ana@example.org", "offer_outcome").await;
    assert!(
        outcome.body_text.contains("Your next choice, Tom"),
        "{}",
        outcome.body_text
    );

    // Reminders too: Tom's, 24 h before the new deadline, once however often the batch runs.
    app.clock.advance(Duration::hours(49));
    let reminded = timers::run_batch(&app.engine, Job::RemindOffer, &[next.id])
        .await
        .expect("remind");
    assert_eq!(reminded.done, 1);
    let keys = outbox_keys(app).await;
    let again = timers::run_batch(&app.engine, Job::RemindOffer, &[next.id])
        .await
        .expect("remind again");
    assert_eq!(again.done, 0);
    assert_eq!(outbox_keys(app).await, keys);
    assert_eq!(keyed(app, &format!("offer:{}:reminder", next.id)).await, 2);
}

async fn a_batch_leaves_its_offers_not_yet_due_untouched(app: &TestApp) {
    let w = world(app).await;
    choose_one(app, &w.ana, &["maria", "lee"]).await;
    app.clock.advance(Duration::hours(1));
    choose_one(app, &w.ben, &["tom", "lee"]).await;
    let a = pending_of(app, "ana@example.org").await.expect("a");
    let b = pending_of(app, "ben@example.org").await.expect("b");
    let ids = [a.id, b.id];

    // Ana's reminder is due, Ben's an hour later.
    app.clock
        .advance(Duration::hours(47) + Duration::minutes(1));
    let pass = timers::run_batch(&app.engine, Job::RemindOffer, &ids)
        .await
        .expect("remind");
    assert_eq!(pass.done, 1);
    assert_eq!(
        pass.next_due, b.remind_at,
        "the rest comes due at Ben's time"
    );
    assert!(
        pending_of(app, "ana@example.org")
            .await
            .expect("a")
            .reminded_at
            .is_some()
    );
    assert_eq!(
        pending_of(app, "ben@example.org")
            .await
            .expect("b")
            .reminded_at,
        None
    );
    assert_eq!(keyed(app, &format!("offer:{}:reminder", b.id)).await, 0);

    // Ana's deadline has passed, Ben's not yet.
    app.clock.advance(Duration::hours(24));
    let before = offers_of(app, "ben@example.org").await;
    let pass = timers::run_batch(&app.engine, Job::Expire, &ids)
        .await
        .expect("expire");
    assert_eq!(pass.done, 1);
    assert_eq!(pass.next_due, b.deadline_at);
    let after = offers_of(app, "ben@example.org").await;
    assert_eq!(
        format!("{after:?}"),
        format!("{before:?}"),
        "Ben's offers untouched"
    );
    assert_eq!(after[0].state, OfferState::Pending);
    assert_eq!(after[0].decided_at, None);
    for what in ["expired", "outcome"] {
        assert_eq!(keyed(app, &format!("offer:{}:{what}", b.id)).await, 0);
    }
    assert_eq!(
        offers_of(app, "ana@example.org").await[0].state,
        OfferState::Expired
    );

    // An hour later his comes due too.
    app.clock.advance(Duration::hours(1));
    let pass = timers::run_batch(&app.engine, Job::Expire, &ids)
        .await
        .expect("expire");
    assert_eq!(pass.done, 1);
    assert_eq!(pass.next_due, None);
    let ben = offers_of(app, "ben@example.org").await;
    assert_eq!(ben[0].state, OfferState::Expired);
    assert_eq!(ben[1].state, OfferState::Pending);
    // Never early: each expired at or after its deadline.
    for o in [&offers_of(app, "ana@example.org").await[0], &ben[0]] {
        assert!(o.decided_at >= o.deadline_at, "{o:?}");
    }
}

async fn a_mentee_no_longer_ready_has_the_rest_of_the_round_cancelled(app: &TestApp) {
    let w = world(app).await;
    let (a, b) = choose(app, &w, &["maria", "lee", "tom"], &["tom", "lee"]).await;
    // Ana is no longer ready when her offer expires (as after a status change made straight in
    // the database: the commands would have withdrawn her offers already).
    let ana = persona_of(app, "ana@example.org").await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE personas SET match_status = 'N/A' WHERE id = {ana}"
    )))
    .execute(app.engine.db().pool())
    .await
    .expect("not ready");
    app.clock.advance(Duration::hours(73));
    let pass = timers::run_batch(&app.engine, Job::Expire, &[a.id, b.id])
        .await
        .expect("expire");
    assert_eq!(pass.done, 2);
    let offers = offers_of(app, "ana@example.org").await;
    assert_eq!(
        offers.iter().map(|o| o.state).collect::<Vec<_>>(),
        [
            OfferState::Expired,
            OfferState::Cancelled,
            OfferState::Cancelled
        ]
    );
    assert!(
        offers[1..]
            .iter()
            .all(|o| o.reason.as_deref().is_some_and(|r| r.contains("not ready"))),
        "{offers:?}"
    );
    for o in &offers[1..] {
        assert_eq!(keyed(app, &format!("offer:{}:sent", o.id)).await, 0);
    }
    let outcome = app.email_row("ana@example.org", "offer_outcome").await;
    assert!(
        outcome.body_text.contains("goes no further") && !outcome.body_text.contains("choose"),
        "{}",
        outcome.body_text
    );
    // Ben, in the same batch, moves on as usual.
    assert_eq!(
        offers_of(app, "ben@example.org").await[1].state,
        OfferState::Pending
    );
}

async fn session_reminders_in_a_batch_go_once_and_only_when_due(app: &TestApp) {
    let w = world(app).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    app.admin("/assign ben@example.org tom@example.org").await;
    // The clock starts at 2026-12-01 09:00 UTC; Spring is on UTC.
    for (who, at) in [(&w.ana, "2026-12-03 10:00"), (&w.ben, "2026-12-03 12:00")] {
        let r = app.run(who, &format!("/session_book at:\"{at}\"")).await;
        assert!(r.is_ok(), "{r:?}");
    }
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let mut sessions = Vec::new();
    for email in ["ana@example.org", "ben@example.org"] {
        let m = store::matches::of_persona(&mut c, persona_of(app, email).await)
            .await
            .expect("match")[0]
            .clone();
        sessions.push(store::sessions::of_match(&mut c, m.id).await.expect("s")[0].clone());
    }
    drop(c);
    let ids: Vec<i64> = sessions.iter().map(|s| s.id).collect();
    let day = Job::RemindSession(ReminderColumn::DayBefore);
    // 24 h before Ana's session, 26 h before Ben's.
    app.clock.advance(
        sessions[0].starts_at - Duration::hours(24) - app.engine.now() + Duration::minutes(1),
    );
    let pass = timers::run_batch(&app.engine, day, &ids)
        .await
        .expect("day");
    assert_eq!(pass.done, 1);
    assert_eq!(
        pass.next_due,
        Some(sessions[1].starts_at - Duration::hours(24))
    );
    let keys = outbox_keys(app).await;
    assert_eq!(
        timers::run_batch(&app.engine, day, &ids)
            .await
            .expect("again")
            .done,
        0
    );
    assert_eq!(outbox_keys(app).await, keys);
    let s1 = sessions[0].id;
    let s2 = sessions[1].id;
    assert_eq!(
        keyed(app, &format!("session:{s1}:24 hours")).await,
        4,
        "both, chat + email"
    );
    assert_eq!(keyed(app, &format!("session:{s2}:24 hours")).await, 0);
    app.clock.advance(Duration::hours(2));
    let pass = timers::run_batch(&app.engine, day, &ids)
        .await
        .expect("day");
    assert_eq!(pass.done, 1);
    assert_eq!(pass.next_due, None);
    assert_eq!(keyed(app, &format!("session:{s2}:24 hours")).await, 4);
    // The hour-before reminder is not due for either yet.
    let hour = Job::RemindSession(ReminderColumn::HourBefore);
    let pass = timers::run_batch(&app.engine, hour, &ids)
        .await
        .expect("hour");
    assert_eq!(pass.done, 0);
    assert_eq!(
        pass.next_due,
        Some(sessions[0].starts_at - Duration::hours(1))
    );
    let reminder = app.email_row("ben@example.org", "session_reminder").await;
    assert!(
        reminder.body_text.contains("Tom Mentor"),
        "{}",
        reminder.body_text
    );
}

/// The batches' outbox write: thousands of rows in a few statements, in the order given, each
/// key once (a key queued before, or twice in the list, is not queued again).
async fn many_messages_are_queued_in_order_each_key_once(app: &TestApp) {
    use mentorops_core::store::outbox::{self, NewMessage};
    let message = |i: usize| NewMessage {
        channel: outbox::EMAIL.to_string(),
        kind: "offer_outcome",
        recipient_user_id: None,
        recipient: format!("p{}@example.org", i % 7),
        subject: format!("Subject {i}"),
        body_text: format!("Text {i} — with 'quotes' and $1"),
        body_html: Some(format!("<p>{i}</p>")),
        buttons: Vec::new(),
        idempotency_key: format!("many:{i}"),
    };
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let now = app.engine.now();
    assert_eq!(
        outbox::insert_many(&mut c, &[message(5)], now)
            .await
            .expect("one"),
        [true]
    );
    let mut all: Vec<NewMessage> = (0..7000).map(message).collect();
    all.push(message(42));
    let new = outbox::insert_many(&mut c, &all, now).await.expect("many");
    drop(c);
    assert_eq!(new.len(), all.len());
    assert!(!new[5], "queued before");
    assert!(!new[7000], "twice in the list: the first one counts");
    assert_eq!(new.iter().filter(|n| **n).count(), 6999);
    let keys: Vec<String> = outbox_keys(app)
        .await
        .into_iter()
        .filter(|k| k.starts_with("many:"))
        .collect();
    let expected: Vec<String> = std::iter::once(5)
        .chain((0..7000).filter(|i| *i != 5))
        .map(|i| format!("many:{i}"))
        .collect();
    assert_eq!(keys.len(), expected.len());
    let first_off = keys.iter().zip(&expected).position(|(k, e)| k != e);
    assert_eq!(first_off, None, "in the order given");
}

both_backends!(
    many_messages_are_queued_in_order_each_key_once,
    a_batch_racing_an_accept_gives_each_offer_exactly_one_outcome,
    a_batch_run_twice_changes_nothing_the_second_time,
    a_batch_leaves_its_offers_not_yet_due_untouched,
    a_mentee_no_longer_ready_has_the_rest_of_the_round_cancelled,
    session_reminders_in_a_batch_go_once_and_only_when_due,
);
