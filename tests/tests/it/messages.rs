//! Messages a person can follow (issue 14, docs/domain.md#notifications): no message repeats
//! the one before it, a cause comes before its effect, no message asks for a choice from an
//! empty list, a button that can no longer do anything is taken off (docs/domain.md#edited-messages,
//! through the command layer on both backends, and on the fake Telegram and Discord APIs), the
//! questionnaire shows the picks so far, and counts agree with their nouns.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use mentorops_core::store::{self, outbox};
use mentorops_core::timers;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::{TestApp, ana_maria_and_lee, pending_of, persona_of, world};

/// `email`'s chat messages (not edits), oldest first.
async fn chats(app: &TestApp, email: &str) -> Vec<outbox::Message> {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.channel.starts_with("chat:") && m.edits.is_none())
        .collect()
}

/// `email`'s edits of earlier chat messages, oldest first.
async fn edits(app: &TestApp, email: &str) -> Vec<outbox::Message> {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.edits.is_some())
        .collect()
}

/// Where the first of `rows` whose text contains `needle` is.
fn position(rows: &[outbox::Message], needle: &str) -> usize {
    rows.iter()
        .position(|m| m.body_text.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no message holds '{needle}': {:#?}",
                rows.iter().map(|m| &m.body_text).collect::<Vec<_>>()
            )
        })
}

async fn choosing_is_told_once_and_each_cause_comes_before_its_effect(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
    );
    let before = chats(app, "ana@example.org").await.len();
    let reply = app
        .run(&w.ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    assert!(
        reply.text.contains("Your request went to Maria Mentor"),
        "{}",
        reply.text
    );
    // The reply said it: no chat message saying it again.
    let after = chats(app, "ana@example.org").await;
    assert_eq!(
        after.len(),
        before,
        "{:?}",
        after.iter().map(|m| &m.body_text).collect::<Vec<_>>()
    );

    // Maria declines: Ana hears that first, then who has her request now.
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.run(&w.maria, &format!("/decline {}", offer.id))
        .await
        .expect("decline");
    let rows = chats(app, "ana@example.org").await;
    let declined = position(&rows, "Your request to Maria Mentor was declined");
    let went = position(&rows, "Your request went to Lee Mentor");
    assert!(declined < went, "cause before effect");

    // Lee leaves: the withdrawal first, then the round running out (Tom left to choose).
    app.admin("/deactivate lee@example.org confirm:yes").await;
    let rows = chats(app, "ana@example.org").await;
    let withdrawn = position(&rows, "Your request to Lee Mentor was withdrawn");
    let ran_out = position(&rows, "None of the mentors you chose can take you");
    assert!(withdrawn < ran_out, "cause before effect");
    // The outcome does not say what the next message says.
    assert!(
        !rows[withdrawn].body_text.contains("choose"),
        "{}",
        rows[withdrawn].body_text
    );
    let again = &rows[ran_out].body_text;
    assert!(
        again.contains("Please choose again") && again.contains("Tom Mentor"),
        "{again}"
    );
    assert!(
        again.contains("Send /choose with that mentor"),
        "one mentor left: {again}"
    );
}

