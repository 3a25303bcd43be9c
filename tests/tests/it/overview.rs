//! `/overview [program]`: the counts of a seeded program (people in each status, personas in
//! each match status, activity, offers, sessions), who sees which programs, the reply on one
//! chat screen, the chart as a valid PNG — and how each front-end sends it (Telegram: a photo,
//! Discord: an attachment, the console: a file under exports/); the staff digest's headline.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mentorops_core::chart;
use mentorops_core::command::Who;
use mentorops_core::reply::{Attachment, Reply};
use mentorops_core::roles::PersonaRole;
use mentorops_core::status::{MatchStatus, UserStatus};
use mentorops_core::store;
use mentorops_core::values::{Email, ExternalId, FullName, Phone};
use mentorops_core::{Error, timers};
use serde_json::json;

use crate::both_backends;
use crate::fakes::telegram::Fake;
use crate::support::discord::{Endpoint, content, link_on_discord, text_opt};
use crate::support::telegram::{nth_message, soon, start_polling, text_of};
use crate::support::{TestApp, ana_chooses_maria, world};

/// Telegram's limit is 4 096; a chat screen shows about 25 lines.
const MAX_LINES: usize = 25;
const MAX_CHARS: usize = 4_000;

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A valid PNG of the chart's size, checked without a decoder (core's unit tests decode it with
/// the `png` crate): the signature, then chunks whose lengths add up to the file and whose CRCs
/// hold — IHDR first (8-bit RGB, the chart's width and height), image data, IEND last.
fn assert_png(bytes: &[u8]) {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG signature"
    );
    assert!(
        (2_000..500_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );
    let mut at = 8;
    let mut names = Vec::new();
    while at < bytes.len() {
        assert!(at + 12 <= bytes.len(), "a chunk cut short at {at}");
        let len = be32(&bytes[at..]) as usize;
        let end = at + 8 + len;
        assert!(
            end + 4 <= bytes.len(),
            "a chunk longer than the file at {at}"
        );
        let name = String::from_utf8_lossy(&bytes[at + 4..at + 8]).to_string();
        assert_eq!(
            crc32(&bytes[at + 4..end]),
            be32(&bytes[end..]),
            "the CRC of {name}"
        );
        if name == "IHDR" {
            let data = &bytes[at + 8..end];
            assert_eq!(
                (be32(data), be32(&data[4..])),
                (chart::WIDTH, chart::HEIGHT)
            );
            assert_eq!((data[8], data[9]), (8, 2), "8-bit RGB");
        }
        names.push(name);
        at = end + 4;
    }
    assert_eq!(names.first().map(String::as_str), Some("IHDR"), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("IEND"), "{names:?}");
    assert!(names.iter().any(|n| n == "IDAT"), "{names:?}");
}

fn the_chart(reply: &Reply) -> &Attachment {
    assert_eq!(reply.attachments.len(), 1, "{}", reply.text);
    let a = &reply.attachments[0];
    assert_eq!(a.media_type, "image/png");
    assert_png(&a.bytes);
    a
}

fn fits_one_screen(text: &str) {
    let lines = text.lines().count();
    let chars = text.chars().count();
    assert!(lines <= MAX_LINES, "{lines} lines:\n{text}");
    assert!(chars < MAX_CHARS, "{chars} characters:\n{text}");
}

