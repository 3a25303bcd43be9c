//! Recommendations in a big program: `/mentors` and `/suggest` rank exactly as a one-by-one
//! scoring of every available mentor would (docs/domain.md#recommendations).

use mentorops_core::command::Caller;
use mentorops_core::status::{MatchStatus, UserStatus};
use mentorops_core::store;

use crate::both_backends;
use crate::support::TestApp;

async fn ok(app: &TestApp, who: &Caller, line: &str) -> String {
    let r = app.run(who, line).await;
    assert!(r.is_ok(), "{line}: {r:?}");
    r.map(|r| r.text).unwrap_or_default()
}

/// Someone written straight to the store (fast, so a test can have a hundred): a user of
/// `status` with one persona of `role` in `program_id`; their (user id, persona id).
#[allow(clippy::too_many_arguments)]
async fn stored_person(
    c: &mut sqlx::AnyConnection,
    i: u64,
    name: &str,
    status: UserStatus,
    role: mentorops_core::roles::PersonaRole,
    program_id: i64,
    match_status: MatchStatus,
    now: chrono::DateTime<chrono::Utc>,
) -> (i64, i64) {
    use mentorops_core::values::{Email, ExternalId, FullName, Phone};
    let email = Email::parse(&format!("p{i}@scale.example")).expect("email");
    let phone = Phone::parse(&format!("+55119{:08}", 70_000_000 + i), None).expect("phone");
    let user = store::users::NewUser {
        email: &email,
        phone: &phone,
        external_id: &ExternalId::from_phone(&phone),
        full_name: &FullName::parse(name).expect("name"),
        status,
        org_id: None,
    };
    let uid = store::users::insert_user(c, &user, now)
        .await
        .expect("user");
    let pid = store::users::insert_persona(c, uid, role, Some(program_id), match_status, now)
        .await
        .expect("persona");
    (uid, pid)
}

/// Random answers to the questionnaire (each question answered 85 % of the time, one in ten of
/// them left open): (key, answer, complete).
fn random_answers(
    q: &mentorops_core::questionnaire::Questionnaire,
    r: &mut mentorops_core::rng::SplitMix64,
) -> Vec<(String, mentorops_core::questionnaire::Answer, bool)> {
    use mentorops_core::questionnaire::{Answer, QuestionKind};
    let mut out = Vec::new();
    for x in &q.questions {
        if r.below(100) >= 85 {
            continue;
        }
        let n = x.options.len().max(1) as u64;
        let a = match x.kind {
            QuestionKind::Single => Answer::Single(x.options[r.below(n) as usize].clone()),
            QuestionKind::Multi => {
                let chosen = x
                    .options
                    .iter()
                    .filter(|_| r.below(3) == 0)
                    .cloned()
                    .collect::<Vec<_>>();
                if chosen.is_empty() {
                    Answer::Multi(vec![x.options[0].clone()])
                } else {
                    Answer::Multi(x.in_order(chosen))
                }
            }
            QuestionKind::Scale => Answer::Scale(1 + r.below(5) as u8),
            QuestionKind::Text => Answer::Text(format!("about {}", r.below(1000))),
        };
        out.push((x.key.clone(), a, r.below(10) != 0));
    }
    out
}

