//! Input nobody should send, sent anyway (issue 11): bytes that are not UTF-8, 100 KB
//! arguments, control and format characters, LIKE wildcards in names, letters in phone numbers.
//! Each gets one clear message naming the problem and the fix, never "something went wrong",
//! and changes nothing — on SQLite and PostgreSQL alike.

use mentorops_bot::console::NOT_UTF8;
use mentorops_core::Error;
use mentorops_core::command::Who;

use crate::both_backends;
use crate::support::TestApp;

/// 100 KB of one word, no spaces.
fn huge_word() -> String {
    "x".repeat(100_000)
}

const USERS: &str = "SELECT COUNT(*) AS n FROM users";
const PERSONAS: &str = "SELECT COUNT(*) AS n FROM personas";

/// The message a refused command shows, checked to be a person's message (not ours) and short.
async fn refusal(app: &TestApp, line: &str) -> String {
    let e = app.admin_err(line).await;
    assert!(
        !matches!(e, Error::Internal(_)),
        "{}: failed inside instead of being refused: {e}",
        line.chars().take(80).collect::<String>()
    );
    let m = e.user_message();
    assert!(
        m.chars().count() < 500,
        "{}: the reply is {} characters long",
        line.chars().take(80).collect::<String>(),
        m.chars().count()
    );
    m
}

/// The message `/user_import` of `csv` is refused with (empty if it was not).
async fn import_refusal(app: &TestApp, csv: &str) -> String {
    app.admin_with_file("/user_import file:people.csv", "people.csv", csv.as_bytes())
        .await
        .err()
        .map(|e| e.user_message())
        .unwrap_or_default()
}

async fn a_line_that_is_not_utf8_is_refused_and_the_console_reads_on(app: &TestApp) {
    let mut input = b"/user_list \xff\xfe broken\r\n".to_vec();
    input.extend_from_slice(b"/help\n");
    let out = app.console_output(Who::User(app.admin_id), &input).await;
    let refused = out.find(&format!("✗ {NOT_UTF8}"));
    let help = out.find("Commands you can use");
    assert!(
        refused.is_some() && help.is_some() && refused < help,
        "the refusal, then /help's answer: {out}"
    );
    assert!(
        NOT_UTF8.contains("not valid UTF-8") && NOT_UTF8.contains("type it again"),
        "{NOT_UTF8}"
    );
}

async fn values_quoted_back_in_a_reply_are_cut_to_sixty_characters(app: &TestApp) {
    app.with_program().await;
    let users = app.count(USERS).await;
    let word = huge_word();
    let m = refusal(app, &format!("/help {word}")).await;
    assert!(
        m.contains("there is no command /xxx") && m.contains("xxx…"),
        "{m}"
    );
    // 100 KB of prose: the parser stops at the first word that does not fit.
    let prose = "lorem ipsum ".repeat(100_000 / 12);
    let m = refusal(app, &format!("/help {prose}")).await;
    assert!(m.contains("too many values for /help"), "{m}");
    let m = refusal(app, &format!("/status {word} A")).await;
    assert!(
        m.contains("100000 characters long") && m.contains("xxx…"),
        "{m}"
    );
    let m = refusal(
        app,
        &format!("/user_add \"{word}\" ana@example.org +14155550140 mentee program:Spring"),
    )
    .await;
    assert!(m.contains("the name is longer than 200 characters"), "{m}");
    let m = refusal(
        app,
        &format!("/user_add \"Ana Lima\" ana@example.org +14155550140 mentee program:{word}"),
    )
    .await;
    assert!(
        m.contains("there is no program 'xxx") && m.contains("…'"),
        "{m}"
    );
    let m = refusal(app, &format!("/{word}")).await;
    assert!(m.contains("unknown command /xxx"), "{m}");
    let m = refusal(app, &format!("/status ana@example.org A {word}:yes")).await;
    assert!(m.contains("has no option 'xxx"), "{m}");
    assert_eq!(app.count(USERS).await, users, "nothing was added");
}

