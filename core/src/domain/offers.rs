//! The offer cascade (docs/domain.md#the-offer-cascade).
//!
//! A mentee's `/choose` makes a *round*: one offer row per ranked mentor, queued. The first
//! still-available one is sent (pending, with its deadline and reminder time). Accept pairs
//! the two (`super::matches`); decline, expiry or withdrawal sends the next available one; an
//! exhausted round tells the mentee (with fresh recommendations) and the program's staff.
//! Every step is a compare-and-swap on the row's state, inside the work's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::people::{persona_user, program_of};
use super::recommend::{Recommendation, pair_score, recommendations, unavailable_reason};
use super::show::when;
use super::work::{Notices, Work};
use crate::db::Backend;
use crate::error::{Error, Result};
use crate::reply::Button;
use crate::roles::PersonaRole;
use crate::store::links::ChatLink;
use crate::store::offers::{Offer, OfferState};
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};
use crate::{messages, questionnaire};

/// Starts a new round with the ranked mentors and sends the first available offer. The mentee
/// asked for it and hears who has their request in the command's own reply, so the note that
/// tells them when the cascade moves on is not queued as well (docs/domain.md#choosing).
pub async fn start_round(w: &mut Work<'_>, mentee: &Persona, ranked: &[i64]) -> Result<()> {
    let round = store::offers::next_round(w.c(), mentee.id).await?;
    let now = w.now;
    for (i, mentor) in ranked.iter().enumerate() {
        let rank = i64::try_from(i).unwrap_or(0) + 1;
        store::offers::insert_queued(
            w.c(),
            mentee.program_id,
            mentee.id,
            *mentor,
            round,
            rank,
            now,
        )
        .await?;
    }
    let mut n = Notices::default();
    advance_into(w, mentee.id, Tell::MentorOnly, &mut n).await?;
    w.send(n).await
}

/// Moves a mentee's current round on: sends the next available choice, skipping (with the
/// reason recorded) those who cannot take a mentee now; tells everyone when it runs out.
pub async fn advance(w: &mut Work<'_>, mentee_persona_id: i64) -> Result<()> {
    let mut n = Notices::default();
    advance_into(w, mentee_persona_id, Tell::Both, &mut n).await?;
    w.send(n).await
}

/// Who hears of an offer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tell {
    /// The mentor, and the mentee in a note of their own.
    Both,
    /// Only the mentor: the mentee is being answered already.
    MentorOnly,
}

/// What moving a round on came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Moved {
    /// This mentor (their name) has the request now.
    Sent(String),
    /// No choice was left: the mentee (and staff) are told in the notices gathered.
    RanOut,
    /// Nothing was sent: an offer is out already, the mentee is not available, or there is no
    /// program.
    Idle,
}

/// [`advance`], with the messages gathered into `n` rather than queued, so the caller can queue
/// the news that caused the move first (docs/domain.md#notifications: cause before effect).
async fn advance_into(
    w: &mut Work<'_>,
    mentee_persona_id: i64,
    tell: Tell,
    n: &mut Notices,
) -> Result<Moved> {
    let all = store::offers::of_mentee(w.c(), mentee_persona_id).await?;
    let Some(round) = all.iter().map(|o| o.round).max() else {
        return Ok(Moved::Idle);
    };
    let rows: Vec<Offer> = all.into_iter().filter(|o| o.round == round).collect();
    if rows
        .iter()
        .any(|o| matches!(o.state, OfferState::Pending | OfferState::Accepted))
    {
        return Ok(Moved::Idle);
    }
    let (mentee, mentee_user) = persona_user(w, mentee_persona_id).await?;
    let now = w.now;
    if let Some(why) = unavailable_reason(&mentee_user, &mentee) {
        for o in rows.iter().filter(|o| o.state == OfferState::Queued) {
            store::offers::transition(
                w.c(),
                o.id,
                OfferState::Queued,
                OfferState::Cancelled,
                Some(&why),
                now,
            )
            .await?;
        }
        return Ok(Moved::Idle);
    }
    let program = program_of(w, &mentee).await?;
    let mut queued: Vec<&Offer> = rows
        .iter()
        .filter(|o| o.state == OfferState::Queued)
        .collect();
    queued.sort_by_key(|o| o.rank);
    for o in queued {
        let (mentor, mentor_user) = persona_user(w, o.mentor_persona_id).await?;
        if let Some(why) = unavailable_reason(&mentor_user, &mentor) {
            store::offers::transition(
                w.c(),
                o.id,
                OfferState::Queued,
                OfferState::Skipped,
                Some(&why),
                now,
            )
            .await?;
            continue;
        }
        let Some(program) = program.as_ref() else {
            break;
        };
        let deadline = now + program.settings.offer_ttl;
        let remind_at = deadline - program.settings.offer_reminder_before;
        if store::offers::send(w.c(), o.id, now, deadline, remind_at).await? {
            notify_offer_sent(
                w,
                n,
                tell,
                o.id,
                program,
                &mentee_user,
                &mentor_user,
                deadline,
            )
            .await?;
            return Ok(Moved::Sent(mentor_user.full_name.clone()));
        }
        return Ok(Moved::Idle);
    }
    if !rows.is_empty()
        && let Some(program) = program.as_ref()
    {
        notify_exhausted(w, n, tell, &mentee, &mentee_user, program, round).await?;
        return Ok(Moved::RanOut);
    }
    Ok(Moved::Idle)
}

