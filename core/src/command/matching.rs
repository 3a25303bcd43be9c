//! Recommendations, ranked offers and their cascade, and pairing (SPEC §4–5, seed 002).
//!
//! A mentee's `/choose` makes a *round*: one offer row per ranked mentor, queued. The first
//! still-available one is sent (pending, with its deadline and reminder time). Accept pairs
//! the two; decline, expiry or withdrawal sends the next available one; an exhausted round
//! tells the mentee (with fresh recommendations) and the program's staff. Every step is a
//! compare-and-swap on the row's state, inside the command's transaction.

use chrono::{DateTime, Utc};

use super::ctx::Ctx;
use crate::error::{Error, Result};
use crate::messages;
use crate::questionnaire;
use crate::reply::Button;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::offers::{Offer, OfferState};
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};

pub struct Recommendation {
    pub persona: Persona,
    pub user: User,
    pub score: u32,
    pub reasons: Vec<String>,
}

impl Recommendation {
    /// "Maria Mentor — 87/100 — both: Software, Spanish"
    pub fn line(&self) -> String {
        let why = if self.reasons.is_empty() {
            "no answers in common yet".to_string()
        } else {
            format!("both: {}", self.reasons.join(", "))
        };
        format!(
            "#{} {} — {}/100 — {why}",
            self.persona.id, self.user.full_name, self.score
        )
    }
}

pub async fn persona_user(ctx: &mut Ctx<'_>, persona_id: i64) -> Result<(Persona, User)> {
    let p = store::users::persona(ctx.c(), persona_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("persona #{persona_id} no longer exists")))?;
    let u = store::users::user(ctx.c(), p.user_id)
        .await?
        .ok_or_else(|| Error::Internal("persona without user".into()))?;
    Ok((p, u))
}

/// Why this persona cannot be matched now (SPEC §4: user A, persona Active, RTBM), or None.
pub fn unavailable_reason(user: &User, p: &Persona) -> Option<String> {
    if !user.status.info().can_be_matched {
        Some(format!("{} is {}", user.full_name, user.status))
    } else if p.status != PersonaStatus::Active {
        Some(format!(
            "{}'s persona #{} is inactive",
            user.full_name, p.id
        ))
    } else if p.match_status != MatchStatus::ReadyToBeMatched {
        Some(format!(
            "{} is {}, not ready to be matched",
            user.full_name, p.match_status
        ))
    } else {
        None
    }
}

/// Times are shown in the program's time zone.
pub fn when(program: Option<&Program>, t: DateTime<Utc>) -> String {
    match program {
        Some(p) => t
            .with_timezone(&p.settings.timezone)
            .format("%a %d %b %Y %H:%M %Z")
            .to_string(),
        None => t.format("%a %d %b %Y %H:%M UTC").to_string(),
    }
}

pub async fn program_of(ctx: &mut Ctx<'_>, p: &Persona) -> Result<Option<Program>> {
    match p.program_id {
        Some(id) => store::orgs::program(ctx.c(), id).await,
        None => Ok(None),
    }
}

/// The score and shared answers of two people in a program.
pub async fn pair_score(
    ctx: &mut Ctx<'_>,
    program: &Program,
    a: &User,
    b: &User,
) -> Result<(u32, Vec<String>)> {
    let (qa, _) = store::answers::of(ctx.c(), a.id, program.id).await?;
    let (qb, _) = store::answers::of(ctx.c(), b.id, program.id).await?;
    Ok(questionnaire::score(&program.questionnaire, &qa, &qb))
}

