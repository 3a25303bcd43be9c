//! A mentee's side of matching (recommendations, `/choose`) and a mentor's (answering
//! offers), and the staff's view of offers.

use super::prelude::*;
use crate::domain;
use crate::domain::people::{persona_user, program_of};
use crate::domain::recommend::Recommendation;
use crate::domain::show::when;
use crate::reply::echo;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::offers::OfferState;
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};

/// The caller's mentee persona in a program: the ready one if there is one. `/rank` asks the
/// same, so its buttons offer what its Send (this module's `/choose`) may choose.
pub(super) async fn my_mentee_persona(
    ctx: &mut Ctx<'_>,
    user: &User,
) -> Result<(Persona, Program)> {
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
            "you have no mentee persona in a program: mentors are recommended to and chosen by mentees",
        ));
    };
    let program = program_of(ctx, &p)
        .await?
        .ok_or_else(|| Error::Internal("persona without program".into()))?;
    Ok((p, program))
}

command! {
    pub struct Mentors {
        name: "mentors",
        about: "Your recommended mentors, best match first, with the reasons",
        access: Access::Member(Member::Participant),
        example: "/mentors",
        listed_for: crate::roles::PersonaRole::Mentee,
        args: {}
    }
}

pub(crate) async fn mentors(ctx: &mut Ctx<'_>, _: Mentors) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let (persona, program) = my_mentee_persona(ctx, &user).await?;
    let recs = domain::recommend::recommendations(ctx, &persona, &user, &program).await?;
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
    let ready = domain::recommend::unavailable_reason(&user, &persona).is_none();
    if ready {
        let max = (program.settings.max_choices as usize).min(recs.len());
        let example = recs
            .iter()
            .take(max)
            .map(|r| format!("#{}", r.persona.id))
            .collect::<Vec<_>>()
            .join(" ");
        text.push_str(&if max <= 1 {
            format!("\nChoose one: /choose {example}")
        } else {
            format!("\nRank up to {max} of them, best first: /choose {example}")
        });
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
        // Ranking several by pressing them in order (docs/domain.md#ranking-by-buttons), as
        // the time-to-choose prompt offers it.
        let max = (program.settings.max_choices as usize).min(recs.len());
        if max > 1 {
            reply = reply.with_button(format!("Rank up to {max} in order"), "/rank");
        }
    }
    Ok(reply)
}

command! {
    pub struct Suggest {
        name: "suggest",
        about: "Recommended mentors for one mentee",
        access: Access::Staff(Capability::ReadUsers),
        example: "/suggest ana@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
        }
    }
}

