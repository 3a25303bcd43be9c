//! Calendar-ready sessions (issue 15, point 8; docs/domain.md#sessions): `/session_book` with
//! `duration:` and `place:` sends both people an iCalendar invitation (METHOD:REQUEST) with
//! the booking email and the chat message; `/session_cancel`, and a match closing, send its
//! cancellation (METHOD:CANCEL, same UID, higher SEQUENCE). Driven through the command layer on
//! both backends; one test sends the emails through the SMTP fake and reads the MIME message.

use mentorops_core::Error;
use mentorops_core::store::{self, outbox};
use mentorops_worker::{Mailer, deliver_due_emails};

use crate::both_backends;
use crate::fakes::smtp::SmtpServer;
use crate::support::{TestApp, persona_of, world};

const INVITE_TYPE: &str = "text/calendar; method=REQUEST; charset=UTF-8";
const CANCEL_TYPE: &str = "text/calendar; method=CANCEL; charset=UTF-8";
/// A place long enough to be folded, with the three characters iCalendar escapes.
const PLACE: &str =
    "Room 4, second floor; Rua Augusta 100 \\ ask at the desk for the mentoring room";

/// The content lines of an iCalendar text (unfolded), each as (name, parameters, value), after
/// checking its form: CRLF line ends only, no line over 75 octets.
fn lines_of(ics: &[u8]) -> Vec<(String, String, String)> {
    let text = std::str::from_utf8(ics).expect("UTF-8");
    assert!(text.ends_with("\r\n"), "{text:?}");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "a bare line end: {line:?}"
        );
    }
    text.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            // The value starts at the first colon outside a quoted parameter value.
            let mut quoted = false;
            let at = l
                .char_indices()
                .find(|(_, c)| {
                    quoted ^= *c == '"';
                    *c == ':' && !quoted
                })
                .map_or(l.len(), |(i, _)| i);
            let (head, value) = l.split_at(at);
            let (name, params) = head.split_once(';').unwrap_or((head, ""));
            (
                name.into(),
                params.into(),
                value.trim_start_matches(':').into(),
            )
        })
        .collect()
}

/// The one value of property `name` in the VEVENT (`params|value` when it has parameters).
fn field(lines: &[(String, String, String)], name: &str) -> String {
    let start = lines
        .iter()
        .position(|(n, _, v)| n == "BEGIN" && v == "VEVENT")
        .expect("a VEVENT");
    let found: Vec<String> = lines[start..]
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, p, v)| {
            if p.is_empty() {
                v.clone()
            } else {
                format!("{p}|{v}")
            }
        })
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0].clone()
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// The rows of `kind` queued for `email` on `channel` ("email", or "chat" for any chat), each
/// with its files.
async fn rows_with_files(
    app: &TestApp,
    email: &str,
    kind: &str,
    channel: &str,
) -> Vec<(outbox::Message, Vec<mentorops_core::reply::Attachment>)> {
    let mut out = Vec::new();
    for row in app.outbox_to(email).await {
        if row.kind != kind || !row.channel.starts_with(channel) {
            continue;
        }
        let mut c = app.engine.db().pool().acquire().await.expect("conn");
        let files = outbox::files(&mut c, row.id).await.expect("files");
        out.push((row, files));
    }
    out
}

/// The one calendar file on the one `kind` email to `email`, checked to be `media_type`.
async fn calendar_in_email(
    app: &TestApp,
    email: &str,
    kind: &str,
    media_type: &str,
) -> Vec<(String, String, String)> {
    let rows = rows_with_files(app, email, kind, "email").await;
    assert_eq!(rows.len(), 1, "{email} {kind}: {rows:?}");
    let files = &rows[0].1;
    assert_eq!(files.len(), 1, "{email} {kind}: {files:?}");
    assert_eq!(files[0].file_name, "invite.ics");
    assert_eq!(files[0].media_type, media_type);
    lines_of(&files[0].bytes)
}

