//! The offer cascade (docs/domain.md#the-offer-cascade).
//!
//! A mentee's `/choose` makes a *round*: one offer row per ranked mentor, queued. The first
//! still-available one is sent (pending, with its deadline and reminder time). Accept pairs
//! the two (`super::matches`); decline, expiry or withdrawal sends the next available one; an
//! exhausted round tells the mentee (with fresh recommendations) and the program's staff.
//! Every step is a compare-and-swap on the row's state, inside the work's transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::people::{persona_user, program_of};
use super::recommend::{Recommendation, pair_score, recommendations, unavailable_reason};
use super::show::when;
use super::work::{Notices, Work};
use crate::db::Backend;
use crate::error::{Error, Result};
use crate::reply::Button;
use crate::roles::{PersonaRole, StaffRole};
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
    /// This mentor (their name) has the request now, at this place in the round
    /// ([`Place::line`]).
    Sent { mentor: String, place: String },
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
        // Statuses, then a pause or every place taken (docs/domain.md#availability).
        if let Some(why) =
            super::recommend::mentor_unavailable_reason(w, &mentor_user, &mentor).await?
        {
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
            let at = Place {
                rank: o.rank,
                of: rows.len(),
                deadline,
            };
            notify_offer_sent(w, n, tell, o.id, program, &mentee_user, &mentor_user, at).await?;
            return Ok(Moved::Sent {
                mentor: mentor_user.full_name.clone(),
                place: at.line(Some(program), &mentor_user.full_name),
            });
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
    at: Place,
) -> Result<()> {
    let (score, reasons) = pair_score(w, program, mentee, mentor).await?;
    let now = w.now;
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
            at,
            now,
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
    /// Its place in the round and its deadline.
    at: Place,
    /// When it is sent.
    now: DateTime<Utc>,
    score: u32,
    reasons: &'a [String],
}

/// The mentor's offer (chat with the buttons, and email) and the mentee's note of who has
/// their request.
fn offer_sent_notices(n: &mut Notices, s: &Sent<'_>) {
    let by = when(Some(s.program), s.at.deadline);
    let shared = s.reasons.join(", ");
    let text = format!(
        "{} (mentee in {}) would like you as their mentor — score {}/100{}. {}",
        s.mentee.full_name,
        s.program.full_name(),
        s.score,
        if shared.is_empty() {
            String::new()
        } else {
            format!(", you share: {shared}")
        },
        their_choice(Some(s.program), s.at.rank, s.at.deadline, s.now)
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
        "Your request went to {}. You will hear from me either way.\nNow: {}.",
        s.mentor.full_name,
        s.at.line(Some(s.program), &s.mentor.full_name)
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
        // Declines, and pauses the mentor's new requests (docs/domain.md#availability).
        Button {
            label: "Decline and pause me".into(),
            command: format!(
                "/decline {offer_id} pause:{}",
                super::recommend::DEFAULT_PAUSE_WEEKS
            ),
        },
    ]
}

/// Where a pending offer stands in its round (docs/domain.md#cascade-place): its rank among
/// the mentee's ranked choices, how many they ranked, and its deadline.
#[derive(Debug, Clone, Copy)]
struct Place {
    rank: i64,
    of: usize,
    deadline: DateTime<Utc>,
}

impl Place {
    /// The mentee's line: "request 2 of 3: Lee Mentor, answer due Thu 03 Dec 17:00
    /// America/Sao_Paulo".
    fn line(self, program: Option<&Program>, mentor: &str) -> String {
        messages::request_place(
            self.rank,
            i64::try_from(self.of).unwrap_or(i64::MAX),
            mentor,
            &zoned(program, self.deadline),
        )
    }

    /// The place of `pending` among `rows` (every row of the mentee, or of its round).
    fn among(pending: &Offer, rows: &[Offer], deadline: Option<DateTime<Utc>>) -> Option<Self> {
        Some(Self {
            rank: pending.rank,
            of: rows.iter().filter(|o| o.round == pending.round).count(),
            deadline: deadline.or(pending.deadline_at)?,
        })
    }
}

