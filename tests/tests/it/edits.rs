//! `/user_edit` (name, email, phone, external ID, tags; each change audited and revertible) and
//! `/nudge` (a reminder now, by chat and email).

use mentorops_core::Error;
use mentorops_core::store::{self, audit::AuditEntry, outbox::Message};

use crate::both_backends;
use crate::support::TestApp;
use crate::support::people::{ANA_MENTEE, MARIA_MENTOR};

/// The audit entries about `email`'s person, newest first.
async fn entries(app: &TestApp, email: &str) -> Vec<AuditEntry> {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::audit::list(&mut c, Some(id), 500)
        .await
        .expect("audit")
}

/// The newest entry about `email`'s person for `field`.
async fn entry(app: &TestApp, email: &str, field: &str) -> AuditEntry {
    entries(app, email)
        .await
        .into_iter()
        .find(|e| e.field == field)
        .unwrap_or_else(|| panic!("no {field} entry for {email}"))
}

/// Every outbox row addressed to `email`'s person.
async fn outbox_of(app: &TestApp, email: &str) -> Vec<Message> {
    let id = app.user_id(email).await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::outbox::by_recipient(&mut c, id)
        .await
        .expect("outbox")
}

/// Ana's tags, as `key=value`.
async fn tags(app: &TestApp) -> Vec<String> {
    let id = app.user_id("ana@example.org").await;
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    store::users::tags(&mut c, id)
        .await
        .expect("tags")
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The nudges queued for Ana.
async fn nudges(app: &TestApp) -> Vec<Message> {
    outbox_of(app, "ana@example.org")
        .await
        .into_iter()
        .filter(|m| m.kind == "nudge")
        .collect()
}

async fn add(app: &TestApp, name: &str, email: &str, phone: &str, program: &str) {
    app.admin(&format!(
        "/user_add \"{name}\" {email} {phone} mentee program:{program}"
    ))
    .await;
}

async fn each_field_is_changed_with_one_audit_entry_and_its_undo(app: &TestApp) {
    app.with_program().await;
    add(app, "Ana Lima", "ana@example.org", "+14155550123", "Spring").await;
    let id = app.user_id("ana@example.org").await;
    let audits = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
    let reply = app
        .admin(
            "/user_edit ana@example.org name:\"Ana  Souza\" email:Ana.Souza@Example.org phone:\"+1 (415) 555-0124\" external_id:STU-7 reason:\"married; new number\"",
        )
        .await;
    let ana = app.user("ana.souza@example.org").await;
    assert_eq!(ana.id, id);
    assert_eq!(ana.full_name, "Ana Souza", "read as /user_add reads a name");
    assert_eq!(ana.phone.as_deref(), Some("+14155550124"));
    assert_eq!(ana.external_id.as_deref(), Some("STU-7"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        audits + 4,
        "one entry per changed field"
    );
    for (field, old, new) in [
        ("name", "Ana Lima", "Ana Souza"),
        ("email", "ana@example.org", "ana.souza@example.org"),
        ("phone", "+14155550123", "+14155550124"),
        ("external_id", "+14155550123", "STU-7"),
    ] {
        let e = entry(app, "ana.souza@example.org", field).await;
        assert_eq!(e.entity, "user");
        assert_eq!(e.old_value.as_deref(), Some(old), "{field}");
        assert_eq!(e.new_value.as_deref(), Some(new), "{field}");
        assert_eq!(e.reason.as_deref(), Some("married; new number"));
        assert!(
            reply.text.contains(&format!("undo with /revert {}", e.id)),
            "{field}: {}",
            reply.text
        );
    }
    assert!(
        reply
            .text
            .contains("email ana@example.org → ana.souza@example.org"),
        "{}",
        reply.text
    );

    // A program manager edits people in their programs; a field given with the value it has
    // is left alone, and a change to nothing at all is refused.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let r = app
        .run(
            &pm,
            "/user_edit ana.souza@example.org name:\"Ana Lima Souza\" external_id:STU-7",
        )
        .await
        .expect("pm edits");
    assert!(
        r.text.contains("Unchanged (already so): external ID."),
        "{}",
        r.text
    );
    assert_eq!(
        app.user("ana.souza@example.org").await.full_name,
        "Ana Lima Souza"
    );
    let e = app
        .admin_err("/user_edit ana.souza@example.org external_id:STU-7")
        .await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.starts_with("nothing to change")),
        "{e:?}"
    );
    let e = app.admin_err("/user_edit ana.souza@example.org").await;
    assert!(
        matches!(&e, Error::Input(m) if m.starts_with("say what to change")),
        "{e:?}"
    );
    // Values are checked as /user_add checks them.
    for (line, says) in [
        ("email:not-an-email", "is not an email address"),
        ("phone:12345", "has no country code"),
        ("name:\"/status x\"", "does not look like a name"),
        ("external_id:\"two words\"", "without spaces"),
    ] {
        let e = app
            .admin_err(&format!("/user_edit ana.souza@example.org {line}"))
            .await;
        assert!(
            matches!(&e, Error::Input(m) if m.contains(says)),
            "{line}: {e:?}"
        );
    }
    // Out of a program manager's scope, the person is not there.
    app.admin("/program_add Acme Autumn").await;
    add(app, "Oto Out", "out@example.org", "+14155550130", "Autumn").await;
    let e = app
        .run(&pm, "/user_edit out@example.org name:\"Oto In\"")
        .await
        .expect_err("out of scope");
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    // Coordinators add no one, so they edit no one.
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    let e = app
        .run(&sc, "/user_edit ana.souza@example.org name:\"X Y\"")
        .await
        .expect_err("sc");
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
}

