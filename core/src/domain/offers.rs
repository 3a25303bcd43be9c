//! The offer cascade (docs/domain.md#the-offer-cascade).
//!
//! A mentee's `/choose` makes a *round*: one offer row per ranked mentor, queued. The first
//! still-available one is sent (pending, with its deadline and reminder time). Accept pairs
//! the two (`super::matches`); decline, expiry or withdrawal sends the next available one; an
//! exhausted round tells the mentee (with fresh recommendations) and the program's staff.
//! Every step is a compare-and-swap on the row's state, inside the work's transaction.

use chrono::{DateTime, Utc};

use super::people::{persona_user, program_of};
use super::recommend::{Recommendation, pair_score, recommendations, unavailable_reason};
use super::show::when;
use super::work::Work;
use crate::error::{Error, Result};
use crate::messages;
use crate::reply::Button;
use crate::roles::PersonaRole;
use crate::store::offers::{Offer, OfferState};
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};

/// Starts a new round with the ranked mentors and sends the first available offer.
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
    advance(w, mentee.id).await
}

/// Moves a mentee's current round on: sends the next available choice, skipping (with the
/// reason recorded) those who cannot take a mentee now; tells everyone when it runs out.
pub async fn advance(w: &mut Work<'_>, mentee_persona_id: i64) -> Result<()> {
    let all = store::offers::of_mentee(w.c(), mentee_persona_id).await?;
    let Some(round) = all.iter().map(|o| o.round).max() else {
        return Ok(());
    };
    let rows: Vec<Offer> = all.into_iter().filter(|o| o.round == round).collect();
    if rows
        .iter()
        .any(|o| matches!(o.state, OfferState::Pending | OfferState::Accepted))
    {
        return Ok(());
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
        return Ok(());
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
            notify_offer_sent(w, o.id, program, &mentee_user, &mentor_user, deadline).await?;
        }
        return Ok(());
    }
    if !rows.is_empty() {
        notify_exhausted(w, &mentee, &mentee_user, program.as_ref(), round).await?;
    }
    Ok(())
}

