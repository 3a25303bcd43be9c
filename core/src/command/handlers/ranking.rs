//! `/rank`: a mentee ranks mentors by pressing buttons in order, then Send
//! (docs/domain.md#ranking-by-buttons).
//!
//! Stateless: the picks so far travel in the buttons' commands (`/rank 12,7` for "Lee, then
//! Sam"), so a press re-renders the message from what it carries and nothing is stored until
//! Send. Send runs `/choose` itself (`super::offers::choose`) with the same list, so every rule
//! of choosing (docs/domain.md#choosing: available, recommended, one request out at a time, at
//! most `max_choices`) is the one `/choose` applies.

use super::offers::{self, Choose, my_mentee_persona};
use super::prelude::*;
use crate::command::args::Value;
use crate::domain::recommend::{Recommendation, recommendations, unavailable_reason};
use crate::reply::echo;
use crate::roles::PersonaRole;
use crate::store::orgs::Program;
use crate::store::{self};

/// The most bytes a button's command may take: Telegram's callback data holds 64
/// (`bot/src/telegram/render.rs`, `MAX_CALLBACK_DATA`; Discord's custom ids hold 100). A longer
/// one would be shown as text to type, so a pick whose buttons would not fit is not offered.
const BUTTON_COMMAND_BYTES: usize = 64;

/// The word after the picks that sends them.
const SEND: &str = "send";

/// The mentors picked so far, best first: persona ids as the buttons write them (`12,7`); a
/// `#` before a number is accepted, as `/mentors` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picks(Vec<i64>);

impl Value for Picks {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        let mut ids = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let id = part
                .strip_prefix('#')
                .unwrap_or(part)
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    Error::input(format!(
                        "{name}: '{}' is not a mentor's number: press the buttons of /rank, or type /rank 12,7 with the #numbers /mentors shows",
                        echo(part)
                    ))
                })?;
            ids.push(id);
        }
        Ok(Self(ids))
    }
}

command! {
    pub struct Rank {
        name: "rank",
        about: "Rank your mentors by pressing them in order, then Send",
        access: Access::Member(Member::Participant),
        example: "/rank 12,7",
        // Each press is the next step of the same choice: its reply takes the pressed
        // message's place (docs/domain.md#ranking-by-buttons).
        press: crate::command::spec::Press::Replaces,
        listed_for: crate::roles::PersonaRole::Mentee,
        args: {
            picks: Option<Picks> = opt_pos(K::Line, "the mentors picked so far, best first: #numbers from /mentors, separated by commas"),
            then: Option<String> = opt_pos(K::Choice(&[SEND]), "send: rank them now, as /choose does"),
        }
    }
}

/// `/rank 12,7 send`: what the Send button runs for these picks.
fn send_command(ids: &[i64]) -> String {
    format!("/rank {} {SEND}", joined(ids))
}

/// `/rank 12,7`: what pressing the last of these picks runs.
fn pick_command(ids: &[i64]) -> String {
    format!("/rank {}", joined(ids))
}

/// "1 mentor", "3 mentors".
fn mentors(n: usize) -> String {
    format!("{n} mentor{}", if n == 1 { "" } else { "s" })
}