async fn sessions_of_ana(app: &TestApp) -> Vec<store::sessions::Session> {
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let m = store::matches::of_persona(&mut c, persona_of(app, "ana@example.org").await)
        .await
        .expect("matches")[0]
        .clone();
    store::sessions::of_match(&mut c, m.id)
        .await
        .expect("sessions")
}

/// Spring in São Paulo's time (UTC-3), Ana paired with Maria. The clock reads 2026-12-01 09:00
/// UTC.
async fn ana_with_maria(app: &TestApp) -> crate::support::people::World {
    let w = world(app).await;
    app.admin("/program_set Spring timezone America/Sao_Paulo")
        .await;
    app.admin("/assign ana@example.org maria@example.org").await;
    w
}

async fn booking_with_a_length_and_a_place_sends_both_people_an_invitation(app: &TestApp) {
    let w = ana_with_maria(app).await;
    let booked = app
        .run(
            &w.ana,
            &format!(
                "/session_book at:\"2026-12-03 17:00\" duration:45m place:{}",
                mentorops_core::command::quote(PLACE)
            ),
        )
        .await
        .map(|r| r.text)
        .unwrap_or_else(|e| panic!("{}", e.user_message()));
    assert!(
        booked.contains("17:00 -03, 45 minutes, at Room 4")
            && booked.contains("calendar invitation"),
        "{booked}"
    );
    let sessions = sessions_of_ana(app).await;
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.length, chrono::Duration::minutes(45));
    assert_eq!(s.place.as_deref(), Some(PLACE));
    // The test settings send from mentorops@localhost: the UID's host.
    let uid = format!("session-{}@localhost", s.id);
    for email in ["ana@example.org", "maria@example.org"] {
        let ics = calendar_in_email(app, email, "session_booked", INVITE_TYPE).await;
        assert_eq!(field(&ics, "UID"), uid, "{email}");
        assert_eq!(field(&ics, "SEQUENCE"), "0");
        assert_eq!(field(&ics, "STATUS"), "CONFIRMED");
        // 17:00 in São Paulo is 20:00 UTC; 45 minutes later.
        assert_eq!(
            field(&ics, "DTSTART"),
            "TZID=America/Sao_Paulo|20261203T170000"
        );
        assert_eq!(
            field(&ics, "DTEND"),
            "TZID=America/Sao_Paulo|20261203T174500"
        );
        assert_eq!(unescape(&field(&ics, "LOCATION")), PLACE);
        assert_eq!(ics[0], ("BEGIN".into(), String::new(), "VCALENDAR".into()));
        assert!(
            ics.iter().any(|(n, _, v)| n == "METHOD" && v == "REQUEST"),
            "{ics:?}"
        );
        assert!(
            ics.iter()
                .any(|(n, _, v)| n == "TZID" && v == "America/Sao_Paulo"),
            "a VTIMEZONE: {ics:?}"
        );
        assert_eq!(
            field(&ics, "ORGANIZER"),
            "CN=\"Ana Mentee\"|mailto:ana@example.org"
        );
        let attendees: Vec<&str> = ics
            .iter()
            .filter(|(n, _, _)| n == "ATTENDEE")
            .map(|(_, _, v)| v.as_str())
            .collect();
        assert_eq!(
            attendees,
            ["mailto:ana@example.org", "mailto:maria@example.org"]
        );
    }
    // The chat message (to Maria, who did not book) carries the same file.
    let chat = rows_with_files(app, "maria@example.org", "session_booked", "chat:").await;
    assert!(!chat.is_empty(), "Maria has a chat account");
    for (row, files) in &chat {
        assert!(
            row.body_text.contains("45 minutes, at Room 4"),
            "{}",
            row.body_text
        );
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(
            (files[0].file_name.as_str(), files[0].media_type.as_str()),
            ("invite.ics", INVITE_TYPE)
        );
        assert_eq!(field(&lines_of(&files[0].bytes), "UID"), uid);
    }
    // Without duration: and place:, an hour and no LOCATION.
    app.run(&w.ana, "/session_book at:\"2026-12-10 09:30\"")
        .await
        .unwrap_or_else(|e| panic!("{}", e.user_message()));
    let second = sessions_of_ana(app)
        .await
        .pop()
        .expect("the second session");
    assert_eq!(
        (second.length, second.place.clone()),
        (chrono::Duration::hours(1), None)
    );
    let rows = rows_with_files(app, "maria@example.org", "session_booked", "email").await;
    let ics = lines_of(&rows.last().expect("the second booking's email").1[0].bytes);
    assert_eq!(
        field(&ics, "DTEND"),
        "TZID=America/Sao_Paulo|20261210T103000"
    );
    assert!(!ics.iter().any(|(n, _, _)| n == "LOCATION"), "{ics:?}");
}