/// World (Spring: Maria, Lee, Tom mentors; Ana, Ben mentees; all A and RTBM) on Tue 01 Dec
/// 2026 09:00 UTC; ten days later all but Tom say something; six more days and Tom is
/// inactive. Two applications incomplete (AI), one in screening (SI, never seen), one withdrawn
/// (IW); Ben is paired with Lee and books a session this week; Ana asks Maria.
async fn overview_counts_people_matches_activity_offers_and_sessions(app: &TestApp) {
    let w = world(app).await;
    for (i, (name, email)) in [
        ("Ada Applicant", "ada@example.org"),
        ("Abe Applicant", "abe@example.org"),
        ("Sid Screening", "sid@example.org"),
        ("Gus Gone", "gus@example.org"),
    ]
    .iter()
    .enumerate()
    {
        app.admin(&format!(
            "/user_add \"{name}\" {email} +1415555072{i} mentee program:Spring"
        ))
        .await;
    }
    app.admin("/status sid@example.org SI").await;
    app.admin("/status gus@example.org IW").await;
    app.clock.advance(Duration::days(10));
    for who in [&w.maria, &w.lee, &w.ana, &w.ben] {
        app.run(who, "/me").await.expect("/me");
    }
    app.clock.advance(Duration::days(6));
    // Thu 17 Dec 2026 09:00 UTC.
    app.admin("/assign ben@example.org lee@example.org").await;
    app.run(&w.ben, "/session_book at:\"2026-12-18 10:00\"")
        .await
        .expect("booked");
    ana_chooses_maria(app, &w.ana).await;

    let reply = app.admin("/overview Spring").await;
    let text = &reply.text;
    for expected in [
        "Overview of Acme/Spring · Thu 17 Dec 2026 09:00 UTC",
        "In short: 4 active, 2 inactive, 3 waiting for a match, 1 offer pending.",
        "People (9): A 5 · AI 2 · SI 1 · IW 1 · IR 0 · ID 0",
        "Match status (personas): N/A 4 · RTBM 3 · M 2 · C 0 · RS 0 · NM 0",
        "Activity in the last 15 days (people in A or SI): 4 active · 1 inactive · 1 never active",
        "Applications waiting: 2 AI (application incomplete) · 1 SI (screening incomplete)",
        "Offers pending: 1, soonest first:\n• Maria Mentor ← Ana Mentee, due Sun 20 Dec 09:00 UTC",
        "Sessions this week (Mon 14 Dec – Sun 20 Dec): 1 booked; next:\n• Fri 18 Dec 10:00 UTC: Lee Mentor & Ben Mentee",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    fits_one_screen(text);
    let png = the_chart(&reply);
    assert_eq!(png.file_name, "overview-spring-2026-12-17.png");

    // The chart's weekly panel: people by the week of their last activity (Mon 26 Oct … Mon 14
    // Dec): Tom in the week of 30 Nov, Maria and Lee in that of 7 Dec, Ana and Ben this week.
    let program = {
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        store::orgs::list_programs(&mut c).await.expect("programs")[0].id
    };
    let monday = |d: u32| {
        Utc.with_ymd_and_hms(2026, if d > 20 { 10 } else { 12 }, d, 0, 0, 0)
            .single()
            .expect("time")
    };
    let mut bounds: Vec<DateTime<Utc>> = vec![monday(26), monday(26) + Duration::days(7)];
    while bounds.len() < 9 {
        let next = bounds[bounds.len() - 1] + Duration::days(7);
        bounds.push(next);
    }
    assert_eq!(bounds[7], monday(14));
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let weeks = store::overview::last_active_between(&mut c, Some(&[program]), &bounds)
        .await
        .expect("weeks");
    drop(c);
    assert_eq!(weeks, [0, 0, 0, 0, 0, 1, 2, 2]);

    // The daily digest (Tom and Sid are past 15 days) carries the same headline.
    assert_eq!(
        timers::staff_digest(&app.engine, app.engine.now())
            .await
            .expect("digest"),
        1
    );
    let mail = app.email_row("pm@example.org", "staff_digest").await;
    assert!(
        mail.body_text.contains(
            "The program today: 4 active, 2 inactive, 3 waiting for a match, 1 offer pending."
        ),
        "{}",
        mail.body_text
    );
}

/// A program manager sees their own programs and is refused another's; a coordinator sees
/// theirs; a super admin sees all of them together, or the one named; a mentee runs nothing.
async fn overview_shows_only_the_callers_programs(app: &TestApp) {
    app.with_program().await;
    app.admin("/program_add Acme Winter").await;
    app.admin(
        "/staff_add \"Wendy Pm\" wendy@example.org +14155550103 program_manager program:Winter",
    )
    .await;
    for (i, (name, email, program)) in [
        ("Sam Spring", "sam@example.org", "Spring"),
        ("Wes Winter", "wes@example.org", "Winter"),
        ("Will Winter", "will@example.org", "Winter"),
    ]
    .iter()
    .enumerate()
    {
        app.admin(&format!(
            "/user_add \"{name}\" {email} +1415555073{i} mentee program:{program}"
        ))
        .await;
    }
    let wendy = app.caller_for(app.user_id("wendy@example.org").await);
    match app.run(&wendy, "/overview Spring").await {
        Err(Error::Forbidden(why)) => assert!(why.contains("not one of yours"), "{why}"),
        other => panic!("Wendy should be refused Spring: {other:?}"),
    }
    let mine = app.run(&wendy, "/overview").await.expect("her own");
    assert!(
        mine.text.starts_with("Overview of Acme/Winter ·"),
        "{}",
        mine.text
    );
    assert!(
        mine.text.contains("People (2): A 0 · AI 2"),
        "{}",
        mine.text
    );
    assert!(!mine.text.contains("Spring"), "{}", mine.text);
    assert!(the_chart(&mine).file_name.starts_with("overview-winter-"));

    let sara = app.caller_for(app.user_id("sc@example.org").await);
    let hers = app.run(&sara, "/overview").await.expect("a coordinator's");
    assert!(hers.text.contains("Acme/Spring"), "{}", hers.text);
    assert!(hers.text.contains("People (1):"), "{}", hers.text);

    let all = app.admin("/overview").await;
    assert!(
        all.text.starts_with("Overview of all 2 programs ·"),
        "{}",
        all.text
    );
    assert!(all.text.contains("People (3):"), "{}", all.text);
    assert!(the_chart(&all).file_name.starts_with("overview-all-"));
    let winter = app.admin("/overview program:Winter").await;
    assert!(winter.text.contains("People (2):"), "{}", winter.text);

    let sam = app.caller_for(app.user_id("sam@example.org").await);
    assert!(app.run(&sam, "/overview").await.is_err());
}

/// A person with a 200-character name, written straight to the store.
async fn someone(
    c: &mut sqlx::AnyConnection,
    i: usize,
    status: UserStatus,
    now: DateTime<Utc>,
) -> i64 {
    let email = Email::parse(&format!("crowd{i}@example.org")).expect("email");
    let phone = Phone::parse(&format!("+5511977{i:06}"), None).expect("phone");
    let name =
        FullName::parse(format!("{i:02} {}", "Ñame-Çrowd ".repeat(18)).trim()).expect("name");
    let user = store::users::NewUser {
        email: &email,
        phone: &phone,
        external_id: &ExternalId::from_phone(&phone),
        full_name: &name,
        status,
        org_id: None,
    };
    store::users::insert_user(c, &user, now)
        .await
        .expect("user")
}

/// Seven pending offers and seven sessions this week, between people whose names are 200
/// characters long: five of each are listed, names cut, and the reply still fits one screen.
async fn overview_fits_one_chat_screen_whatever_the_names(app: &TestApp) {
    app.with_program().await;
    let now = app.engine.now();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let program = store::orgs::list_programs(&mut c).await.expect("programs")[0].id;
    for i in 0..14 {
        let mentor = someone(&mut c, 2 * i, UserStatus::Active, now).await;
        let mentee = someone(&mut c, 2 * i + 1, UserStatus::Active, now).await;
        let matched = i >= 7;
        let ms = if matched {
            MatchStatus::Matched
        } else {
            MatchStatus::ReadyToBeMatched
        };
        let mentor_p = store::users::insert_persona(
            &mut c,
            mentor,
            PersonaRole::Mentor,
            Some(program),
            ms,
            now,
        )
        .await
        .expect("persona");
        let mentee_p = store::users::insert_persona(
            &mut c,
            mentee,
            PersonaRole::Mentee,
            Some(program),
            ms,
            now,
        )
        .await
        .expect("persona");
        let hours = Duration::hours(i64::try_from(i).expect("i") + 1);
        if matched {
            let m =
                store::matches::insert(&mut c, Some(program), mentee_p, mentor_p, "assign", now)
                    .await
                    .expect("match");
            let session = store::sessions::NewSession {
                match_id: m,
                starts_at: now + hours,
                length: mentorops_core::domain::sessions::session_length(),
                place: None,
                by: mentee,
            };
            store::sessions::insert(&mut c, &session, now)
                .await
                .expect("session");
        } else {
            let o =
                store::offers::insert_queued(&mut c, Some(program), mentee_p, mentor_p, 1, 1, now)
                    .await
                    .expect("offer");
            assert!(
                store::offers::send(&mut c, o, now, now + Duration::hours(72) - hours, now)
                    .await
                    .expect("sent")
            );
        }
    }
    drop(c);
    let reply = app.admin("/overview Spring").await;
    let text = &reply.text;
    fits_one_screen(text);
    assert!(
        text.contains("Offers pending: 7, the 5 due soonest:"),
        "{text}"
    );
    assert!(
        text.contains("Sessions this week (Mon 30 Nov – Sun 06 Dec): 7 booked; next:"),
        "{text}"
    );
    assert_eq!(text.matches(" ← ").count(), 5, "{text}");
    assert_eq!(text.matches(" & ").count(), 5, "{text}");
    // Soonest deadline first: the last offer seeded (12 ↔ 13) is due first.
    let first_offer = text
        .lines()
        .find(|l| l.contains(" ← "))
        .expect("an offer line");
    assert!(first_offer.starts_with("• 12 Ñame"), "{first_offer}");
    assert!(first_offer.contains('…'), "names are cut: {first_offer}");
    the_chart(&reply);
}

both_backends!(
    overview_counts_people_matches_activity_offers_and_sessions,
    overview_shows_only_the_callers_programs,
    overview_fits_one_chat_screen_whatever_the_names,
);

/// Spring with two applicants, for the front-end tests.
async fn spring_with_applicants(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550801 mentee program:Spring")
        .await;
    app.admin("/user_add \"Max Mentor\" max@example.org +14155550802 mentor program:Spring")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_telegram_the_overview_chart_is_sent_as_a_photo() {
    let app = TestApp::sqlite().await;
    spring_with_applicants(&app).await;
    app.link_chat("pm@example.org", "9301").await;
    let fake = Fake::start().await;
    let bot = start_polling(&app, &fake);

    fake.text(9301, "/overview Spring");
    let reply = nth_message(&fake, 9301, 1).await;
    assert!(
        text_of(&reply).starts_with("Overview of Acme/Spring"),
        "{reply}"
    );
    assert!(
        text_of(&reply).contains("People (2): A 0 · AI 2"),
        "{reply}"
    );
    let photo = soon("the chart sent as a photo", || {
        fake.to_chat("sendphoto", 9301).into_iter().next()
    })
    .await;
    let file = &photo["photo"];
    let name = file["filename"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("overview-spring-") && name.ends_with(".png"),
        "{photo}"
    );
    // The fake keeps a file part as text: the PNG signature's first byte is not UTF-8.
    assert!(
        file["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("\u{FFFD}PNG"),
        "{name}"
    );
    assert!(fake.to_chat("senddocument", 9301).is_empty());
    bot.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_discord_the_overview_chart_follows_as_an_attachment() {
    let app = TestApp::sqlite().await;
    spring_with_applicants(&app).await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "pm@example.org", 5301).await;

    let answer = ep
        .command(5301, "overview", json!([text_opt("program", "Spring")]))
        .await;
    assert!(
        content(&answer).starts_with("Overview of Acme/Spring"),
        "{}",
        answer.raw
    );
    let file = ep.fake.wait_for("followup:interaction-token").await;
    let raw = file["multipart"].as_str().unwrap_or_default();
    assert!(raw.contains("payload_json"), "{file}");
    assert!(raw.contains("filename=\"overview-spring-"), "{file}");
    assert!(raw.contains("image/png"), "{file}");
    assert!(raw.contains("\u{FFFD}PNG"), "the PNG is attached");
    ep.stop().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_console_the_overview_chart_is_saved_under_exports() {
    let app = TestApp::sqlite().await;
    spring_with_applicants(&app).await;
    let out = app
        .console_output(Who::User(app.admin_id), b"/overview Spring\n")
        .await;
    assert!(out.contains("Overview of Acme/Spring"), "{out}");
    let path = app
        .dir
        .path()
        .join("exports")
        .join("overview-spring-2026-12-01.png");
    assert!(
        out.contains("overview-spring-2026-12-01.png saved to"),
        "{out}"
    );
    assert_png(&std::fs::read(&path).expect("the chart saved"));
    app.finish().await;
}