/// A program of many mentors — random answers, some not available (status, persona, match
/// status), some who turned this mentee down, namesakes with equal scores — recommends exactly
/// what scoring every mentor one by one with `questionnaire::score` gives, in the same order
/// (score, name, persona id): /mentors and /suggest alike.
async fn recommendations_in_a_big_program_equal_a_brute_force_ranking(app: &TestApp) {
    use mentorops_core::domain::recommend::{Recommendation, unavailable_reason};
    use mentorops_core::questionnaire;
    use mentorops_core::rng::SplitMix64;
    use mentorops_core::roles::PersonaRole;
    use mentorops_core::status::PersonaStatus;

    app.with_program().await;
    app.admin("/program_set Spring recommendations 12").await;
    let now = app.engine.now();
    let mut c = app.engine.db().pool().acquire().await.expect("conn");
    let program = store::orgs::list_programs(&mut c)
        .await
        .expect("programs")
        .into_iter()
        .find(|p| p.name == "Spring")
        .expect("Spring");
    let q = program.questionnaire.clone();
    let mut r = SplitMix64(2027);
    let save = async |c: &mut sqlx::AnyConnection,
                      uid: i64,
                      answers: &[(String, questionnaire::Answer, bool)]| {
        for (key, a, complete) in answers {
            store::answers::save(c, uid, program.id, key, a, *complete, now)
                .await
                .expect("answer");
        }
    };
    // The mentee: every question answered, the last one still open (it does not count).
    let (mentee, mentee_persona) = stored_person(
        &mut c,
        0,
        "Mia Mentee",
        UserStatus::Active,
        PersonaRole::Mentee,
        program.id,
        MatchStatus::ReadyToBeMatched,
        now,
    )
    .await;
    let mut mine = random_answers(&q, &mut r);
    for answer in &mut mine {
        answer.2 = true;
    }
    for x in &q.questions {
        if !mine.iter().any(|(k, _, _)| *k == x.key) && x.kind == questionnaire::QuestionKind::Scale
        {
            mine.push((x.key.clone(), questionnaire::Answer::Scale(3), true));
        }
    }
    if let Some(last) = mine.last_mut() {
        last.2 = false;
    }
    save(&mut c, mentee, &mine).await;
    // Her own mentor persona is never recommended to her.
    store::users::insert_persona(
        &mut c,
        mentee,
        PersonaRole::Mentor,
        Some(program.id),
        MatchStatus::ReadyToBeMatched,
        now,
    )
    .await
    .expect("own mentor persona");
    let names = [
        "Ana Souza",
        "Bo Lima",
        "Cy Adams",
        "ana souza",
        "Dee de Souza",
    ];
    let statuses = [
        UserStatus::Active,
        UserStatus::Active,
        UserStatus::Active,
        UserStatus::ScreeningIncomplete,
        UserStatus::ApplicationIncomplete,
    ];
    let matches = [
        MatchStatus::ReadyToBeMatched,
        MatchStatus::ReadyToBeMatched,
        MatchStatus::ReadyToBeMatched,
        MatchStatus::Matched,
        MatchStatus::NotApplicable,
    ];
    for i in 1..=120u64 {
        let name = names[r.below(names.len() as u64) as usize];
        let status = statuses[r.below(statuses.len() as u64) as usize];
        let m = matches[r.below(matches.len() as u64) as usize];
        let (uid, pid) = stored_person(
            &mut c,
            i,
            name,
            status,
            PersonaRole::Mentor,
            program.id,
            m,
            now,
        )
        .await;
        if r.below(10) == 0 {
            store::users::set_persona_status(
                &mut c,
                pid,
                PersonaStatus::Active,
                PersonaStatus::Inactive,
            )
            .await
            .expect("inactive persona");
        }
        save(&mut c, uid, &random_answers(&q, &mut r)).await;
    }
    // Namesakes answering as she does: equal scores at the top, in persona order; three of them
    // turned her down before (declined, expired) or had their offer withdrawn (still shown).
    let mine_complete: Vec<_> = mine
        .iter()
        .map(|(k, a, _)| (k.clone(), a.clone(), true))
        .collect();
    let mut twins = Vec::new();
    for i in 0..6u64 {
        let (uid, pid) = stored_person(
            &mut c,
            200 + i,
            if i % 2 == 0 { "Sam Same" } else { "Al Same" },
            UserStatus::Active,
            PersonaRole::Mentor,
            program.id,
            MatchStatus::ReadyToBeMatched,
            now,
        )
        .await;
        save(&mut c, uid, &mine_complete).await;
        twins.push(pid);
    }
    for (pid, state) in twins.iter().zip(["declined", "expired", "withdrawn"]) {
        sqlx::query(
            "INSERT INTO offers (program_id, mentee_persona_id, mentor_persona_id, round, rank, state, created_at) \
             VALUES ($1, $2, $3, 1, 1, $4, $5)",
        )
        .bind(program.id)
        .bind(mentee_persona)
        .bind(*pid)
        .bind(state)
        .bind(now.timestamp_millis())
        .execute(&mut *c)
        .await
        .expect("offer");
    }

    // By hand: every mentor persona of the program, one by one, as docs/domain.md#recommendations says.
    let complete = |(mut a, open): (questionnaire::Answers, Vec<String>)| {
        for k in open {
            a.remove(&k);
        }
        a
    };
    let her = complete(
        store::answers::of(&mut c, mentee, program.id)
            .await
            .expect("answers"),
    );
    let mut expected = Vec::new();
    for p in store::users::personas_in_program(&mut c, program.id, PersonaRole::Mentor)
        .await
        .expect("personas")
    {
        if p.user_id == mentee || twins[..2].contains(&p.id) {
            continue;
        }
        let u = store::users::user(&mut c, p.user_id)
            .await
            .expect("user")
            .expect("user");
        if unavailable_reason(&u, &p).is_some() {
            continue;
        }
        let theirs = complete(
            store::answers::of(&mut c, u.id, program.id)
                .await
                .expect("answers"),
        );
        let (score, reasons) = questionnaire::score(&q, &her, &theirs);
        expected.push(Recommendation {
            persona: p,
            user: u,
            score,
            reasons,
        });
    }
    expected.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.user.full_name.cmp(&b.user.full_name))
            .then(a.persona.id.cmp(&b.persona.id))
    });
    assert!(
        expected.len() > 30,
        "enough mentors to choose from: {}",
        expected.len()
    );
    expected.truncate(12);
    let lines: Vec<String> = expected.iter().map(Recommendation::line).collect();
    assert!(
        lines[0].contains("Al Same") && lines[0].contains("100/100"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(&format!("#{} ", twins[2]))),
        "a withdrawn offer does not turn a mentor down: {lines:?}"
    );
    drop(c);

    let shown = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let mia = app.caller_for(mentee);
    let text = ok(app, &mia, "/mentors").await;
    assert_eq!(shown(&text), lines, "/mentors: {text}");
    let text = app.admin(&format!("/suggest #{mentee}")).await.text;
    assert_eq!(shown(&text), lines, "/suggest: {text}");
}

both_backends!(recommendations_in_a_big_program_equal_a_brute_force_ranking);
