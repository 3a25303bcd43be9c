//! Quiet hours (docs/domain.md#quiet-hours): reminders and nudges that fall in a person's quiet
//! hours are held in the outbox until the window ends (`not_before`), through the real delivery
//! paths (the Telegram driver against the fake Bot API, the email delivery to `.eml` files);
//! replies to commands and offer deadlines are never moved.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mentorops_bot::telegram;
use mentorops_core::command::{Caller, Inbound, ReplyRoute, ReplyTarget, parse};
use mentorops_core::store::{self, offers::OfferState, outbox};
use mentorops_core::timers;
use mentorops_worker::{Mailer, deliver_due_emails};

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::telegram::text_of;
use crate::support::{TestApp, ana_chooses_maria, ana_maria_and_lee, pending_of};

fn utc(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, d, h, m, s)
        .single()
        .expect("time")
}

/// Moves the test clock to `t`.
fn to(app: &TestApp, t: DateTime<Utc>) {
    app.clock.advance(t - app.engine.now());
}

/// The outbox rows of `kind` to `email`'s user, by channel.
async fn rows(app: &TestApp, kind: &str, email: &str) -> Vec<outbox::Message> {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    outbox::by_recipient(&mut c, id)
        .await
        .expect("rows")
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

/// What the Telegram fake received for `chat`, as text.
fn texts_to(fake: &Fake, chat: i64) -> Vec<String> {
    fake.to_chat("sendmessage", chat)
        .iter()
        .map(text_of)
        .collect()
}

/// One pass of each real delivery path at the engine's time: Telegram's outbox driver, and the
/// email delivery; the subjects of the emails delivered.
async fn deliver(app: &TestApp, fake: &Fake) -> Vec<String> {
    let bot = telegram::bot_from_settings(&fake.settings()).expect("bot");
    telegram::deliver_due(app.shared_engine(), bot)
        .await
        .expect("telegram delivery");
    let settings = app.engine.settings();
    let mailer = Mailer::from_settings(settings).expect("mailer");
    deliver_due_emails(
        app.engine.db(),
        &mailer,
        &settings.smtp.from,
        app.engine.now(),
        30,
    )
    .await
    .expect("email delivery")
    .into_iter()
    .map(|d| format!("{} {}", d.recipient, d.subject))
    .collect()
}

/// `/sessions` from Ana's Telegram chat as the front-end runs it: recorded once, its reply
/// queued in the outbox in the command's transaction (docs/chat-edge.md).
async fn sessions_from_chat(app: &TestApp, ana: &Caller, update: &str) {
    let inbound = Inbound {
        key: store::inbox::Key {
            platform: "telegram".into(),
            update_key: update.into(),
            lane: "7001".into(),
        },
        received: false,
        reply: Some(ReplyRoute {
            channel: outbox::chat_channel("telegram"),
            recipient: "7001".into(),
            on_success: ReplyTarget::New,
            on_refusal: ReplyTarget::New,
        }),
    };
    let outcome = app
        .engine
        .run_inbound(ana, parse("/sessions"), &inbound)
        .await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
}

/// Berlin is UTC+1 in December. Ana and Maria are paired, a session at 23:00 on 2 December, so
/// the 24-hour reminder falls due at 23:00 Berlin on 1 December: in the program's quiet hours
/// (21-8), it waits until 08:00 Berlin (07:00 UTC) for Ana; Maria turned hers off.
async fn a_reminder_in_quiet_hours_waits_for_the_morning_and_a_reply_does_not(app: &TestApp) {
    app.with_program().await;
    let ana = ana_maria_and_lee(app).await;
    app.admin("/program_set Spring timezone Europe/Berlin")
        .await;
    assert!(
        app.admin("/program_set Spring")
            .await
            .text
            .contains("quiet_hours = 21-08")
    );
    app.admin("/assign ana@example.org maria@example.org").await;
    app.run(&ana, "/session_book at:\"2026-12-02 23:00\"")
        .await
        .expect("booked");
    let maria = app.chat("7002");
    let off = app
        .run(&maria, "/me quiet:off")
        .await
        .expect("quiet off")
        .text;
    assert!(off.contains("Quiet hours: off"), "{off}");
    // /upcoming tells beforehand: the reminder is due at 23:00, and Ana's waits until 08:00
    // (Maria's goes at once).
    let ahead = app.admin("/upcoming Spring hours:14").await.text;
    assert!(
        ahead.contains("Tue 01 Dec 23:00 CET · session #")
            && ahead.contains(
                "24-hour reminder to Ana Mentee and Maria Mentor; quiet hours: Ana Mentee's waits until Wed 08:00 CET"
            ),
        "{ahead}"
    );
    assert!(!ahead.contains("Maria Mentor's waits"), "{ahead}");
    let fake = Fake::start().await;
    deliver(app, &fake).await; // what the morning's commands queued

    app.clock.advance(Duration::hours(13)); // 22:00 UTC, 23:00 in Berlin
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .session_reminders,
        1
    );
    let held = rows(app, "session_reminder", "ana@example.org").await;
    assert_eq!(held.len(), 2, "chat and email: {held:?}");
    assert!(
        held.iter().all(|m| m.not_before == Some(utc(2, 7, 0, 0))),
        "{held:?}"
    );
    let maria_rows = rows(app, "session_reminder", "maria@example.org").await;
    assert!(
        maria_rows.iter().all(|m| m.not_before.is_none()),
        "{maria_rows:?}"
    );
    // A command at 23:00 is answered at once, though a held reminder is older in the same chat.
    let earlier = texts_to(&fake, 7001).len();
    sessions_from_chat(app, &ana, "u-night").await;
    let mailed = deliver(app, &fake).await;
    let to_ana = texts_to(&fake, 7001).split_off(earlier);
    assert!(
        to_ana.iter().any(|t| t.contains("with Maria Mentor")),
        "the reply: {to_ana:?}"
    );
    assert!(
        !to_ana
            .iter()
            .any(|t| t.starts_with("Reminder: your session")),
        "{to_ana:?}"
    );
    assert!(
        texts_to(&fake, 7002)
            .iter()
            .any(|t| t.starts_with("Reminder: your session with Ana")),
        "Maria's quiet hours are off"
    );
    assert!(
        mailed
            .iter()
            .any(|m| m.starts_with("maria@example.org In 24 hours")),
        "{mailed:?}"
    );
    assert!(
        !mailed
            .iter()
            .any(|m| m.starts_with("ana@example.org In 24 hours")),
        "{mailed:?}"
    );

    to(app, utc(2, 6, 59, 59)); // 07:59:59 in Berlin
    let mailed = deliver(app, &fake).await;
    assert!(mailed.is_empty(), "{mailed:?}");
    assert!(
        !texts_to(&fake, 7001)
            .iter()
            .any(|t| t.starts_with("Reminder: your session"))
    );
    to(app, utc(2, 7, 0, 0)); // 08:00 in Berlin
    let mailed = deliver(app, &fake).await;
    assert!(
        mailed
            .iter()
            .any(|m| m.starts_with("ana@example.org In 24 hours")),
        "{mailed:?}"
    );
    let reminded: Vec<String> = texts_to(&fake, 7001)
        .into_iter()
        .filter(|t| t.starts_with("Reminder: your session with Maria"))
        .collect();
    assert_eq!(reminded.len(), 1, "once: {reminded:?}");
    assert!(
        rows(app, "session_reminder", "ana@example.org")
            .await
            .iter()
            .all(|m| m.status == "sent")
    );
    deliver(app, &fake).await;
    assert_eq!(
        texts_to(&fake, 7001)
            .iter()
            .filter(|t| t.starts_with("Reminder: your session"))
            .count(),
        1,
        "a second pass sends nothing again"
    );
}

