//! Adding, importing, finding and listing people; programs and their settings.

use crate::both_backends;
use crate::support::TestApp;
use mentorops_core::Error;
use mentorops_core::status::{MatchStatus, UserStatus};

async fn a_new_user_starts_in_ai_with_one_persona_and_a_queued_welcome(app: &TestApp) {
    app.with_program().await;
    let out = app
        .outcome(&app.caller_for(app.admin_id), "/user_add \"Ana Lima\" Ana.Lima@Example.org \"+55 11 91234-5678\" mentee program:Spring")
        .await;
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    let ana = app.user("ana.lima@example.org").await;
    assert_eq!(ana.status, UserStatus::ApplicationIncomplete);
    assert_eq!(ana.phone.as_deref(), Some("+5511912345678"));
    assert_eq!(
        ana.external_id.as_deref(),
        Some("+5511912345678"),
        "external ID defaults to the phone"
    );
    let personas = app.personas("ana.lima@example.org").await;
    assert_eq!(personas.len(), 1);
    assert_eq!(personas[0].match_status, MatchStatus::NotApplicable);
    // The welcome email went to the outbox in the same transaction, and carries a link code.
    assert_eq!(out.queued.len(), 1);
    assert_eq!(out.queued[0].recipient, "ana.lima@example.org");
    assert!(out.queued[0].body_text.contains("/link "));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'welcome' AND recipient = 'ana.lima@example.org'").await, 1);
}

async fn emails_and_phones_are_unique_whatever_their_spelling(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550123 mentee program:Spring")
        .await;
    let before = app.count("SELECT COUNT(*) AS n FROM users").await;
    let e = app
        .admin_err(
            "/user_add \"Other Ana\" \"  ANA@EXAMPLE.ORG \" +14155550999 mentee program:Spring",
        )
        .await;
    assert!(
        matches!(e, Error::Conflict(_)) && e.to_string().contains("already used by Ana Lima"),
        "{e}"
    );
    let e = app
        .admin_err(
            "/user_add \"Other Ana\" ana2@example.org \"+1 (415) 555-0123\" mentee program:Spring",
        )
        .await;
    assert!(
        e.to_string().contains("phone +14155550123 is already used"),
        "{e}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM users").await,
        before,
        "a refused command changes nothing"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox WHERE recipient = 'ana2@example.org'")
            .await,
        0
    );
}

async fn people_are_found_by_email_phone_external_id_id_and_unambiguous_name(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550123 mentee program:Spring external_id:STU-1").await;
    app.admin("/user_add \"Ana Souza\" anas@example.org +14155550124 mentee program:Spring")
        .await;
    let id = app.user_id("ana@example.org").await;
    for reference in [
        "ana@example.org",
        "+14155550123",
        "STU-1",
        "\"Ana Lima\"",
        &format!("#{id}"),
        "\"ana l\"",
    ] {
        let r = app.admin(&format!("/user_show {reference}")).await;
        assert!(
            r.text.contains("Ana Lima <ana@example.org>"),
            "{reference}: {}",
            r.text
        );
    }
    let e = app.admin_err("/user_show ana").await;
    assert!(matches!(e, Error::Ambiguous(_)), "{e}");
    assert!(
        e.to_string().contains("Ana Lima") && e.to_string().contains("Ana Souza"),
        "{e}"
    );
    // "ana" is not a word start of "Paula Pm": a name search goes by word starts.
    assert!(!e.to_string().contains("Paula"));
    let e = app.admin_err("/user_show nobody@example.org").await;
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

async fn a_program_manager_sees_only_their_programs(app: &TestApp) {
    app.with_program().await;
    app.admin("/program_add Acme Autumn").await;
    app.admin("/user_add \"In Spring\" in@example.org +14155550131 mentee program:Spring")
        .await;
    app.admin("/user_add \"In Autumn\" out@example.org +14155550132 mentee program:Autumn")
        .await;
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let list = app
        .run(&pm, "/user_list")
        .await
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(
        list.contains("in@example.org") && !list.contains("out@example.org"),
        "{list}"
    );
    let e = app
        .run(&pm, "/user_show out@example.org")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("in your programs"), "{e}");
    let e = app
        .run(
            &pm,
            "/user_add \"New One\" new@example.org +14155550133 mentee program:Autumn",
        )
        .await;
    assert!(matches!(e, Err(Error::Forbidden(_))), "{e:?}");
    let ok = app
        .run(
            &pm,
            "/user_add \"New One\" new@example.org +14155550133 mentee program:Spring",
        )
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    // Tags are the super admin's (docs/domain.md#capabilities).
    let e = app
        .run(
            &pm,
            "/user_add \"Tagged\" t@example.org +14155550134 mentee program:Spring tags:cohort=1",
        )
        .await;
    assert!(matches!(e, Err(Error::Forbidden(_))), "{e:?}");
}