async fn cancelling_sends_the_same_uid_with_a_higher_sequence_and_so_does_closing_the_match(
    app: &TestApp,
) {
    let w = ana_with_maria(app).await;
    for at in ["2026-12-03 17:00", "2026-12-05 17:00"] {
        app.run(
            &w.ana,
            &format!("/session_book at:\"{at}\" place:\"Room 4\""),
        )
        .await
        .unwrap_or_else(|e| panic!("{}", e.user_message()));
    }
    let sessions = sessions_of_ana(app).await;
    let (first, second) = (&sessions[0], &sessions[1]);
    let invited = rows_with_files(app, "maria@example.org", "session_booked", "email").await;
    let request = lines_of(&invited[0].1[0].bytes);
    let cancelled = app
        .run(&w.maria, &format!("/session_cancel {}", first.id))
        .await
        .map(|r| r.text)
        .unwrap_or_else(|e| panic!("{}", e.user_message()));
    assert!(cancelled.contains("cancelled"), "{cancelled}");
    // Both get it by email — Maria, who cancelled, too: the invitation is in her calendar.
    for email in ["ana@example.org", "maria@example.org"] {
        let ics = calendar_in_email(app, email, "session_cancelled", CANCEL_TYPE).await;
        assert!(
            ics.iter().any(|(n, _, v)| n == "METHOD" && v == "CANCEL"),
            "{ics:?}"
        );
        assert_eq!(field(&ics, "UID"), field(&request, "UID"));
        assert_eq!(
            field(&ics, "UID"),
            format!("session-{}@localhost", first.id)
        );
        let seq =
            |l: &[(String, String, String)]| field(l, "SEQUENCE").parse::<u32>().expect("a number");
        assert!(
            seq(&ics) > seq(&request),
            "{} after {}",
            seq(&ics),
            seq(&request)
        );
        assert_eq!(field(&ics, "STATUS"), "CANCELLED");
        assert_eq!(field(&ics, "DTSTART"), field(&request, "DTSTART"));
    }
    let chat = rows_with_files(app, "ana@example.org", "session_cancelled", "chat:").await;
    assert!(!chat.is_empty(), "Ana has a chat account");
    assert!(
        chat.iter()
            .all(|(_, f)| f.len() == 1 && f[0].media_type == CANCEL_TYPE)
    );
    // Closing the match cancels the session still booked, and its cancellation goes with the
    // match-closed email to both.
    app.admin("/unassign ana@example.org").await;
    for email in ["ana@example.org", "maria@example.org"] {
        let ics = calendar_in_email(app, email, "match_closed", CANCEL_TYPE).await;
        assert_eq!(
            field(&ics, "UID"),
            format!("session-{}@localhost", second.id)
        );
        assert_eq!(field(&ics, "SEQUENCE"), "1");
        assert_eq!(field(&ics, "STATUS"), "CANCELLED");
    }
}