/// A time as the people of a program read it: in the program's time zone, named, since people
/// have no zone of their own yet (docs/domain.md#cascade-place).
pub fn zoned(program: Option<&Program>, t: DateTime<Utc>) -> String {
    messages::zoned(t, program.map_or(Tz::UTC, |p| p.settings.timezone))
}

/// The mentor's line in an offer, its reminder and `/me` (docs/domain.md#cascade-place): "You
/// are their 1st choice: answer within 2 days 5 hours, by Thu 03 Dec 17:00 America/Sao_Paulo."
pub fn their_choice(
    program: Option<&Program>,
    rank: i64,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    messages::their_choice(
        rank,
        &messages::time_left(deadline - now),
        &zoned(program, deadline),
    )
}

/// Where mentee persona `mentee_persona_id`'s request stands, when one is out: the mentor who
/// has it, and the mentee's line ([`Place::line`]) — what `/me` and `/choose` show.
pub async fn place_of(
    w: &mut Work<'_>,
    mentee_persona_id: i64,
) -> Result<Option<(String, String)>> {
    let all = store::offers::of_mentee(w.c(), mentee_persona_id).await?;
    let Some(pending) = all.iter().find(|o| o.state == OfferState::Pending) else {
        return Ok(None);
    };
    let Some(at) = Place::among(pending, &all, None) else {
        return Ok(None);
    };
    let (mentor, mentor_user) = persona_user(w, pending.mentor_persona_id).await?;
    let program = program_of(w, &mentor).await?;
    let line = at.line(program.as_ref(), &mentor_user.full_name);
    Ok(Some((mentor_user.full_name, line)))
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
    // docs/domain.md#manual-match: who is asked to pair them now gets the best available mentors
    // (the mentee's own ranking, `recommend`) as buttons; the other staff are told as before.
    let offered: Vec<&Recommendation> = recs.iter().take(QUEUE_MENTORS).collect();
    let lines = offered
        .iter()
        .map(|r| r.line())
        .collect::<Vec<_>>()
        .join("\n");
    let buttons: Vec<Button> = offered
        .iter()
        .filter_map(|r| {
            let command = claim_command(mentee.id, r.persona.id, round);
            // A command past Telegram's limit on a button's data could not be pressed there:
            // staff still have /assign (docs/domain.md#manual-match).
            (command.len() <= BUTTON_COMMAND_BYTES).then(|| Button {
                label: format!("Pair with {}", r.user.full_name),
                command,
            })
        })
        .collect();
    for (staff, asked) in queue_staff(w, program.id).await? {
        let staff_key = queue_key(mentee.id, round, staff.id);
        let links = store::links::links_of_user(w.c(), staff.id).await?;
        if asked && !buttons.is_empty() {
            let text = messages::manual_match(&user.label(), &program.full_name(), &lines);
            n.chat(
                &staff,
                &links,
                MANUAL_MATCH,
                &staff_key,
                text,
                buttons.clone(),
            );
        } else {
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
            n.chat(&staff, &links, "staff_alert", &staff_key, text, Vec::new());
        }
        n.email(
            &staff,
            "staff_alert",
            staff_key,
            messages::staff_chain_exhausted(&user.label(), &program.full_name(), recs.is_empty()),
        );
    }
    Ok(())
}

/// How many mentors the manual-match message offers (docs/domain.md#manual-match).
const QUEUE_MENTORS: usize = 3;

/// The kind of the manual-match message's rows (the alert the other staff get is
/// `staff_alert`, under the same key).
const MANUAL_MATCH: &str = "manual_match";

/// The most bytes a button's command may take: Telegram's callback data holds 64
/// (docs/domain.md#ranking-by-buttons).
const BUTTON_COMMAND_BYTES: usize = 64;

/// What a manual-match button sends: `/claim MENTEE MENTOR ROUND`, persona ids and the round
/// that ran out (the command is `command::handlers::claim`).
pub fn claim_command(mentee_persona_id: i64, mentor_persona_id: i64, round: i64) -> String {
    format!("/claim {mentee_persona_id} {mentor_persona_id} {round}")
}