async fn user_list_filters_and_sorts(app: &TestApp) {
    app.with_program().await;
    app.admin(
        "/user_add \"Zoe Adams\" zoe@example.org +14155550141 mentor program:Spring tags:lang=es",
    )
    .await;
    app.admin("/user_add \"Bob Young\" bob@example.org +14155550142 mentee program:Spring")
        .await;
    app.admin("/user_add \"Cy Newman\" cy@example.org +14155550143 mentee")
        .await;
    let text = app.admin("/user_list role:mentee sort:last").await.text;
    let (cy, bob) = (text.find("Cy Newman"), text.find("Bob Young"));
    assert!(
        cy.is_some() && bob.is_some() && cy < bob,
        "sorted by last name: {text}"
    );
    assert!(!text.contains("Zoe"));
    let text = app.admin("/user_list tag:lang=es").await.text;
    assert!(text.contains("Zoe") && !text.contains("Bob"), "{text}");
    let text = app.admin("/user_list unassigned:yes").await.text;
    assert!(
        text.contains("Cy Newman") && !text.contains("Bob"),
        "{text}"
    );
    let text = app.admin("/user_list status:AI sort:first").await.text;
    assert!(
        text.find("Bob") < text.find("Cy") && text.find("Cy") < text.find("Zoe"),
        "{text}"
    );
    let e = app.admin_err("/user_list sort:age").await;
    assert!(e.to_string().contains("first, last or activity"), "{e}");
}

async fn inactive_lists_usable_people_unseen_for_fifteen_days(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Quiet One\" quiet@example.org +14155550151 mentor program:Spring")
        .await;
    app.admin("/user_add \"Busy One\" busy@example.org +14155550152 mentor program:Spring")
        .await;
    app.admin("/user_add \"Gone One\" gone@example.org +14155550153 mentor program:Spring")
        .await;
    app.admin("/status quiet@example.org A").await;
    app.admin("/status busy@example.org A").await;
    app.admin("/deactivate gone@example.org").await;
    app.clock.advance(chrono::Duration::days(14));
    assert!(
        app.admin("/inactive").await.text.contains("No one"),
        "14 days is not yet inactive"
    );
    app.clock.advance(chrono::Duration::days(2));
    // Busy acts (any command counts as activity).
    let busy = app.caller_for(app.user_id("busy@example.org").await);
    assert!(app.run(&busy, "/me").await.is_ok());
    let text = app.admin("/inactive program:Spring").await.text;
    assert!(
        text.contains("Quiet One") && text.contains("never seen"),
        "{text}"
    );
    assert!(
        !text.contains("Busy One"),
        "active people are not listed: {text}"
    );
    assert!(
        !text.contains("Gone One"),
        "deactivated people cannot use the bot: {text}"
    );
    let text = app.admin("/user_list inactive:yes").await.text;
    assert!(
        text.contains("Quiet One") && !text.contains("Busy One"),
        "{text}"
    );
}

async fn csv_import_is_all_or_nothing_and_names_every_bad_line(app: &TestApp) {
    app.with_program().await;
    let bad = "name,email,phone,role,program\n\
               Ana Lima,ana@example.org,+14155550161,mentee,Spring\n\
               Bad Email,not-an-email,+14155550162,mentee,Spring\n\
               Dup Ana,ANA@example.org,+14155550163,mentor,Spring\n\
               No Program,np@example.org,+14155550164,mentor,Nowhere\n";
    let before = app.count("SELECT COUNT(*) AS n FROM users").await;
    let e = app
        .admin_with_file("/user_import file:people.csv", "people.csv", bad.as_bytes())
        .await
        .err();
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("nothing was imported"), "{msg}");
    assert!(
        msg.contains("line 3")
            && msg.contains("line 4")
            && msg.contains("line 5")
            && !msg.contains("line 2"),
        "{msg}"
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users").await, before);
    let good = "name,email,phone,role,program,external_id\n\
                Ana Lima,ana@example.org,+14155550161,mentee,Spring,\n\
                Rui Costa,rui@example.org,+14155550165,mentor,Spring,EMP-9\n";
    let r = app
        .admin_with_file(
            "/user_import file:people.csv",
            "people.csv",
            good.as_bytes(),
        )
        .await;
    assert!(
        r.as_ref()
            .is_ok_and(|r| r.text.contains("Imported 2 people")),
        "{r:?}"
    );
    assert_eq!(
        app.user("rui@example.org").await.external_id.as_deref(),
        Some("EMP-9")
    );
    let e = app.admin("/help user_import").await;
    assert!(e.text.contains("Usage: /user_import <file>"));
    let none = app
        .run(&app.caller_for(app.admin_id), "/user_import file:x.csv")
        .await;
    assert!(none.is_err_and(|e| e.to_string().contains("attach the CSV")));
}