async fn notify_offer_sent(
    w: &mut Work<'_>,
    offer_id: i64,
    program: &Program,
    mentee: &User,
    mentor: &User,
    deadline: DateTime<Utc>,
) -> Result<()> {
    let (score, reasons) = pair_score(w, program, mentee, mentor).await?;
    let by = when(Some(program), deadline);
    let shared = reasons.join(", ");
    let text = format!(
        "{} (mentee in {}) would like you as their mentor — score {score}/100{}. Please answer by {by}.",
        mentee.full_name,
        program.full_name(),
        if shared.is_empty() {
            String::new()
        } else {
            format!(", you share: {shared}")
        }
    );
    let buttons = offer_buttons(offer_id);
    w.chat(
        mentor,
        "offer",
        &format!("offer:{offer_id}:sent"),
        text,
        buttons,
    )
    .await?;
    let mail = messages::offer_to_mentor(
        &mentor.full_name,
        &mentee.full_name,
        &program.full_name(),
        score,
        &shared,
        &by,
    );
    w.email(mentor, "offer", format!("offer:{offer_id}:sent"), mail)
        .await?;
    let note = format!(
        "Your request went to {}. They have until {by} to answer; you will hear from me either way.",
        mentor.full_name
    );
    w.chat(
        mentee,
        "offer_sent",
        &format!("offer:{offer_id}:mentee"),
        note,
        Vec::new(),
    )
    .await
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

async fn notify_exhausted(
    w: &mut Work<'_>,
    mentee: &Persona,
    user: &User,
    program: Option<&Program>,
    round: i64,
) -> Result<()> {
    let Some(program) = program else {
        return Ok(());
    };
    let recs = recommendations(w, mentee, user, program).await?;
    let list = if recs.is_empty() {
        "(no mentor is available right now: your program manager has been told)".to_string()
    } else {
        recs.iter()
            .map(Recommendation::line)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let key = format!("round:{}:{round}:exhausted", mentee.id);
    let text = format!(
        "None of the mentors you chose can take you this time. Please choose again:\n{list}\nSend /choose with up to {} of them, best first.",
        program.settings.max_choices
    );
    w.chat(user, "chain_exhausted", &key, text, Vec::new())
        .await?;
    w.email(
        user,
        "chain_exhausted",
        key.clone(),
        messages::chain_exhausted(&user.full_name, &list),
    )
    .await?;
    for staff_id in store::staff::staff_user_ids_of_program(w.c(), program.id).await? {
        let Some(staff) = store::users::user(w.c(), staff_id).await? else {
            continue;
        };
        let text = format!(
            "{} ran out of mentor choices in {}: they were asked to choose again; you can also pair them with /suggest and /assign.",
            user.label(),
            program.full_name()
        );
        w.chat(
            &staff,
            "staff_alert",
            &format!("{key}:staff:{staff_id}"),
            text,
            Vec::new(),
        )
        .await?;
        w.email(
            &staff,
            "staff_alert",
            format!("{key}:staff:{staff_id}"),
            messages::staff_chain_exhausted(&user.label(), &program.full_name()),
        )
        .await?;
    }
    Ok(())
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

/// Expires one offer if it is still pending and due; false when there was nothing to do
/// (answered, expired by another worker, or not due).
pub async fn expire(w: &mut Work<'_>, offer_id: i64) -> Result<bool> {
    let Some(offer) = store::offers::get(w.c(), offer_id).await? else {
        return Ok(false);
    };
    let now = w.now;
    if offer.state != OfferState::Pending || offer.deadline_at.is_none_or(|d| d > now) {
        return Ok(false);
    }
    if !store::offers::transition(
        w.c(),
        offer.id,
        OfferState::Pending,
        OfferState::Expired,
        Some("no answer by the deadline"),
        now,
    )
    .await?
    {
        return Ok(false);
    }
    let (_, mentor_user) = persona_user(w, offer.mentor_persona_id).await?;
    let text = format!(
        "The offer #{} expired without an answer: it has gone to the mentee's next choice.",
        offer.id
    );
    w.chat(
        &mentor_user,
        "offer_expired",
        &format!("offer:{}:expired", offer.id),
        text,
        Vec::new(),
    )
    .await?;
    move_on(w, &offer, &mentor_user, "not answered in time").await?;
    Ok(true)
}

/// Sends the reminder of a pending offer once, `offer_reminder_before` its deadline.
pub async fn remind(w: &mut Work<'_>, offer_id: i64) -> Result<bool> {
    let Some(offer) = store::offers::get(w.c(), offer_id).await? else {
        return Ok(false);
    };
    let now = w.now;
    if offer.state != OfferState::Pending
        || offer.deadline_at.is_none_or(|d| d <= now)
        || offer.remind_at.is_none_or(|r| r > now)
    {
        return Ok(false);
    }
    if !store::offers::mark_reminded(w.c(), offer.id, now).await? {
        return Ok(false);
    }
    let (mentor, mentor_user) = persona_user(w, offer.mentor_persona_id).await?;
    let (_, mentee_user) = persona_user(w, offer.mentee_persona_id).await?;
    let program = program_of(w, &mentor).await?;
    let by = offer
        .deadline_at
        .map(|d| when(program.as_ref(), d))
        .unwrap_or_default();
    let text = format!(
        "Reminder: {} is waiting for your answer; the offer expires on {by}.",
        mentee_user.full_name
    );
    w.chat(
        &mentor_user,
        "offer_reminder",
        &format!("offer:{}:reminder", offer.id),
        text,
        offer_buttons(offer.id),
    )
    .await?;
    let mail = messages::offer_reminder(&mentor_user.full_name, &mentee_user.full_name, &by);
    w.email(
        &mentor_user,
        "offer_reminder",
        format!("offer:{}:reminder", offer.id),
        mail,
    )
    .await?;
    Ok(true)
}

/// After a decline, expiry or withdrawal: the next choice, and the mentee is told.
pub(crate) async fn move_on(
    w: &mut Work<'_>,
    offer: &Offer,
    mentor_user: &User,
    outcome: &str,
) -> Result<()> {
    advance(w, offer.mentee_persona_id).await?;
    let (_, mentee_user) = persona_user(w, offer.mentee_persona_id).await?;
    let next = store::offers::of_mentee(w.c(), offer.mentee_persona_id)
        .await?
        .into_iter()
        .find(|o| o.round == offer.round && o.state == OfferState::Pending);
    let next_text = match next {
        Some(n) => {
            let (_, u) = persona_user(w, n.mentor_persona_id).await?;
            format!("Your next choice, {}, has been asked.", u.full_name)
        }
        None => "None of your choices is left: please choose again (see /mentors).".to_string(),
    };
    let key = format!("offer:{}:outcome", offer.id);
    let text = format!(
        "Your request to {} was {outcome}. {next_text}",
        mentor_user.full_name
    );
    w.chat(&mentee_user, "offer_outcome", &key, text, Vec::new())
        .await?;
    let mail = messages::offer_outcome(
        &mentee_user.full_name,
        &mentor_user.full_name,
        outcome,
        &next_text,
    );
    w.email(&mentee_user, "offer_outcome", key, mail).await
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
                }
            }
        }
    }
    Ok(())
}
