//! Matches: `pair`, the one way two personas become a match (lock order: lower persona id
//! first), accepting an offer, closing and re-opening a match
//! (docs/domain.md#matches-and-pairing).

use super::availability;
use super::offers::{
    move_on, open_offer_for, retire_buttons, retire_queue_buttons, withdraw_for_persona,
};
use super::people::{persona_user, program_of};
use super::recommend::unavailable_reason;
use super::sessions::cancellations;
use super::show::when;
use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::messages;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, decide_match};
use crate::store::matches::{Match, MatchState};
use crate::store::offers::OfferState;
use crate::store::sessions::SessionState;
use crate::store::users::{Persona, User};
use crate::store::{self};

/// The matches in `state` any persona of `user` is in, each once, in the order their personas
/// and then `store::matches::of_persona` give them.
pub async fn matches_of_user(
    w: &mut Work<'_>,
    user: &User,
    state: MatchState,
) -> Result<Vec<Match>> {
    let mut out: Vec<Match> = Vec::new();
    for p in store::users::personas_of(w.c(), user.id).await? {
        for m in store::matches::of_persona(w.c(), p.id).await? {
            if m.state == state && !out.iter().any(|o| o.id == m.id) {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// The open matches any persona of `user` is in, with a line describing each.
pub async fn open_matches(w: &mut Work<'_>, user: &User) -> Result<Vec<(Match, String)>> {
    let mut out = Vec::new();
    for m in matches_of_user(w, user, MatchState::Open).await? {
        let line = describe_match(w, &m).await?;
        out.push((m, line));
    }
    Ok(out)
}

/// The closed matches of `user`'s personas still in C (what a reactivation leaves closed), with
/// a line describing each.
pub async fn closed_matches(w: &mut Work<'_>, user: &User) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in store::users::personas_of(w.c(), user.id).await? {
        if p.match_status != MatchStatus::Closed {
            continue;
        }
        if let Some(m) = store::matches::of_persona(w.c(), p.id)
            .await?
            .into_iter()
            .filter(|m| m.state == MatchState::Closed)
            .max_by_key(|m| m.id)
        {
            out.push(describe_match(w, &m).await?);
        }
    }
    Ok(out)
}

/// "match #4: Ana Lima (mentee) with Bruno Reis (mentor)"
pub async fn describe_match(w: &mut Work<'_>, m: &Match) -> Result<String> {
    let mut names = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id] {
        let name = match pid {
            Some(pid) => match store::users::persona(w.c(), pid).await? {
                Some(p) => store::users::user(w.c(), p.user_id)
                    .await?
                    .map(|u| u.full_name)
                    .unwrap_or_default(),
                None => "a deleted user".into(),
            },
            None => "a deleted user".into(),
        };
        names.push(name);
    }
    Ok(format!(
        "match #{}: {} (mentee) with {} (mentor)",
        m.id, names[0], names[1]
    ))
}

/// Closes an open match (docs/domain.md#closing-a-match): the match and both personas
/// (M → C); its booked sessions still to come are cancelled (so no reminder of them goes out);
/// the two personas' open offers are withdrawn; and both people still there are told, by chat
/// and email, with the reason. Every way a match closes comes through here: `/unassign`,
/// `/match_status … C`, a user leaving Active, the other person deleted, and the worker closing a
/// flash-mentoring match after its session ([`close_flash`]). A match no longer open is a
/// conflict, and nothing changes.
pub async fn close_match(w: &mut Work<'_>, m: &Match, reason: Option<&str>) -> Result<()> {
    let now = w.now;
    store::matches::set_state(w.c(), m.id, MatchState::Open, MatchState::Closed, now).await?;
    closed(w, m, reason).await
}

/// Why the worker closes a flash-mentoring match (docs/domain.md#flash-mentoring).
pub const FLASH_CLOSE_REASON: &str = "flash mentoring: the session took place";

/// docs/domain.md#flash-mentoring: closes match `match_id` through [`close_match`]'s steps if
/// it is open, its program uses flash mentoring, and its first booked session since it was
/// (re)opened has ended (its own length after it started, `Session::ends_at`). False, and nothing
/// changed, when any of that does not hold — it closed or re-opened meanwhile, the session was
/// cancelled, the program turned flash mentoring off — or when another run closed it first:
/// the close is claimed by a compare-and-swap on the match (open → closed), so a job that runs
/// twice, or on two workers at once, closes it and tells both people once.
pub async fn close_flash(w: &mut Work<'_>, match_id: i64) -> Result<bool> {
    let now = w.now;
    let Some(m) = store::matches::get(w.c(), match_id).await? else {
        return Ok(false);
    };
    if m.state != MatchState::Open {
        return Ok(false);
    }
    let flash = match m.program_id {
        Some(id) => store::orgs::program(w.c(), id)
            .await?
            .is_some_and(|p| p.settings.flash_mentoring),
        None => false,
    };
    if !flash {
        return Ok(false);
    }
    let first = store::sessions::of_match(w.c(), m.id)
        .await?
        .into_iter()
        .find(|s| s.state == SessionState::Booked && s.starts_at >= m.opened_at());
    let ended = first.is_some_and(|s| s.ends_at() <= now);
    if !ended {
        return Ok(false);
    }
    if !store::matches::transition(w.c(), m.id, MatchState::Open, MatchState::Closed, now).await? {
        return Ok(false);
    }
    closed(w, &m, Some(FLASH_CLOSE_REASON)).await?;
    Ok(true)
}

/// The rest of closing match `m`, once it is marked closed: its personas, sessions, offers and
/// the two people's messages (docs/domain.md#closing-a-match).
async fn closed(w: &mut Work<'_>, m: &Match, reason: Option<&str>) -> Result<()> {
    let now = w.now;
    // The mentor's free places are counted and made under a hold on them, taken before this
    // changes their personas and offers, the order the worker's top-up takes too.
    let mentor = match (m.mentor_persona_id, m.program_id) {
        (Some(pid), Some(program_id)) => store::users::persona(w.c(), pid)
            .await?
            .map(|p| (p.user_id, program_id)),
        _ => None,
    };
    if let Some((user_id, _)) = mentor {
        store::users::hold(w.c(), user_id).await?;
    }
    let mut people: Vec<(Persona, User)> = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id]
        .into_iter()
        .flatten()
    {
        let Some(p) = store::users::persona(w.c(), pid).await? else {
            continue;
        };
        if p.match_status == MatchStatus::Matched {
            store::users::set_match_status(w.c(), p.id, MatchStatus::Matched, MatchStatus::Closed)
                .await?;
            w.audit(
                Audit::persona(p.user_id, p.id, "match_status")
                    .from(MatchStatus::Matched.code())
                    .to(MatchStatus::Closed.code())
                    .because(reason),
            )
            .await?;
        }
        if let Some(u) = store::users::user(w.c(), p.user_id).await? {
            people.push((p, u));
        }
    }
    // Only the sessions still to come: one that has started took place (or is taking place),
    // and a flash match closes just after its session (docs/domain.md#closing-a-match).
    let mut cancelled = Vec::new();
    for s in store::sessions::of_match(w.c(), m.id).await? {
        if s.state == SessionState::Booked
            && s.starts_at > now
            && store::sessions::cancel(w.c(), s.id, now).await?
        {
            cancelled.push(s);
        }
    }
    for (p, _) in &people {
        withdraw_for_persona(w, p, "the match closed").await?;
    }
    let program = match m.program_id {
        Some(id) => store::orgs::program(w.c(), id).await?,
        None => None,
    };
    let sessions = match cancelled.len() {
        0 => String::new(),
        1 => format!(
            " The session booked for {} is cancelled.",
            when(program.as_ref(), cancelled[0].starts_at)
        ),
        n => format!(" The {n} sessions booked are cancelled."),
    };
    // docs/domain.md#sessions: each cancelled session's calendar cancellation goes with the
    // message, so it leaves both calendars.
    let users: Vec<User> = people.iter().map(|(_, u)| u.clone()).collect();
    let calendar = cancellations(w, &cancelled, program.as_ref(), &users);
    let why = reason
        .map(|r| format!(" Reason: {}", r.trim_end_matches('.')))
        .map(|r| format!("{r}."))
        .unwrap_or_default();
    for (me, other) in [(0, 1), (1, 0)] {
        let Some((_, user)) = people.get(me) else {
            continue;
        };
        let other = people
            .get(other)
            .map(|(_, u)| u.full_name.clone())
            .unwrap_or_else(|| "a person no longer in the program".into());
        let key = format!(
            "match:{}:closed:{}:{}",
            m.id,
            now.timestamp_millis(),
            user.id
        );
        let text = format!("Your match with {other} is closed.{why}{sessions}");
        w.chat_with(user, "match_closed", &key, text, Vec::new(), &calendar)
            .await?;
        let mail = messages::match_closed(&user.full_name, &other, reason, &sessions);
        w.email_with(user, "match_closed", key, mail, &calendar)
            .await?;
        ask_feedback(w, m.id, user, &other).await?;
    }
    // docs/domain.md#capacity: a place freed while the mentor keeps others open is ready at
    // once (a mentor whose every match has closed comes back as before: top_up decides).
    if let Some((user_id, program_id)) = mentor {
        availability::top_up(w, user_id, program_id).await?;
    }
    Ok(())
}

/// docs/domain.md#feedback: the first close-of-match question, with its answer buttons, queued
/// in the close's transaction; someone with no chat account linked (no buttons to press) gets
/// an email saying how to answer instead. Nothing is queued for a deactivated person.
async fn ask_feedback(w: &mut Work<'_>, match_id: i64, user: &User, other: &str) -> Result<()> {
    let key = format!(
        "match:{match_id}:feedback:{}:{}",
        w.now.timestamp_millis(),
        user.id
    );
    if store::links::links_of_user(w.c(), user.id)
        .await?
        .is_empty()
    {
        let mail = messages::feedback_email(&user.full_name, other, match_id);
        return w.email(user, "match_feedback", key, mail).await;
    }
    let (text, buttons) = messages::feedback_ask(match_id, other, &messages::FEEDBACK_QUESTIONS[0]);
    w.chat(user, "match_feedback", &key, text, buttons).await
}

/// Re-opens a closed match (C → M for both), only if both people are still there, A, and neither
/// has another persona in M now (docs/domain.md#match-transitions, row C → M; how this reads the
/// brief's "matched since": docs/domain.md#known-differences, item 2).
pub async fn reopen_match(w: &mut Work<'_>, m: &Match, reason: Option<&str>) -> Result<()> {
    if m.state != MatchState::Closed {
        return Err(Error::conflict(format!(
            "match #{} is not closed: nothing to re-open",
            m.id
        )));
    }
    let mut personas = Vec::new();
    for pid in [m.mentee_persona_id, m.mentor_persona_id] {
        let p = match pid {
            Some(pid) => store::users::persona(w.c(), pid).await?,
            None => None,
        };
        let p = p.ok_or_else(|| {
            Error::conflict(format!(
                "match #{} cannot re-open: one of its people was deleted",
                m.id
            ))
        })?;
        let user = store::users::user(w.c(), p.user_id)
            .await?
            .ok_or_else(|| Error::Internal("persona without user".into()))?;
        decide_match(p.match_status, MatchStatus::Matched, p.role, user.status)?;
        for other in store::users::personas_of(w.c(), user.id).await? {
            if other.id != p.id && other.match_status == MatchStatus::Matched {
                return Err(Error::conflict(format!(
                    "match #{} cannot re-open: {} has been matched again since (persona #{})",
                    m.id, user.full_name, other.id
                )));
            }
        }
        personas.push(p);
    }
    let now = w.now;
    store::matches::set_state(w.c(), m.id, MatchState::Closed, MatchState::Open, now).await?;
    for p in personas {
        store::users::set_match_status(w.c(), p.id, MatchStatus::Closed, MatchStatus::Matched)
            .await?;
        w.audit(
            Audit::persona(p.user_id, p.id, "match_status")
                .from(MatchStatus::Closed.code())
                .to(MatchStatus::Matched.code())
                .because(reason),
        )
        .await?;
    }
    Ok(())
}

/// The mentor accepts (docs/domain.md#offer-accept: first come, first served). Returns the
/// match id.
pub async fn accept(w: &mut Work<'_>, offer_id: i64, me: &User) -> Result<(i64, User)> {
    let (offer, mentor, _, _) = open_offer_for(w, offer_id, me).await?;
    let (mentee, mentee_user) = persona_user(w, offer.mentee_persona_id).await?;
    let id = pair(w, &mentee, &mentor, "offer", Some(offer.id)).await?;
    Ok((id, mentee_user))
}

/// Pairs a mentee and a mentor: both RTBM → M and a match, in one transaction. `offer` is the
/// accepted offer, if that is how it came about. The mentee's other choices are cancelled;
/// the mentor's other pending offers are withdrawn and those mentees' rounds move on at once.
pub async fn pair(
    w: &mut Work<'_>,
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
        let (fresh, user) = persona_user(w, p.id).await?;
        if let Some(why) = unavailable_reason(&user, &fresh) {
            return Err(Error::conflict(format!("cannot pair: {why}")));
        }
    }
    // Lower persona id first: two pairings touching the same people lock in the same order.
    let mut both = [mentee.id, mentor.id];
    both.sort_unstable();
    for id in both {
        store::users::set_match_status(
            w.c(),
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
    let now = w.now;
    if let Some(oid) = offer
        && !store::offers::transition(
            w.c(),
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
        store::matches::insert(w.c(), mentee.program_id, mentee.id, mentor.id, via, now).await?;
    let reason = match offer {
        Some(oid) => format!("offer #{oid} accepted"),
        None => format!("paired by {via}"),
    };
    for p in [mentee, mentor] {
        w.audit(
            Audit::persona(p.user_id, p.id, "match_status")
                .from(MatchStatus::ReadyToBeMatched.code())
                .to(MatchStatus::Matched.code())
                .because(Some(&reason)),
        )
        .await?;
    }
    let mentee_offers = store::offers::of_mentee(w.c(), mentee.id).await?;
    // Rounds that ran out before this pairing: each put "Pair with …" buttons before the staff
    // (docs/domain.md#manual-match). A claim retires its own round's with who claimed it.
    let mut ran_out: Vec<i64> = if via == "claim" {
        Vec::new()
    } else {
        mentee_offers.iter().map(|o| o.round).collect()
    };
    ran_out.sort_unstable();
    ran_out.dedup();
    ran_out.retain(|r| {
        !mentee_offers
            .iter()
            .any(|o| o.round == *r && (o.state.is_open() || Some(o.id) == offer))
    });
    for o in mentee_offers {
        if Some(o.id) == offer || !o.state.is_open() {
            continue;
        }
        let to = if o.state == OfferState::Pending {
            OfferState::Withdrawn
        } else {
            OfferState::Cancelled
        };
        if store::offers::transition(
            w.c(),
            o.id,
            o.state,
            to,
            Some("the mentee has been paired"),
            now,
        )
        .await?
            && o.state == OfferState::Pending
        {
            let (_, other_mentor) = persona_user(w, o.mentor_persona_id).await?;
            let text = format!(
                "Offer #{} is withdrawn: the mentee has been paired with someone else. Thank you!",
                o.id
            );
            w.chat(
                &other_mentor,
                "offer_withdrawn",
                &format!("offer:{}:withdrawn", o.id),
                text,
                Vec::new(),
            )
            .await?;
            // Its Accept and Decline buttons go too (docs/domain.md#edited-messages).
            retire_buttons(w, o.id, Some("the mentee has been paired")).await?;
        }
    }
    let (_, mentor_user) = persona_user(w, mentor.id).await?;
    if let (false, Some(program_id)) = (ran_out.is_empty(), mentee.program_id) {
        let (_, mentee_user) = persona_user(w, mentee.id).await?;
        let by = match w.actor.user_id() {
            Some(id) => store::users::user(w.c(), id).await?.map(|u| u.full_name),
            None => None,
        };
        let note = messages::paired_another_way(
            &mentee_user.full_name,
            &mentor_user.full_name,
            via,
            by.as_deref(),
        );
        for round in ran_out {
            retire_queue_buttons(w, mentee.id, round, program_id, &note, None).await?;
        }
    }
    for o in store::offers::pending_for_mentor(w.c(), mentor.id).await? {
        if Some(o.id) == offer {
            continue;
        }
        if store::offers::transition(
            w.c(),
            o.id,
            OfferState::Pending,
            OfferState::Withdrawn,
            Some("mentor no longer available"),
            now,
        )
        .await?
        {
            move_on(
                w,
                &o,
                &mentor_user,
                "withdrawn: the mentor is no longer available",
            )
            .await?;
        }
    }
    confirm_pairing(w, match_id, mentee, mentor).await?;
    Ok(match_id)
}

async fn confirm_pairing(
    w: &mut Work<'_>,
    match_id: i64,
    mentee: &Persona,
    mentor: &Persona,
) -> Result<()> {
    let (_, mentee_user) = persona_user(w, mentee.id).await?;
    let (_, mentor_user) = persona_user(w, mentor.id).await?;
    let program = program_of(w, mentee).await?;
    // docs/domain.md#flash-mentoring: both people learn up front that the match is for one session.
    let flash = if program.as_ref().is_some_and(|p| p.settings.flash_mentoring) {
        " This program uses flash mentoring: your match closes by itself once your first session has ended."
    } else {
        ""
    };
    let program = program.map(|p| p.full_name()).unwrap_or_default();
    for (me, other, other_role) in [
        (&mentee_user, &mentor_user, "mentor"),
        (&mentor_user, &mentee_user, "mentee"),
    ] {
        let key = format!("match:{match_id}:paired:{}", me.id);
        let text = format!(
            "You are paired with {} ({other_role}) in {program}! Book your first session with /session_book at:\"YYYY-MM-DD HH:MM\".{flash}",
            other.full_name
        );
        w.chat(me, "paired", &key, text, Vec::new()).await?;
        w.email(
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

/// What a press of a manual-match button did (docs/domain.md#manual-match).
#[derive(Debug)]
pub struct Claimed {
    pub match_id: i64,
    pub mentee: User,
    pub mentor: User,
}

/// Staff member `by` claims mentee persona `mentee` from the manual-match message of its round
/// `round` (docs/domain.md#manual-match): the two are paired through [`pair`], and every other
/// staff member's copy of that message — all but the chat account pressed from, `pressed` — is
/// edited in the same transaction to say who claimed it. Refused, with nothing changed: when the
/// mentee was paired meanwhile (the refusal says by whom and how: two presses at once pair
/// once, the compare-and-swap in `pair` decides), has a request out again, or the mentor can no
/// longer be paired.
pub async fn claim(
    w: &mut Work<'_>,
    mentee: &Persona,
    mentor: &Persona,
    round: i64,
    by: &User,
    pressed: Option<(&str, &str)>,
) -> Result<Claimed> {
    let (mentee, mentee_user) = persona_user(w, mentee.id).await?;
    if unavailable_reason(&mentee_user, &mentee).is_some() {
        return Err(Error::conflict(
            settled(w, &mentee, &mentee_user, by).await?,
        ));
    }
    let pending = store::offers::of_mentee(w.c(), mentee.id)
        .await?
        .into_iter()
        .find(|o| o.state == OfferState::Pending);
    if let Some(o) = pending {
        let (_, has_it) = persona_user(w, o.mentor_persona_id).await?;
        return Err(Error::conflict(messages::chose_again(
            &mentee_user.full_name,
            &has_it.full_name,
            &mentee_user.email,
        )));
    }
    let match_id = match pair(w, &mentee, mentor, "claim", None).await {
        Ok(id) => id,
        Err(Error::Conflict(why)) => {
            // Another press (or pairing) took the mentee first: say who, not only that it lost.
            let (fresh, fresh_user) = persona_user(w, mentee.id).await?;
            if unavailable_reason(&fresh_user, &fresh).is_some() {
                return Err(Error::conflict(settled(w, &fresh, &fresh_user, by).await?));
            }
            return Err(Error::conflict(messages::claim_mentor_gone(
                &why,
                &mentee_user.email,
            )));
        }
        Err(e) => return Err(e),
    };
    let (_, mentor_user) = persona_user(w, mentor.id).await?;
    if let Some(program_id) = mentee.program_id {
        let note = format!(
            "{}.",
            messages::claimed(
                &by.full_name,
                &mentee_user.full_name,
                &mentor_user.full_name
            )
        );
        retire_queue_buttons(w, mentee.id, round, program_id, &note, pressed).await?;
    }
    Ok(Claimed {
        match_id,
        mentee: mentee_user,
        mentor: mentor_user,
    })
}

/// What became of a mentee no longer ready to be matched, for a press that came too late: who
/// paired them, with whom, when and how (their latest match and the audit entry that made
/// them M), or why they cannot be paired now.
async fn settled(w: &mut Work<'_>, mentee: &Persona, user: &User, by: &User) -> Result<String> {
    let latest = store::matches::of_persona(w.c(), mentee.id)
        .await?
        .into_iter()
        .next();
    let Some(m) = latest.filter(|_| mentee.match_status != MatchStatus::ReadyToBeMatched) else {
        return Ok(messages::cannot_claim(
            &unavailable_reason(user, mentee).unwrap_or_default(),
        ));
    };
    let other = match m.counterpart(mentee.id) {
        Some(pid) => persona_user(w, pid).await?.1.full_name,
        None => "a person since deleted".to_string(),
    };
    let matched = MatchStatus::Matched.code();
    let actor = store::audit::list(w.c(), Some(user.id), 200)
        .await?
        .into_iter()
        .find(|e| {
            e.entity == "persona"
                && e.entity_id == Some(mentee.id)
                && e.field == "match_status"
                && e.new_value.as_deref() == Some(matched)
        })
        .and_then(|e| e.actor_user_id);
    let who = match actor {
        Some(id) if id == by.id => "you".to_string(),
        Some(id) => store::users::user(w.c(), id)
            .await?
            .map_or_else(|| "someone since deleted".to_string(), |u| u.full_name),
        None => "the system".to_string(),
    };
    let program = program_of(w, mentee).await?;
    let at = when(program.as_ref(), m.created_at);
    Ok(messages::already_paired(
        &who,
        &user.full_name,
        &other,
        &m.via,
        &at,
        m.state == MatchState::Closed,
    ))
}