#[allow(clippy::too_many_arguments)]
async fn notify_offer_sent(
    w: &mut Work<'_>,
    n: &mut Notices,
    tell: Tell,
    offer_id: i64,
    program: &Program,
    mentee: &User,
    mentor: &User,
    deadline: DateTime<Utc>,
) -> Result<()> {
    let (score, reasons) = pair_score(w, program, mentee, mentor).await?;
    let mentor_links = store::links::links_of_user(w.c(), mentor.id).await?;
    let mentee_links = match tell {
        Tell::Both => store::links::links_of_user(w.c(), mentee.id).await?,
        Tell::MentorOnly => Vec::new(),
    };
    offer_sent_notices(
        n,
        &Sent {
            offer_id,
            program,
            mentee,
            mentee_links: &mentee_links,
            mentor,
            mentor_links: &mentor_links,
            deadline,
            score,
            reasons: &reasons,
        },
    );
    Ok(())
}

/// An offer just sent, and what its messages say.
struct Sent<'a> {
    offer_id: i64,
    program: &'a Program,
    mentee: &'a User,
    mentee_links: &'a [ChatLink],
    mentor: &'a User,
    mentor_links: &'a [ChatLink],
    deadline: DateTime<Utc>,
    score: u32,
    reasons: &'a [String],
}

/// The mentor's offer (chat with the buttons, and email) and the mentee's note of who has
/// their request.
fn offer_sent_notices(n: &mut Notices, s: &Sent<'_>) {
    let by = when(Some(s.program), s.deadline);
    let shared = s.reasons.join(", ");
    let text = format!(
        "{} (mentee in {}) would like you as their mentor — score {}/100{}. Please answer by {by}.",
        s.mentee.full_name,
        s.program.full_name(),
        s.score,
        if shared.is_empty() {
            String::new()
        } else {
            format!(", you share: {shared}")
        }
    );
    let key = format!("offer:{}:sent", s.offer_id);
    n.chat(
        s.mentor,
        s.mentor_links,
        "offer",
        &key,
        text,
        offer_buttons(s.offer_id),
    );
    let mail = messages::offer_to_mentor(
        &s.mentor.full_name,
        &s.mentee.full_name,
        &s.program.full_name(),
        s.score,
        &shared,
        &by,
    );
    n.email(s.mentor, "offer", key, mail);
    let note = format!(
        "Your request went to {}. They have until {by} to answer; you will hear from me either way.",
        s.mentor.full_name
    );
    n.chat(
        s.mentee,
        s.mentee_links,
        "offer_sent",
        &format!("offer:{}:mentee", s.offer_id),
        note,
        Vec::new(),
    );
}

pub fn offer_buttons(offer_id: i64) -> Vec<Button> {
    vec![
        Button {
            label: "Accept".into(),
            command: format!("/accept {offer_id}"),
        },
        Button {
            label: "Decline".into(),
            command: format!("/decline {offer_id}"),
        },
    ]
}