async fn program_settings_start_from_config_and_change_with_validation(app: &TestApp) {
    app.with_program().await;
    let text = app.admin("/program_set Spring").await.text;
    assert!(
        text.contains("offer_ttl = 3d")
            && text.contains("inactivity_after = 15d")
            && text.contains("max_choices = 3"),
        "{text}"
    );
    let r = app.admin("/program_set Spring offer_ttl 48h").await;
    assert!(r.text.contains("3d → 2d"), "{}", r.text);
    let e = app
        .admin_err("/program_set Spring offer_reminder_before 3d")
        .await;
    assert!(
        e.to_string().contains("must be shorter than offer_ttl"),
        "{e}"
    );
    let e = app
        .admin_err("/program_set Spring timezone Mars/Olympus")
        .await;
    assert!(e.to_string().contains("IANA"), "{e}");
    assert!(
        app.admin("/program_set Spring offer_ttl")
            .await
            .text
            .contains("2d")
    );
    let sc = app.caller_for(app.user_id("sc@example.org").await);
    assert!(matches!(
        app.run(&sc, "/program_set Spring offer_ttl 24h").await,
        Err(Error::Forbidden(_))
    ));
    let e = app.admin_err("/program_add Acme Spring").await;
    assert!(e.to_string().contains("already has a program"), "{e}");
}

