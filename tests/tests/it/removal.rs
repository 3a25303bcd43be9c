//! Permanent delete and export.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mentorops_core::Error;
use mentorops_core::roles::PersonaRole;
use mentorops_core::status::{MatchStatus, PersonaStatus, UserStatus};
use mentorops_core::store::{self, matches::MatchState};
use mentorops_core::values::{Email, ExternalId, FullName, Phone, Tag};
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::TestApp;

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
    // An answer of hers about the match (stored as the close-of-match questions store it).
    let match_id = app.count("SELECT MAX(id) AS n FROM matches").await;
    {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        store::feedback::record(
            &mut c,
            match_id,
            ana_id,
            None,
            1,
            "somewhat",
            app.engine.now(),
        )
        .await
        .expect("feedback");
    }

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
    assert_eq!(export["match_feedback"][0]["match_id"], match_id);
    assert_eq!(export["match_feedback"][0]["answer"], "somewhat");
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
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM match_feedback").await,
        0,
        "her answers went with her"
    );
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

/// One person as the export test stored them.
struct Seeded {
    id: i64,
    name: String,
    email: String,
    phone: Option<String>,
    external_id: Option<String>,
    status: UserStatus,
    org_id: Option<i64>,
    created_at: DateTime<Utc>,
    first_seen_at: Option<DateTime<Utc>>,
    last_activity_at: Option<DateTime<Utc>>,
    /// By key.
    tags: BTreeMap<String, String>,
    personas: Vec<SeededPersona>,
}

struct SeededPersona {
    id: i64,
    role: PersonaRole,
    /// (id, "Org/Program").
    program: Option<(i64, String)>,
    status: PersonaStatus,
    match_status: MatchStatus,
}

/// Names whose ASCII lower case is their whole lower case (the order of the export is the
/// name lower-cased in ASCII, then byte by byte, then the id), some twice in other cases, some
/// that a spreadsheet would run as formulas, one with a comma and quotes.
const EXPORT_NAMES: [&str; 12] = [
    "Ana",
    "ana",
    "Bruno",
    "bruno",
    "Zoë",
    "zoe",
    "joão",
    "João",
    "émile",
    "=cmd|' /C calc'!A0",
    "Costa, \"Rui\"",
    "-2+3",
];

/// (match id, mentee persona, mentor persona, open).
type StoredMatch = (i64, i64, i64, bool);