/// The round ran out: the mentee hears it with fresh recommendations to choose from — or, when
/// no mentor is available at all, that staff know and what happens next, never a request to
/// choose from an empty list (docs/domain.md#exhausted) —, and the program's staff are alerted.
async fn notify_exhausted(
    w: &mut Work<'_>,
    n: &mut Notices,
    tell: Tell,
    mentee: &Persona,
    user: &User,
    program: &Program,
    round: i64,
) -> Result<()> {
    let recs = recommendations(w, mentee, user, program).await?;
    let list = recs
        .iter()
        .map(Recommendation::line)
        .collect::<Vec<_>>()
        .join("\n");
    let key = format!("round:{}:{round}:exhausted", mentee.id);
    let text = if recs.is_empty() {
        "None of the mentors you chose can take you this time, and no other mentor is available right now. \
         Your program manager has been told: they can pair you by hand, and you will hear from me when you are paired. \
         /mentors shows who is available at any time."
            .to_string()
    } else {
        format!(
            "None of the mentors you chose can take you this time. Please choose again:\n{list}\n{}",
            how_to_choose(program.settings.max_choices, recs.len())
        )
    };
    // A mentee answered already (their `/choose` ran out at once) is not told twice in chat.
    if tell == Tell::Both {
        let links = store::links::links_of_user(w.c(), user.id).await?;
        n.chat(user, &links, "chain_exhausted", &key, text, Vec::new());
    }
    n.email(
        user,
        "chain_exhausted",
        key.clone(),
        messages::chain_exhausted(&user.full_name, &list),
    );
    for staff_id in store::staff::staff_user_ids_of_program(w.c(), program.id).await? {
        let Some(staff) = store::users::user(w.c(), staff_id).await? else {
            continue;
        };
        let text = if recs.is_empty() {
            format!(
                "{} ran out of mentor choices in {}, and no other mentor is available for them now: pair them by hand with /suggest and /assign when one is.",
                user.label(),
                program.full_name()
            )
        } else {
            format!(
                "{} ran out of mentor choices in {}: they were asked to choose again; you can also pair them with /suggest and /assign.",
                user.label(),
                program.full_name()
            )
        };
        let staff_key = format!("{key}:staff:{staff_id}");
        let links = store::links::links_of_user(w.c(), staff.id).await?;
        n.chat(&staff, &links, "staff_alert", &staff_key, text, Vec::new());
        n.email(
            &staff,
            "staff_alert",
            staff_key,
            messages::staff_chain_exhausted(&user.label(), &program.full_name(), recs.is_empty()),
        );
    }
    Ok(())
}

/// How to choose from `listed` recommendations when one `/choose` may rank `max_choices`: the
/// count and its noun agree ("up to 2 of them", never "up to 1 of them").
fn how_to_choose(max_choices: u32, listed: usize) -> String {
    let max = usize::try_from(max_choices).unwrap_or(1).min(listed);
    if listed == 1 {
        "Send /choose with that mentor to ask them.".to_string()
    } else if max <= 1 {
        "Send /choose with one of them.".to_string()
    } else {
        format!("Send /choose with up to {max} of them, best first.")
    }
}

