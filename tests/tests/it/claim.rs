//! The manual-match queue (docs/domain.md#manual-match): when a mentee's choices run out, the
//! program's managers get the best available mentors as buttons; the first press pairs through
//! the one pairing path and every other copy of the message is edited to say who claimed it;
//! presses at once pair once, a late press says what happened. And pairing a mentee another
//! way takes the buttons off their pending offer (docs/domain.md#edited-messages).

use futures::future::join_all;
use mentorops_core::Error;
use mentorops_core::command::Caller;
use mentorops_core::reply::Button;
use mentorops_core::status::MatchStatus;
use mentorops_core::store::{self, outbox};

use crate::both_backends;
use crate::support::people::LEE;
use crate::support::{TestApp, World, pending_of, persona_of, world};

/// `email`'s outbox rows of `kind`, oldest first.
async fn rows(app: &TestApp, email: &str, kind: &str) -> Vec<outbox::Message> {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

/// Everyone's rows of `kind`.
async fn all_of(app: &TestApp, kind: &str) -> Vec<outbox::Message> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::outbox::in_state(&mut c, "pending", 10_000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

struct Queue {
    w: World,
    paula: Caller,
    pete: Caller,
    /// The buttons of Paula's copy of the manual-match message.
    buttons: Vec<Button>,
}

/// The world with a second manager, Pete, and two more mentors (so more are available than the
/// message offers); Paula, Pete and Sara (the coordinator) linked to chat; `mentee` chose only
/// Maria, who declined, so their round ran out.
async fn ran_out(app: &TestApp, mentee: &str) -> Queue {
    let w = world(app).await;
    app.admin(
        "/staff_add \"Pete Pm\" pete@example.org +14155550103 program_manager program:Spring",
    )
    .await;
    for (name, email, phone, chat) in [
        ("Nia Mentor", "nia@example.org", "+14155550604", "m-nia"),
        ("Omar Mentor", "omar@example.org", "+14155550605", "m-omar"),
    ] {
        app.ready_person(name, email, phone, "mentor", LEE, chat)
            .await;
    }
    let paula = app.link_chat("pm@example.org", "s-paula").await;
    let pete = app.link_chat("pete@example.org", "s-pete").await;
    app.link_chat("sc@example.org", "s-sara").await;
    choose_maria_who_declines(app, &w, mentee).await;
    let mine = rows(app, "pm@example.org", "manual_match").await;
    assert_eq!(mine.len(), 1, "one message to Paula: {mine:?}");
    Queue {
        w,
        paula,
        pete,
        buttons: mine[0].buttons.clone(),
    }
}

async fn choose_maria_who_declines(app: &TestApp, w: &World, mentee: &str) {
    let maria = persona_of(app, "maria@example.org").await;
    let who = if mentee == "ana@example.org" {
        &w.ana
    } else {
        &w.ben
    };
    app.run(who, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(app, mentee).await.expect("offer");
    app.run(&w.maria, &format!("/decline {}", offer.id))
        .await
        .expect("decline");
}

fn refusal(r: Result<mentorops_core::reply::Reply, Error>) -> String {
    match r {
        Err(Error::Conflict(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The cast's email from their name: "Lee Mentor" is lee@example.org.
fn email_of(name: &str) -> String {
    let first = name.split(' ').next().unwrap_or_default();
    format!("{}@example.org", first.to_lowercase())
}

fn name_of(b: &Button) -> &str {
    b.label.trim_start_matches("Pair with ")
}

async fn each_manager_gets_the_best_mentors_and_the_first_press_claims_the_mentee(app: &TestApp) {
    let q = ran_out(app, "ana@example.org").await;
    let ana = persona_of(app, "ana@example.org").await;

    // Each manager: one message, three buttons, the mentee's own ranking (what /suggest shows
    // staff), without Maria, who declined; each command fits a Telegram button.
    let suggested: Vec<String> = app
        .admin("/suggest ana@example.org")
        .await
        .buttons
        .iter()
        .take(3)
        .map(|b| name_of(b).to_string())
        .collect();
    for email in ["pm@example.org", "pete@example.org"] {
        let msgs = rows(app, email, "manual_match").await;
        assert_eq!(msgs.len(), 1, "{email}: {msgs:?}");
        let offered: Vec<&str> = msgs[0].buttons.iter().map(name_of).collect();
        assert_eq!(offered, suggested, "{email}");
        assert!(!offered.contains(&"Maria Mentor"));
        for (b, name) in msgs[0].buttons.iter().zip(&suggested) {
            let mentor = persona_of(app, &email_of(name)).await;
            assert_eq!(b.command, format!("/claim {ana} {mentor} 1"));
            assert!(b.command.len() <= 64, "{}", b.command);
        }
        assert!(msgs[0].body_text.contains("ran out of mentor choices"));
    }
    // The coordinator cannot pair: she is told as before, without buttons; the super admin,
    // with managers there, is not asked either.
    let sara = rows(app, "sc@example.org", "staff_alert").await;
    assert!(
        sara.iter()
            .any(|m| m.channel == "chat:telegram" && m.buttons.is_empty())
    );
    assert!(rows(app, "sc@example.org", "manual_match").await.is_empty());
    assert!(
        rows(app, "admin@example.org", "manual_match")
            .await
            .is_empty()
    );

    // Paula presses the first: paired through `pair`, recorded as a claim.
    let first = &q.buttons[0];
    let done = app.run(&q.paula, &first.command).await.expect("claim");
    let claimed = format!("paired Ana Mentee with {}", name_of(first));
    assert!(
        done.text.contains(&format!("Claimed by you: {claimed}")),
        "{}",
        done.text
    );
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Matched
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM matches WHERE via = 'claim'")
            .await,
        1
    );
    // Pete's copy is edited (one edit row, naming his message); Paula's pressed one shows the
    // reply; nothing else is edited.
    let edits = all_of(app, "claimed").await;
    assert_eq!(edits.len(), 1, "{edits:?}");
    let petes = rows(app, "pete@example.org", "manual_match").await;
    assert_eq!(
        edits[0].edits.as_deref(),
        Some(petes[0].idempotency_key.as_str())
    );
    assert_eq!(edits[0].recipient, "s-pete");
    assert!(
        edits[0]
            .body_text
            .ends_with(&format!("\n\n— Claimed by Paula Pm: {claimed}.")),
        "{}",
        edits[0].body_text
    );
    assert!(edits[0].buttons.is_empty());

    // Pete presses another mentor: refused, naming who claimed Ana; Paula again: told she did.
    let late = refusal(app.run(&q.pete, &q.buttons[1].command).await);
    assert!(
        late.contains(&format!("Claimed by Paula Pm: {claimed} on")),
        "{late}"
    );
    assert!(late.contains("Nothing was changed"), "{late}");
    let again = refusal(app.run(&q.paula, &first.command).await);
    assert!(again.contains("You claimed Ana Mentee already"), "{again}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    assert_eq!(all_of(app, "claimed").await.len(), 1);
}

async fn presses_at_once_pair_once_and_the_losers_hear_who_claimed(app: &TestApp) {
    let q = ran_out(app, "ana@example.org").await;
    let ana = persona_of(app, "ana@example.org").await;
    let mut locked = vec![ana];
    for b in &q.buttons {
        let mentor = b
            .command
            .split(' ')
            .nth(2)
            .and_then(|n| n.parse().ok())
            .expect("mentor");
        locked.push(mentor);
    }
    // Paula presses the first mentor twice, Pete the second, all at once.
    let presses = [
        (&q.paula, "Paula Pm", &q.buttons[0].command),
        (&q.pete, "Pete Pm", &q.buttons[1].command),
        (&q.paula, "Paula Pm", &q.buttons[0].command),
    ];
    let gate = app.close_gate(&locked, &[]).await;
    let (results, ()) = tokio::join!(
        join_all(presses.iter().map(|(who, _, line)| app.run(who, line))),
        TestApp::open_gate(gate)
    );
    let won: Vec<usize> = (0..results.len()).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    let winner = presses[won[0]].1;
    for (i, r) in results.into_iter().enumerate() {
        if i == won[0] {
            continue;
        }
        let why = refusal(r);
        let expected = if presses[i].1 == winner {
            "You claimed Ana Mentee already".to_string()
        } else {
            format!("Claimed by {winner}: paired Ana Mentee with")
        };
        assert!(why.contains(&expected), "press {i}: {why}");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    let mut matched = 0;
    for id in &locked[1..] {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let p = store::users::persona(&mut c, *id)
            .await
            .expect("read")
            .expect("persona");
        matched += usize::from(p.match_status == MatchStatus::Matched);
    }
    assert_eq!(matched, 1, "one mentor paired");
    // Only the winner's edits were kept: the other manager's copy, once.
    assert_eq!(all_of(app, "claimed").await.len(), 1);
}

async fn a_press_after_the_mentee_chose_again_or_was_paired_another_way_is_refused(app: &TestApp) {
    let q = ran_out(app, "ana@example.org").await;
    let tom = persona_of(app, "tom@example.org").await;

    // Ana chooses again: her request is out, so the queue's press does not overrule it.
    app.run(&q.w.ana, &format!("/choose #{tom}"))
        .await
        .expect("choose");
    let why = refusal(app.run(&q.paula, &q.buttons[0].command).await);
    assert!(
        why.contains("Ana Mentee has chosen again since: their request is with Tom Mentor"),
        "{why}"
    );
    // Tom accepts: a press now says how she was paired.
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.run(&q.w.tom, &format!("/accept {}", offer.id))
        .await
        .expect("accept");
    let why = refusal(app.run(&q.pete, &q.buttons[1].command).await);
    assert!(
        why.contains("Ana Mentee was paired with Tom Mentor on")
            && why.contains("Tom Mentor accepted their request"),
        "{why}"
    );

    // Ben runs out too; the super admin pairs him with /assign before anyone presses.
    choose_maria_who_declines(app, &q.w, "ben@example.org").await;
    let ben_msg = rows(app, "pm@example.org", "manual_match").await;
    let ben_buttons = &ben_msg.last().expect("Ben's message").buttons;
    let lee = ben_buttons
        .iter()
        .find(|b| name_of(b) == "Lee Mentor")
        .map(|b| name_of(b).to_string())
        .unwrap_or_else(|| name_of(&ben_buttons[0]).to_string());
    app.admin(&format!("/assign ben@example.org {}", email_of(&lee)))
        .await;
    let why = refusal(app.run(&q.paula, &ben_buttons[0].command).await);
    assert!(
        why.contains(&format!("Ben Mentee was paired with {lee} on"))
            && why.contains("by Ada Admin (/assign)"),
        "{why}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 2);
    // Both pairings took the buttons off the managers' copies, saying how it was done; the
    // coordinator's alert had none and is left as it was.
    let edited = all_of(app, "claimed").await;
    let mut said: Vec<(String, String)> = edited
        .iter()
        .map(|m| {
            assert!(m.buttons.is_empty(), "{m:?}");
            let tail = m.body_text.rsplit("\n\n— ").next().unwrap_or_default();
            (m.recipient.clone(), tail.to_string())
        })
        .collect();
    said.sort();
    let ana = "Paired another way: Ana Mentee with Tom Mentor: Tom Mentor accepted their request.";
    let ben = format!("Paired another way: Ben Mentee with {lee}, by Ada Admin (/assign).");
    assert_eq!(
        said,
        [
            ("s-paula".to_string(), ana.to_string()),
            ("s-paula".to_string(), ben.clone()),
            ("s-pete".to_string(), ana.to_string()),
            ("s-pete".to_string(), ben),
        ],
        "{edited:?}"
    );
    assert!(
        edited
            .iter()
            .all(|m| m.edits.as_deref().is_some_and(|k| k.starts_with("round:"))),
        "{edited:?}"
    );
}

async fn pairing_a_mentee_by_hand_takes_the_buttons_off_their_pending_offer(app: &TestApp) {
    let w = world(app).await;
    let maria = persona_of(app, "maria@example.org").await;
    app.run(&w.ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.admin("/assign ana@example.org lee@example.org").await;
    let closed: Vec<outbox::Message> = rows(app, "maria@example.org", "offer_closed").await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(
        closed[0].edits.as_deref(),
        Some(format!("offer:{}:sent:telegram:m-maria", offer.id).as_str())
    );
    assert!(
        closed[0].body_text.ends_with(
            "\n\n— This request was withdrawn on Tue 01 Dec 2026 09:00 UTC: the mentee has been paired."
        ),
        "{}",
        closed[0].body_text
    );
    assert!(closed[0].buttons.is_empty());
}

async fn without_a_manager_the_super_admins_are_asked(app: &TestApp) {
    let w = world(app).await;
    let ada = app.link_chat("admin@example.org", "s-ada").await;
    app.link_chat("sc@example.org", "s-sara").await;
    app.admin("/deactivate pm@example.org").await;
    choose_maria_who_declines(app, &w, "ana@example.org").await;
    let asked = rows(app, "admin@example.org", "manual_match").await;
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(rows(app, "sc@example.org", "manual_match").await.is_empty());
    assert!(rows(app, "pm@example.org", "manual_match").await.is_empty());
    let done = app.run(&ada, &asked[0].buttons[0].command).await;
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(
        app.personas("ana@example.org").await[0].match_status,
        MatchStatus::Matched
    );
}

both_backends!(
    without_a_manager_the_super_admins_are_asked,
    each_manager_gets_the_best_mentors_and_the_first_press_claims_the_mentee,
    presses_at_once_pair_once_and_the_losers_hear_who_claimed,
    a_press_after_the_mentee_chose_again_or_was_paired_another_way_is_refused,
    pairing_a_mentee_by_hand_takes_the_buttons_off_their_pending_offer,
);