/// A close-of-match answer: (match id, the answering person's persona in it, question, code).
type StoredAnswer = (i64, i64, i64, &'static str);

/// 300 people straight into the database (one transaction): users with every status, tags,
/// personas in two programs and none, with every persona and match status, open and closed
/// matches (some mentors in two open ones), and feedback on the closed ones (all three answers
/// from the mentee, one from some mentors).
async fn seed_export_people(
    app: &TestApp,
    big: i64,
    other: i64,
    org_id: i64,
) -> (Vec<Seeded>, Vec<StoredMatch>, Vec<StoredAnswer>) {
    let base = app.engine.now();
    let mut tx = app.engine.db().begin().await.expect("begin");
    let mut people = Vec::new();
    for i in 0..300usize {
        let name = FullName::parse(&format!(
            "{} {}",
            EXPORT_NAMES[i % EXPORT_NAMES.len()],
            ["Lima", "reis", "Costa"][i / EXPORT_NAMES.len() % 3]
        ))
        .expect("name");
        let email = Email::parse(&if i % 17 == 0 {
            format!("-p{i}@example.org")
        } else {
            format!("p{i}@example.org")
        })
        .expect("email");
        let phone = Phone::parse(&format!("+55119{:08}", 87_100_000 + i), None).expect("phone");
        let external_id = match i % 3 {
            0 => ExternalId::parse(&format!("=x{i}")).expect("external id"),
            1 => ExternalId::from_phone(&phone),
            _ => ExternalId::parse(&format!("EMP-{i}")).expect("external id"),
        };
        let status = UserStatus::ALL[i % UserStatus::ALL.len()];
        let org = (i % 2 == 0).then_some(org_id);
        let created_at = base - chrono::Duration::milliseconds(1_234 * i as i64 + 1);
        let new = store::users::NewUser {
            email: &email,
            phone: &phone,
            external_id: &external_id,
            full_name: &name,
            status,
            org_id: org,
        };
        let id = store::users::insert_user(&mut tx, &new, created_at)
            .await
            .expect("user");
        let (mut first_seen_at, mut last_activity_at) = (None, None);
        if i % 3 != 0 {
            let t = base + chrono::Duration::hours(i as i64);
            store::users::touch_activity(&mut tx, id, t)
                .await
                .expect("touch");
            (first_seen_at, last_activity_at) = (Some(t), Some(t));
            if i % 2 == 0 {
                let later = t + chrono::Duration::milliseconds(7);
                store::users::touch_activity(&mut tx, id, later)
                    .await
                    .expect("touch");
                last_activity_at = Some(later);
            }
        }
        let mut tags = BTreeMap::new();
        // Set in another order than the export shows them (by key).
        for (key, from) in [("school", 1), ("lang", 2), ("cohort", 3)] {
            if i % 4 >= from {
                let value = if i % 11 == 0 {
                    "=1+1".to_string()
                } else {
                    format!("v{}", i % 5)
                };
                let tag = Tag {
                    key: key.into(),
                    value: value.clone(),
                };
                store::users::set_tag(&mut tx, id, &tag).await.expect("tag");
                tags.insert(key.to_string(), value);
            }
        }
        let mut personas = Vec::new();
        let add = |role, program: Option<(i64, &str)>, match_status| {
            (
                role,
                program.map(|(id, n)| (id, n.to_string())),
                match_status,
            )
        };
        let mut wanted = Vec::new();
        if i % 10 != 9 {
            let role = if i % 2 == 0 {
                PersonaRole::Mentee
            } else {
                PersonaRole::Mentor
            };
            wanted.push(add(
                role,
                Some((big, "Acme/Big")),
                MatchStatus::ALL[i % MatchStatus::ALL.len()],
            ));
            if i % 5 == 0 {
                wanted.push(add(
                    PersonaRole::Mentor,
                    Some((other, "Acme/Other")),
                    MatchStatus::ReadyToBeMatched,
                ));
            }
            if i % 7 == 0 {
                wanted.push(add(PersonaRole::Mentee, None, MatchStatus::NotApplicable));
            }
        }
        for (role, program, match_status) in wanted {
            let pid = store::users::insert_persona(
                &mut tx,
                id,
                role,
                program.as_ref().map(|(id, _)| *id),
                match_status,
                created_at,
            )
            .await
            .expect("persona");
            let mut status = PersonaStatus::Active;
            if i % 13 == 0 {
                store::users::set_persona_status(
                    &mut tx,
                    pid,
                    PersonaStatus::Active,
                    PersonaStatus::Inactive,
                )
                .await
                .expect("persona status");
                status = PersonaStatus::Inactive;
            }
            personas.push(SeededPersona {
                id: pid,
                role,
                program,
                status,
                match_status,
            });
        }
        people.push(Seeded {
            id,
            name: name.as_str().to_string(),
            email: email.as_str().to_string(),
            phone: Some(phone.as_str().to_string()),
            external_id: Some(external_id.as_str().to_string()),
            status,
            org_id: org,
            created_at,
            first_seen_at,
            last_activity_at,
            tags,
            personas,
        });
    }
    // Matches between person i (a mentee in Big) and i + 1 (a mentor in Big): open for one in
    // four, closed for another; then a second open match for some of those mentors, with i + 2.
    let big_persona = |p: &Seeded| {
        p.personas
            .iter()
            .find(|x| x.program.as_ref().is_some_and(|(id, _)| *id == big))
            .map(|x| x.id)
    };
    let mut matches: Vec<StoredMatch> = Vec::new();
    let mut answers: Vec<StoredAnswer> = Vec::new();
    for round in 0..2 {
        for i in (0..people.len() - 2).step_by(2) {
            let (mentee, mentor) = match round {
                0 if i % 4 == 0 || i % 8 == 2 => (&people[i], &people[i + 1]),
                1 if i % 12 == 0 => (&people[i + 2], &people[i + 1]),
                _ => continue,
            };
            let (Some(a), Some(b)) = (big_persona(mentee), big_persona(mentor)) else {
                continue;
            };
            let id = store::matches::insert(&mut tx, Some(big), a, b, "assign", base)
                .await
                .expect("match");
            let open = round == 1 || i % 4 == 0;
            if !open {
                store::matches::set_state(&mut tx, id, MatchState::Open, MatchState::Closed, base)
                    .await
                    .expect("close");
            }
            matches.push((id, a, b, open));
            if !open {
                let mut said = vec![
                    (mentee.id, a, 1, "yes"),
                    (mentee.id, a, 2, "no"),
                    (mentee.id, a, 3, "=helpful"),
                ];
                if i % 3 == 0 {
                    said.push((mentor.id, b, 1, "somewhat"));
                }
                for (user, persona, q, code) in said {
                    store::feedback::record(&mut tx, id, user, Some(big), q, code, base)
                        .await
                        .expect("feedback");
                    answers.push((id, persona, q, code));
                }
            }
        }
    }
    tx.commit().await.expect("commit");
    assert!(matches.iter().filter(|m| m.3).count() > 20 && matches.iter().any(|m| !m.3));
    assert!(answers.len() > 10);
    (people, matches, answers)
}

/// The answers a persona's person gave about its newest match with any, by question (as the
/// export shows them: `feedback_match_id`, then one column per question).
fn feedback_of(answers: &[StoredAnswer], persona: i64) -> [Value; 4] {
    let newest = answers.iter().filter(|a| a.1 == persona).map(|a| a.0).max();
    let said = |q: i64| {
        answers
            .iter()
            .find(|a| Some(a.0) == newest && a.1 == persona && a.2 == q)
            .map_or(Value::Null, |a| json!(a.3))
    };
    [
        newest.map_or(Value::Null, |m| json!(m)),
        said(1),
        said(2),
        said(3),
    ]
}

/// The newest open match a persona is in, from what was stored.
fn open_match_of(matches: &[StoredMatch], persona: i64) -> Option<i64> {
    matches
        .iter()
        .filter(|(_, a, b, open)| *open && (*a == persona || *b == persona))
        .map(|(id, ..)| *id)
        .max()
}

fn rfc3339(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// What the export held for these people, in its order, as the JSON export's array (the CSV's
/// cells are these values).
fn expected_export(
    people: &[&Seeded],
    matches: &[StoredMatch],
    answers: &[StoredAnswer],
    only: Option<i64>,
) -> Vec<Value> {
    let mut people = people.to_vec();
    people.sort_by_key(|p| (p.name.to_ascii_lowercase(), p.id));
    people
        .into_iter()
        .map(|p| {
            let personas: Vec<Value> = p
                .personas
                .iter()
                .filter(|x| only.is_none() || x.program.as_ref().map(|(id, _)| *id) == only)
                .map(|x| {
                    let [fb_match, useful, again, word] = feedback_of(answers, x.id);
                    json!({
                        "persona_id": x.id,
                        "role": x.role.code(),
                        "program": x.program.as_ref().map(|(_, n)| n.clone()).unwrap_or_default(),
                        "persona_status": x.status.code(),
                        "match_status": x.match_status.code(),
                        "open_match_id": open_match_of(matches, x.id),
                        "feedback_match_id": fb_match,
                        "feedback_useful": useful,
                        "feedback_again": again,
                        "feedback_word": word,
                    })
                })
                .collect();
            json!({
                "id": p.id,
                "full_name": p.name,
                "email": p.email,
                "phone": p.phone,
                "external_id": p.external_id,
                "status": p.status.code(),
                "org_id": p.org_id,
                "created_at": p.created_at.to_rfc3339(),
                "first_seen_at": rfc3339(p.first_seen_at),
                "last_activity_at": rfc3339(p.last_activity_at),
                "tags": p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "personas": personas,
            })
        })
        .collect()
}

/// The CSV file the export held for `people` (every cell through the formula guard: `'` in
/// front of one beginning with = + - @ tab or CR), one row per persona or one with empty
/// persona cells.
fn expected_csv(people: &[Value]) -> (Vec<Vec<String>>, Vec<u8>) {
    const USER: [&str; 10] = [
        "id",
        "full_name",
        "email",
        "phone",
        "external_id",
        "status",
        "tags",
        "created_at",
        "first_seen_at",
        "last_activity_at",
    ];
    const PERSONA: [&str; 10] = [
        "persona_id",
        "role",
        "program",
        "persona_status",
        "match_status",
        "open_match_id",
        "feedback_match_id",
        "feedback_useful",
        "feedback_again",
        "feedback_word",
    ];
    let cell = |v: &Value| {
        let s = match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s
        }
    };
    let mut rows: Vec<Vec<String>> =
        vec![USER.iter().chain(&PERSONA).map(|h| h.to_string()).collect()];
    for p in people {
        let user: Vec<String> = USER.iter().map(|k| cell(&p[*k])).collect();
        let personas = p["personas"].as_array().expect("personas");
        if personas.is_empty() {
            rows.push(
                user.iter()
                    .cloned()
                    .chain(PERSONA.map(|_| String::new()))
                    .collect(),
            );
        }
        for x in personas {
            rows.push(
                user.iter()
                    .cloned()
                    .chain(PERSONA.iter().map(|k| cell(&x[*k])))
                    .collect(),
            );
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.write_record(r).expect("row");
    }
    (rows, w.into_inner().expect("bytes"))
}

fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("valid CSV").iter().map(String::from).collect())
        .collect()
}

