//! The application questionnaire, recommendations, choosing, answering offers, and the
//! staff's pairing commands.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::super::ctx::Ctx;
use super::super::matching::{self, Recommendation, persona_user, program_of, when};
use super::super::ops;
use super::super::parse::{Invocation, quote};
use super::{number, reason};
use crate::assignment;
use crate::csv_safe;
use crate::error::{Error, Result};
use crate::questionnaire::{Answer, Question, QuestionKind};
use crate::reply::{Attachment, Reply, echo};
use crate::roles::{Capability, PersonaRole};
use crate::status::{MatchStatus, PersonaStatus, UserStatus};
use crate::store::matches::MatchState;
use crate::store::offers::OfferState;
use crate::store::orgs::Program;
use crate::store::previews::Preview;
use crate::store::users::{Persona, User};
use crate::store::{self};
use crate::values::confirmation_token;

/// The program whose questionnaire the user answers: the one named, or their first program
/// with questions still open.
async fn application_program(
    ctx: &mut Ctx<'_>,
    user: &User,
    named: Option<&str>,
) -> Result<Program> {
    let mut programs: Vec<Program> = Vec::new();
    for p in store::users::personas_of(ctx.c(), user.id).await? {
        if let Some(pr) = program_of(ctx, &p).await?
            && !programs.iter().any(|x| x.id == pr.id)
        {
            programs.push(pr);
        }
    }
    if programs.is_empty() {
        return Err(Error::conflict(
            "you are not in a program yet: your program manager will assign you to one",
        ));
    }
    if let Some(name) = named {
        return programs
            .into_iter()
            .find(|p| {
                p.name.eq_ignore_ascii_case(name.trim())
                    || p.full_name().eq_ignore_ascii_case(name.trim())
            })
            .ok_or_else(|| {
                Error::not_found(format!(
                    "you are not in a program called '{}'",
                    echo(name.trim())
                ))
            });
    }
    for p in &programs {
        let (answers, open) = store::answers::of(ctx.c(), user.id, p.id).await?;
        if p.questionnaire
            .questions
            .iter()
            .any(|q| !answers.contains_key(&q.key) || open.contains(&q.key))
        {
            return Ok(p.clone());
        }
    }
    Ok(programs.remove(0))
}