async fn a_round_run_out_with_no_mentor_left_asks_for_no_choice(app: &TestApp) {
    let w = world(app).await;
    app.admin("/deactivate lee@example.org confirm:yes").await;
    app.admin("/deactivate tom@example.org confirm:yes").await;
    let maria = persona_of(app, "maria@example.org").await;
    app.run(&w.ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(app, "ana@example.org").await.expect("offer");
    app.clock.advance(Duration::hours(73));
    timers::run_due(&app.engine).await.expect("timers");

    let rows = chats(app, "ana@example.org").await;
    let unanswered = position(
        &rows,
        "Your request to Maria Mentor was not answered in time",
    );
    let ran_out = position(&rows, "None of the mentors you chose can take you");
    assert!(unanswered < ran_out, "cause before effect");
    for text in [&rows[unanswered].body_text, &rows[ran_out].body_text] {
        assert!(
            !text.contains("choose again") && !text.contains("/choose with"),
            "no choice from an empty list: {text}"
        );
    }
    let told = &rows[ran_out].body_text;
    assert!(
        told.contains("no other mentor is available") && told.contains("program manager"),
        "{told}"
    );
    let mail = app.email_row("ana@example.org", "chain_exhausted").await;
    assert!(
        !mail.body_text.contains("choose again") && mail.body_text.contains("program manager"),
        "{}",
        mail.body_text
    );
    let staff = app.email_row("pm@example.org", "staff_alert").await;
    assert!(
        staff.body_text.contains("No other mentor is available")
            && !staff.body_text.contains("asked to choose again"),
        "{}",
        staff.body_text
    );

    // Maria's offer lost its buttons; a press on one left behind is still refused.
    let closed = edits(app, "maria@example.org").await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(
        closed[0].edits.as_deref(),
        Some(format!("offer:{}:sent:telegram:m-maria", offer.id).as_str())
    );
    assert!(
        closed[0].body_text.ends_with(
            "\n\n— This request expired on Fri 04 Dec 2026 09:00 UTC without an answer."
        ),
        "{}",
        closed[0].body_text
    );
    let e = app
        .run(&w.maria, &format!("/accept {}", offer.id))
        .await
        .expect_err("expired");
    assert!(e.user_message().contains("expired"), "{}", e.user_message());
}

async fn an_offer_closed_any_way_loses_its_buttons_on_every_message(app: &TestApp) {
    let w = world(app).await;
    let (maria, lee, tom) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
        persona_of(app, "tom@example.org").await,
    );
    app.run(&w.ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    let first = pending_of(app, "ana@example.org").await.expect("offer");
    // The reminder carries the buttons again: both messages are edited.
    app.clock.advance(Duration::hours(49));
    timers::run_due(&app.engine).await.expect("timers");
    app.run(&w.maria, &format!("/decline {}", first.id))
        .await
        .expect("decline");
    let closed = edits(app, "maria@example.org").await;
    let keys: Vec<&str> = closed.iter().filter_map(|m| m.edits.as_deref()).collect();
    assert_eq!(
        keys,
        [
            format!("offer:{}:sent:telegram:m-maria", first.id),
            format!("offer:{}:reminder:telegram:m-maria", first.id)
        ]
    );
    for m in &closed {
        let earlier = chats(app, "maria@example.org")
            .await
            .into_iter()
            .find(|e| Some(&e.idempotency_key) == m.edits.as_ref())
            .expect("the message edited");
        assert!(!earlier.buttons.is_empty(), "it had buttons");
        assert!(m.buttons.is_empty(), "the edit has none");
        assert_eq!(
            (m.channel.as_str(), m.recipient.as_str(), m.kind.as_str()),
            ("chat:telegram", "m-maria", "offer_closed")
        );
        assert!(m.body_text.starts_with(&earlier.body_text));
        assert!(
            m.body_text.contains("— You declined this request on"),
            "{}",
            m.body_text
        );
        assert_eq!(
            m.idempotency_key,
            format!("closed:{}", earlier.idempotency_key)
        );
    }

    // Accepted: Lee's offer message ends with the acceptance.
    let second = pending_of(app, "ana@example.org").await.expect("next");
    app.run(&w.lee, &format!("/accept {}", second.id))
        .await
        .expect("accept");
    let closed = edits(app, "lee@example.org").await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(
        closed[0]
            .body_text
            .contains("— You accepted this request on"),
        "{}",
        closed[0].body_text
    );

    // Withdrawn because the mentee left: Tom's offer from Ben.
    app.run(&w.ben, &format!("/choose #{tom}"))
        .await
        .expect("ben chooses");
    app.admin("/deactivate ben@example.org confirm:yes").await;
    let closed = edits(app, "tom@example.org").await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(
        closed[0]
            .body_text
            .contains("This request was withdrawn on")
            && closed[0]
                .body_text
                .ends_with(": the mentee is no longer available."),
        "{}",
        closed[0].body_text
    );
    // A press on a button left behind is refused as before.
    let e = app
        .run(&w.maria, &format!("/accept {}", first.id))
        .await
        .expect_err("declined");
    assert!(
        e.user_message().contains("You declined this offer"),
        "{}",
        e.user_message()
    );
}

async fn the_questionnaire_shows_the_picks_and_not_the_question_again(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Mentee\" ana@example.org +14155550611 mentee program:Spring")
        .await;
    let ana = app.link_chat("ana@example.org", "e-ana").await;
    let q2 = app.run(&ana, "/apply 1").await.expect("q1");
    assert!(
        q2.text.starts_with("Saved: Software.\nQuestion 2 of 7"),
        "{}",
        q2.text
    );
    let prompt = "Which languages can you hold a mentoring conversation in?";
    let mut texts = Vec::new();
    for (press, expect) in [
        ("1", "Added English. Chosen so far: English."),
        ("2", "Added Spanish. Chosen so far: English, Spanish."),
        ("1", "Removed English. Chosen so far: Spanish."),
    ] {
        let r = app
            .run(&ana, &format!("/apply q:languages answer:{press}"))
            .await
            .expect("press");
        assert!(r.text.starts_with(expect), "{}", r.text);
        assert!(!r.text.contains(prompt), "no question again: {}", r.text);
        assert!(r.buttons.iter().any(|b| b.label == "Done"));
        texts.push(r);
    }
    assert!(
        texts[2].buttons.iter().any(|b| b.label == "✓ Spanish")
            && !texts[2].buttons.iter().any(|b| b.label == "✓ English"),
        "{:?}",
        texts[2].buttons
    );
    // Back at the question, the picks are shown with it.
    let back = app.run(&ana, "/apply").await.expect("again");
    assert!(
        back.text.contains(prompt) && back.text.contains("Chosen so far: Spanish."),
        "{}",
        back.text
    );
    let q3 = app
        .run(&ana, "/apply q:languages answer:done")
        .await
        .expect("done");
    assert!(
        q3.text.starts_with("Saved: Spanish.\nQuestion 3 of 7"),
        "{}",
        q3.text
    );
}