pub(crate) async fn suggest(ctx: &mut Ctx<'_>, a: Suggest) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::ReadUsers).await?;
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
    let recs = domain::recommend::recommendations(ctx, &persona, &user, &program).await?;
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

command! {
    pub struct Choose {
        name: "choose",
        about: "Rank your mentors, best first; the first gets your request at once",
        access: Access::Member(Member::Participant),
        example: "/choose #12 #7 #31",
        listed_for: crate::roles::PersonaRole::Mentee,
        args: {
            mentors: String = rest(K::Person, "mentors from /mentors, best first: #ids or names, separated by spaces or commas"),
        }
    }
}

pub(crate) async fn choose(ctx: &mut Ctx<'_>, a: Choose) -> Result<Reply> {
    let user = ctx.me()?.clone();
    let (persona, program) = my_mentee_persona(ctx, &user).await?;
    if let Some(why) = domain::recommend::unavailable_reason(&user, &persona) {
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
    let recs = domain::recommend::recommendations(ctx, &persona, &user, &program).await?;
    let raw = &a.mentors;
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
        return Err(Error::input(if max == 1 {
            format!(
                "you may choose one mentor in {}: keep only your first",
                program.full_name()
            )
        } else {
            format!(
                "you may rank up to {max} mentors in {}: keep your first {max}",
                program.full_name()
            )
        }));
    }
    let ids: Vec<i64> = ranked.iter().map(|r| r.persona.id).collect();
    let list = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{}. {}", i + 1, r.user.full_name))
        .collect::<Vec<_>>()
        .join(", ");
    domain::offers::start_round(ctx, &persona, &ids).await?;
    let status = match domain::offers::place_of(ctx, persona.id).await? {
        // docs/domain.md#cascade-place: where the request stands, in the words of every message.
        Some((mentor, place)) => format!(
            "Your request went to {mentor}. If they cannot take you, it goes to your next choice.\nNow: {place}."
        ),
        // The round ran out at once: staff were told, and by email the mentee too; in chat this
        // reply is all they get (docs/domain.md#choosing).
        None => "None of them can take a mentee right now: your program manager has been told. See /mentors for who is available now.".into(),
    };
    Ok(Reply::text(format!("Your choices: {list}. {status}")))
}

command! {
    pub struct Accept {
        name: "accept",
        about: "Accept a mentee's request (what the Accept button sends)",
        access: Access::Member(Member::Participant),
        example: "/accept 42",
        listed_for: crate::roles::PersonaRole::Mentor,
        args: {
            offer: Id = pos(K::Offer, "the offer number"),
        }
    }
}

pub(crate) async fn accept(ctx: &mut Ctx<'_>, a: Accept) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let (_, mentee) = domain::matches::accept(ctx, a.offer.0, &me).await?;
    // The offer's other messages (its reminder, or the offer when the reminder was pressed)
    // lose their buttons too (docs/domain.md#edited-messages).
    domain::offers::retire_buttons(ctx, a.offer.0, None).await?;
    Ok(Reply::text(format!(
        "Accepted — you are now paired with {}! Book your first session with /session_book at:\"YYYY-MM-DD HH:MM\".",
        mentee.full_name
    )))
}

command! {
    pub struct Decline {
        name: "decline",
        about: "Decline a mentee's request (what the Decline button sends)",
        access: Access::Member(Member::Participant),
        example: "/decline 42",
        listed_for: crate::roles::PersonaRole::Mentor,
        args: {
            offer: Id = pos(K::Offer, "the offer number"),
            pause: Option<super::availability::PauseWeeks> = opt(K::Number, "also pause new requests for this many weeks, 1 to 12 (what \"Decline and pause me\" sends)"),
        }
    }
}

pub(crate) async fn decline(ctx: &mut Ctx<'_>, a: Decline) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mentee = domain::offers::decline(ctx, a.offer.0, &me).await?;
    let declined = format!(
        "Declined. {}'s request goes to their next choice. Thank you for answering.",
        mentee.full_name
    );
    match a.pause {
        Some(weeks) => super::availability::paused_reply(ctx, &me, weeks.get(), declined).await,
        None => Ok(Reply::text(declined)),
    }
}

command! {
    pub struct Offers {
        name: "offers",
        about: "Offers sent to mentors, newest first",
        access: Access::Staff(Capability::ReadUsers),
        example: "/offers state:pending",
        press: crate::command::spec::Press::Replaces,
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
            state: Option<OfferState> = opt(K::Choice(OFFER_STATES), "only offers in this state"),
            page: crate::command::screen::PageNo = opt(K::Number, "which screen of the list (default 1: the newest)"),
        }
    }
}

pub(crate) async fn offers(ctx: &mut Ctx<'_>, a: Offers) -> Result<Reply> {
    use crate::command::screen::{self, Fit, Screen};
    let state = a.state;
    let programs = match a.program.as_deref() {
        Some(p) => Some(vec![ctx.find_program(p, Capability::ReadUsers).await?.id]),
        None => ctx.actor.programs_for(Capability::ReadUsers),
    };
    let total = store::offers::count_listed(ctx.c(), programs.as_deref(), state).await?;
    if total == 0 {
        return Ok(Reply::text("No offers match."));
    }
    let total = u64::try_from(total).unwrap_or(0);
    let fit = Fit::of(ctx.caller.frontend);
    let list = store::offers::list(
        ctx.c(),
        programs.as_deref(),
        state,
        a.page.offset(fit),
        fit.lines as i64,
    )
    .await?;
    let file = if screen::wants_file(a.page, total, fit) {
        let all = store::offers::list(
            ctx.c(),
            programs.as_deref(),
            state,
            0,
            screen::FILE_ROWS as i64,
        )
        .await?;
        Some(screen::csv_file(
            "offers.csv",
            &[
                "id",
                "program_id",
                "mentee_persona_id",
                "mentor_persona_id",
                "choice",
                "state",
                "deadline",
                "reason",
            ],
            all.into_iter().map(|o| {
                vec![
                    o.id.to_string(),
                    o.program_id.map(|p| p.to_string()).unwrap_or_default(),
                    o.mentee_persona_id.to_string(),
                    o.mentor_persona_id.to_string(),
                    o.rank.to_string(),
                    o.state.code().to_string(),
                    o.deadline_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
                    o.reason.unwrap_or_default(),
                ]
            }),
        )?)
    } else {
        None
    };
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
    Screen {
        heading: "Offers, newest first".into(),
        lines,
        total,
        page: a.page,
        fit,
        narrow: "narrow it with program: or state:",
    }
    .reply(ctx.invocation()?, file)
}