async fn a_value_someone_else_holds_is_refused_naming_them_and_ones_own_is_not(app: &TestApp) {
    app.with_program().await;
    add(app, "Ana Lima", "ana@example.org", "+14155550123", "Spring").await;
    app.admin(
        "/user_add \"Bea Reis\" bea@example.org +14155550124 mentee program:Spring external_id:STU-2",
    )
    .await;
    let before = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
    for (line, says) in [
        (
            "email:BEA@example.org",
            "bea@example.org is already used by Bea Reis (#",
        ),
        (
            "phone:\"+1 415 555 0124\"",
            "phone +14155550124 is already used by Bea Reis <bea@example.org> (#",
        ),
        (
            "external_id:STU-2",
            "external ID STU-2 is already used by Bea Reis <bea@example.org> (#",
        ),
        // One taken value refuses the whole command, the free one included.
        (
            "name:\"Ana Nova\" email:bea@example.org",
            "bea@example.org is already used by Bea Reis",
        ),
    ] {
        let e = app
            .admin_err(&format!("/user_edit ana@example.org {line}"))
            .await;
        assert!(
            matches!(&e, Error::Conflict(m) if m.starts_with(says)),
            "{line}: {e:?}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        before
    );
    assert_eq!(app.user("ana@example.org").await.full_name, "Ana Lima");
    // Her own values are no conflict: given again with a new name, only the name changes.
    let r = app
        .admin(
            "/user_edit ana@example.org email:ana@example.org phone:+14155550123 name:\"Ana Nova\"",
        )
        .await;
    assert!(
        r.text.contains("Unchanged (already so): email, phone."),
        "{}",
        r.text
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        before + 1
    );
}

async fn revert_restores_the_old_value_unless_it_changed_since(app: &TestApp) {
    app.with_program().await;
    add(app, "Ana Lima", "ana@example.org", "+14155550123", "Spring").await;
    app.admin("/user_edit ana@example.org name:\"Ana Souza\"")
        .await;
    let first = entry(app, "ana@example.org", "name").await.id;
    app.admin("/user_edit ana@example.org name:\"Ana Costa\"")
        .await;
    let second = entry(app, "ana@example.org", "name").await.id;
    // The first edit is no longer current: refused, nothing changed.
    let e = app.admin_err(&format!("/revert {first}")).await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("has changed since entry") && m.contains("'Ana Costa'") && m.contains("revert the later change first")),
        "{e:?}"
    );
    assert_eq!(app.user("ana@example.org").await.full_name, "Ana Costa");
    // Newest first: each revert restores the value before it.
    let r = app.admin(&format!("/revert {second}")).await;
    assert!(r.text.contains("name Ana Costa → Ana Souza"), "{}", r.text);
    assert_eq!(app.user("ana@example.org").await.full_name, "Ana Souza");
    app.admin(&format!("/revert {first}")).await;
    assert_eq!(app.user("ana@example.org").await.full_name, "Ana Lima");
    let revert = entry(app, "ana@example.org", "name").await;
    assert_eq!(revert.reverts, Some(first));
    assert_eq!(
        (revert.old_value.as_deref(), revert.new_value.as_deref()),
        (Some("Ana Souza"), Some("Ana Lima"))
    );
    let e = app.admin_err(&format!("/revert {first}")).await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("reverted already")),
        "{e:?}"
    );

    // An email, a phone and an external ID come back too — unless someone took the old value.
    app.admin("/user_edit ana@example.org email:ana.lima@example.org phone:+14155550125 external_id:STU-1")
        .await;
    let email = entry(app, "ana.lima@example.org", "email").await.id;
    let phone = entry(app, "ana.lima@example.org", "phone").await.id;
    let ext = entry(app, "ana.lima@example.org", "external_id").await.id;
    add(
        app,
        "Ana Clone",
        "ana@example.org",
        "+14155550126",
        "Spring",
    )
    .await;
    let e = app.admin_err(&format!("/revert {email}")).await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.starts_with("ana@example.org is already used by Ana Clone")),
        "{e:?}"
    );
    app.admin(&format!("/revert {phone}")).await;
    app.admin(&format!("/revert {ext}")).await;
    let ana = app.user("ana.lima@example.org").await;
    assert_eq!(ana.phone.as_deref(), Some("+14155550123"));
    assert_eq!(ana.external_id.as_deref(), Some("+14155550123"));
    // Once the clone moves to another address, the old one comes back, with a fresh code.
    app.admin("/user_edit ana@example.org email:clone@example.org")
        .await;
    let r = app.admin(&format!("/revert {email}")).await;
    assert!(
        r.text
            .contains("email ana.lima@example.org → ana@example.org"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("A new link code is on its way to ana@example.org"),
        "{}",
        r.text
    );
    assert_eq!(app.user("ana@example.org").await.id, ana.id);
    assert_eq!(
        outbox_of(app, "ana@example.org")
            .await
            .iter()
            .filter(|m| m.kind == "email_changed" && m.recipient == "ana@example.org")
            .count(),
        1
    );
}

