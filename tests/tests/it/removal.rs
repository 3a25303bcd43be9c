//! Permanent delete and export.

use crate::both_backends;
use crate::support::TestApp;
use mentorops_core::Error;
use mentorops_core::status::MatchStatus;

async fn delete_is_two_steps_exports_first_and_leaves_no_trace_of_the_person(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550401 mentee program:Spring tags:school=Northside").await;
    app.admin("/user_add \"Bruno Reis\" bruno@example.org +14155550402 mentor program:Spring")
        .await;
    for who in ["ana@example.org", "bruno@example.org"] {
        app.admin(&format!("/status {who} A reason:\"screened {who}\""))
            .await;
        app.admin(&format!("/match_status {who} RTBM")).await;
    }
    app.admin("/assign ana@example.org bruno@example.org").await;
    let code = app.code_for("ana@example.org").await;
    assert!(
        app.run(&app.chat("555"), &format!("/link {code}"))
            .await
            .is_ok()
    );
    let ana_id = app.user_id("ana@example.org").await;
    // A command about her came in over Telegram and was answered: the update and its reply
    // name her too (docs/chat-edge.md).
    let key = mentorops_core::store::inbox::Key {
        platform: "telegram".into(),
        update_key: "4242".into(),
        lane: "900".into(),
    };
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        mentorops_core::store::inbox::receive(
            &mut c,
            &key,
            r#"{"update_id":4242,"message":{"text":"/user_show ana@example.org"}}"#,
            app.engine.now(),
        )
        .await
        .expect("receive");
    }
    let inbound = mentorops_core::command::Inbound {
        key,
        received: true,
        reply: Some(mentorops_core::command::ReplyRoute {
            channel: "chat:telegram".into(),
            recipient: "900".into(),
            on_success: mentorops_core::command::ReplyTarget::New,
            on_refusal: mentorops_core::command::ReplyTarget::New,
        }),
    };
    let answered = app
        .engine
        .settle(
            &inbound,
            &mentorops_core::reply::Reply::text("Ana Lima, ana@example.org"),
            true,
        )
        .await;
    assert!(matches!(answered, Ok(true)), "{answered:?}");
    assert!(!app.places_holding("ana@example.org").await.is_empty());

    // Only a super admin may delete.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    assert!(matches!(
        app.run(&pm, "/delete ana@example.org").await,
        Err(Error::Forbidden(_))
    ));

    // Step one: an export of everything, and a confirmation; nothing deleted yet.
    let ask = app.admin("/delete ana@example.org").await;
    assert_eq!(ask.attachments.len(), 1);
    let export: serde_json::Value =
        serde_json::from_slice(&ask.attachments[0].bytes).expect("json export");
    assert_eq!(export["user"]["email"], "ana@example.org");
    assert_eq!(export["tags"]["school"], "Northside");
    assert_eq!(export["chat_links"][0]["account_id"], "555");
    assert!(
        export["audit_log"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    assert!(ask.text.contains("closes match"), "{}", ask.text);
    let confirm = ask.buttons[0].command.clone();
    assert!(
        confirm.starts_with(&format!("/delete #{ana_id} confirm:")),
        "{confirm}"
    );
    assert!(app.user_id("ana@example.org").await > 0);

    // A wrong token, or someone else's, changes nothing.
    let e = app
        .admin_err(&format!("/delete #{ana_id} confirm:WRONGTKN"))
        .await;
    assert!(e.to_string().contains("does not match"), "{e}");

    let done = app.admin(&confirm).await;
    assert!(done.text.contains("permanently deleted"), "{}", done.text);
    for needle in ["ana@example.org", "+14155550401", "Ana Lima", "Northside"] {
        let places = app.places_holding(needle).await;
        assert!(places.is_empty(), "{needle} is still in {places:?}");
    }
    // The counterpart's match is closed; one audit entry without personal data remains.
    assert_eq!(
        app.personas("bruno@example.org").await[0].match_status,
        MatchStatus::Closed
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE field = 'deleted'")
            .await,
        1
    );
    assert!(
        matches!(
            app.run(&app.chat("555"), "/me").await,
            Err(Error::Forbidden(_))
        ),
        "the chat link is gone"
    );
    let e = app.admin_err(&confirm).await;
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn a_delete_confirmation_expires(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550401 mentee program:Spring")
        .await;
    let ask = app.admin("/delete ana@example.org").await;
    app.clock.advance(chrono::Duration::minutes(16));
    let e = app.admin_err(&ask.buttons[0].command).await;
    assert!(e.to_string().contains("expired"), "{e}");
    assert!(app.user_id("ana@example.org").await > 0);
}

async fn export_gives_csv_or_json_of_people_and_personas(app: &TestApp) {
    app.with_program().await;
    app.admin(
        "/user_add \"Ana Lima\" ana@example.org +14155550401 mentee program:Spring tags:lang=pt",
    )
    .await;
    let csv = app.admin("/export program:Spring").await;
    let text = String::from_utf8(csv.attachments[0].bytes.clone()).expect("utf8");
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("id,full_name,email,phone"))
    );
    assert!(
        text.contains("ana@example.org")
            && text.contains("lang=pt")
            && text.contains("mentee,Acme/Spring,active,N/A"),
        "{text}"
    );
    let json = app.admin("/export format:json").await;
    let v: serde_json::Value = serde_json::from_slice(&json.attachments[0].bytes).expect("json");
    assert!(
        v.as_array()
            .is_some_and(|a| a.iter().any(|u| u["email"] == "ana@example.org"))
    );
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    assert!(
        matches!(app.run(&pm, "/export").await, Err(Error::Forbidden(_))),
        "raw export is the super admin's"
    );
}

both_backends!(
    delete_is_two_steps_exports_first_and_leaves_no_trace_of_the_person,
    a_delete_confirmation_expires,
    export_gives_csv_or_json_of_people_and_personas,
);
