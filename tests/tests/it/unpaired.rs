//! Who `/autopair` leaves unpaired is told why, and what happens next
//! (docs/domain.md#autopair-unpaired): in chat and by email, with the hard filter that kept out
//! the most of the other role, and the staff member who applied gets the list with the
//! reasons. People paired are not told. Through the command layer on both backends.

use mentorops_core::command::Caller;
use mentorops_core::reply::Reply;
use mentorops_core::store::outbox::Message;

use crate::both_backends;
use crate::support::TestApp;
use crate::support::people::{ANA_MENTEE, BEN_MENTEE, MARIA_MENTOR, world};

const KIND: &str = "autopair_unpaired";

/// The program manager previews `/autopair Spring` and applies it; the reply to the apply.
async fn pm_applies(app: &TestApp) -> Reply {
    pm_applies_with(app).await.1
}

/// [`pm_applies`], with the command the apply button sent.
async fn pm_applies_with(app: &TestApp) -> (String, Reply) {
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let preview = app.run(&pm, "/autopair Spring").await.expect("preview");
    let apply = preview
        .buttons
        .iter()
        .find(|b| b.label == "Apply these pairs")
        .map(|b| b.command.clone())
        .expect("apply button");
    let done = app.run(&pm, &apply).await.expect("apply");
    (apply, done)
}

/// The rows telling `email` they were left unpaired: (chat, email).
async fn told(app: &TestApp, email: &str) -> (Vec<Message>, Vec<Message>) {
    app.outbox_to(email)
        .await
        .into_iter()
        .filter(|m| m.kind == KIND)
        .partition(|m| m.channel != "email")
}

async fn not_told(app: &TestApp, email: &str) {
    let (chat, mail) = told(app, email).await;
    assert!(
        chat.is_empty() && mail.is_empty(),
        "{email} was told they were unpaired: {:?}",
        chat.iter()
            .chain(&mail)
            .map(|m| &m.body_text)
            .collect::<Vec<_>>()
    );
}

async fn pause(app: &TestApp, who: &Caller) {
    let r = app.run(who, "/pause").await.expect("pause");
    assert!(r.text.contains("You are paused until"), "{}", r.text);
}

async fn the_filter_that_kept_out_most_mentors_is_named_to_the_mentee_and_the_pm(app: &TestApp) {
    let w = world(app).await;
    // Two of the three mentors pause: only Tom is left, and Ben scores 100 with him.
    pause(app, &w.maria).await;
    pause(app, &w.lee).await;
    let (apply, done) = pm_applies_with(app).await;
    assert!(done.text.starts_with("Paired 1 mentee"), "{}", done.text);
    assert!(
        done.text.contains("Left unpaired, each told why and what happens next (1):")
            && done.text.contains(
                "Ana Mentee (mentee): more mentees (2) than places (1); 2 of 3 mentors paused; the 1 mentor left went to a better-scoring pair"
            ),
        "{}",
        done.text
    );
    let (chat, mail) = told(app, "ana@example.org").await;
    assert_eq!((chat.len(), mail.len()), (1, 1), "one chat row, one email");
    for body in [&chat[0].body_text, &mail[0].body_text] {
        for said in [
            "Auto-pairing in Acme/Spring left you unpaired this time",
            "2 of the program's 3 mentors had paused new requests",
            "the one mentor who could be paired with you was paired with another mentee, for a better total score",
            "you stay ready to be matched, and your program manager may pair you by hand",
            "/mentors, then /choose",
        ] {
            assert!(body.contains(said), "missing {said:?} in {body}");
        }
    }
    assert!(
        mail[0].subject.contains("not paired"),
        "{}",
        mail[0].subject
    );
    // The list's page buttons send the same token with page:, which shows the list again and
    // pairs and tells no one twice.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let again = app
        .run(&pm, &format!("{apply} page:1"))
        .await
        .expect("the list again");
    assert!(
        again
            .text
            .starts_with("Left unpaired, each told why and what happens next (1):\nAna Mentee"),
        "{}",
        again.text
    );
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
    let (chat, mail) = told(app, "ana@example.org").await;
    assert_eq!((chat.len(), mail.len()), (1, 1), "told once");
    // Paired, or not in the run at all (paused): not told they were left unpaired.
    for email in [
        "ben@example.org",
        "tom@example.org",
        "maria@example.org",
        "lee@example.org",
    ] {
        not_told(app, email).await;
    }
}