async fn tags_are_set_and_removed_by_a_super_admin_only(app: &TestApp) {
    app.with_program().await;
    add(app, "Ana Lima", "ana@example.org", "+14155550123", "Spring").await;
    let r = app
        .admin("/user_edit ana@example.org tags:+Cohort=2027,lang=es")
        .await;
    assert!(r.text.contains("tag cohort=2027 added"), "{}", r.text);
    assert_eq!(tags(app).await, ["cohort=2027", "lang=es"]);
    let r = app
        .admin("/user_edit ana@example.org tags:\"-lang, +cohort=2028\"")
        .await;
    assert!(r.text.contains("tag lang=es removed"), "{}", r.text);
    assert!(r.text.contains("tag cohort 2027 → 2028"), "{}", r.text);
    assert_eq!(tags(app).await, ["cohort=2028"]);
    let removed = entry(app, "ana@example.org", "tag:lang").await;
    assert_eq!(
        (removed.old_value.as_deref(), removed.new_value.as_deref()),
        (Some("es"), None)
    );
    let e = app
        .admin_err("/user_edit ana@example.org tags:-level")
        .await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("has no tag level") && m.contains("cohort=2028")),
        "{e:?}"
    );
    let e = app
        .admin_err("/user_edit ana@example.org tags:+a=1,-a")
        .await;
    assert!(
        matches!(&e, Error::Input(m) if m.contains("given twice")),
        "{e:?}"
    );

    // A program manager sets no tags, and reverts none: nothing changes.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let before = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
    let e = app
        .run(
            &pm,
            "/user_edit ana@example.org name:\"Ana Nova\" tags:+cohort=2029",
        )
        .await
        .expect_err("pm tags");
    assert!(
        matches!(&e, Error::Forbidden(m) if m.contains("super admin")),
        "{e:?}"
    );
    let e = app
        .run(&pm, &format!("/revert {}", removed.id))
        .await
        .expect_err("pm reverts a tag");
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        before
    );
    assert_eq!(tags(app).await, ["cohort=2028"]);

    // The super admin reverts a removal: the tag is back.
    app.admin(&format!("/revert {}", removed.id)).await;
    assert_eq!(tags(app).await, ["cohort=2028", "lang=es"]);
}