/// The best available mentors of the mentee's program, best first (SPEC §4). Mentors who
/// declined this mentee or let an offer expire are left out, so a new round is fresh.
pub async fn recommendations(
    ctx: &mut Ctx<'_>,
    mentee: &Persona,
    mentee_user: &User,
    program: &Program,
) -> Result<Vec<Recommendation>> {
    let answers = store::answers::of_program(ctx.c(), program.id).await?;
    let empty = questionnaire::Answers::new();
    let mine = answers.get(&mentee_user.id).unwrap_or(&empty).clone();
    let turned_down: Vec<i64> = store::offers::of_mentee(ctx.c(), mentee.id)
        .await?
        .into_iter()
        .filter(|o| matches!(o.state, OfferState::Declined | OfferState::Expired))
        .map(|o| o.mentor_persona_id)
        .collect();
    let mut recs = Vec::new();
    for p in store::users::personas_in_program(ctx.c(), program.id, PersonaRole::Mentor).await? {
        if turned_down.contains(&p.id) || p.user_id == mentee_user.id {
            continue;
        }
        let Some(u) = store::users::user(ctx.c(), p.user_id).await? else {
            continue;
        };
        if unavailable_reason(&u, &p).is_some() {
            continue;
        }
        let (score, reasons) = questionnaire::score(
            &program.questionnaire,
            &mine,
            answers.get(&u.id).unwrap_or(&empty),
        );
        recs.push(Recommendation {
            persona: p,
            user: u,
            score,
            reasons,
        });
    }
    recs.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.user.full_name.cmp(&b.user.full_name))
            .then(a.persona.id.cmp(&b.persona.id))
    });
    recs.truncate(usize::try_from(program.settings.recommendations).unwrap_or(5));
    Ok(recs)
}

/// Starts a new round with the ranked mentors and sends the first available offer.
pub async fn start_round(ctx: &mut Ctx<'_>, mentee: &Persona, ranked: &[i64]) -> Result<()> {
    let round = store::offers::next_round(ctx.c(), mentee.id).await?;
    let now = ctx.now;
    for (i, mentor) in ranked.iter().enumerate() {
        let rank = i64::try_from(i).unwrap_or(0) + 1;
        store::offers::insert_queued(
            ctx.c(),
            mentee.program_id,
            mentee.id,
            *mentor,
            round,
            rank,
            now,
        )
        .await?;
    }
    advance(ctx, mentee.id).await
}