async fn counts_agree_with_their_nouns(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring max_choices 1").await;
    let mentors = app.run(&w.ana, "/mentors").await.expect("mentors").text;
    assert!(
        mentors.contains("Choose one: /choose #") && !mentors.contains("up to 1 "),
        "{mentors}"
    );
    let (maria, lee) = (
        persona_of(app, "maria@example.org").await,
        persona_of(app, "lee@example.org").await,
    );
    let e = app
        .run(&w.ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect_err("one only");
    assert!(
        e.user_message().contains("you may choose one mentor")
            && !e.user_message().contains("1 mentors"),
        "{}",
        e.user_message()
    );
}

both_backends!(
    choosing_is_told_once_and_each_cause_comes_before_its_effect,
    a_round_run_out_with_no_mentor_left_asks_for_no_choice,
    an_offer_closed_any_way_loses_its_buttons_on_every_message,
    the_questionnaire_shows_the_picks_and_not_the_question_again,
    counts_agree_with_their_nouns,
);

/// The offer to Maria (Telegram chat 7002) goes out with its buttons; when it expires, the
/// message Telegram took is edited by its id: the outcome below, no keyboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_takes_the_buttons_off_an_expired_offer() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ana = ana_maria_and_lee(&app).await;
    let maria = persona_of(&app, "maria@example.org").await;
    app.run(&ana, &format!("/choose #{maria}"))
        .await
        .expect("choose");
    let offer = pending_of(&app, "ana@example.org").await.expect("offer");
    let fake = Fake::start().await;
    let bot = mentorops_bot::telegram::bot_from_settings(&fake.settings()).expect("bot");
    let engine = app.shared_engine();
    mentorops_bot::telegram::deliver_due(engine.clone(), bot.clone())
        .await
        .expect("delivery");
    let sent = fake.to_chat("sendmessage", 7002);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(!sent[0]["reply_markup"].is_null(), "with its buttons");
    let key = format!("offer:{}:sent:telegram:7002", offer.id);
    let row = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        outbox::by_key(&mut c, &key)
            .await
            .expect("row")
            .expect("the offer message")
    };
    let message_id: i64 = row
        .sent_as
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("Telegram's id kept");

    app.clock.advance(Duration::hours(73));
    timers::run_due(&app.engine).await.expect("timers");
    mentorops_bot::telegram::deliver_due(engine.clone(), bot.clone())
        .await
        .expect("delivery");
    let edits: Vec<Value> = fake
        .calls("editmessagetext")
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0]["chat_id"].as_i64(), Some(7002));
    assert_eq!(edits[0]["message_id"].as_i64(), Some(message_id));
    assert!(
        edits[0]["reply_markup"].is_null(),
        "no keyboard: {}",
        edits[0]
    );
    let text = edits[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with(sent[0]["text"].as_str().unwrap_or("?"))
            && text.contains("This request expired on"),
        "{text}"
    );
    // The edit went once; nothing is left to send.
    assert_eq!(app.chat_rows("telegram", "pending").await.len(), 0);
    app.finish().await;
}

/// A Discord REST API that opens DM channels (channel id = the user's id), takes DMs (each a new
/// message id) and edits of them — or refuses the edits, as Discord does for a message it no
/// longer has (404, Unknown Message) — recording what it took.
#[derive(Clone, Default)]
struct DiscordApi {
    dms: Arc<Mutex<Vec<(String, String, Value)>>>,
    edits: Arc<Mutex<Vec<(String, Value)>>>,
    refused: Arc<Mutex<u32>>,
    refuse_edits: Arc<Mutex<bool>>,
}