/// An offer whose deadline is 23:00 Berlin expires then, quiet hours or not; its reminder at
/// 21:00 waits for the morning, and so does the edit that takes the reminder's buttons away.
async fn an_offer_expires_at_its_deadline_in_quiet_hours(app: &TestApp) {
    app.with_program().await;
    let ana = ana_maria_and_lee(app).await;
    app.admin("/program_set Spring timezone Europe/Berlin")
        .await;
    app.admin("/program_set Spring offer_reminder_before 2h")
        .await;
    app.admin("/program_set Spring offer_ttl 13h").await;
    let offer = ana_chooses_maria(app, &ana).await;
    assert_eq!(offer.deadline_at, Some(utc(1, 22, 0, 0)), "23:00 in Berlin");
    to(app, utc(1, 20, 0, 0)); // 21:00 in Berlin: the reminder's time, and quiet
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .offer_reminders,
        1
    );
    let reminders = rows(app, "offer_reminder", "maria@example.org").await;
    assert!(
        !reminders.is_empty()
            && reminders
                .iter()
                .all(|m| m.not_before == Some(utc(2, 7, 0, 0))),
        "{reminders:?}"
    );
    to(app, utc(1, 22, 0, 0));
    assert_eq!(
        timers::run_due(&app.engine)
            .await
            .expect("timers")
            .offers_expired,
        1
    );
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let expired = store::offers::get(&mut c, offer.id)
        .await
        .expect("get")
        .expect("offer");
    drop(c);
    assert_eq!(expired.state, OfferState::Expired);
    assert_eq!(
        expired.decided_at,
        Some(utc(1, 22, 0, 0)),
        "at its deadline"
    );
    assert!(
        pending_of(app, "ana@example.org").await.is_none(),
        "her only choice"
    );
    // The notice of what became of it is no reminder: it goes at once.
    let outcome = rows(app, "offer_outcome", "ana@example.org").await;
    assert!(
        !outcome.is_empty() && outcome.iter().all(|m| m.not_before.is_none()),
        "{outcome:?}"
    );
    // The edit of a held reminder waits with it, so it never overtakes the message it edits.
    let edits = rows(app, "offer_closed", "maria@example.org").await;
    let edit = edits
        .iter()
        .find(|m| m.edits.as_deref().is_some_and(|k| k.contains(":reminder")))
        .expect("the reminder's edit");
    assert_eq!(edit.not_before, Some(utc(2, 7, 0, 0)));
}

