//! The application questionnaire: `/apply`, one question at a time.

use super::prelude::*;
use crate::command::parse::quote;
use crate::domain;
use crate::domain::people::program_of;
use crate::questionnaire::{Answer, Question, QuestionKind};
use crate::reply::{clip, echo};
use crate::status::UserStatus;
use crate::store::orgs::Program;
use crate::store::users::User;
use crate::store::{self};

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

command! {
    pub struct Apply {
        name: "apply",
        about: "Answer the application questionnaire, one question at a time",
        access: Access::Member(Member::Application),
        example: "/apply 2",
        args: {
            answer: Option<String> = opt_pos(K::Text, "your answer: an option's number or name, 1–5, or text"),
            q: Option<String> = opt(K::Line, "which question (to change an answer)"),
            program: Option<ProgramRef> = opt(K::Program, "which program's questionnaire"),
        }
    }
}

pub(crate) async fn apply(ctx: &mut Ctx<'_>, a: Apply) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let program = application_program(ctx, &user, a.program.as_deref()).await?;
    let qs = program.questionnaire.clone();
    let (answers, open) = store::answers::of(ctx.c(), user.id, program.id).await?;
    let current = |answers: &crate::questionnaire::Answers, open: &[String]| {
        qs.questions
            .iter()
            .find(|q| open.contains(&q.key))
            .or_else(|| qs.questions.iter().find(|q| !answers.contains_key(&q.key)))
            .cloned()
    };
    let target = match a.q.as_deref() {
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
    let Some(answer) = a.answer.as_deref() else {
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
    let pressed = a.q.as_deref().is_some();
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
            let what = if let Some(i) = chosen.iter().position(|o| *o == option) {
                chosen.remove(i);
                format!("Removed {option}.")
            } else {
                let added = format!("Added {option}.");
                chosen.push(option);
                added
            };
            let value = Answer::Multi(q.in_order(chosen));
            store::answers::save(ctx.c(), user.id, program.id, &q.key, &value, false, now).await?;
            // A press shows under the question (Telegram appends it, Discord replaces the
            // message with it): what it did and the picks so far, not the question again.
            let mut reply = buttons(
                &q,
                Some(&value),
                Reply::text(format!("{what} {}", picked_so_far(Some(&value)))),
            );
            reply.text.push_str(" Pick more, or press Done.");
            return Ok(reply);
        }
    } else {
        let value = q.parse_answer(answer)?;
        store::answers::save(ctx.c(), user.id, program.id, &q.key, &value, true, now).await?;
    }
    let (answers, open) = store::answers::of(ctx.c(), user.id, program.id).await?;
    if let Some(next) = current(&answers, &open) {
        // The answer just saved is named first: a pressed button's label is gone once the
        // message moves on to the next question.
        let mut reply = ask(&program, &next, answers.get(&next.key));
        if let Some(saved) = answers.get(&q.key) {
            reply.text = format!("Saved: {}.\n{}", clip(&saved.shown(), SHOWN), reply.text);
        }
        return Ok(reply);
    }
    // docs/domain.md#user-status-changes: finishing the application moves AI → SI by itself.
    let mut done = format!(
        "Thank you — your application for {} is complete.",
        program.full_name()
    );
    if user.status == UserStatus::ApplicationIncomplete {
        domain::statuses::change_user_status(
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

/// How much of an answer a message quotes back.
const SHOWN: usize = 80;

/// "Chosen so far: English, Spanish." (or that nothing is chosen yet).
fn picked_so_far(current: Option<&Answer>) -> String {
    match current {
        Some(Answer::Multi(v)) if !v.is_empty() => format!("Chosen so far: {}.", v.join(", ")),
        _ => "Nothing chosen yet.".to_string(),
    }
}

/// One question, with a button per choice (a tick on those already picked, and the picks so far
/// in the text).
fn ask(program: &Program, q: &Question, current: Option<&Answer>) -> Reply {
    let n = program
        .questionnaire
        .questions
        .iter()
        .position(|x| x.key == q.key)
        .map(|i| i + 1)
        .unwrap_or(1);
    let total = program.questionnaire.questions.len();
    let mut reply = Reply::text(format!("Question {n} of {total}: {}", q.prompt));
    match q.kind {
        QuestionKind::Multi => {
            reply
                .text
                .push_str("\nPick all that apply, then Done (or type them at once: /apply 1,3).");
            if matches!(current, Some(Answer::Multi(v)) if !v.is_empty()) {
                reply.text.push('\n');
                reply.text.push_str(&picked_so_far(current));
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
        QuestionKind::Single | QuestionKind::Scale => {}
    }
    buttons(q, current, reply)
}

/// `reply` with the question's buttons: one per choice (ticked when picked), and Done under a
/// multi-choice one.
fn buttons(q: &Question, current: Option<&Answer>, mut reply: Reply) -> Reply {
    let press = |answer: String| format!("/apply q:{} answer:{}", q.key, quote(&answer));
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
        QuestionKind::Text => {}
    }
    reply
}