async fn a_new_email_gets_a_fresh_link_code_there_and_chat_links_stay(app: &TestApp) {
    app.with_program().await;
    let ana = app.ready(ANA_MENTEE).await;
    let old_code = app.link_code("ana@example.org").await;
    let out = app
        .outcome(
            &app.caller_for(app.admin_id),
            "/user_edit ana@example.org email:ana.lima@example.org",
        )
        .await;
    let reply = out.result.expect("edit");
    assert!(
        reply
            .text
            .contains("A new link code is on its way to ana.lima@example.org"),
        "{}",
        reply.text
    );
    let mails: Vec<Message> = outbox_of(app, "ana.lima@example.org")
        .await
        .into_iter()
        .filter(|m| m.kind == "email_changed")
        .collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].channel, "email");
    assert_eq!(
        mails[0].recipient, "ana.lima@example.org",
        "to the NEW address"
    );
    let code: String = mails[0]
        .body_text
        .split("/link ")
        .nth(1)
        .map(|s| s.chars().take(8).collect())
        .expect("a code in the email");
    assert!(
        mails[0]
            .body_html
            .as_deref()
            .unwrap_or_default()
            .contains(&code)
    );
    assert_ne!(code, old_code);
    // Her chat account stays linked and works; the code sent before no longer does; the new
    // one links a second account.
    assert!(app.run(&ana, "/me").await.is_ok());
    let e = app
        .run(&app.chat("e-ana-2"), &format!("/link {old_code}"))
        .await
        .expect_err("old code");
    assert!(matches!(e, Error::WrongLinkCode), "{e:?}");
    let linked = app
        .run(&app.chat("e-ana-3"), &format!("/link {code}"))
        .await;
    assert!(linked.is_ok(), "{linked:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM chat_links WHERE account_id IN ('e-ana', 'e-ana-3')")
            .await,
        2
    );

    // A staff member's email carries the code to a staff account: a program manager may not
    // change a colleague's, a super admin may.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let e = app
        .run(&pm, "/user_edit sc@example.org email:pm.too@example.org")
        .await
        .expect_err("pm changes the sc's email");
    assert!(
        matches!(&e, Error::Forbidden(m) if m.contains("is staff")),
        "{e:?}"
    );
    assert!(
        app.run(&pm, "/user_edit sc@example.org name:\"Sara Santos\"")
            .await
            .is_ok()
    );
    app.admin("/user_edit sc@example.org email:sara@example.org")
        .await;
}