async fn the_surplus_mentee_hears_there_were_more_mentees_than_places(app: &TestApp) {
    app.with_program().await;
    app.ready(MARIA_MENTOR).await;
    app.ready(ANA_MENTEE).await;
    app.ready(BEN_MENTEE).await;
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let preview = app.run(&pm, "/autopair Spring").await.expect("preview");
    assert!(
        preview
            .text
            .contains("Mentees left unpaired (1): Ben Mentee")
            && preview
                .text
                .contains("1 person left with no pair will be told why"),
        "{}",
        preview.text
    );
    let done = pm_applies(app).await;
    assert!(
        done.text
            .contains("Ben Mentee (mentee): more mentees (2) than places (1); the 1 mentor left went to a better-scoring pair"),
        "{}",
        done.text
    );
    let (chat, mail) = told(app, "ben@example.org").await;
    assert_eq!((chat.len(), mail.len()), (1, 1));
    assert!(
        mail[0]
            .body_text
            .contains("there were more mentees ready (2) than free mentor places (1)"),
        "{}",
        mail[0].body_text
    );
    not_told(app, "ana@example.org").await;
    not_told(app, "maria@example.org").await;
}

async fn a_mentor_left_free_is_told_and_those_paired_are_not(app: &TestApp) {
    let _w = world(app).await;
    let done = pm_applies(app).await;
    assert!(done.text.starts_with("Paired 2 mentees"), "{}", done.text);
    // Ana ↔ Maria and Ben ↔ Tom: Lee gets no one.
    assert!(
        done.text.contains(
            "Lee Mentor (mentor): more places (3) than mentees (2); the 2 mentees left went to better-scoring pairs"
        ),
        "{}",
        done.text
    );
    let (chat, mail) = told(app, "lee@example.org").await;
    assert_eq!((chat.len(), mail.len()), (1, 1));
    for said in [
        "there were more free mentor places (3) than mentees ready (2); all 2 mentees who could be paired with you were paired with other mentors, for a better total score",
        "Mentees can still ask you",
    ] {
        assert!(chat[0].body_text.contains(said), "{}", chat[0].body_text);
    }
    for email in [
        "ana@example.org",
        "ben@example.org",
        "maria@example.org",
        "tom@example.org",
    ] {
        not_told(app, email).await;
    }
}

async fn a_long_list_is_one_screen_with_its_pages_and_a_csv_of_all(app: &TestApp) {
    app.with_program().await;
    app.ready(MARIA_MENTOR).await;
    // Thirty mentees, imported, ready: one is paired, twenty-nine are left.
    let mut csv = String::from("name,email,phone,role,program\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "Left Person{i:02},l{i}@left.example,+1415556{:04},mentee,Spring\n",
            1000 + i
        ));
    }
    app.admin_with_file("/user_import file:people.csv", "people.csv", csv.as_bytes())
        .await
        .expect("imported");
    for i in 0..30 {
        app.admin(&format!("/status l{i}@left.example A")).await;
        app.admin(&format!("/match_status l{i}@left.example RTBM"))
            .await;
    }
    let done = pm_applies(app).await;
    assert!(
        done.text.contains(
            "Left unpaired, each told why and what happens next: 1–25 of 29:\nLeft Person"
        ) && done.text.contains("…and 4 more"),
        "{}",
        done.text
    );
    let next = done
        .buttons
        .iter()
        .find(|b| b.label == "Next ▶")
        .map(|b| b.command.clone())
        .expect("Next button");
    assert!(next.ends_with("page:2"), "{next}");
    let file = done.attachments.first().expect("the whole list as a CSV");
    let all = String::from_utf8(file.bytes.clone()).expect("csv");
    assert_eq!(all.lines().count(), 30, "a header and 29 people: {all}");
    assert!(
        all.starts_with("name,email,role,reason\n")
            && all.contains("there were more mentees ready (30) than free mentor places (1)"),
        "{all}"
    );
    // The second screen, from the Next button: the last four, no file, nothing paired again.
    let pm = app.caller_for(app.user_id("pm@example.org").await);
    let second = app.run(&pm, &next).await.expect("page 2");
    assert!(
        second
            .text
            .starts_with("Left unpaired, each told why and what happens next: 26–29 of 29:"),
        "{}",
        second.text
    );
    assert!(second.attachments.is_empty());
    assert!(second.buttons.iter().any(|b| b.label == "◀ Previous"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM matches").await, 1);
}

both_backends!(
    the_filter_that_kept_out_most_mentors_is_named_to_the_mentee_and_the_pm,
    the_surplus_mentee_hears_there_were_more_mentees_than_places,
    a_mentor_left_free_is_told_and_those_paired_are_not,
    a_long_list_is_one_screen_with_its_pages_and_a_csv_of_all,
);