fn joined(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

pub(crate) async fn rank(ctx: &mut Ctx<'_>, a: Rank) -> Result<Reply> {
    let send = match a.then.as_deref().map(str::trim) {
        None => false,
        Some(w) if w.eq_ignore_ascii_case(SEND) => true,
        Some(other) => {
            return Err(Error::input(format!(
                "'{}' after the picks is not understood: only {SEND} is, as in /rank 12,7 {SEND}",
                echo(other)
            )));
        }
    };
    let picks = a.picks.unwrap_or_default().0;
    let user = ctx.me()?.clone();
    let (persona, program) = my_mentee_persona(ctx, &user).await?;
    // The availability rule of /choose (docs/domain.md#availability), asked before any press
    // so nobody ranks a list that Send would refuse for this reason.
    if let Some(why) = unavailable_reason(&user, &persona) {
        return Err(Error::conflict(format!(
            "you cannot rank mentors yet: {why}. The program marks you ready (RTBM) when it is time"
        )));
    }
    let max = program.settings.max_choices as usize;
    if picks.len() > max {
        return Err(Error::input(format!(
            "you may rank up to {} in {} and this list has {}: Start over with /rank and pick at most {max}",
            mentors(max),
            program.full_name(),
            picks.len()
        )));
    }
    let recs = recommendations(ctx, &persona, &user, &program).await?;
    let mut chosen: Vec<&Recommendation> = Vec::new();
    for (i, id) in picks.iter().enumerate() {
        let Some(r) = recs.iter().find(|r| r.persona.id == *id) else {
            return Err(no_longer_rankable(ctx, &program, *id).await?);
        };
        if picks[..i].contains(id) {
            return Err(Error::input(format!(
                "{} is picked twice: rank each mentor once — Start over with /rank",
                r.user.full_name
            )));
        }
        chosen.push(r);
    }
    if send {
        if picks.is_empty() {
            return Err(Error::input(
                "press at least one mentor before Send: /rank shows them",
            ));
        }
        // docs/domain.md#ranking-by-buttons: Send is /choose with the same list, best first.
        let mentors = picks
            .iter()
            .map(|id| format!("#{id}"))
            .collect::<Vec<_>>()
            .join(" ");
        return offers::choose(ctx, Choose { mentors }).await;
    }
    Ok(render(&program, &recs, &picks, &chosen))
}

/// The ranking message, whole: the recommendations, the order so far, a button for each mentor
/// not yet picked (while more may be picked and the button fits), Start over and Send. A press's
/// reply takes the pressed message's place (`Press::Replaces`), so each one shows everything.
fn render(
    program: &Program,
    recs: &[Recommendation],
    picks: &[i64],
    chosen: &[&Recommendation],
) -> Reply {
    if recs.is_empty() {
        return Reply::text(
            "No mentor is available in your program right now. Your program manager can pair you by hand; try again later.",
        );
    }
    let max = program.settings.max_choices as usize;
    let mut lines = vec![format!(
        "Rank up to {} in {}, best first: press them in order, then Send. The first gets your request at once.",
        mentors(max.min(recs.len())),
        program.full_name()
    )];
    lines.extend(recs.iter().map(Recommendation::line));
    lines.push(if chosen.is_empty() {
        "Your order so far: nobody yet.".to_string()
    } else {
        format!(
            "Your order so far: {}.",
            chosen
                .iter()
                .enumerate()
                .map(|(i, r)| format!("{}. {}", i + 1, r.user.full_name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let mut reply = Reply::default();
    let (mut offered, mut too_long) = (0, false);
    if picks.len() < max {
        for r in recs.iter().filter(|r| !picks.contains(&r.persona.id)) {
            let mut next = picks.to_vec();
            next.push(r.persona.id);
            // Send is the longest command the next message offers: if it fits, so does this.
            if send_command(&next).len() > BUTTON_COMMAND_BYTES {
                too_long = true;
                continue;
            }
            reply = reply.with_button(
                format!("{}. {}", next.len(), r.user.full_name),
                pick_command(&next),
            );
            offered += 1;
        }
    }
    if picks.len() >= max {
        lines.push(format!(
            "That is {max}, as many as {} lets you rank: Send them, or Start over.",
            program.full_name()
        ));
    } else if too_long {
        lines.push(format!(
            "Buttons cannot carry a longer list: Send these, or type /choose with every #number, best first (up to {max})."
        ));
    } else if offered == 0 {
        lines.push("Everyone you may rank is in your list: Send it, or Start over.".into());
    }
    if !picks.is_empty() {
        reply = reply
            .with_button("Start over", "/rank")
            .with_button("Send", send_command(picks));
    }
    reply.text = lines.join("\n");
    reply
}

/// The refusal of a press naming a mentor who is not among the caller's recommendations any
/// more: by name when they are a mentor of the caller's program (someone /mentors could have
/// shown), by number otherwise, so a typed number reveals nobody.
async fn no_longer_rankable(ctx: &mut Ctx<'_>, program: &Program, id: i64) -> Result<Error> {
    let fix = "Nothing was sent: Start over with /rank to pick from the mentors available now";
    let found = match store::users::persona(ctx.c(), id).await? {
        Some(p) if p.role == PersonaRole::Mentor && p.program_id == Some(program.id) => {
            store::users::user(ctx.c(), p.user_id)
                .await?
                .map(|u| (p, u))
        }
        _ => None,
    };
    Ok(match found {
        Some((p, u)) => {
            let why = unavailable_reason(&u, &p)
                .unwrap_or_else(|| "they are not among your recommended mentors now".into());
            Error::conflict(format!(
                "{} can no longer be ranked: {why}. {fix}",
                u.full_name
            ))
        }
        None => Error::conflict(format!(
            "mentor #{id} is not among your recommended mentors. {fix}"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{MatchStatus, PersonaStatus};
    use crate::store::users::{Persona, User};

    #[test]
    fn picks_read_as_the_buttons_write_them() {
        assert_eq!(
            Picks::parse_value("picks", "12,7").ok(),
            Some(Picks(vec![12, 7]))
        );
        assert_eq!(
            Picks::parse_value("picks", "#12, #7,").ok(),
            Some(Picks(vec![12, 7]))
        );
        let m = Picks::parse_value("picks", "12,lee")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(m.contains("'lee' is not a mentor's number"), "{m}");
        assert!(Picks::parse_value("picks", "0").is_err());
        assert_eq!(send_command(&[12, 7]), "/rank 12,7 send");
        assert_eq!(pick_command(&[12, 7]), "/rank 12,7");
    }

    /// A program allowing `max` picks, and recommendations of mentors with these persona ids.
    fn program_and_recs(max: u32, ids: &[i64]) -> (Program, Vec<Recommendation>) {
        let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let program = Program {
            id: 1,
            org_id: 1,
            org_name: "Acme".into(),
            name: "Spring".into(),
            settings: crate::program::ProgramSettings {
                max_choices: max,
                recommendations: 50,
                offer_ttl: chrono::Duration::hours(72),
                offer_reminder_before: chrono::Duration::hours(24),
                inactivity_after: chrono::Duration::days(15),
                inactivity_repeat: chrono::Duration::days(15),
                flash_mentoring: false,
                timezone: chrono_tz::Tz::UTC,
                ready_on_approval: false,
                mentor_capacity: 1,
                quiet_hours: Default::default(),
            },
            questionnaire: Default::default(),
        };
        let recs = ids
            .iter()
            .map(|id| Recommendation {
                persona: Persona {
                    id: *id,
                    user_id: *id,
                    role: PersonaRole::Mentor,
                    program_id: Some(1),
                    status: PersonaStatus::Active,
                    match_status: MatchStatus::ReadyToBeMatched,
                    created_at: at,
                },
                user: User {
                    id: *id,
                    email: format!("m{id}@example.org"),
                    phone: None,
                    external_id: None,
                    full_name: format!("Mentor {id}"),
                    status: crate::status::UserStatus::Active,
                    org_id: None,
                    created_at: at,
                    first_seen_at: None,
                    last_activity_at: None,
                },
                score: 50,
                reasons: Vec::new(),
            })
            .collect();
        (program, recs)
    }

    #[test]
    fn no_button_of_a_ranking_message_outgrows_telegrams_callback_data() {
        // Ten-digit persona ids and max_choices 20: the picks a button can carry run out
        // before the limit, and the message says what to do instead.
        let ids: Vec<i64> = (0..20).map(|i| 4_000_000_000 + i).collect();
        let (program, recs) = program_and_recs(20, &ids);
        let mut picks: Vec<i64> = Vec::new();
        let said = loop {
            let chosen: Vec<&Recommendation> = picks
                .iter()
                .filter_map(|p| recs.iter().find(|r| r.persona.id == *p))
                .collect();
            let reply = render(&program, &recs, &picks, &chosen);
            for b in &reply.buttons {
                assert!(b.command.len() <= BUTTON_COMMAND_BYTES, "{b:?}");
            }
            let Some(next) = reply
                .buttons
                .iter()
                .find(|b| b.label.starts_with(&format!("{}. ", picks.len() + 1)))
            else {
                break reply.text.contains("Buttons cannot carry a longer list");
            };
            let Picks(ids) = Picks::parse_value("picks", next.command.trim_start_matches("/rank "))
                .unwrap_or_default();
            assert_eq!(ids.len(), picks.len() + 1, "{next:?}");
            picks = ids;
        };
        assert!(said, "the last message says why no pick is offered");
        assert!((2..20).contains(&picks.len()), "{picks:?}");
        // With short ids, all 3 picks of the default fit and the third leaves Send and Start over.
        let (program, recs) = program_and_recs(3, &[12, 7, 31, 40]);
        let chosen: Vec<&Recommendation> = recs.iter().take(3).collect();
        let reply = render(&program, &recs, &[12, 7, 31], &chosen);
        let labels: Vec<&str> = reply.buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["Start over", "Send"]);
        assert!(reply.text.contains("That is 3"), "{}", reply.text);
        assert!(
            reply
                .text
                .contains("Your order so far: 1. Mentor 12, 2. Mentor 7, 3. Mentor 31.")
        );
    }
}