/// What an offer's state means to the mentor pressing its button.
fn closed_offer_message(o: &Offer, program: Option<&Program>) -> String {
    let at = o.decided_at.map(|t| when(program, t)).unwrap_or_default();
    match o.state {
        OfferState::Accepted => format!("You accepted this offer on {at}: nothing more to do."),
        OfferState::Declined => format!("You declined this offer on {at}."),
        OfferState::Expired => format!(
            "This offer expired on {}: it has gone to the mentee's next choice.",
            o.deadline_at.map(|t| when(program, t)).unwrap_or(at)
        ),
        OfferState::Withdrawn | OfferState::Cancelled => {
            format!(
                "This offer was withdrawn{}.",
                o.reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
        }
        OfferState::Queued | OfferState::Skipped => "This offer was never sent to you.".to_string(),
        OfferState::Pending => String::new(),
    }
}

/// What became of a closed offer, as the line under the mentor's offer message (and its
/// reminder) that replaces their Accept and Decline buttons (docs/domain.md#edited-messages).
/// `reason` overrides the reason recorded on the offer (the mentor need not read the mentee's
/// own status change).
fn closed_note(o: &Offer, program: Option<&Program>, reason: Option<&str>) -> Option<String> {
    let at = o.decided_at.map(|t| when(program, t)).unwrap_or_default();
    let why = reason
        .or(o.reason.as_deref())
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    Some(match o.state {
        OfferState::Accepted => format!("You accepted this request on {at}: you are paired."),
        OfferState::Declined => format!("You declined this request on {at}."),
        OfferState::Expired => format!(
            "This request expired on {} without an answer.",
            o.deadline_at.map(|t| when(program, t)).unwrap_or(at)
        ),
        OfferState::Withdrawn | OfferState::Cancelled => {
            format!("This request was withdrawn on {at}{why}.")
        }
        OfferState::Queued | OfferState::Skipped | OfferState::Pending => return None,
    })
}

/// What goes between a message and the note of what became of it.
const CLOSED_MARK: &str = "\n\n— ";
/// The first part of an edit's key: `closed:offer:42:sent:telegram:7002`.
const CLOSED: &str = "closed";

/// The edits that take the buttons off `o`'s messages to `mentor` (the offer and its reminder,
/// on each of `links`), each replaced by [`closed_note`]; none for a deactivated mentor (nothing
/// is queued for them) or an offer still open.
fn button_edits(
    out: &mut Vec<(String, String, &'static str)>,
    o: &Offer,
    mentor: &User,
    links: &[ChatLink],
    program: Option<&Program>,
    reason: Option<&str>,
) {
    if mentor.status.is_deactivated() {
        return;
    }
    let Some(note) = closed_note(o, program, reason) else {
        return;
    };
    for link in links {
        for what in ["sent", "reminder"] {
            out.push((
                format!(
                    "offer:{}:{what}:{}:{}",
                    o.id, link.provider, link.account_id
                ),
                format!("{CLOSED_MARK}{note}"),
                CLOSED,
            ));
        }
    }
}

/// Takes the Accept and Decline buttons off the messages of offer `offer_id`, now closed: each
/// is edited, in the transaction that closed it, to say what became of it
/// (docs/domain.md#edited-messages). Every path that closes a pending offer calls it; a press on
/// a button not removed yet (the edit still on its way) is refused as before.
pub async fn retire_buttons(w: &mut Work<'_>, offer_id: i64, reason: Option<&str>) -> Result<()> {
    let Some(o) = store::offers::get(w.c(), offer_id).await? else {
        return Ok(());
    };
    let (mentor, mentor_user) = persona_user(w, o.mentor_persona_id).await?;
    let program = program_of(w, &mentor).await?;
    let links = store::links::links_of_user(w.c(), mentor_user.id).await?;
    let mut edits = Vec::new();
    button_edits(
        &mut edits,
        &o,
        &mentor_user,
        &links,
        program.as_ref(),
        reason,
    );
    let now = w.now;
    store::outbox::queue_edits(w.c(), "offer_closed", &edits, now).await?;
    Ok(())
}

/// The offer a mentor's button or command names, checked to be theirs and still open.
pub(crate) async fn open_offer_for(
    w: &mut Work<'_>,
    offer_id: i64,
    me: &User,
) -> Result<(Offer, Persona, User, Option<Program>)> {
    let offer = store::offers::get(w.c(), offer_id).await?.ok_or_else(|| {
        Error::not_found(format!(
            "there is no offer #{offer_id}: check the number in the message"
        ))
    })?;
    let (mentor, mentor_user) = persona_user(w, offer.mentor_persona_id).await?;
    if mentor_user.id != me.id {
        return Err(Error::forbidden(format!(
            "offer #{offer_id} was made to someone else: only the mentor it was sent to can answer it"
        )));
    }
    let program = program_of(w, &mentor).await?;
    if offer.state != OfferState::Pending {
        return Err(Error::conflict(closed_offer_message(
            &offer,
            program.as_ref(),
        )));
    }
    if offer.deadline_at.is_some_and(|d| d <= w.now) {
        return Err(Error::conflict(format!(
            "This offer expired on {}: it is going to the mentee's next choice.",
            offer
                .deadline_at
                .map(|t| when(program.as_ref(), t))
                .unwrap_or_default()
        )));
    }
    Ok((offer, mentor, mentor_user, program))
}

pub async fn decline(w: &mut Work<'_>, offer_id: i64, me: &User) -> Result<User> {
    let (offer, _, mentor_user, _) = open_offer_for(w, offer_id, me).await?;
    let now = w.now;
    if !store::offers::transition(
        w.c(),
        offer.id,
        OfferState::Pending,
        OfferState::Declined,
        Some("declined by the mentor"),
        now,
    )
    .await?
    {
        return Err(Error::conflict(
            "this offer was answered a moment ago: look at the latest message",
        ));
    }
    let (_, mentee_user) = persona_user(w, offer.mentee_persona_id).await?;
    move_on(w, &offer, &mentor_user, "declined").await?;
    Ok(mentee_user)
}

/// Expires, together, those of `ids` still pending whose deadline has passed, and moves each of
/// their rounds on (docs/domain.md#next-choice) — the same states, messages and outbox keys as
/// expiring them one at a time, with one statement per step for the whole batch (the
/// compare-and-swap, the reads, the skips, the sends, the outbox rows), all in the work's
/// transaction. A round that runs out is still told per mentee ([`notify_exhausted`]: fresh
/// recommendations each). Returns how many offers it expired: none when they were answered,
/// expired by another run, or not due yet, so a batch may run twice, or early.
pub async fn expire_batch(w: &mut Work<'_>, backend: Backend, ids: &[i64]) -> Result<usize> {
    let now = w.now;
    let expired =
        store::offers::expire_due(w.c(), backend, ids, "no answer by the deadline", now).await?;
    if expired.is_empty() {
        return Ok(0);
    }
    let mut mentees: Vec<i64> = expired.iter().map(|o| o.mentee_persona_id).collect();
    mentees.sort_unstable();
    mentees.dedup();
    // Their rounds as they stand now that these offers have expired.
    let mut rounds = rounds_of(w, &mentees).await?;
    let mut personas: Vec<i64> = expired.iter().map(|o| o.mentor_persona_id).collect();
    personas.extend(&mentees);
    personas.extend(
        rounds
            .values()
            .flatten()
            .filter(|o| o.state.is_open())
            .map(|o| o.mentor_persona_id),
    );
    personas.sort_unstable();
    personas.dedup();
    let people = store::offers::parties(w.c(), &personas).await?;
    let programs = programs_by_id(
        w,
        mentees
            .iter()
            .filter_map(|m| people.get(m).and_then(|(p, _)| p.program_id)),
    )
    .await?;

    // What each round does next, decided as `advance` decides it; then done for all at once.
    let mut closing = Vec::new();
    let mut sending = Vec::new();
    let mut plans = HashMap::new();
    for mentee in &mentees {
        let plan = plan_next(
            rounds.get(mentee).map_or(&[][..], Vec::as_slice),
            people.get(mentee),
            &people,
            &programs,
            now,
            &mut closing,
            &mut sending,
        );
        plans.insert(*mentee, plan);
    }
    store::offers::close_queued(w.c(), &closing, now).await?;
    let sent: HashSet<i64> = store::offers::send_many(w.c(), &sending, now)
        .await?
        .into_iter()
        .collect();
    let lost: Vec<i64> = plans
        .iter()
        .filter(|(_, p)| matches!(p, Next::Send { offer, .. } if !sent.contains(offer)))
        .map(|(m, _)| *m)
        .collect();
    if !lost.is_empty() {
        // A send lost its compare-and-swap: something else moved that round meanwhile. Read
        // those rounds again, so the mentee is told what is out now.
        rounds.extend(rounds_of(w, &lost).await?);
    }
    // Everyone's messages, in the order one expiry at a time writes them: per offer, the
    // mentor's, then the mentee's outcome, then what it caused (the next choice asked, or the
    // round run out).
    let mut users: Vec<i64> = people.values().map(|(_, u)| u.id).collect();
    users.sort_unstable();
    users.dedup();
    let links = store::links::links_of_users(w.c(), &users).await?;
    let links_of = |u: &User| links.get(&u.id).map_or(&[][..], Vec::as_slice);
    let scored: Vec<(i64, i64, i64)> = plans
        .iter()
        .filter_map(|(m, p)| match p {
            Next::Send {
                offer,
                mentor,
                program,
                ..
            } if sent.contains(offer) => {
                let mentee = people.get(m)?.1.id;
                Some((mentee, people.get(mentor)?.1.id, *program))
            }
            _ => None,
        })
        .collect();
    let answers = answers_of(w, &scored).await?;
    let empty = questionnaire::Answers::new();
    let mut n = Notices::default();
    let mut edits = Vec::new();
    let mut told = HashSet::new();
    for o in &expired {
        let Some((_, mentor_user)) = people.get(&o.mentor_persona_id) else {
            continue;
        };
        n.chat(
            mentor_user,
            links_of(mentor_user),
            "offer_expired",
            &format!("offer:{}:expired", o.id),
            expired_text(o.id),
            Vec::new(),
        );
        let mentee = people.get(&o.mentee_persona_id);
        let program = mentee
            .and_then(|(p, _)| p.program_id)
            .and_then(|id| programs.get(&id));
        button_edits(
            &mut edits,
            o,
            mentor_user,
            links_of(mentor_user),
            program,
            None,
        );
        let Some((mentee_persona, mentee_user)) = mentee else {
            continue;
        };
        let first = told.insert(o.mentee_persona_id);
        let plan = plans.get(&o.mentee_persona_id).filter(|_| first);
        let next = match plan {
            Some(Next::Send { offer, mentor, .. }) if sent.contains(offer) => people
                .get(mentor)
                .map(|(_, u)| Then::Asked(u.full_name.clone())),
            Some(Next::Exhausted { .. }) => Some(Then::RanOut),
            _ => None,
        };
        // Otherwise the choice now out in this offer's round, as `move_on` finds it.
        let next = next.unwrap_or_else(|| {
            rounds
                .get(&o.mentee_persona_id)
                .into_iter()
                .flatten()
                .find(|x| {
                    x.round == o.round && (x.state == OfferState::Pending || sent.contains(&x.id))
                })
                .and_then(|x| people.get(&x.mentor_persona_id))
                .map_or(Then::Nothing, |(_, u)| Then::Asked(u.full_name.clone()))
        });
        outcome_notices(
            &mut n,
            o.id,
            mentee_user,
            links_of(mentee_user),
            &mentor_user.full_name,
            "not answered in time",
            &next,
        );
        match plan {
            Some(Next::Send {
                offer,
                mentor,
                program,
                deadline,
            }) if sent.contains(offer) => {
                if let (Some((_, next_user)), Some(program)) =
                    (people.get(mentor), programs.get(program))
                {
                    let (score, reasons) = questionnaire::score(
                        &program.questionnaire,
                        answers.get(&(mentee_user.id, program.id)).unwrap_or(&empty),
                        answers.get(&(next_user.id, program.id)).unwrap_or(&empty),
                    );
                    offer_sent_notices(
                        &mut n,
                        &Sent {
                            offer_id: *offer,
                            program,
                            mentee: mentee_user,
                            mentee_links: links_of(mentee_user),
                            mentor: next_user,
                            mentor_links: links_of(next_user),
                            deadline: *deadline,
                            score,
                            reasons: &reasons,
                        },
                    );
                }
            }
            Some(Next::Exhausted { round }) => {
                if let Some(program) = program {
                    notify_exhausted(
                        w,
                        &mut n,
                        Tell::Both,
                        mentee_persona,
                        mentee_user,
                        program,
                        *round,
                    )
                    .await?;
                }
            }
            _ => {}
        }
    }
    w.send(n).await?;
    store::outbox::queue_edits(w.c(), "offer_closed", &edits, now).await?;
    Ok(expired.len())
}

/// What a mentee's round does after one of its offers closed.
enum Next {
    /// Nothing to send: an offer is out already, the round was cancelled (the mentee is no
    /// longer available), or there is no program to send in.
    Idle,
    /// This queued offer is sent, to this mentor persona, in this program.
    Send {
        offer: i64,
        mentor: i64,
        program: i64,
        deadline: DateTime<Utc>,
    },
    /// No choice is left: the mentee and staff are told.
    Exhausted { round: i64 },
}

/// The decision of [`advance`] for one mentee, from rows already read: the queued offers to
/// close go to `closing`, the one to send to `sending`.
fn plan_next(
    all: &[Offer],
    mentee: Option<&(Persona, User)>,
    people: &HashMap<i64, (Persona, User)>,
    programs: &HashMap<i64, Program>,
    now: DateTime<Utc>,
    closing: &mut Vec<(i64, OfferState, String)>,
    sending: &mut Vec<(i64, DateTime<Utc>, DateTime<Utc>)>,
) -> Next {
    let Some(round) = all.iter().map(|o| o.round).max() else {
        return Next::Idle;
    };
    let rows: Vec<&Offer> = all.iter().filter(|o| o.round == round).collect();
    if rows
        .iter()
        .any(|o| matches!(o.state, OfferState::Pending | OfferState::Accepted))
    {
        return Next::Idle;
    }
    let Some((mentee, mentee_user)) = mentee else {
        return Next::Idle;
    };
    let mut queued: Vec<&Offer> = rows
        .iter()
        .copied()
        .filter(|o| o.state == OfferState::Queued)
        .collect();
    queued.sort_by_key(|o| o.rank);
    if let Some(why) = unavailable_reason(mentee_user, mentee) {
        closing.extend(
            queued
                .iter()
                .map(|o| (o.id, OfferState::Cancelled, why.clone())),
        );
        return Next::Idle;
    }
    let program = mentee.program_id.and_then(|id| programs.get(&id));
    for o in queued {
        let why = match people.get(&o.mentor_persona_id) {
            Some((mentor, mentor_user)) => unavailable_reason(mentor_user, mentor),
            None => Some(format!("persona #{} no longer exists", o.mentor_persona_id)),
        };
        if let Some(why) = why {
            closing.push((o.id, OfferState::Skipped, why));
            continue;
        }
        let Some(program) = program else {
            return Next::Idle;
        };
        let deadline = now + program.settings.offer_ttl;
        sending.push((
            o.id,
            deadline,
            deadline - program.settings.offer_reminder_before,
        ));
        return Next::Send {
            offer: o.id,
            mentor: o.mentor_persona_id,
            program: program.id,
            deadline,
        };
    }
    if program.is_some() {
        Next::Exhausted { round }
    } else {
        Next::Idle
    }
}

/// Every row of these mentees, by mentee (newest round first, then by rank).
async fn rounds_of(w: &mut Work<'_>, mentees: &[i64]) -> Result<HashMap<i64, Vec<Offer>>> {
    let mut out: HashMap<i64, Vec<Offer>> = HashMap::new();
    for o in store::offers::of_mentees(w.c(), mentees).await? {
        out.entry(o.mentee_persona_id).or_default().push(o);
    }
    Ok(out)
}

/// These programs, by id (one read per distinct program: a batch usually has one).
async fn programs_by_id(
    w: &mut Work<'_>,
    ids: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, Program>> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = store::orgs::program(w.c(), id).await? {
            out.insert(id, p);
        }
    }
    Ok(out)
}

/// The answers of the (mentee user, mentor user, program) pairs about to be scored.
async fn answers_of(
    w: &mut Work<'_>,
    pairs: &[(i64, i64, i64)],
) -> Result<HashMap<(i64, i64), questionnaire::Answers>> {
    let mut users: Vec<i64> = pairs.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
    users.sort_unstable();
    users.dedup();
    let mut programs: Vec<i64> = pairs.iter().map(|(_, _, p)| *p).collect();
    programs.sort_unstable();
    programs.dedup();
    store::answers::of_users(w.c(), &users, &programs).await
}

fn expired_text(offer_id: i64) -> String {
    format!(
        "The offer #{offer_id} expired without an answer: it has gone to the mentee's next choice."
    )
}

/// Sends the mentor the reminder of each of `ids` that is pending, not reminded yet, and whose
/// reminder time has come (`offer_reminder_before` its deadline), once — all in one
/// compare-and-swap and one write of the messages. Returns how many it reminded.
pub async fn remind_batch(w: &mut Work<'_>, backend: Backend, ids: &[i64]) -> Result<usize> {
    let now = w.now;
    let due = store::offers::remind_due(w.c(), backend, ids, now).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut personas: Vec<i64> = due
        .iter()
        .flat_map(|o| [o.mentor_persona_id, o.mentee_persona_id])
        .collect();
    personas.sort_unstable();
    personas.dedup();
    let people = store::offers::parties(w.c(), &personas).await?;
    let programs = programs_by_id(
        w,
        due.iter().filter_map(|o| {
            people
                .get(&o.mentor_persona_id)
                .and_then(|(p, _)| p.program_id)
        }),
    )
    .await?;
    let mut mentors: Vec<i64> = due
        .iter()
        .filter_map(|o| people.get(&o.mentor_persona_id).map(|(_, u)| u.id))
        .collect();
    mentors.sort_unstable();
    mentors.dedup();
    let links = store::links::links_of_users(w.c(), &mentors).await?;
    let mut n = Notices::default();
    for o in &due {
        let (Some((mentor, mentor_user)), Some((_, mentee_user))) = (
            people.get(&o.mentor_persona_id),
            people.get(&o.mentee_persona_id),
        ) else {
            continue;
        };
        let program = mentor.program_id.and_then(|id| programs.get(&id));
        let by = o.deadline_at.map(|d| when(program, d)).unwrap_or_default();
        let text = format!(
            "Reminder: {} is waiting for your answer; the offer expires on {by}.",
            mentee_user.full_name
        );
        let key = format!("offer:{}:reminder", o.id);
        n.chat(
            mentor_user,
            links.get(&mentor_user.id).map_or(&[][..], Vec::as_slice),
            "offer_reminder",
            &key,
            text,
            offer_buttons(o.id),
        );
        let mail = messages::offer_reminder(&mentor_user.full_name, &mentee_user.full_name, &by);
        n.email(mentor_user, "offer_reminder", key, mail);
    }
    w.send(n).await?;
    Ok(due.len())
}

/// After a decline, expiry or withdrawal: the next choice, and the mentee is told — what
/// became of this offer first, then who has their request now (or that the round ran out) — and
/// the offer's buttons are taken off the mentor's messages.
pub(crate) async fn move_on(
    w: &mut Work<'_>,
    offer: &Offer,
    mentor_user: &User,
    outcome: &str,
) -> Result<()> {
    let mut then = Notices::default();
    let moved = advance_into(w, offer.mentee_persona_id, Tell::Both, &mut then).await?;
    let (_, mentee_user) = persona_user(w, offer.mentee_persona_id).await?;
    let next = match moved {
        Moved::Sent(name) => Then::Asked(name),
        Moved::RanOut => Then::RanOut,
        Moved::Idle => {
            let pending = store::offers::of_mentee(w.c(), offer.mentee_persona_id)
                .await?
                .into_iter()
                .find(|o| o.round == offer.round && o.state == OfferState::Pending);
            match pending {
                Some(p) => Then::Asked(persona_user(w, p.mentor_persona_id).await?.1.full_name),
                None => Then::Nothing,
            }
        }
    };
    let links = store::links::links_of_user(w.c(), mentee_user.id).await?;
    let mut n = Notices::default();
    outcome_notices(
        &mut n,
        offer.id,
        &mentee_user,
        &links,
        &mentor_user.full_name,
        outcome,
        &next,
    );
    w.send(n).await?;
    w.send(then).await?;
    retire_buttons(w, offer.id, None).await
}

/// What a mentee hears after the outcome of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Then {
    /// Their next choice (this mentor) has their request now.
    Asked(String),
    /// No choice is left: the message that follows says so, with what to do.
    RanOut,
    /// Nothing follows (they are no longer available to be matched, so no other choice was
    /// asked).
    Nothing,
}