pub async fn apply(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let program = application_program(ctx, &user, inv.get("program")).await?;
    let qs = program.questionnaire.clone();
    let (answers, open) = store::answers::of(ctx.c(), user.id, program.id).await?;
    let current = |answers: &crate::questionnaire::Answers, open: &[String]| {
        qs.questions
            .iter()
            .find(|q| open.contains(&q.key))
            .or_else(|| qs.questions.iter().find(|q| !answers.contains_key(&q.key)))
            .cloned()
    };
    let target = match inv.get("q") {
        Some(key) => Some(qs.question(key.trim()).cloned().ok_or_else(|| {
            Error::input(format!(
                "there is no question '{}': the questions are {}",
                echo(key.trim()),
                qs.questions
                    .iter()
                    .map(|q| q.key.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?),
        None => current(&answers, &open),
    };
    let Some(answer) = inv.get("answer") else {
        return Ok(match target {
            Some(q) => ask(&program, &q, answers.get(&q.key)),
            None => Reply::text(format!(
                "Your application for {} is complete:\n{}\nTo change an answer: /apply q:KEY",
                program.full_name(),
                summary(&qs.questions, &answers)
            )),
        });
    };
    let Some(q) = target else {
        return Err(Error::conflict(
            "your application is complete: to change an answer, name the question with q:KEY (see /apply)",
        ));
    };
    let now = ctx.now;
    // A button press names its question (q:) and toggles one option; a typed answer (no q:)
    // is the whole list at once.
    let pressed = inv.get("q").is_some();
    if q.kind == QuestionKind::Multi && pressed && !answer.contains(',') {
        let mut chosen = match answers.get(&q.key) {
            Some(Answer::Multi(v)) => v.clone(),
            _ => Vec::new(),
        };
        if answer.trim().eq_ignore_ascii_case("done") {
            if chosen.is_empty() {
                return Err(Error::input("pick at least one option before Done"));
            }
            store::answers::save(
                ctx.c(),
                user.id,
                program.id,
                &q.key,
                &Answer::Multi(chosen),
                true,
                now,
            )
            .await?;
        } else {
            let option = q.option(answer)?;
            if let Some(i) = chosen.iter().position(|o| *o == option) {
                chosen.remove(i);
            } else {
                chosen.push(option);
            }
            let value = Answer::Multi(q.in_order(chosen));
            store::answers::save(ctx.c(), user.id, program.id, &q.key, &value, false, now).await?;
            return Ok(ask(&program, &q, Some(&value)));
        }
    } else {
        let value = q.parse_answer(answer)?;
        store::answers::save(ctx.c(), user.id, program.id, &q.key, &value, true, now).await?;
    }
    let (answers, open) = store::answers::of(ctx.c(), user.id, program.id).await?;
    if let Some(next) = current(&answers, &open) {
        return Ok(ask(&program, &next, answers.get(&next.key)));
    }
    // Seed 000: finishing the application moves AI → SI by itself.
    let mut done = format!(
        "Thank you — your application for {} is complete.",
        program.full_name()
    );
    if user.status == UserStatus::ApplicationIncomplete {
        ops::change_user_status(
            ctx,
            &user,
            UserStatus::ScreeningIncomplete,
            Some("application complete"),
            false,
            "",
        )
        .await?;
        done.push_str(" Your status is now SI (Screening Incomplete): the program will screen it and let you know.");
    }
    Ok(Reply::text(format!(
        "{done}\n{}",
        summary(&qs.questions, &answers)
    )))
}

fn summary(questions: &[Question], answers: &crate::questionnaire::Answers) -> String {
    questions
        .iter()
        .map(|q| {
            format!(
                "{} ({}): {}",
                q.prompt,
                q.key,
                answers
                    .get(&q.key)
                    .map(Answer::shown)
                    .unwrap_or_else(|| "—".into())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One question, with a button per choice (a tick on those already picked).
fn ask(program: &Program, q: &Question, current: Option<&Answer>) -> Reply {
    let n = program
        .questionnaire
        .questions
        .iter()
        .position(|x| x.key == q.key)
        .map(|i| i + 1)
        .unwrap_or(1);
    let total = program.questionnaire.questions.len();
    let press = |answer: String| format!("/apply q:{} answer:{}", q.key, quote(&answer));
    let mut reply = Reply::text(format!("Question {n} of {total}: {}", q.prompt));
    match q.kind {
        QuestionKind::Single => {
            for (i, o) in q.options.iter().enumerate() {
                reply = reply.with_button(o.clone(), press((i + 1).to_string()));
            }
        }
        QuestionKind::Multi => {
            let picked = match current {
                Some(Answer::Multi(v)) => v.clone(),
                _ => Vec::new(),
            };
            reply
                .text
                .push_str("\nPick all that apply, then Done (or type them at once: /apply 1,3).");
            for (i, o) in q.options.iter().enumerate() {
                let label = if picked.contains(o) {
                    format!("✓ {o}")
                } else {
                    o.clone()
                };
                reply = reply.with_button(label, press((i + 1).to_string()));
            }
            reply = reply.with_button("Done", press("done".into()));
        }
        QuestionKind::Scale => {
            for i in 1..=5 {
                reply = reply.with_button(i.to_string(), press(i.to_string()));
            }
        }
        QuestionKind::Text => {
            reply.text.push_str("\nReply with /apply \"your answer\".");
            reply.text_input = Some(crate::reply::TextInput {
                label: q.prompt.clone(),
                command: format!("/apply q:{}", q.key),
                arg: "answer".into(),
            });
        }
    }
    reply
}

/// The caller's mentee persona in a program: the ready one if there is one.
async fn my_mentee_persona(ctx: &mut Ctx<'_>, user: &User) -> Result<(Persona, Program)> {
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    let mut mentee: Vec<&Persona> = personas
        .iter()
        .filter(|p| {
            p.role == PersonaRole::Mentee
                && p.status == PersonaStatus::Active
                && p.program_id.is_some()
        })
        .collect();
    mentee.sort_by_key(|p| {
        (
            p.match_status != MatchStatus::ReadyToBeMatched,
            std::cmp::Reverse(p.id),
        )
    });
    let Some(p) = mentee.first().map(|p| (*p).clone()) else {
        return Err(Error::conflict(
            "you have no mentee persona in a program: mentors are recommended to mentees",
        ));
    };
    let program = program_of(ctx, &p)
        .await?
        .ok_or_else(|| Error::Internal("persona without program".into()))?;
    Ok((p, program))
}

pub async fn mentors(ctx: &mut Ctx<'_>) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let (persona, program) = my_mentee_persona(ctx, &user).await?;
    let recs = matching::recommendations(ctx, &persona, &user, &program).await?;
    if recs.is_empty() {
        return Ok(Reply::text(
            "No mentor is available in your program right now. Your program manager can pair you by hand; try again later.",
        ));
    }
    let mut text = format!(
        "Your best matches in {}:\n{}",
        program.full_name(),
        recs.iter()
            .map(Recommendation::line)
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The same test /choose and pairing apply, so the hint shows exactly when /choose works.
    let ready = matching::unavailable_reason(&user, &persona).is_none();
    if ready {
        text.push_str(&format!(
            "\nRank up to {} of them, best first: /choose {}",
            program.settings.max_choices,
            recs.iter()
                .take(program.settings.max_choices as usize)
                .map(|r| format!("#{}", r.persona.id))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    } else {
        text.push_str("\nYou can choose once the program marks you ready to be matched (RTBM).");
    }
    let mut reply = Reply::text(text);
    if ready {
        for r in &recs {
            reply = reply.with_button(
                format!("Choose {}", r.user.full_name),
                format!("/choose #{}", r.persona.id),
            );
        }
    }
    Ok(reply)
}

pub async fn suggest(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::ReadUsers)
        .await?;
    let persona = ctx
        .pick_persona(
            &user,
            None,
            |p| {
                p.role == PersonaRole::Mentee
                    && p.status == PersonaStatus::Active
                    && p.program_id.is_some()
            },
            "is a mentee in a program",
        )
        .await?;
    let program = program_of(ctx, &persona)
        .await?
        .ok_or_else(|| Error::Internal("persona without program".into()))?;
    let recs = matching::recommendations(ctx, &persona, &user, &program).await?;
    if recs.is_empty() {
        return Ok(Reply::text(format!(
            "No mentor in {} is available (A, Active, RTBM) right now.",
            program.full_name()
        )));
    }
    let mut reply = Reply::text(format!(
        "Best mentors for {} ({}) in {}:\n{}",
        user.full_name,
        persona.match_status,
        program.full_name(),
        recs.iter()
            .map(Recommendation::line)
            .collect::<Vec<_>>()
            .join("\n")
    ));
    for r in &recs {
        reply = reply.with_button(
            format!("Pair with {}", r.user.full_name),
            format!("/assign #{} #{}", user.id, r.user.id),
        );
    }
    Ok(reply)
}

pub async fn choose(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let (persona, program) = my_mentee_persona(ctx, &user).await?;
    if let Some(why) = matching::unavailable_reason(&user, &persona) {
        return Err(Error::conflict(format!(
            "you cannot choose mentors yet: {why}. The program marks you ready (RTBM) when it is time"
        )));
    }
    let open: Vec<_> = store::offers::of_mentee(ctx.c(), persona.id)
        .await?
        .into_iter()
        .filter(|o| o.state.is_open())
        .collect();
    if let Some(p) = open.iter().find(|o| o.state == OfferState::Pending) {
        let (_, mentor) = persona_user(ctx, p.mentor_persona_id).await?;
        return Err(Error::conflict(format!(
            "your request is with {} until {}: you can choose again if none of your choices can take you",
            mentor.full_name,
            p.deadline_at
                .map(|d| when(Some(&program), d))
                .unwrap_or_default()
        )));
    }
    let recs = matching::recommendations(ctx, &persona, &user, &program).await?;
    let raw = inv.required("mentors")?;
    let parts: Vec<&str> = if raw.contains(',') {
        raw.split(',').collect()
    } else {
        raw.split_whitespace().collect()
    };
    let mut ranked: Vec<&Recommendation> = Vec::new();
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let found: Vec<&Recommendation> = recs
            .iter()
            .filter(|r| {
                part.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) == Some(r.persona.id)
                    || r.user.email.eq_ignore_ascii_case(part)
                    || r.user.full_name.eq_ignore_ascii_case(part)
                    || r.user
                        .full_name
                        .split_whitespace()
                        .any(|w| w.eq_ignore_ascii_case(part))
            })
            .collect();
        let r = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(Error::input(format!(
                    "'{}' is not among your recommended mentors: use the #numbers from /mentors",
                    echo(part)
                )));
            }
            _ => {
                return Err(Error::Ambiguous(format!(
                    "'{}' matches several of your mentors: use the #numbers from /mentors",
                    echo(part)
                )));
            }
        };
        if ranked.iter().any(|x| x.persona.id == r.persona.id) {
            return Err(Error::input(format!(
                "{} is in your list twice: rank each mentor once",
                r.user.full_name
            )));
        }
        ranked.push(r);
    }
    if ranked.is_empty() {
        // Separators only (`/choose ,`; a blank value never gets past the parser) name no one,
        // and ranking no one answered as if a request had gone out.
        return Err(Error::input(
            "name at least one mentor from /mentors, best first: /choose #12 #7",
        ));
    }
    let max = program.settings.max_choices as usize;
    if ranked.len() > max {
        return Err(Error::input(format!(
            "you may rank up to {max} mentors in {}: keep your first {max}",
            program.full_name()
        )));
    }
    let ids: Vec<i64> = ranked.iter().map(|r| r.persona.id).collect();
    let list = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {}", i + 1, r.user.full_name))
        .collect::<Vec<_>>()
        .join(", ");
    matching::start_round(ctx, &persona, &ids).await?;
    let sent = store::offers::of_mentee(ctx.c(), persona.id)
        .await?
        .into_iter()
        .find(|o| o.state == OfferState::Pending);
    let status = match sent {
        Some(o) => {
            let (_, mentor) = persona_user(ctx, o.mentor_persona_id).await?;
            format!(
                "Your request went to {}, who has until {} to answer. If they cannot, it goes to your next choice.",
                mentor.full_name,
                o.deadline_at
                    .map(|d| when(Some(&program), d))
                    .unwrap_or_default()
            )
        }
        None => {
            "None of them can take a mentee right now: please choose again from /mentors.".into()
        }
    };
    Ok(Reply::text(format!("Your choices: {list}. {status}")))
}

fn offer_id(inv: &Invocation) -> Result<i64> {
    number(inv, "offer", 0, i64::MAX)
}

pub async fn accept(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let (_, mentee) = matching::accept(ctx, offer_id(inv)?, &me).await?;
    Ok(Reply::text(format!(
        "Accepted — you are now paired with {}! Book your first session with /session_book at:\"YYYY-MM-DD HH:MM\".",
        mentee.full_name
    )))
}

pub async fn decline(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mentee = matching::decline(ctx, offer_id(inv)?, &me).await?;
    Ok(Reply::text(format!(
        "Declined. {}'s request goes to their next choice. Thank you for answering.",
        mentee.full_name
    )))
}

pub async fn offers(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let limit = number(inv, "limit", 30, 500)?;
    let state = inv.get("state").map(OfferState::parse).transpose()?;
    let programs = match inv.get("program") {
        Some(p) => Some(vec![ctx.find_program(p, Capability::ReadUsers).await?.id]),
        None => ctx.actor.programs_for(Capability::ReadUsers),
    };
    let list = store::offers::list(ctx.c(), programs.as_deref(), state, limit).await?;
    if list.is_empty() {
        return Ok(Reply::text("No offers match."));
    }
    let mut lines = Vec::new();
    for o in list {
        let (_, mentee) = persona_user(ctx, o.mentee_persona_id).await?;
        let (mentor_p, mentor) = persona_user(ctx, o.mentor_persona_id).await?;
        let program = program_of(ctx, &mentor_p).await?;
        let mut line = format!(
            "#{} {} → {} · choice {} · {}",
            o.id,
            mentee.full_name,
            mentor.full_name,
            o.rank,
            o.state.code()
        );
        if let Some(d) = o.deadline_at.filter(|_| o.state == OfferState::Pending) {
            line.push_str(&format!(" until {}", when(program.as_ref(), d)));
        }
        if let Some(r) = o.reason.as_ref().filter(|_| o.state != OfferState::Pending) {
            line.push_str(&format!(" ({r})"));
        }
        lines.push(line);
    }
    Ok(Reply::text(lines.join("\n")))
}

async fn ready_persona(ctx: &mut Ctx<'_>, user: &User, role: PersonaRole) -> Result<Persona> {
    ctx.pick_persona(
        user,
        None,
        |p| {
            p.role == role
                && p.status == PersonaStatus::Active
                && p.match_status == MatchStatus::ReadyToBeMatched
        },
        &format!("is a {role} ready to be matched (RTBM)"),
    )
    .await
}

pub async fn assign(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let mentee_user = ctx
        .find_user(inv.required("mentee")?, Capability::Pair)
        .await?;
    let mentor_user = ctx
        .find_user(inv.required("mentor")?, Capability::Pair)
        .await?;
    let mentee = ready_persona(ctx, &mentee_user, PersonaRole::Mentee).await?;
    let mentor = ready_persona(ctx, &mentor_user, PersonaRole::Mentor).await?;
    if let Some(p) = program_of(ctx, &mentee).await? {
        ctx.require_program(Capability::Pair, &p)?;
    }
    let id = matching::pair(ctx, &mentee, &mentor, "assign", None).await?;
    Ok(Reply::text(format!(
        "Paired {} (mentee) with {} (mentor): match #{id}. Both have been told and asked to book a session.",
        mentee_user.full_name, mentor_user.full_name
    )))
}

pub async fn unassign(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::Pair)
        .await?;
    let with = match inv.get("with") {
        Some(w) => Some(ctx.find_user(w, Capability::Pair).await?),
        None => None,
    };
    let mut open = ops::open_matches(ctx, &user).await?;
    if let Some(other) = &with {
        let mut kept = Vec::new();
        for (m, line) in open {
            let mut involves = false;
            for pid in [m.mentee_persona_id, m.mentor_persona_id]
                .into_iter()
                .flatten()
            {
                if store::users::persona(ctx.c(), pid)
                    .await?
                    .is_some_and(|p| p.user_id == other.id)
                {
                    involves = true;
                }
            }
            if involves {
                kept.push((m, line));
            }
        }
        open = kept;
    }
    let (m, line) = match open.len() {
        1 => open.remove(0),
        0 => {
            return Err(Error::conflict(format!(
                "{} has no active match{}",
                user.full_name,
                with.map(|w| format!(" with {}", w.full_name))
                    .unwrap_or_default()
            )));
        }
        _ => {
            return Err(Error::Ambiguous(format!(
                "{} has several active matches: {}. Add with:PERSON",
                user.full_name,
                open.iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
    };
    ops::close_match(ctx, &m, reason(inv)?).await?;
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        let (_, u) = persona_user(ctx, pid).await?;
        let text = format!("Your {line} has been closed by the program staff.");
        ctx.chat(
            &u,
            "match_closed",
            &format!("match:{}:closed:{}", m.id, ctx.now.timestamp()),
            text,
            Vec::new(),
        )
        .await?;
    }
    Ok(Reply::text(format!(
        "Closed {line}.{}",
        ctx.last_audit
            .map(|id| format!(" (undo with /revert {id})"))
            .unwrap_or_default()
    )))
}

pub async fn match_reopen(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let user = ctx
        .find_user(inv.required("person")?, Capability::Pair)
        .await?;
    let mut closed = None;
    for p in store::users::personas_of(ctx.c(), user.id).await? {
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            if m.state == MatchState::Closed
                && closed
                    .as_ref()
                    .is_none_or(|c: &store::matches::Match| c.id < m.id)
            {
                closed = Some(m);
            }
        }
    }
    let m = closed.ok_or_else(|| {
        Error::conflict(format!("{} has no closed match to re-open", user.full_name))
    })?;
    ops::reopen_match(ctx, &m, reason(inv)?).await?;
    let line = ops::describe_match(ctx, &m).await?;
    Ok(Reply::text(format!("Re-opened {line}.")))
}

#[derive(Serialize, Deserialize)]
struct AutopairPlan {
    pairs: Vec<(i64, i64, u32)>,
}

/// SPEC §4: a maximum-total-score one-to-one assignment over the program's ready mentees and
/// available mentors, shown first and applied only on confirmation; no offers are sent.
pub async fn autopair(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    let program = ctx
        .find_program(inv.required("program")?, Capability::Pair)
        .await?;
    let me = ctx.me()?.id;
    if let Some(token) = inv.get("confirm") {
        return apply_autopair(ctx, &program, me, token.trim()).await;
    }
    let mut mentees = Vec::new();
    for p in store::users::personas_in_program(ctx.c(), program.id, PersonaRole::Mentee).await? {
        if let Some(u) = store::users::user(ctx.c(), p.user_id).await?
            && matching::unavailable_reason(&u, &p).is_none()
        {
            mentees.push((p, u));
        }
    }
    let mut mentors = Vec::new();
    for p in store::users::personas_in_program(ctx.c(), program.id, PersonaRole::Mentor).await? {
        if let Some(u) = store::users::user(ctx.c(), p.user_id).await?
            && matching::unavailable_reason(&u, &p).is_none()
        {
            mentors.push((p, u));
        }
    }
    if mentees.is_empty() || mentors.is_empty() {
        return Ok(Reply::text(format!(
            "Nothing to pair in {}: {} mentees and {} mentors are ready (A, Active, RTBM).",
            program.full_name(),
            mentees.len(),
            mentors.len()
        )));
    }
    let answers = store::answers::of_program(ctx.c(), program.id).await?;
    let empty = crate::questionnaire::Answers::new();
    let scorer = crate::questionnaire::Scorer::new(&program.questionnaire);
    let encode =
        |id: i64| scorer.encode(&program.questionnaire, answers.get(&id).unwrap_or(&empty));
    let mentor_answers: Vec<_> = mentors.iter().map(|(_, u)| encode(u.id)).collect();
    let mut scores = Vec::with_capacity(mentees.len() * mentors.len());
    for (_, mu) in &mentees {
        let mine = encode(mu.id);
        for ((_, tu), theirs) in mentors.iter().zip(&mentor_answers) {
            scores.push(if mu.id == tu.id {
                assignment::FORBIDDEN
            } else {
                i64::from(scorer.score(&mine, theirs))
            });
        }
    }
    let best = assignment::max_score_assignment(mentees.len(), mentors.len(), &scores);
    let mut lines = Vec::new();
    // Names and emails are what people typed, and staff open this file in a spreadsheet.
    let mut csv = csv_safe::Writer::new();
    csv.row(["mentee", "mentee_email", "mentor", "mentor_email", "score"])?;
    let mut plan = AutopairPlan { pairs: Vec::new() };
    let (mut mentee_paired, mut mentor_paired) =
        (vec![false; mentees.len()], vec![false; mentors.len()]);
    for (r, c) in &best.pairs {
        let score = scores
            .get(r * mentors.len() + c)
            .copied()
            .unwrap_or_default();
        let (mp, mu) = &mentees[*r];
        let (tp, tu) = &mentors[*c];
        lines.push(format!("{} ↔ {} ({score})", mu.full_name, tu.full_name));
        csv.row([
            mu.full_name.as_str(),
            &mu.email,
            &tu.full_name,
            &tu.email,
            &score.to_string(),
        ])?;
        plan.pairs
            .push((mp.id, tp.id, u32::try_from(score).unwrap_or(0)));
        mentee_paired[*r] = true;
        mentor_paired[*c] = true;
    }
    let unpaired = |people: &[(Persona, User)], paired: &[bool]| -> Vec<String> {
        people
            .iter()
            .zip(paired)
            .filter(|(_, p)| !**p)
            .map(|((_, u), _)| u.full_name.clone())
            .collect()
    };
    let unpaired_mentees = unpaired(&mentees, &mentee_paired);
    let unpaired_mentors = unpaired(&mentors, &mentor_paired);
    let token = confirmation_token();
    let now = ctx.now;
    let payload = serde_json::to_string(&plan).map_err(|e| Error::Internal(e.to_string()))?;
    store::previews::insert(
        ctx.c(),
        &Preview {
            token: token.clone(),
            actor_user_id: me,
            action: "autopair".into(),
            program_id: program.id,
            payload,
            expires_at: now + Duration::minutes(30),
        },
        now,
    )
    .await?;
    // A chat message stays readable: the first pairs inline, all of them in the attachment.
    let shown = lines.len().min(PREVIEW_LINES);
    let mut text = format!(
        "Auto-pairing preview for {} — {} pairs, total score {}:\n{}",
        program.full_name(),
        best.pairs.len(),
        best.total,
        lines[..shown].join("\n")
    );
    if lines.len() > shown {
        text.push_str(&format!(
            "\n…and {} more pairs (all of them in the attached CSV)",
            lines.len() - shown
        ));
    }
    let some = |names: &[String]| {
        let head = names
            .iter()
            .take(PREVIEW_LINES)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > PREVIEW_LINES {
            format!("{head} and {} more", names.len() - PREVIEW_LINES)
        } else {
            head
        }
    };
    if !unpaired_mentees.is_empty() {
        text.push_str(&format!(
            "\nMentees left unpaired: {}",
            some(&unpaired_mentees)
        ));
    }
    if !unpaired_mentors.is_empty() {
        text.push_str(&format!("\nMentors left free: {}", some(&unpaired_mentors)));
    }
    let command = format!("/autopair #{} confirm:{token}", program.id);
    text.push_str(&format!("\nNothing has changed yet. To apply exactly this within 30 minutes, press the button or send {command}"));
    let attachment = Attachment {
        file_name: format!("autopair-preview-{}.csv", program.id),
        media_type: "text/csv".into(),
        bytes: csv.into_bytes()?,
    };
    Ok(Reply::text(text)
        .with_button("Apply these pairs", command)
        .with_attachment(attachment))
}

/// How many pairs or names a preview shows inline.
const PREVIEW_LINES: usize = 40;

async fn apply_autopair(
    ctx: &mut Ctx<'_>,
    program: &Program,
    me: i64,
    token: &str,
) -> Result<Reply> {
    let preview = store::previews::take(ctx.c(), token).await?;
    let Some(preview) = preview
        .filter(|p| p.action == "autopair" && p.actor_user_id == me && p.program_id == program.id)
    else {
        return Err(Error::conflict(format!(
            "that confirmation does not match a preview of yours for {}: run /autopair again",
            program.full_name()
        )));
    };
    if preview.expires_at <= ctx.now {
        return Err(Error::conflict(
            "that preview expired: run /autopair again to see the current best pairs",
        ));
    }
    let plan: AutopairPlan =
        serde_json::from_str(&preview.payload).map_err(|e| Error::Internal(e.to_string()))?;
    let mut done = 0;
    for (mentee_id, mentor_id, _) in &plan.pairs {
        let (mentee, mu) = persona_user(ctx, *mentee_id).await?;
        let (mentor, tu) = persona_user(ctx, *mentor_id).await?;
        if let Some(why) = matching::unavailable_reason(&mu, &mentee)
            .or_else(|| matching::unavailable_reason(&tu, &mentor))
        {
            return Err(Error::conflict(format!(
                "things changed since the preview ({why}): nothing was paired — run /autopair again"
            )));
        }
        matching::pair(ctx, &mentee, &mentor, "autopair", None).await?;
        done += 1;
    }
    Ok(Reply::text(format!(
        "Paired {done} mentees in {}. Everyone paired has been told; no offers were sent.",
        program.full_name()
    )))
}
