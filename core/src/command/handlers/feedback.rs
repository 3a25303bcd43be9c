//! `/feedback`: the two people of a closed match answer three questions by buttons, one at a
//! time in the same message (docs/domain.md#feedback).
//!
//! Stateless like `/rank`: each button carries the match, the question and the answer
//! (`/feedback 12 q:1 answer:yes`); a press stores that answer and its reply, which takes the
//! pressed message's place (`Press::Replaces`), asks the next question. The questions and their
//! words are `messages::FEEDBACK_QUESTIONS`; the close message asks the first
//! (`domain::matches`, every way a match closes).

use super::prelude::*;
use crate::messages::{self, FEEDBACK_QUESTIONS, FeedbackQuestion, feedback_question};
use crate::reply::echo;
use crate::store::matches::MatchState;
use crate::store::{self};

command! {
    pub struct Feedback {
        name: "feedback",
        about: "Answer the three questions about a match of yours that has closed",
        // docs/domain.md#feedback: a closed match leaves its people with status-only access
        // (docs/domain.md#bot-access), and they are the ones asked; the handler lets only the
        // match's two people answer.
        access: Access::Member(Member::Status),
        example: "/feedback 12 q:1 answer:yes",
        // Each press is the next step of the same questions: its reply takes the pressed
        // message's place (docs/domain.md#feedback).
        press: crate::command::spec::Press::Replaces,
        args: {
            id: Id = pos(K::Number, "the match number the feedback message names"),
            q: Option<Id> = opt(K::Number, "which question: 1, 2 or 3"),
            answer: Option<String> = opt(K::Line, "your answer, as the buttons say it"),
        }
    }
}

pub(crate) async fn feedback(ctx: &mut Ctx<'_>, a: Feedback) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let id = a.id.get();
    // One refusal for "no such match" and "not yours", so a typed number reveals nothing; not
    // found rather than forbidden, since the command itself is open to the caller
    // (the permission table's refusals are for commands, docs/domain.md#bot-access).
    let not_yours = || {
        Error::not_found(format!(
            "match #{id} is not one of yours: only its two people answer its feedback. /me shows your matches"
        ))
    };
    let Some(m) = store::matches::get(ctx.c(), id).await? else {
        return Err(not_yours());
    };
    let (mut mine, mut other) = (false, None);
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        let Some(p) = store::users::persona(ctx.c(), pid).await? else {
            continue;
        };
        if p.user_id == me.id {
            mine = true;
        } else {
            other = store::users::user(ctx.c(), p.user_id)
                .await?
                .map(|u| u.full_name);
        }
    }
    if !mine {
        return Err(not_yours());
    }
    let other = other.unwrap_or_else(|| "a person no longer in the program".into());
    if m.state != MatchState::Closed {
        return Err(Error::conflict(format!(
            "match #{id} is still open: its feedback questions come when it closes"
        )));
    }
    let next = match (a.q, a.answer.as_deref().map(str::trim)) {
        (Some(q), Some(answer)) => {
            let question = feedback_question(q.get()).ok_or_else(|| {
                Error::input(format!(
                    "q:{} is not a question: they are numbered 1 to {}. Press the buttons, or type /feedback {id} q:1 answer:yes",
                    q.get(),
                    FEEDBACK_QUESTIONS.len()
                ))
            })?;
            let code = code_of(question, answer)?;
            let now = ctx.now;
            store::feedback::record(ctx.c(), id, me.id, m.program_id, question.number, code, now)
                .await?;
            feedback_question(question.number + 1)
        }
        (None, None) => {
            // No question named (typed after the email, or again later): the first one not
            // answered yet.
            let answered = store::feedback::answers(ctx.c(), id, me.id).await?;
            FEEDBACK_QUESTIONS
                .iter()
                .find(|q| !answered.iter().any(|(n, _)| *n == q.number))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::input(format!(
                "q: and answer: go together: press the buttons, or type /feedback {id} q:1 answer:yes"
            )));
        }
    };
    if let Some(q) = next {
        let (text, buttons) = messages::feedback_ask(id, &other, q);
        let mut reply = Reply::text(text);
        for b in buttons {
            reply = reply.with_button(b.label, b.command);
        }
        return Ok(reply);
    }
    let answered = store::feedback::answers(ctx.c(), id, me.id).await?;
    let said = answered
        .iter()
        .filter_map(|(n, code)| {
            let q = feedback_question(*n)?;
            let label = q.answers.iter().find(|(c, _)| c == code)?.1;
            Some(format!("{} {label}", q.text))
        })
        .collect::<Vec<_>>()
        .join(" · ");
    Ok(Reply::text(format!(
        "Thank you: your feedback on your match with {other} is saved ({said}). To change an answer, send /feedback {id} q:1 answer:yes with the question and the answer you mean."
    )))
}

/// The stored code of `answer` to `q`: its code or its button's label, in any case.
fn code_of(q: &FeedbackQuestion, answer: &str) -> Result<&'static str> {
    q.answers
        .iter()
        .find(|(code, label)| {
            code.eq_ignore_ascii_case(answer) || label.eq_ignore_ascii_case(answer)
        })
        .map(|(code, _)| *code)
        .ok_or_else(|| {
            Error::input(format!(
                "answer:'{}' is not an answer to question {} ({}): use {}",
                echo(answer),
                q.number,
                q.text,
                q.answers
                    .iter()
                    .map(|(code, _)| *code)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse::parse;

    #[test]
    fn every_feedback_button_fits_telegrams_callback_data_and_parses_back() -> Result<()> {
        for q in &FEEDBACK_QUESTIONS {
            let (_, buttons) = messages::feedback_ask(i64::MAX, "Someone", q);
            assert_eq!(buttons.len(), q.answers.len());
            for b in &buttons {
                // bot/src/telegram/render.rs: MAX_CALLBACK_DATA is 64 bytes.
                assert!(b.command.len() <= 64, "{b:?}");
                let inv = parse(&b.command)?;
                assert_eq!(inv.spec.name, "feedback", "{b:?}");
                assert_eq!(inv.args.get("q"), Some(&q.number.to_string()), "{b:?}");
                let answer = inv.args.get("answer").cloned().unwrap_or_default();
                assert!(code_of(q, &answer).is_ok(), "{b:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn answers_are_read_by_code_or_label_and_others_refused() -> Result<()> {
        let q1 = &FEEDBACK_QUESTIONS[0];
        assert_eq!(code_of(q1, "Somewhat")?, "somewhat");
        assert_eq!(code_of(q1, "YES")?, "yes");
        let m = code_of(q1, "maybe")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(m.contains("'maybe' is not an answer to question 1"), "{m}");
        assert!(m.contains("yes, somewhat, no"), "{m}");
        Ok(())
    }

    #[test]
    fn the_overview_line_counts_each_answer() {
        let rows: Vec<(i64, String, i64)> = [
            (1, "yes", 7),
            (1, "somewhat", 2),
            (1, "no", 1),
            (2, "yes", 8),
            (2, "no", 2),
            (3, "helpful", 4),
            (3, "inspiring", 3),
            (3, "skip", 3),
        ]
        .iter()
        .map(|(q, a, n)| (*q, (*a).to_string(), *n))
        .collect();
        assert_eq!(
            messages::feedback_line(&rows),
            "Feedback on closed matches: useful 7 · somewhat 2 · not 1; would pair again 8 of 10; words: Helpful 4, Inspiring 3"
        );
        assert_eq!(
            messages::feedback_line(&[]),
            "Feedback on closed matches: useful 0 · somewhat 0 · not 0; would pair again 0 of 0; words: none"
        );
    }
}