async fn a_bad_length_or_place_is_refused_naming_the_fix_and_nothing_is_stored(app: &TestApp) {
    let w = ana_with_maria(app).await;
    let outbox_before = app.count("SELECT COUNT(*) AS n FROM outbox").await;
    let long = format!("place:{}", "x".repeat(201));
    for (args, says) in [
        ("duration:45", "duration:45m"),
        ("duration:10h", "a session lasts from 15m to 8h"),
        ("duration:5m", "a session lasts from 15m to 8h"),
        ("duration:soon", "duration:45m"),
        (
            "place:\"Room\u{200b}4\"",
            "the place holds the invisible character U+200B",
        ),
        (long.as_str(), "longer than 200 characters: shorten it"),
    ] {
        let line = format!("/session_book at:\"2026-12-03 17:00\" {args}");
        let e = app.run(&w.ana, &line).await.err();
        assert!(matches!(e, Some(Error::Input(_))), "{line}: {e:?}");
        let text = e.map(|e| e.user_message()).unwrap_or_default();
        assert!(text.contains(says), "{line}: {text}");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM sessions").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM outbox").await,
        outbox_before,
        "nothing queued"
    );
}

/// docs/domain.md#flash-mentoring: a flash match closes once its session has ended, by the
/// session's own length — one booked for 90 minutes is still on an hour after it began.
async fn a_flash_match_closes_when_its_session_has_lasted_its_own_length(app: &TestApp) {
    let w = world(app).await;
    app.admin("/program_set Spring flash_mentoring yes").await;
    app.admin("/assign ana@example.org maria@example.org").await;
    // The clock starts at 2026-12-01 09:00 UTC; Spring is on UTC.
    app.run(&w.ana, "/session_book at:\"2026-12-03 17:00\" duration:90m")
        .await
        .unwrap_or_else(|e| panic!("{}", e.user_message()));
    let close = || async {
        mentorops_core::timers::close_flash_matches(&app.engine, app.engine.now())
            .await
            .expect("close")
    };
    app.clock.advance(
        chrono::Duration::days(2) + chrono::Duration::hours(9) + chrono::Duration::minutes(29),
    );
    assert_eq!(app.engine.now().to_rfc3339(), "2026-12-03T18:29:00+00:00");
    assert_eq!(close().await, 0, "a minute before its 90 minutes are up");
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(close().await, 1, "at 18:30 it has ended");
    let m = store::matches::get(
        &mut app.engine.db().pool().acquire().await.expect("conn"),
        sessions_of_ana(app).await[0].match_id,
    )
    .await
    .expect("match")
    .expect("a match");
    assert_eq!(m.state, store::matches::MatchState::Closed);
}

both_backends!(
    booking_with_a_length_and_a_place_sends_both_people_an_invitation,
    a_flash_match_closes_when_its_session_has_lasted_its_own_length,
    cancelling_sends_the_same_uid_with_a_higher_sequence_and_so_does_closing_the_match,
    a_bad_length_or_place_is_refused_naming_the_fix_and_nothing_is_stored,
);