/// Bad values are refused naming the fix, and change nothing; good ones are shown by `/me`.
async fn quiet_hours_and_time_zones_are_checked(app: &TestApp) {
    app.with_program().await;
    let ana = ana_maria_and_lee(app).await;
    for (line, says) in [
        ("/me quiet:25-7", "21-8"),
        ("/me quiet:21", "21-8"),
        ("/me quiet:8-8", "off"),
        ("/me tz:Mars/Base", "Europe/Lisbon"),
        ("/me quiet:22-07 tz:Mars/Base", "Europe/Lisbon"),
    ] {
        let e = app
            .run(&ana, line)
            .await
            .err()
            .map(|e| e.user_message())
            .unwrap_or_default();
        assert!(e.contains(says), "{line}: {e}");
    }
    let id = app.user_id("ana@example.org").await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let unchanged = store::users::quiet_of(&mut c, &[id]).await.expect("quiet");
    drop(c);
    assert_eq!(
        unchanged.get(&id).and_then(|q| q.hours.clone()),
        None,
        "a refused /me changes nothing"
    );
    let shown = app.run(&ana, "/me").await.expect("me").text;
    assert!(
        shown.contains("Quiet hours: 21-08 in UTC (your program's)"),
        "{shown}"
    );
    let set = app
        .run(&ana, "/me quiet:22-07 tz:Europe/Lisbon")
        .await
        .expect("me")
        .text;
    assert!(
        set.contains("Quiet hours: 22-07 in Europe/Lisbon (yours)"),
        "{set}"
    );
    let e = app
        .admin_err("/program_set Spring quiet_hours 9")
        .await
        .user_message();
    assert!(e.contains("quiet_hours") && e.contains("21-8"), "{e}");
    app.admin("/program_set Spring quiet_hours off").await;
    assert!(
        app.admin("/program_set Spring")
            .await
            .text
            .contains("quiet_hours = off")
    );
}