/// Moves a mentee's current round on: sends the next available choice, skipping (with the
/// reason recorded) those who cannot take a mentee now; tells everyone when it runs out.
pub async fn advance(ctx: &mut Ctx<'_>, mentee_persona_id: i64) -> Result<()> {
    let all = store::offers::of_mentee(ctx.c(), mentee_persona_id).await?;
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
    let (mentee, mentee_user) = persona_user(ctx, mentee_persona_id).await?;
    let now = ctx.now;
    if let Some(why) = unavailable_reason(&mentee_user, &mentee) {
        for o in rows.iter().filter(|o| o.state == OfferState::Queued) {
            store::offers::transition(
                ctx.c(),
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
    let program = program_of(ctx, &mentee).await?;
    let mut queued: Vec<&Offer> = rows
        .iter()
        .filter(|o| o.state == OfferState::Queued)
        .collect();
    queued.sort_by_key(|o| o.rank);
    for o in queued {
        let (mentor, mentor_user) = persona_user(ctx, o.mentor_persona_id).await?;
        if let Some(why) = unavailable_reason(&mentor_user, &mentor) {
            store::offers::transition(
                ctx.c(),
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
        if store::offers::send(ctx.c(), o.id, now, deadline, remind_at).await? {
            notify_offer_sent(ctx, o.id, program, &mentee_user, &mentor_user, deadline).await?;
        }
        return Ok(());
    }
    if !rows.is_empty() {
        notify_exhausted(ctx, &mentee, &mentee_user, program.as_ref(), round).await?;
    }
    Ok(())
}

async fn notify_offer_sent(
    ctx: &mut Ctx<'_>,
    offer_id: i64,
    program: &Program,
    mentee: &User,
    mentor: &User,
    deadline: DateTime<Utc>,
) -> Result<()> {
    let (score, reasons) = pair_score(ctx, program, mentee, mentor).await?;
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
    ctx.chat(
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
    ctx.email(mentor, "offer", format!("offer:{offer_id}:sent"), mail)
        .await?;
    let note = format!(
        "Your request went to {}. They have until {by} to answer; you will hear from me either way.",
        mentor.full_name
    );
    ctx.chat(
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
    ctx: &mut Ctx<'_>,
    mentee: &Persona,
    user: &User,
    program: Option<&Program>,
    round: i64,
) -> Result<()> {
    let Some(program) = program else {
        return Ok(());
    };
    let recs = recommendations(ctx, mentee, user, program).await?;
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
    ctx.chat(user, "chain_exhausted", &key, text, Vec::new())
        .await?;
    ctx.email(
        user,
        "chain_exhausted",
        key.clone(),
        messages::chain_exhausted(&user.full_name, &list),
    )
    .await?;
    for staff_id in store::staff::staff_user_ids_of_program(ctx.c(), program.id).await? {
        let Some(staff) = store::users::user(ctx.c(), staff_id).await? else {
            continue;
        };
        let text = format!(
            "{} ran out of mentor choices in {}: they were asked to choose again; you can also pair them with /suggest and /assign.",
            user.label(),
            program.full_name()
        );
        ctx.chat(
            &staff,
            "staff_alert",
            &format!("{key}:staff:{staff_id}"),
            text,
            Vec::new(),
        )
        .await?;
        ctx.email(
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
async fn open_offer_for(
    ctx: &mut Ctx<'_>,
    offer_id: i64,
    me: &User,
) -> Result<(Offer, Persona, User, Option<Program>)> {
    let offer = store::offers::get(ctx.c(), offer_id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "there is no offer #{offer_id}: check the number in the message"
            ))
        })?;
    let (mentor, mentor_user) = persona_user(ctx, offer.mentor_persona_id).await?;
    if mentor_user.id != me.id {
        return Err(Error::forbidden(format!(
            "offer #{offer_id} was made to someone else: only the mentor it was sent to can answer it"
        )));
    }
    let program = program_of(ctx, &mentor).await?;
    if offer.state != OfferState::Pending {
        return Err(Error::conflict(closed_offer_message(
            &offer,
            program.as_ref(),
        )));
    }
    if offer.deadline_at.is_some_and(|d| d <= ctx.now) {
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

/// The mentor accepts (seed 002: first come, first served). Returns the match id.
pub async fn accept(ctx: &mut Ctx<'_>, offer_id: i64, me: &User) -> Result<(i64, User)> {
    let (offer, mentor, _, _) = open_offer_for(ctx, offer_id, me).await?;
    let (mentee, mentee_user) = persona_user(ctx, offer.mentee_persona_id).await?;
    let id = pair(ctx, &mentee, &mentor, "offer", Some(offer.id)).await?;
    Ok((id, mentee_user))
}

pub async fn decline(ctx: &mut Ctx<'_>, offer_id: i64, me: &User) -> Result<User> {
    let (offer, _, mentor_user, _) = open_offer_for(ctx, offer_id, me).await?;
    let now = ctx.now;
    if !store::offers::transition(
        ctx.c(),
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
    let (_, mentee_user) = persona_user(ctx, offer.mentee_persona_id).await?;
    move_on(ctx, &offer, &mentor_user, "declined").await?;
    Ok(mentee_user)
}

/// Expires one offer if it is still pending and due; false when there was nothing to do
/// (answered, expired by another worker, or not due).
pub async fn expire(ctx: &mut Ctx<'_>, offer_id: i64) -> Result<bool> {
    let Some(offer) = store::offers::get(ctx.c(), offer_id).await? else {
        return Ok(false);
    };
    let now = ctx.now;
    if offer.state != OfferState::Pending || offer.deadline_at.is_none_or(|d| d > now) {
        return Ok(false);
    }
    if !store::offers::transition(
        ctx.c(),
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
    let (_, mentor_user) = persona_user(ctx, offer.mentor_persona_id).await?;
    let text = format!(
        "The offer #{} expired without an answer: it has gone to the mentee's next choice.",
        offer.id
    );
    ctx.chat(
        &mentor_user,
        "offer_expired",
        &format!("offer:{}:expired", offer.id),
        text,
        Vec::new(),
    )
    .await?;
    move_on(ctx, &offer, &mentor_user, "not answered in time").await?;
    Ok(true)
}

/// Sends the reminder of a pending offer once, `offer_reminder_before` its deadline.
pub async fn remind(ctx: &mut Ctx<'_>, offer_id: i64) -> Result<bool> {
    let Some(offer) = store::offers::get(ctx.c(), offer_id).await? else {
        return Ok(false);
    };
    let now = ctx.now;
    if offer.state != OfferState::Pending
        || offer.deadline_at.is_none_or(|d| d <= now)
        || offer.remind_at.is_none_or(|r| r > now)
    {
        return Ok(false);
    }
    if !store::offers::mark_reminded(ctx.c(), offer.id, now).await? {
        return Ok(false);
    }
    let (mentor, mentor_user) = persona_user(ctx, offer.mentor_persona_id).await?;
    let (_, mentee_user) = persona_user(ctx, offer.mentee_persona_id).await?;
    let program = program_of(ctx, &mentor).await?;
    let by = offer
        .deadline_at
        .map(|d| when(program.as_ref(), d))
        .unwrap_or_default();
    let text = format!(
        "Reminder: {} is waiting for your answer; the offer expires on {by}.",
        mentee_user.full_name
    );
    ctx.chat(
        &mentor_user,
        "offer_reminder",
        &format!("offer:{}:reminder", offer.id),
        text,
        offer_buttons(offer.id),
    )
    .await?;
    let mail = messages::offer_reminder(&mentor_user.full_name, &mentee_user.full_name, &by);
    ctx.email(
        &mentor_user,
        "offer_reminder",
        format!("offer:{}:reminder", offer.id),
        mail,
    )
    .await?;
    Ok(true)
}

/// After a decline, expiry or withdrawal: the next choice, and the mentee is told.
async fn move_on(
    ctx: &mut Ctx<'_>,
    offer: &Offer,
    mentor_user: &User,
    outcome: &str,
) -> Result<()> {
    advance(ctx, offer.mentee_persona_id).await?;
    let (_, mentee_user) = persona_user(ctx, offer.mentee_persona_id).await?;
    let next = store::offers::of_mentee(ctx.c(), offer.mentee_persona_id)
        .await?
        .into_iter()
        .find(|o| o.round == offer.round && o.state == OfferState::Pending);
    let next_text = match next {
        Some(n) => {
            let (_, u) = persona_user(ctx, n.mentor_persona_id).await?;
            format!("Your next choice, {}, has been asked.", u.full_name)
        }
        None => "None of your choices is left: please choose again (see /mentors).".to_string(),
    };
    let key = format!("offer:{}:outcome", offer.id);
    let text = format!(
        "Your request to {} was {outcome}. {next_text}",
        mentor_user.full_name
    );
    ctx.chat(&mentee_user, "offer_outcome", &key, text, Vec::new())
        .await?;
    let mail = messages::offer_outcome(
        &mentee_user.full_name,
        &mentor_user.full_name,
        outcome,
        &next_text,
    );
    ctx.email(&mentee_user, "offer_outcome", key, mail).await
}

/// Pairs a mentee and a mentor: both RTBM → M and a match, in one transaction. `offer` is the
/// accepted offer, if that is how it came about. The mentee's other choices are cancelled;
/// the mentor's other pending offers are withdrawn and those mentees' rounds move on at once.
pub async fn pair(
    ctx: &mut Ctx<'_>,
    mentee: &Persona,
    mentor: &Persona,
    via: &str,
    offer: Option<i64>,
) -> Result<i64> {
    if mentee.role != PersonaRole::Mentee || mentor.role != PersonaRole::Mentor {
        return Err(Error::input(
            "pair a mentee persona with a mentor persona, in that order",
        ));
    }
    if mentee.program_id.is_none() || mentee.program_id != mentor.program_id {
        return Err(Error::conflict(
            "a mentee and a mentor are paired within one program: these two are in different programs",
        ));
    }
    for p in [mentee, mentor] {
        let (fresh, user) = persona_user(ctx, p.id).await?;
        if let Some(why) = unavailable_reason(&user, &fresh) {
            return Err(Error::conflict(format!("cannot pair: {why}")));
        }
    }
    // Lower persona id first: two pairings touching the same people lock in the same order.
    let mut both = [mentee.id, mentor.id];
    both.sort_unstable();
    for id in both {
        store::users::set_match_status(
            ctx.c(),
            id,
            MatchStatus::ReadyToBeMatched,
            MatchStatus::Matched,
        )
        .await
        .map_err(|_| {
            Error::conflict(
                "one of the two has just been paired or changed status: nothing was changed",
            )
        })?;
    }
    let now = ctx.now;
    if let Some(oid) = offer
        && !store::offers::transition(
            ctx.c(),
            oid,
            OfferState::Pending,
            OfferState::Accepted,
            Some("accepted"),
            now,
        )
        .await?
    {
        return Err(Error::conflict(
            "this offer was answered a moment ago: nothing was changed",
        ));
    }
    let match_id =
        store::matches::insert(ctx.c(), mentee.program_id, mentee.id, mentor.id, via, now).await?;
    let reason = match offer {
        Some(oid) => format!("offer #{oid} accepted"),
        None => format!("paired by {via}"),
    };
    for p in [mentee, mentor] {
        ctx.audit(
            Some(p.user_id),
            "persona",
            Some(p.id),
            "match_status",
            Some("RTBM".into()),
            Some("M".into()),
            Some(&reason),
        )
        .await?;
    }
    for o in store::offers::of_mentee(ctx.c(), mentee.id).await? {
        if Some(o.id) == offer || !o.state.is_open() {
            continue;
        }
        let to = if o.state == OfferState::Pending {
            OfferState::Withdrawn
        } else {
            OfferState::Cancelled
        };
        if store::offers::transition(
            ctx.c(),
            o.id,
            o.state,
            to,
            Some("the mentee has been paired"),
            now,
        )
        .await?
            && o.state == OfferState::Pending
        {
            let (_, other_mentor) = persona_user(ctx, o.mentor_persona_id).await?;
            let text = format!(
                "Offer #{} is withdrawn: the mentee has been paired with someone else. Thank you!",
                o.id
            );
            ctx.chat(
                &other_mentor,
                "offer_withdrawn",
                &format!("offer:{}:withdrawn", o.id),
                text,
                Vec::new(),
            )
            .await?;
        }
    }
    let (_, mentor_user) = persona_user(ctx, mentor.id).await?;
    for o in store::offers::pending_for_mentor(ctx.c(), mentor.id).await? {
        if Some(o.id) == offer {
            continue;
        }
        if store::offers::transition(
            ctx.c(),
            o.id,
            OfferState::Pending,
            OfferState::Withdrawn,
            Some("mentor no longer available"),
            now,
        )
        .await?
        {
            move_on(
                ctx,
                &o,
                &mentor_user,
                "withdrawn: the mentor is no longer available",
            )
            .await?;
        }
    }
    confirm_pairing(ctx, match_id, mentee, mentor).await?;
    Ok(match_id)
}

async fn confirm_pairing(
    ctx: &mut Ctx<'_>,
    match_id: i64,
    mentee: &Persona,
    mentor: &Persona,
) -> Result<()> {
    let (_, mentee_user) = persona_user(ctx, mentee.id).await?;
    let (_, mentor_user) = persona_user(ctx, mentor.id).await?;
    let program = program_of(ctx, mentee)
        .await?
        .map(|p| p.full_name())
        .unwrap_or_default();
    for (me, other, other_role) in [
        (&mentee_user, &mentor_user, "mentor"),
        (&mentor_user, &mentee_user, "mentee"),
    ] {
        let key = format!("match:{match_id}:paired:{}", me.id);
        let text = format!(
            "You are paired with {} ({other_role}) in {program}! Book your first session with /session_book at:\"YYYY-MM-DD HH:MM\".",
            other.full_name
        );
        ctx.chat(me, "paired", &key, text, Vec::new()).await?;
        ctx.email(
            me,
            "paired",
            key,
            messages::paired(
                &me.full_name,
                &other.full_name,
                other_role,
                &other.email,
                &program,
            ),
        )
        .await?;
    }
    Ok(())
}

/// A persona stops being available (its user left A, it was made inactive, it left RTBM):
/// as a mentor, its pending offers are withdrawn and those rounds move on; as a mentee, its
/// open offers are withdrawn.
pub async fn withdraw_for_persona(ctx: &mut Ctx<'_>, persona: &Persona, why: &str) -> Result<()> {
    let now = ctx.now;
    match persona.role {
        PersonaRole::Mentor => {
            let (_, mentor_user) = persona_user(ctx, persona.id).await?;
            for o in store::offers::pending_for_mentor(ctx.c(), persona.id).await? {
                if store::offers::transition(
                    ctx.c(),
                    o.id,
                    OfferState::Pending,
                    OfferState::Withdrawn,
                    Some(why),
                    now,
                )
                .await?
                {
                    move_on(ctx, &o, &mentor_user, &format!("withdrawn ({why})")).await?;
                }
            }
        }
        PersonaRole::Mentee => {
            for o in store::offers::of_mentee(ctx.c(), persona.id).await? {
                if !o.state.is_open() {
                    continue;
                }
                let to = if o.state == OfferState::Pending {
                    OfferState::Withdrawn
                } else {
                    OfferState::Cancelled
                };
                if store::offers::transition(ctx.c(), o.id, o.state, to, Some(why), now).await?
                    && o.state == OfferState::Pending
                {
                    let (_, mentor_user) = persona_user(ctx, o.mentor_persona_id).await?;
                    let text = format!(
                        "Offer #{} is withdrawn: the mentee is no longer available.",
                        o.id
                    );
                    ctx.chat(
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