/// Standard base64 (RFC 4648) with line breaks, as MIME writes it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, s)| n | (u32::from(*s) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_email_carries_the_invitation_as_a_text_calendar_part() {
    let app = TestApp::sqlite().await;
    let w = ana_with_maria(&app).await;
    let from = app.engine.settings().smtp.from.clone();
    // Everything queued so far (welcome emails, pairing) goes to a server of its own.
    let before = SmtpServer::start(&[]).await;
    let mailer = Mailer::smtp(&before.url()).expect("mailer");
    deliver_due_emails(app.engine.db(), &mailer, &from, app.engine.now(), 30)
        .await
        .expect("pass");
    app.run(
        &w.ana,
        "/session_book at:\"2026-12-03 17:00\" duration:90m place:\"Room 4\"",
    )
    .await
    .unwrap_or_else(|e| panic!("{}", e.user_message()));
    let server = SmtpServer::start(&[]).await;
    let mailer = Mailer::smtp(&server.url()).expect("mailer");
    let done = deliver_due_emails(app.engine.db(), &mailer, &from, app.engine.now(), 30)
        .await
        .expect("pass");
    assert!(done.iter().all(|d| d.refused.is_none()), "{done:?}");
    let to_maria: Vec<String> = server
        .accepted()
        .into_iter()
        .filter(|m| m.contains("To: maria@example.org"))
        .collect();
    assert_eq!(to_maria.len(), 1, "{to_maria:?}");
    let mime = &to_maria[0];
    assert!(mime.contains("Content-Type: multipart/mixed"), "{mime}");
    assert!(
        mime.contains("Content-Type: multipart/alternative"),
        "{mime}"
    );
    assert!(mime.contains("Content-Type: text/plain"), "{mime}");
    // The calendar part: its media type with the method, named invite.ics, its bytes intact.
    let part = mime
        .split("\n--")
        .find(|p| p.contains("Content-Type: text/calendar"))
        .unwrap_or_else(|| panic!("no text/calendar part: {mime}"));
    let (headers, body) = part.split_once("\n\n").unwrap_or_default();
    // Header values compared as MIME does: without regard to case.
    let lower = headers.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: text/calendar; method=request; charset=utf-8")
            && lower.contains("content-disposition: attachment")
            && lower.contains("invite.ics")
            && lower.contains("content-transfer-encoding: base64"),
        "{headers}"
    );
    let ics = lines_of(&base64_decode(body));
    assert_eq!(
        field(&ics, "DTSTART"),
        "TZID=America/Sao_Paulo|20261203T170000"
    );
    assert_eq!(
        field(&ics, "DTEND"),
        "TZID=America/Sao_Paulo|20261203T183000"
    );
    assert_eq!(field(&ics, "LOCATION"), "Room 4");
    app.finish().await;
}

/// The invitation reaches the other person's chats through the real delivery drivers (the
/// booker has it with the reply): Maria's Telegram chat as a document (sendDocument) and her
/// Discord DM as an attachment (a multipart message), each `invite.ics` holding the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_arrives_as_a_file_on_telegram_and_on_discord() {
    use crate::fakes::discord_rest::FakeRest;
    use crate::fakes::telegram::Fake;
    use crate::support::discord::{Endpoint, link_on_discord, rest};
    use crate::support::telegram::soon;

    let app = TestApp::sqlite().await;
    app.with_program().await;
    let ana = crate::support::ana_maria_and_lee(&app).await;
    app.admin("/assign ana@example.org maria@example.org").await;
    let ep = Endpoint::start(&app).await;
    link_on_discord(&app, &ep, "maria@example.org", 8002).await;
    let booked = app
        .run(
            &ana,
            "/session_book at:\"2026-12-03 17:00\" place:\"Room 4\"",
        )
        .await
        .expect("booked");
    assert_eq!(booked.attachments[0].file_name, "invite.ics");

    let fake = Fake::start().await;
    let bot = mentorops_bot::telegram::bot_from_settings(&fake.settings()).expect("bot");
    mentorops_bot::telegram::deliver_due(app.shared_engine(), bot)
        .await
        .expect("telegram delivery");
    let doc = soon("the invitation in Maria's Telegram chat", || {
        fake.to_chat("senddocument", 7002).into_iter().next()
    })
    .await;
    assert_eq!(doc["document"]["filename"], "invite.ics", "{doc}");
    let ics = doc["document"]["content"].as_str().unwrap_or_default();
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("\r\nMETHOD:REQUEST\r\n"),
        "{ics}"
    );

    let dms = FakeRest::default();
    let (url, server) = dms.start().await;
    mentorops_bot::discord::deliver_due(app.shared_engine(), rest(&url))
        .await
        .expect("discord delivery");
    let files: Vec<String> = dms
        .dms
        .lock()
        .expect("lock")
        .iter()
        .filter(|(channel, _, _)| channel == "8002")
        .filter_map(|(_, _, body)| body["multipart"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one message with a file to Maria: {files:?}"
    );
    assert!(
        files[0].contains("filename=\"invite.ics\"")
            && files[0].contains("BEGIN:VCALENDAR")
            && files[0].contains("METHOD:REQUEST"),
        "{}",
        files[0]
    );
    server.abort();
    ep.stop().await;
    app.finish().await;
}