async fn control_characters_are_refused_before_anything_is_stored(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Rui Costa\" rui@example.org +14155550141 mentee program:Spring")
        .await;
    let (users, personas) = (app.count(USERS).await, app.count(PERSONAS).await);
    // NUL: PostgreSQL cannot store it (it failed inside), SQLite stored it.
    let m = refusal(
        app,
        "/user_add \"Ana\u{0}Lima\" ana@example.org +14155550140 mentee program:Spring",
    )
    .await;
    assert!(
        m.contains("name: holds the invisible character U+0000") && m.contains("without it"),
        "{m}"
    );
    let m = refusal(
        app,
        "/user_add \"Ana Lima\" ana@example.org +14155550140 mentee program:\"Spr\u{1b}ing\"",
    )
    .await;
    assert!(
        m.contains("program: holds the invisible character U+001B"),
        "{m}"
    );
    let m = refusal(app, "/user_show \"Rui\nCosta\"").await;
    assert!(m.contains("person: holds a line break"), "{m}");
    // A file does not go through the command parser: the name's own rule refuses it.
    let csv = "name,email,phone,role,program\n\"Ana\u{0}Lima\",ana@example.org,+14155550140,mentee,Spring\n";
    let e = import_refusal(app, csv).await;
    assert!(
        e.contains("line 2: the name holds the invisible character U+0000"),
        "{e}"
    );
    assert_eq!(app.count(USERS).await, users, "no user was added");
    assert_eq!(app.count(PERSONAS).await, personas, "no persona was added");
    // Free text keeps its line breaks and tabs.
    let r = app
        .admin("/deactivate rui@example.org reason:\"moved away\n\tto Porto\"")
        .await;
    assert!(r.text.contains("Rui Costa"), "{}", r.text);
}

/// Decision: a name refuses format characters (Cf) such as U+202E, the right-to-left override,
/// which makes a name display as another; the zero-width (non-)joiners that Persian, Arabic and
/// Indic names are spelled with are kept (`values::is_hidden_char`).
async fn a_right_to_left_override_in_a_name_is_refused_and_a_joiner_is_kept(app: &TestApp) {
    app.with_program().await;
    let users = app.count(USERS).await;
    let m = refusal(
        app,
        "/user_add \"Ana \u{202E}amiL\" ana@example.org +14155550140 mentee program:Spring",
    )
    .await;
    assert!(
        m.contains("the name holds the invisible character U+202E"),
        "{m}"
    );
    assert!(
        !m.contains('\u{202E}'),
        "the message does not hold it either: {m}"
    );
    assert_eq!(app.count(USERS).await, users, "nothing was added");
    app.admin(
        "/user_add \"Mohammad\u{200C}Reza Tehrani\" mr@example.org +14155550142 mentee program:Spring",
    )
    .await;
    assert_eq!(
        app.user("mr@example.org").await.full_name,
        "Mohammad\u{200C}Reza Tehrani"
    );
}

async fn a_person_reference_too_long_to_be_anyones_is_refused_before_any_sql(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ana Lima\" ana@example.org +14155550140 mentee program:Spring")
        .await;
    let (users, audit) = (
        app.count(USERS).await,
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
    );
    let word = huge_word();
    // A name (SQLite failed on its LIKE pattern: "too complex"), an email, a phone-like one.
    for reference in [
        word.clone(),
        format!("{word}@example.org"),
        "1".repeat(100_000),
    ] {
        for line in [
            format!("/status {reference} A"),
            format!("/user_show {reference}"),
            format!("/assign {reference} ana@example.org"),
        ] {
            let m = refusal(app, &line).await;
            assert!(
                m.contains("characters long") && m.contains("use the person's email or #id"),
                "{m}"
            );
        }
    }
    // The longest real reference, an email of 254 characters, is still looked up.
    let long_email = format!(
        "{}@{}.{}.{}.org",
        "a".repeat(64),
        "b".repeat(60),
        "c".repeat(60),
        "d".repeat(63)
    );
    assert_eq!(long_email.len(), 254);
    let m = refusal(app, &format!("/user_show {long_email}")).await;
    assert!(m.contains("no one matches"), "{m}");
    assert_eq!(app.count(USERS).await, users);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        audit
    );
}