/// Lists show one chat screen (docs/domain.md#lists): at most 25 people of the whole sorted
/// list (sorted and cut in SQL), their place in it, "…and N more", Previous/Next buttons that
/// run the same command a page on, and the whole list as a CSV on the first screen.
async fn lists_page_one_screen_at_a_time(app: &TestApp) {
    use mentorops_core::roles::PersonaRole;
    use mentorops_core::store;
    use mentorops_core::values::{Email, ExternalId, FullName, Phone};
    app.with_program().await;
    let start = app.engine.now();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let spring = store::orgs::list_programs(&mut c)
        .await
        .expect("programs")
        .into_iter()
        .find(|p| p.name == "Spring")
        .expect("Spring")
        .id;
    // 30 mentees, never seen, added an hour apart (the first added is the longest inactive);
    // last names in mixed case, some shared.
    let lasts = [
        "Lima", "de Souza", "adams", "Zhang", "Costa", "lima", "Ávila",
    ];
    let mut people = Vec::new();
    for i in 0..30u64 {
        let name = format!("P{i:02} {}", lasts[(i * 7 % 11) as usize % lasts.len()]);
        let email = Email::parse(&format!("m{i}@screen.example")).expect("email");
        let phone = Phone::parse(&format!("+55119{:08}", 80_000_000 + i), None).expect("phone");
        let user = store::users::NewUser {
            email: &email,
            phone: &phone,
            external_id: &ExternalId::from_phone(&phone),
            full_name: &FullName::parse(&name).expect("name"),
            status: UserStatus::Active,
            org_id: None,
        };
        let at = start + chrono::Duration::hours(i as i64);
        let uid = store::users::insert_user(&mut c, &user, at)
            .await
            .expect("user");
        store::users::insert_persona(
            &mut c,
            uid,
            PersonaRole::Mentee,
            Some(spring),
            MatchStatus::NotApplicable,
            at,
        )
        .await
        .expect("persona");
        people.push((uid, name));
    }
    drop(c);
    app.clock.advance(chrono::Duration::days(40));
    let shown = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let more = "…and 5 more: Next ▶ below (or page:2)";

    // By last name: the first 25 of all 30, lower-cased (A–Z) then byte by byte, then id.
    let key = |name: &str| {
        let last = name
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        (last, name.to_ascii_lowercase())
    };
    let mut sorted = people.clone();
    sorted.sort_by_key(|(id, name)| (key(name), *id));
    let text = app.admin("/user_list role:mentee sort:last").await.text;
    let lines = shown(&text);
    assert_eq!(lines.len(), 25, "{text}");
    for (line, (id, name)) in lines.iter().zip(&sorted) {
        assert!(
            line.starts_with(&format!("#{id} {name} <")),
            "{line} should be {name}: {text}"
        );
        assert!(line.contains("mentee Spring N/A"), "{line}");
    }
    assert!(text.starts_with("People: 1–25 of 30:"), "{text}");
    assert!(text.lines().any(|l| l.starts_with(more)), "{text}");
    // The first screen of a longer list: the whole list as a CSV, in the same order.
    let first = app.admin("/user_list role:mentee sort:last").await;
    assert_eq!(first.attachments.len(), 1, "{}", first.text);
    let csv = String::from_utf8(first.attachments[0].bytes.clone()).expect("utf-8");
    let ids: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| format!("#{}", l.split(',').next().unwrap_or_default()))
        .collect();
    let want: Vec<String> = sorted.iter().map(|(id, _)| format!("#{id}")).collect();
    assert_eq!(ids, want, "{csv}");
    // Next runs the same command a page on: the last 5, a Previous button, no Next, no file.
    let labels = |r: &mentorops_core::reply::Reply| -> Vec<String> {
        r.buttons.iter().map(|b| b.label.clone()).collect()
    };
    assert_eq!(labels(&first), ["Next ▶"]);
    assert_eq!(
        first.buttons[0].command,
        "/user_list role:mentee sort:last page:2"
    );
    let second = app.admin(&first.buttons[0].command).await;
    assert!(
        second.text.starts_with("People: 26–30 of 30:"),
        "{}",
        second.text
    );
    let lines = shown(&second.text);
    assert_eq!(lines.len(), 5, "{}", second.text);
    for (line, (id, _)) in lines.iter().zip(&sorted[25..]) {
        assert!(line.starts_with(&format!("#{id} ")), "{line}");
    }
    assert_eq!(labels(&second), ["◀ Previous"]);
    assert!(second.attachments.is_empty() && !second.text.contains("more"));
    assert_eq!(app.admin(&second.buttons[0].command).await.text, text);
    // A page past the end says which pages there are, and changes nothing.
    let e = app.admin_err("/user_list role:mentee page:3").await;
    assert!(e.to_string().contains("page:1 to page:2"), "{e}");
    // Fewer than a screen: all of them, and nothing about more.
    let text = app.admin("/user_list role:mentor").await.text;
    assert!(text.contains("No one matches"), "{text}");
    let text = app.admin("/user_list").await.text;
    assert_eq!(shown(&text).len(), 25, "{text}");
    // Staff are Active too: 30 mentees and 3 staff.
    let text = app.admin("/user_list status:A sort:activity").await.text;
    assert!(
        text.contains("1–25 of 33:") && text.contains("…and 8 more"),
        "{text}"
    );

    // /inactive: longest inactive first, one screen, and more.
    let text = app.admin("/inactive").await.text;
    let lines = shown(&text);
    assert_eq!(lines.len(), 25, "{text}");
    for (line, (id, _)) in lines.iter().zip(&people) {
        assert!(
            line.starts_with(&format!("#{id} ")) && line.contains("never seen"),
            "{line}: {text}"
        );
    }
    assert!(
        text.starts_with("Inactive for 15+ days, longest inactive first: 1–25 of 30:")
            && text.lines().any(|l| l.starts_with(more)),
        "{text}"
    );
    // Narrowed below a screen (the 24 added more than 39 days ago): all of them, no more.
    let text = app.admin("/inactive days:39").await.text;
    assert_eq!(shown(&text).len(), 24, "{text}");
    assert!(
        text.starts_with("Inactive for 39+ days, longest inactive first (24):")
            && !text.contains("more"),
        "{text}"
    );
    let text = app
        .admin("/user_list role:mentee tag:cohort=none")
        .await
        .text;
    assert!(
        text.contains("No one matches") && !text.contains(more),
        "{text}"
    );
}

both_backends!(
    a_new_user_starts_in_ai_with_one_persona_and_a_queued_welcome,
    emails_and_phones_are_unique_whatever_their_spelling,
    people_are_found_by_email_phone_external_id_id_and_unambiguous_name,
    a_program_manager_sees_only_their_programs,
    user_list_filters_and_sorts,
    inactive_lists_usable_people_unseen_for_fifteen_days,
    csv_import_is_all_or_nothing_and_names_every_bad_line,
    program_settings_start_from_config_and_change_with_validation,
    lists_page_one_screen_at_a_time,
);