/// A session cancelled in the night: the reminder held for Ana's quiet hours is withdrawn with
/// it and never goes; the cancellation goes at once; Maria (quiet hours off) had hers at once.
async fn a_session_cancelled_in_the_night_is_not_reminded_in_the_morning(app: &TestApp) {
    app.with_program().await;
    let ana = ana_maria_and_lee(app).await;
    app.admin("/program_set Spring timezone Europe/Berlin")
        .await;
    app.admin("/assign ana@example.org maria@example.org").await;
    app.run(&ana, "/session_book at:\"2026-12-02 23:00\"")
        .await
        .expect("booked");
    let maria = app.chat("7002");
    app.run(&maria, "/me quiet:off").await.expect("quiet off");
    let fake = Fake::start().await;
    deliver(app, &fake).await;
    let id = app.count("SELECT MAX(id) AS n FROM sessions").await;

    app.clock.advance(Duration::hours(13)); // 23:00 in Berlin: the 24-hour reminder is due
    timers::run_due(&app.engine).await.expect("timers");
    let held = rows(app, "session_reminder", "ana@example.org").await;
    assert!(
        held.len() == 2 && held.iter().all(|m| m.not_before.is_some()),
        "{held:?}"
    );
    deliver(app, &fake).await;

    app.clock.advance(Duration::minutes(30));
    let cancelled = app
        .run(&maria, &format!("/session_cancel {id}"))
        .await
        .expect("cancel");
    assert!(cancelled.text.contains("cancelled"), "{}", cancelled.text);
    let withdrawn = rows(app, "session_reminder", "ana@example.org").await;
    assert!(
        withdrawn.iter().all(|m| m.status == "sent"
            && m.last_error
                .as_deref()
                .is_some_and(|e| e.contains("cancelled"))),
        "{withdrawn:?}"
    );
    // Maria's went before the cancellation and stays as it was.
    assert!(
        rows(app, "session_reminder", "maria@example.org")
            .await
            .iter()
            .all(|m| m.last_error.is_none())
    );
    deliver(app, &fake).await;
    assert!(
        texts_to(&fake, 7001)
            .iter()
            .any(|t| t.contains("cancelled")),
        "the cancellation goes at once: {:?}",
        texts_to(&fake, 7001)
    );
    to(app, utc(2, 7, 0, 0)); // 08:00 in Berlin
    let mailed = deliver(app, &fake).await;
    assert!(
        !mailed
            .iter()
            .any(|m| m.starts_with("ana@example.org In 24 hours")),
        "{mailed:?}"
    );
    assert!(
        !texts_to(&fake, 7001)
            .iter()
            .any(|t| t.starts_with("Reminder: your session")),
        "{:?}",
        texts_to(&fake, 7001)
    );
}

/// A session inside Ana's quiet hours (06:00 Berlin): its 24-hour reminder, due at 06:00 the
/// day before, waits until 08:00 (still a day ahead); its 1-hour reminder, due at 05:00, would
/// wait until after the session began, so it goes at once — and `/upcoming` says the same.
async fn a_reminder_is_never_held_past_the_session_it_reminds_of(app: &TestApp) {
    app.with_program().await;
    let ana = ana_maria_and_lee(app).await;
    app.admin("/program_set Spring timezone Europe/Berlin")
        .await;
    app.admin("/assign ana@example.org maria@example.org").await;
    app.run(&ana, "/session_book at:\"2026-12-03 06:00\"")
        .await
        .expect("booked");
    let held = |lead: &'static str| async move {
        rows(app, "session_reminder", "ana@example.org")
            .await
            .into_iter()
            .filter(|m| m.idempotency_key.contains(&format!(":{lead}:")))
            .map(|m| m.not_before)
            .collect::<Vec<_>>()
    };

    to(app, utc(2, 5, 0, 0)); // 06:00 Berlin, a day ahead
    timers::run_due(&app.engine).await.expect("timers");
    assert_eq!(
        held("24 hours").await,
        [Some(utc(2, 7, 0, 0)), Some(utc(2, 7, 0, 0))],
        "chat and email wait until 08:00"
    );

    to(app, utc(3, 3, 30, 0)); // 04:30 Berlin
    let ahead = app.admin("/upcoming Spring hours:2").await.text;
    assert!(
        ahead.contains("1-hour reminder to Ana Mentee and Maria Mentor")
            && !ahead.contains("Ana Mentee's waits"),
        "{ahead}"
    );
    to(app, utc(3, 4, 0, 0)); // 05:00 Berlin, an hour ahead
    timers::run_due(&app.engine).await.expect("timers");
    assert_eq!(
        held("1 hour").await,
        [None, None],
        "not held past 06:00: it goes now"
    );
}

both_backends!(
    a_reminder_is_never_held_past_the_session_it_reminds_of,
    a_reminder_in_quiet_hours_waits_for_the_morning_and_a_reply_does_not,
    a_session_cancelled_in_the_night_is_not_reminded_in_the_morning,
    an_offer_expires_at_its_deadline_in_quiet_hours,
    quiet_hours_and_time_zones_are_checked,
);