/// The key of the message staff member `staff_id` got when round `round` of mentee persona
/// `mentee_persona_id` ran out (one row per chat account: `{key}:{provider}:{account}`).
fn queue_key(mentee_persona_id: i64, round: i64, staff_id: i64) -> String {
    format!("round:{mentee_persona_id}:{round}:exhausted:staff:{staff_id}")
}

/// The staff told when a round of `program_id` runs out (its managers and coordinators, every
/// super admin; none deactivated, as nothing is queued for them), each with whether they are
/// the ones asked to pair the mentee (docs/domain.md#manual-match): the program's managers, or,
/// when it has none, the super admins.
async fn queue_staff(w: &mut Work<'_>, program_id: i64) -> Result<Vec<(User, bool)>> {
    let mut staff = Vec::new();
    for id in store::staff::staff_user_ids_of_program(w.c(), program_id).await? {
        let Some(user) = store::users::user(w.c(), id).await? else {
            continue;
        };
        let grants = store::staff::grants_of(w.c(), id).await?;
        let manages = grants
            .iter()
            .any(|g| g.role == StaffRole::ProgramManager && g.program_id == Some(program_id));
        let admin = grants.iter().any(|g| g.role == StaffRole::SuperAdmin);
        staff.push((user, manages, admin));
    }
    let active = |u: &User| !u.status.is_deactivated();
    let managed = staff.iter().any(|(u, manages, _)| *manages && active(u));
    Ok(staff
        .into_iter()
        .map(|(u, manages, admin)| {
            let asked = active(&u) && if managed { manages } else { admin };
            (u, asked)
        })
        .collect())
}

/// After staff member `by` paired mentee persona `mentee_persona_id` from the manual-match
/// message of round `round`: every other copy of that message — each staff member's, on each
/// chat account, but the one pressed (`pressed`: provider and account; its press's reply shows
/// there) — is edited, in this transaction, to say who claimed it instead of offering buttons
/// (docs/domain.md#manual-match). A copy never delivered is skipped when its edit comes up, as
/// every edit is (docs/domain.md#edited-messages).
pub(crate) async fn retire_queue_buttons(
    w: &mut Work<'_>,
    mentee_persona_id: i64,
    round: i64,
    program_id: i64,
    note: &str,
    pressed: Option<(&str, &str)>,
) -> Result<u64> {
    let staff = store::staff::staff_user_ids_of_program(w.c(), program_id).await?;
    let links = store::links::links_of_users(w.c(), &staff).await?;
    let mut edits = Vec::new();
    for id in &staff {
        for link in links.get(id).into_iter().flatten() {
            if pressed == Some((link.provider.as_str(), link.account_id.as_str())) {
                continue;
            }
            let key = format!(
                "{}:{}:{}",
                queue_key(mentee_persona_id, round, *id),
                link.provider,
                link.account_id
            );
            // Only the copies with buttons: a coordinator's alert under the same key offered
            // nothing to press.
            if store::outbox::by_key(w.c(), &key)
                .await?
                .is_some_and(|m| m.kind == MANUAL_MATCH)
            {
                edits.push((key, format!("{CLOSED_MARK}{note}"), CLAIMED));
            }
        }
    }
    let now = w.now;
    store::outbox::queue_edits(w.c(), "claimed", &edits, now).await
}