async fn wildcards_and_backslashes_in_a_name_are_matched_literally(app: &TestApp) {
    app.with_program().await;
    app.admin("/user_add \"Ann_a Lima\" ann@example.org +14155550143 mentee program:Spring")
        .await;
    app.admin("/user_add \"Anna Souza\" anna@example.org +14155550144 mentee program:Spring")
        .await;
    app.admin("/user_add \"Jo\\\\ao Reis\" joao@example.org +14155550145 mentee program:Spring")
        .await;
    assert_eq!(app.user("joao@example.org").await.full_name, "Jo\\ao Reis");
    for (reference, who) in [
        ("Ann_a", "ann@example.org"),
        ("Ann_", "ann@example.org"),
        ("\"Ann_a L\"", "ann@example.org"),
        ("Anna", "anna@example.org"),
        // On PostgreSQL an unescaped backslash escaped what followed; SQLite has no default.
        ("Jo\\", "joao@example.org"),
        ("jo\\a", "joao@example.org"),
    ] {
        let r = app.admin(&format!("/user_show {reference}")).await;
        assert!(r.text.contains(who), "{reference}: {}", r.text);
    }
    let users = app.count(USERS).await;
    for reference in ["Ann%", "%", "_nna", "A%a"] {
        let e = app.admin_err(&format!("/user_show {reference}")).await;
        assert!(matches!(e, Error::NotFound(_)), "{reference}: {e}");
    }
    // Wildcards are not wildcards, but a plain prefix still finds both.
    let e = app.admin_err("/user_show ann").await;
    assert!(matches!(e, Error::Ambiguous(_)), "{e}");
    assert_eq!(app.count(USERS).await, users);
}

async fn a_phone_with_letters_or_a_trailing_nul_is_refused(app: &TestApp) {
    app.with_program().await;
    let users = app.count(USERS).await;
    let m = refusal(
        app,
        "/user_add \"Ana Lima\" ana@example.org \"+1 415 555 ABCD\" mentee program:Spring",
    )
    .await;
    assert!(
        m.contains("the letter 'A'")
            && m.contains("a phone number has digits only, like +1 415 555 0100"),
        "{m}"
    );
    let m = refusal(
        app,
        "/user_add \"Ana Lima\" ana@example.org \"+14155550140\u{0}\" mentee program:Spring",
    )
    .await;
    assert!(
        m.contains("phone: holds the invisible character U+0000"),
        "{m}"
    );
    // From a file, the phone's own rule refuses both.
    let csv = "name,email,phone,role,program\n\
               Ana Lima,ana@example.org,+1 415 555 ABCD,mentee,Spring\n\
               Rui Costa,rui@example.org,\"+14155550141\u{0}\",mentee,Spring\n";
    let e = import_refusal(app, csv).await;
    assert!(
        e.contains("line 2: '+1 415 555 ABCD' holds the letter 'A'")
            && e.contains("line 3: '+14155550141\u{FFFD}' holds the invisible character U+0000")
            && e.contains("digits only"),
        "{e}"
    );
    assert_eq!(app.count(USERS).await, users, "nothing was added");
}

both_backends!(
    a_line_that_is_not_utf8_is_refused_and_the_console_reads_on,
    values_quoted_back_in_a_reply_are_cut_to_sixty_characters,
    control_characters_are_refused_before_anything_is_stored,
    a_right_to_left_override_in_a_name_is_refused_and_a_joiner_is_kept,
    a_person_reference_too_long_to_be_anyones_is_refused_before_any_sql,
    wildcards_and_backslashes_in_a_name_are_matched_literally,
    a_phone_with_letters_or_a_trailing_nul_is_refused,
);