/// Issue "Performance at program scale", point 3: `/export` streams (one query, a temporary
/// file), and holds, row for row and byte for byte, what it held before — written out here from
/// the people as they were stored.
async fn a_streamed_export_of_a_program_is_row_for_row_what_the_export_held(app: &TestApp) {
    app.admin("/org_add Acme").await;
    app.admin("/program_add Acme Big").await;
    app.admin("/program_add Acme Other").await;
    let (big, other, org_id) = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let programs = store::orgs::list_programs(&mut c).await.expect("programs");
        let id = |name: &str| {
            programs
                .iter()
                .find(|p| p.name == name)
                .map(|p| (p.id, p.org_id))
                .expect("program")
        };
        (id("Big").0, id("Other").0, id("Big").1)
    };
    let (people, matches, answers) = seed_export_people(app, big, other, org_id).await;
    let admin = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        store::users::user(&mut c, app.admin_id)
            .await
            .expect("read")
            .expect("admin")
    };
    let admin = Seeded {
        id: admin.id,
        name: admin.full_name,
        email: admin.email,
        phone: admin.phone,
        external_id: admin.external_id,
        status: admin.status,
        org_id: admin.org_id,
        created_at: admin.created_at,
        first_seen_at: admin.first_seen_at,
        last_activity_at: admin.last_activity_at,
        tags: BTreeMap::new(),
        personas: Vec::new(),
    };

    let in_big: Vec<&Seeded> = people
        .iter()
        .filter(|p| {
            p.personas
                .iter()
                .any(|x| x.program.as_ref().is_some_and(|(id, _)| *id == big))
        })
        .collect();
    let everyone: Vec<&Seeded> = people.iter().chain([&admin]).collect();
    for (line, who, only) in [
        ("/export program:Acme/Big", &in_big, Some(big)),
        ("/export", &everyone, None),
    ] {
        let expected = expected_export(who, &matches, &answers, only);
        let json = app.admin(&format!("{line} format:json")).await;
        assert_eq!(
            json.text,
            format!("Export of {} people attached.", who.len()),
            "{line}"
        );
        let got: Vec<Value> =
            serde_json::from_slice(&json.attachments[0].bytes).expect("a JSON array");
        assert_eq!(got.len(), expected.len(), "{line}");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{line} format:json, person {i}");
        }
        assert_eq!(
            json.attachments[0].bytes,
            serde_json::to_vec_pretty(&expected).expect("json"),
            "{line} format:json: the same values, laid out as before"
        );
        let csv = app.admin(line).await;
        let (rows, bytes) = expected_csv(&expected);
        let got = csv_records(&csv.attachments[0].bytes);
        assert_eq!(got.len(), rows.len(), "{line}");
        for (i, (g, e)) in got.iter().zip(&rows).enumerate() {
            assert_eq!(g, e, "{line}, row {i}");
        }
        assert_eq!(csv.attachments[0].bytes, bytes, "{line}: the same file");
        assert!(csv.attachments[0].file_name.ends_with(".csv"));
        assert!(json.attachments[0].file_name.ends_with(".json"));
    }
    // A program nobody is in: a header, or an empty array.
    app.admin("/program_add Acme Empty").await;
    let empty = app.admin("/export program:Acme/Empty format:json").await;
    assert_eq!(empty.attachments[0].bytes, b"[]");
    assert_eq!(empty.text, "Export of 0 people attached.");
    let empty = app.admin("/export program:Acme/Empty").await;
    assert_eq!(csv_records(&empty.attachments[0].bytes).len(), 1);
}

both_backends!(
    delete_is_two_steps_exports_first_and_leaves_no_trace_of_the_person,
    a_delete_confirmation_expires,
    export_gives_csv_or_json_of_people_and_personas,
    a_streamed_export_of_a_program_is_row_for_row_what_the_export_held,
);