/// The mentee's news of an offer that closed (chat and email): `outcome`, and who has their
/// request now, if anyone. When the round ran out, the message right after says so and what to
/// do, so this one does not say it too.
fn outcome_notices(
    n: &mut Notices,
    offer_id: i64,
    mentee: &User,
    links: &[ChatLink],
    mentor_name: &str,
    outcome: &str,
    next: &Then,
) {
    let next_text = match next {
        Then::Asked(name) => format!("Your next choice, {name}, has been asked."),
        Then::RanOut => String::new(),
        // The mentee is no longer ready to be matched: choosing again is not open to them.
        Then::Nothing => {
            "Your request goes no further for now: send /me to see where you stand.".to_string()
        }
    };
    let key = format!("offer:{offer_id}:outcome");
    let text = format!("Your request to {mentor_name} was {outcome}. {next_text}")
        .trim_end()
        .to_string();
    n.chat(mentee, links, "offer_outcome", &key, text, Vec::new());
    let mail = messages::offer_outcome(&mentee.full_name, mentor_name, outcome, &next_text);
    n.email(mentee, "offer_outcome", key, mail);
}

/// A persona stops being available (its user left A, it was made inactive, it left RTBM):
/// as a mentor, its pending offers are withdrawn and those rounds move on; as a mentee, its
/// open offers are withdrawn.
pub async fn withdraw_for_persona(w: &mut Work<'_>, persona: &Persona, why: &str) -> Result<()> {
    let now = w.now;
    match persona.role {
        PersonaRole::Mentor => {
            let (_, mentor_user) = persona_user(w, persona.id).await?;
            for o in store::offers::pending_for_mentor(w.c(), persona.id).await? {
                if store::offers::transition(
                    w.c(),
                    o.id,
                    OfferState::Pending,
                    OfferState::Withdrawn,
                    Some(why),
                    now,
                )
                .await?
                {
                    move_on(w, &o, &mentor_user, &format!("withdrawn ({why})")).await?;
                }
            }
        }
        PersonaRole::Mentee => {
            for o in store::offers::of_mentee(w.c(), persona.id).await? {
                if !o.state.is_open() {
                    continue;
                }
                let to = if o.state == OfferState::Pending {
                    OfferState::Withdrawn
                } else {
                    OfferState::Cancelled
                };
                if store::offers::transition(w.c(), o.id, o.state, to, Some(why), now).await?
                    && o.state == OfferState::Pending
                {
                    let (_, mentor_user) = persona_user(w, o.mentor_persona_id).await?;
                    let text = format!(
                        "Offer #{} is withdrawn: the mentee is no longer available.",
                        o.id
                    );
                    w.chat(
                        &mentor_user,
                        "offer_withdrawn",
                        &format!("offer:{}:withdrawn", o.id),
                        text,
                        Vec::new(),
                    )
                    .await?;
                    retire_buttons(w, o.id, Some("the mentee is no longer available")).await?;
                }
            }
        }
    }
    Ok(())
}