async fn a_nudge_goes_by_chat_and_email_every_time_and_is_audited(app: &TestApp) {
    app.with_program().await;
    app.ready(ANA_MENTEE).await;
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    let r = app
        .run(
            &sc,
            "/nudge ana@example.org \"Your mentor is waiting to hear from you\"",
        )
        .await
        .expect("nudge");
    assert!(
        r.text.starts_with("Nudged Ana Mentee by chat and email"),
        "{}",
        r.text
    );
    let rows = nudges(app).await;
    assert_eq!(rows.len(), 2, "one chat row, one email");
    let chat = rows
        .iter()
        .find(|m| m.channel != "email")
        .expect("chat row");
    assert_eq!(chat.recipient, "e-ana");
    let mail = rows
        .iter()
        .find(|m| m.channel == "email")
        .expect("email row");
    assert_eq!(mail.recipient, "ana@example.org");
    for m in [chat, mail] {
        assert!(
            m.body_text
                .contains("Your mentor is waiting to hear from you"),
            "{}",
            m.body_text
        );
        assert!(
            m.body_text.contains("Sara Sc"),
            "who sends it: {}",
            m.body_text
        );
    }
    let e = entry(app, "ana@example.org", "nudged").await;
    assert_eq!(e.actor_user_id, Some(app.user_id("sc@example.org").await));
    assert_eq!(
        e.reason.as_deref(),
        Some("Your mentor is waiting to hear from you")
    );
    assert_eq!(e.new_value.as_deref(), Some("chat and email"));

    // A second nudge, without words, goes out too (its key holds its own audit entry).
    app.admin("/nudge ana@example.org").await;
    assert_eq!(nudges(app).await.len(), 4);
    assert_eq!(
        entries(app, "ana@example.org")
            .await
            .iter()
            .filter(|e| e.field == "nudged")
            .count(),
        2
    );
    // A nudge is not taken back.
    let e = app.admin_err(&format!("/revert {}", e.id)).await;
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("is a nudge")),
        "{e:?}"
    );
    // Participants do not nudge; at most 500 characters.
    let mentee = app.link_chat("ana@example.org", "e-ana-2").await;
    let e = app
        .run(&mentee, "/nudge ana@example.org")
        .await
        .expect_err("mentee");
    assert!(matches!(e, Error::Forbidden(_)), "{e:?}");
    let long = "x".repeat(501);
    let e = app
        .admin_err(&format!("/nudge ana@example.org \"{long}\""))
        .await;
    assert!(
        matches!(&e, Error::Input(m) if m.contains("keep it to 500")),
        "{e:?}"
    );
}

async fn a_nudge_out_of_scope_to_a_deactivated_person_or_to_staff_is_refused(app: &TestApp) {
    app.with_program().await;
    app.admin("/program_add Acme Autumn").await;
    add(app, "Oto Out", "out@example.org", "+14155550130", "Autumn").await;
    app.ready(MARIA_MENTOR).await;
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    let rows = app
        .count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'nudge'")
        .await;
    let e = app
        .run(&sc, "/nudge out@example.org")
        .await
        .expect_err("scope");
    assert!(
        matches!(&e, Error::NotFound(m) if m.contains("no one in your programs")),
        "{e:?}"
    );
    app.admin("/deactivate maria@example.org confirm:yes").await;
    let e = app
        .run(&sc, "/nudge maria@example.org")
        .await
        .expect_err("deactivated");
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("is deactivated") && m.contains("/reactivate")),
        "{e:?}"
    );
    let e = app
        .run(&sc, "/nudge pm@example.org")
        .await
        .expect_err("staff");
    assert!(
        matches!(&e, Error::Conflict(m) if m.contains("no persona")),
        "{e:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'nudge'")
            .await,
        rows
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE field = 'nudged'")
            .await,
        0
    );
    // Out of scope for a coordinator, in reach of a super admin: Oto is AI, and still reminded
    // (by email: no chat account).
    let r = app.admin("/nudge out@example.org").await;
    assert!(r.text.contains("by email"), "{}", r.text);
}

both_backends!(
    each_field_is_changed_with_one_audit_entry_and_its_undo,
    a_value_someone_else_holds_is_refused_naming_them_and_ones_own_is_not,
    revert_restores_the_old_value_unless_it_changed_since,
    tags_are_set_and_removed_by_a_super_admin_only,
    a_new_email_gets_a_fresh_link_code_there_and_chat_links_stay,
    a_nudge_goes_by_chat_and_email_every_time_and_is_audited,
    a_nudge_out_of_scope_to_a_deactivated_person_or_to_staff_is_refused,
);