/// The first part of a claimed queue message's edit key: `claimed:round:12:1:exhausted:…`.
const CLAIMED: &str = "claimed";

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
    // Mentors paused or at capacity, skipped like unavailable ones (docs/domain.md#availability).
    let busy = super::recommend::busy_among(w, &people, programs.keys().copied()).await?;
    for mentee in &mentees {
        let plan = plan_next(
            rounds.get(mentee).map_or(&[][..], Vec::as_slice),
            people.get(mentee),
            &people,
            &busy,
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
    let deadlines: HashMap<i64, DateTime<Utc>> = sending
        .iter()
        .map(|(id, deadline, _)| (*id, *deadline))
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
            Some(Next::Send {
                offer, mentor, at, ..
            }) if sent.contains(offer) => people.get(mentor).map(|(_, u)| Then::Asked {
                mentor: u.full_name.clone(),
                place: at.line(program, &u.full_name),
            }),
            Some(Next::Exhausted { .. }) => Some(Then::RanOut),
            _ => None,
        };
        // Otherwise the choice now out in this offer's round, as `move_on` finds it.
        let next = next.unwrap_or_else(|| {
            let rows = rounds
                .get(&o.mentee_persona_id)
                .map_or(&[][..], Vec::as_slice);
            rows.iter()
                .find(|x| {
                    x.round == o.round && (x.state == OfferState::Pending || sent.contains(&x.id))
                })
                .and_then(|x| {
                    let (_, u) = people.get(&x.mentor_persona_id)?;
                    // A row sent by this batch was read before its deadline was set.
                    let place = Place::among(x, rows, deadlines.get(&x.id).copied())
                        .map(|at| at.line(program, &u.full_name))
                        .unwrap_or_default();
                    Some(Then::Asked {
                        mentor: u.full_name.clone(),
                        place,
                    })
                })
                .unwrap_or(Then::Nothing)
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
                at,
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
                            at: *at,
                            now,
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
    /// This queued offer is sent, to this mentor persona, in this program, at this place in
    /// its round.
    Send {
        offer: i64,
        mentor: i64,
        program: i64,
        at: Place,
    },
    /// No choice is left: the mentee and staff are told.
    Exhausted { round: i64 },
}

/// The decision of [`advance`] for one mentee, from rows already read: the queued offers to
/// close go to `closing`, the one to send to `sending`.
#[allow(clippy::too_many_arguments)]
fn plan_next(
    all: &[Offer],
    mentee: Option<&(Persona, User)>,
    people: &HashMap<i64, (Persona, User)>,
    busy: &HashMap<i64, String>,
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
            Some((mentor, mentor_user)) => unavailable_reason(mentor_user, mentor)
                .or_else(|| busy.get(&o.mentor_persona_id).cloned()),
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
            at: Place {
                rank: o.rank,
                of: rows.len(),
                deadline,
            },
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
            "Reminder: {} is waiting for your answer. {}",
            mentee_user.full_name,
            o.deadline_at
                .map(|d| their_choice(program, o.rank, d, now))
                .unwrap_or_default()
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
        Moved::Sent { mentor, place } => Then::Asked { mentor, place },
        Moved::RanOut => Then::RanOut,
        Moved::Idle => {
            let all = store::offers::of_mentee(w.c(), offer.mentee_persona_id).await?;
            let pending = all
                .iter()
                .find(|o| o.round == offer.round && o.state == OfferState::Pending);
            match pending {
                Some(p) => {
                    let (mentor, mentor_user) = persona_user(w, p.mentor_persona_id).await?;
                    let program = program_of(w, &mentor).await?;
                    let place = Place::among(p, &all, None)
                        .map(|at| at.line(program.as_ref(), &mentor_user.full_name))
                        .unwrap_or_default();
                    Then::Asked {
                        mentor: mentor_user.full_name,
                        place,
                    }
                }
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
    /// Their next choice (this mentor) has their request now, at this place
    /// ([`Place::line`]).
    Asked { mentor: String, place: String },
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
        Then::Asked { mentor, place } => {
            format!("Your next choice, {mentor}, has been asked.\nNow: {place}.")
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_match_button_fits_telegram_for_any_id_a_program_reaches() {
        // Ten-digit persona ids and a four-digit round: far past any real program, still within
        // a Telegram button's 64 bytes (docs/domain.md#manual-match).
        let big = claim_command(9_999_999_999, 9_999_999_998, 9_999);
        assert!(big.len() <= BUTTON_COMMAND_BYTES, "{big}");
        // Past that the button is left out rather than sent broken.
        assert!(claim_command(i64::MAX, i64::MAX, i64::MAX).len() > BUTTON_COMMAND_BYTES);
        assert_eq!(claim_command(12, 7, 1), "/claim 12 7 1");
    }
}