impl DiscordApi {
    async fn start(&self) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let api = self.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let api = api.clone();
            async move { api.answer(&method, uri.path(), &body) }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, task)
    }

    fn answer(&self, method: &Method, path: &str, body: &[u8]) -> Response {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(path) = path.strip_prefix("/api/v10") else {
            return StatusCode::NOT_FOUND.into_response();
        };
        if *method == Method::POST && path == "/users/@me/channels" {
            let id = body["recipient_id"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body["recipient_id"].to_string());
            return axum::Json(json!({"id": id, "type": 1})).into_response();
        }
        let parts: Vec<&str> = path.split('/').collect();
        match (method.clone(), parts.as_slice()) {
            (Method::POST, ["", "channels", channel, "messages"]) => {
                let mut dms = self.dms.lock().expect("lock");
                let id = format!("{}", 1_400_000_000_000_000_000u64 + dms.len() as u64);
                dms.push((channel.to_string(), id.clone(), body.clone()));
                axum::Json(json!({"id": id, "channel_id": channel, "content": body["content"]}))
                    .into_response()
            }
            (Method::PATCH, ["", "channels", channel, "messages", message]) => {
                if *self.refuse_edits.lock().expect("lock") {
                    *self.refused.lock().expect("lock") += 1;
                    return (
                        StatusCode::NOT_FOUND,
                        axum::Json(json!({"code": 10008, "message": "Unknown Message"})),
                    )
                        .into_response();
                }
                self.edits
                    .lock()
                    .expect("lock")
                    .push((format!("{channel}/{message}"), body.clone()));
                axum::Json(json!({"id": message, "channel_id": channel})).into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

/// Maria's offer DM loses its buttons when it expires (`PATCH` of the message Discord gave an id
/// to, `components: []`); Lee's, when Discord refuses the edit, is given up quietly: marked done
/// with the reason, never tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_takes_the_buttons_off_and_gives_up_quietly_when_refused() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ana = ana_maria_and_lee(&app).await;
    for (email, account) in [("maria@example.org", "8002"), ("lee@example.org", "8003")] {
        let uid = app.user_id(email).await;
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        store::links::insert_link(&mut c, "discord", account, None, uid, app.engine.now())
            .await
            .expect("link");
    }
    let (maria, lee) = (
        persona_of(&app, "maria@example.org").await,
        persona_of(&app, "lee@example.org").await,
    );
    app.run(&ana, &format!("/choose #{maria} #{lee}"))
        .await
        .expect("choose");
    let api = DiscordApi::default();
    let (url, server) = api.start().await;
    let rest = crate::support::discord::rest(&url);
    let engine = app.shared_engine();
    let deliver = async || {
        mentorops_bot::discord::deliver_due(engine.clone(), rest.clone())
            .await
            .expect("delivery")
    };
    deliver().await;
    let offer_dm = api.dms.lock().expect("lock")[0].clone();
    assert_eq!(offer_dm.0, "8002");
    assert!(
        offer_dm.2["components"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "with its buttons: {}",
        offer_dm.2
    );

    // Maria's offer expires: her DM is edited in place; Lee gets the request.
    app.clock.advance(Duration::hours(73));
    timers::run_due(&app.engine).await.expect("timers");
    deliver().await;
    let edits = api.edits.lock().expect("lock").clone();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0].0, format!("8002/{}", offer_dm.1));
    assert_eq!(edits[0].1["components"], json!([]), "no buttons");
    let content = edits[0].1["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with(offer_dm.2["content"].as_str().unwrap_or("?"))
            && content.contains("This request expired on"),
        "{content}"
    );

    // Lee declines, and Discord will not edit his DM: given up, quietly and once.
    *api.refuse_edits.lock().expect("lock") = true;
    let second = pending_of(&app, "ana@example.org").await.expect("lee's");
    let lee_caller = app.chat("7003");
    app.run(&lee_caller, &format!("/decline {}", second.id))
        .await
        .expect("decline");
    deliver().await;
    assert_eq!(*api.refused.lock().expect("lock"), 1);
    let row = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        outbox::by_key(
            &mut c,
            &format!("closed:offer:{}:sent:discord:8003", second.id),
        )
        .await
        .expect("row")
        .expect("the edit")
    };
    assert_eq!(row.status, "sent", "done, not failed: {row:?}");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("Discord refused the edit")),
        "{row:?}"
    );
    assert!(app.chat_rows("discord", "failed").await.is_empty());
    deliver().await;
    assert_eq!(*api.refused.lock().expect("lock"), 1, "never retried");
    server.abort();
    app.finish().await;
}
