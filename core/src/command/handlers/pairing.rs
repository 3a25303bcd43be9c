//! The staff's pairing commands: by hand, closing and re-opening matches, and `/autopair`.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::prelude::*;
use crate::assignment;
use crate::command::screen::{self, Fit, PageNo, Screen};
use crate::csv_safe;
use crate::domain;
use crate::domain::people::{persona_user, program_of};
use crate::domain::unpaired::{Filter, Side, Unpaired};
use crate::questionnaire::{Encoded, Scorer};
use crate::reply::Attachment;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::matches::MatchState;
use crate::store::orgs::Program;
use crate::store::previews::Preview;
use crate::store::users::{Persona, User};
use crate::store::{self};
use crate::values::confirmation_token;

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

command! {
    pub struct Assign {
        name: "assign",
        about: "Pair a mentee with a mentor by hand",
        access: Access::Staff(Capability::Pair),
        example: "/assign ana@example.org maria@example.org",
        args: {
            mentee: PersonRef = pos(K::Person, "the mentee"),
            mentor: PersonRef = pos(K::Person, "the mentor"),
        }
    }
}

pub(crate) async fn assign(ctx: &mut Ctx<'_>, a: Assign) -> Result<Reply> {
    let mentee_user = ctx.find_user(&a.mentee, Capability::Pair).await?;
    let mentor_user = ctx.find_user(&a.mentor, Capability::Pair).await?;
    let mentee = ready_persona(ctx, &mentee_user, PersonaRole::Mentee).await?;
    let program = program_of(ctx, &mentee).await?;
    if let Some(p) = &program {
        ctx.require_program(Capability::Pair, p)?;
    }
    // A mentor with several free places (docs/domain.md#capacity) is paired on one of those in
    // the mentee's program; otherwise their one ready persona, as before.
    let place = match &program {
        Some(p) => domain::availability::free_place(ctx, &mentor_user, p.id, mentee.id).await?,
        None => None,
    };
    let mentor = match place {
        Some(p) => p,
        None => ready_persona(ctx, &mentor_user, PersonaRole::Mentor).await?,
    };
    // Paused, or every place taken (docs/domain.md#availability): refused, naming why.
    if let Some(why) =
        domain::recommend::mentor_unavailable_reason(ctx, &mentor_user, &mentor).await?
    {
        return Err(Error::conflict(format!(
            "cannot pair: {why}. Pair another mentor, or wait until they can take one"
        )));
    }
    let id = domain::matches::pair(ctx, &mentee, &mentor, "assign", None).await?;
    if let Some(p) = &program {
        domain::availability::top_up(ctx, mentor_user.id, p.id).await?;
    }
    Ok(Reply::text(format!(
        "Paired {} (mentee) with {} (mentor): match #{id}. Both have been told and asked to book a session.",
        mentee_user.full_name, mentor_user.full_name
    )))
}

command! {
    pub struct Unassign {
        name: "unassign",
        about: "Close a person's active match",
        access: Access::Staff(Capability::Pair),
        example: "/unassign ana@example.org reason:\"moved away\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            with: Option<PersonRef> = opt(K::Person, "the other person, when there are several matches"),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

pub(crate) async fn unassign(ctx: &mut Ctx<'_>, a: Unassign) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::Pair).await?;
    let with = match a.with.as_deref() {
        Some(w) => Some(ctx.find_user(w, Capability::Pair).await?),
        None => None,
    };
    let mut open = domain::matches::open_matches(ctx, &user).await?;
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
    // Both people are told, the sessions cancelled, inside (docs/domain.md#closing-a-match).
    domain::matches::close_match(ctx, &m, a.reason.as_deref()).await?;
    Ok(Reply::text(format!(
        "Closed {line}.{}",
        ctx.last_audit
            .map(|id| format!(" (undo with /revert {id})"))
            .unwrap_or_default()
    )))
}

command! {
    pub struct MatchReopen {
        name: "match_reopen",
        about: "Re-open a person's closed match",
        access: Access::Staff(Capability::Pair),
        example: "/match_reopen ana@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

pub(crate) async fn match_reopen(ctx: &mut Ctx<'_>, a: MatchReopen) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::Pair).await?;
    let m = domain::matches::matches_of_user(ctx, &user, MatchState::Closed)
        .await?
        .into_iter()
        .max_by_key(|m| m.id)
        .ok_or_else(|| {
            Error::conflict(format!(
                "{} has no closed match to re-open: to pair them anew use /assign",
                user.full_name
            ))
        })?;
    domain::matches::reopen_match(ctx, &m, a.reason.as_deref()).await?;
    let line = domain::matches::describe_match(ctx, &m).await?;
    Ok(Reply::text(format!("Re-opened {line}.")))
}

#[derive(Serialize, Deserialize)]
struct AutopairPlan {
    pairs: Vec<(i64, i64, u32)>,
    /// Who the run leaves unpaired and why (docs/domain.md#autopair-unpaired), worked out with
    /// the pairs so that applying tells exactly what the preview found.
    #[serde(default)]
    unpaired: Vec<Unpaired>,
}

/// The action of the preview row that keeps, after an apply, the list of those left unpaired
/// for its page buttons (same token, same owner, 30 minutes): persona ids and reasons only,
/// names and emails read when shown.
const UNPAIRED_LIST: &str = "autopair_unpaired";

command! {
    pub struct Autopair {
        name: "autopair",
        about: "Pair all ready mentees and mentors of a program for the best total score (preview first)",
        access: Access::Staff(Capability::Pair),
        example: "/autopair \"Spring 2027\"",
        args: {
            program: ProgramRef = pos(K::Program, "the program"),
            confirm: Option<Confirm> = opt(K::Line, ABOUT_CONFIRM),
            page: PageNo = opt(K::Number, "after applying: which screen of those left unpaired (default 1)"),
        }
    }
}

/// docs/domain.md#autopair: a maximum-total-score one-to-one assignment over the program's ready
/// mentees and the available mentors' free places (docs/domain.md#capacity), shown first and
/// applied only on confirmation; no offers are sent.
pub(crate) async fn autopair(ctx: &mut Ctx<'_>, a: Autopair) -> Result<Reply> {
    let program = ctx.find_program(&a.program, Capability::Pair).await?;
    let me = ctx.me()?.id;
    if let Some(token) = a.confirm.as_ref().map(Confirm::as_str) {
        return apply_autopair(ctx, &program, me, token.trim(), a.page).await;
    }
    // One query a role, people and their personas together. Who each filter keeps out is
    // noted as it is applied (`Side`), for the reasons given to those left unpaired.
    let (mut mentee_side, mut mentor_side) = (Side::default(), Side::default());
    let ready = |people: Vec<(Persona, User)>, side: &mut Side| -> Vec<(Persona, User)> {
        people
            .into_iter()
            .filter(|(p, u)| {
                let ready = domain::recommend::unavailable_reason(u, p).is_none();
                // Passing this filter is not yet being in the run: a mentor may be paused.
                if !ready {
                    side.note(u.id, Some(Filter::NotReady));
                }
                ready
            })
            .collect()
    };
    let mentees = ready(
        store::users::personas_in_program_with_users(ctx.c(), program.id, PersonaRole::Mentee)
            .await?,
        &mut mentee_side,
    );
    for (_, u) in &mentees {
        mentee_side.note(u.id, None);
    }
    let mentors =
        store::users::personas_in_program_with_users(ctx.c(), program.id, PersonaRole::Mentor)
            .await?;
    let mentors = ready(mentors, &mut mentor_side);
    let mentors = slots(ctx, program.id, mentors, &mut mentor_side).await?;
    if mentees.is_empty() || mentors.is_empty() {
        return Ok(Reply::text(format!(
            "Nothing to pair in {}: {} and {} are ready (A, Active, RTBM).",
            program.full_name(),
            crate::text::counted(mentees.len() as i64, "mentee", "mentees"),
            crate::text::counted(mentors.len() as i64, "mentor", "mentors")
        )));
    }
    let answers = store::answers::of_program(ctx.c(), program.id).await?;
    let empty = crate::questionnaire::Answers::new();
    let scorer = Scorer::new(&program.questionnaire);
    let encoded = |people: &[(Persona, User)]| -> Vec<(i64, Encoded)> {
        people
            .iter()
            .map(|(_, u)| {
                let mine = answers.get(&u.id).unwrap_or(&empty);
                (u.id, scorer.encode(&program.questionnaire, mine))
            })
            .collect()
    };
    let scores = score_matrix(&scorer, &encoded(&mentees), &encoded(&mentors));
    let best = assignment::max_score_assignment(mentees.len(), mentors.len(), &scores);
    let ids = |people: &[(Persona, User)]| -> Vec<(i64, i64)> {
        people.iter().map(|(p, u)| (p.id, u.id)).collect()
    };
    let (rows, cols) = (ids(&mentees), ids(&mentors));
    let left = domain::unpaired::unpaired(&domain::unpaired::Run {
        rows: &rows,
        cols: &cols,
        scores: &scores,
        best: &best,
        mentees: &mentee_side,
        mentors: &mentor_side,
    });
    let mut lines = Vec::new();
    // Names and emails are what people typed, and staff open this file in a spreadsheet.
    let mut csv = csv_safe::Writer::new();
    csv.row(["mentee", "mentee_email", "mentor", "mentor_email", "score"])?;
    let mut plan = AutopairPlan {
        pairs: Vec::new(),
        unpaired: left,
    };
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
    // A mentor with several places is named once, however many stay free.
    let mut seen = std::collections::HashSet::new();
    let unpaired_mentors: Vec<String> = mentors
        .iter()
        .zip(&mentor_paired)
        .filter(|((_, u), paired)| !**paired && seen.insert(u.id))
        .map(|((_, u), _)| u.full_name.clone())
        .collect();
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
            "\nMentees left unpaired ({}): {}",
            unpaired_mentees.len(),
            some(&unpaired_mentees)
        ));
    }
    if !unpaired_mentors.is_empty() {
        text.push_str(&format!(
            "\nMentors left free ({}): {}",
            unpaired_mentors.len(),
            some(&unpaired_mentors)
        ));
    }
    if !plan.unpaired.is_empty() {
        text.push_str(&format!(
            "\nOn applying, {} left with no pair will be told why and what happens next.",
            crate::text::counted(plan.unpaired.len() as i64, "person", "people")
        ));
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

/// The columns of `/autopair`'s matrix: a mentor's free places (docs/domain.md#capacity), each
/// a persona of its own, as many as their capacity leaves (so one run may give a mentor with two
/// free places two mentees); mentors paused or at capacity have none.
async fn slots(
    ctx: &mut Ctx<'_>,
    program_id: i64,
    mentors: Vec<(Persona, User)>,
    side: &mut Side,
) -> Result<Vec<(Persona, User)>> {
    let busy = domain::recommend::busy_mentors(ctx, program_id).await?;
    let now = ctx.now;
    let mut taken: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(mentors.len());
    for (p, u) in mentors {
        if let Some(load) = busy.get(&u.id) {
            side.note(
                u.id,
                Some(match domain::recommend::busy(load, now) {
                    Some(domain::recommend::Busy::Paused { .. }) => Filter::Paused,
                    _ => Filter::NoPlace,
                }),
            );
            continue;
        }
        // Not busy: below capacity, so their first place counts; a second or later place
        // counts while their capacity leaves one (read only for those).
        let n = taken.entry(u.id).or_insert(0);
        *n += 1;
        out.push((p, u, *n));
    }
    let mut kept = Vec::with_capacity(out.len());
    for (p, u, nth) in out {
        if nth > 1 {
            let free = match store::users::mentor_load(ctx.c(), u.id, program_id).await? {
                Some(l) => domain::recommend::places(&l) - l.matched,
                None => 0,
            };
            if nth > free {
                side.note(u.id, Some(Filter::NoPlace));
                continue;
            }
        }
        side.note(u.id, None);
        kept.push((p, u));
    }
    Ok(kept)
}

/// How many pairs or names a preview shows inline.
const PREVIEW_LINES: usize = 40;

/// Below this many pairs the scores are worked out on the command's own thread.
const SCORES_ON_ONE_THREAD: usize = 100_000;

/// The score of every mentee (row) with every mentor (column), row after row, as
/// `assignment::max_score_assignment` takes them; a person never pairs with themselves
/// (`FORBIDDEN`). At program scale (5 000 × 5 000: 25 million scores) the rows are shared out
/// in chunks among the machine's cores, each writing its own rows of the matrix.
fn score_matrix(
    scorer: &Scorer,
    mentees: &[(i64, Encoded)],
    mentors: &[(i64, Encoded)],
) -> Vec<i64> {
    let cols = mentors.len();
    let mut scores = vec![0; mentees.len() * cols];
    if cols == 0 || mentees.is_empty() {
        return scores;
    }
    let fill = |rows: &mut [i64], mentees: &[(i64, Encoded)]| {
        for (row, (mentee, mine)) in rows.chunks_mut(cols).zip(mentees) {
            for (cell, (mentor, theirs)) in row.iter_mut().zip(mentors) {
                *cell = if mentee == mentor {
                    assignment::FORBIDDEN
                } else {
                    i64::from(scorer.score(mine, theirs))
                };
            }
        }
    };
    let threads = if scores.len() < SCORES_ON_ONE_THREAD {
        1
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    };
    if threads <= 1 {
        fill(&mut scores, mentees);
        return scores;
    }
    let rows_each = mentees.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (rows, mentees) in scores
            .chunks_mut(rows_each * cols)
            .zip(mentees.chunks(rows_each))
        {
            s.spawn(move || fill(rows, mentees));
        }
    });
    scores
}

async fn apply_autopair(
    ctx: &mut Ctx<'_>,
    program: &Program,
    me: i64,
    token: &str,
    page: PageNo,
) -> Result<Reply> {
    let preview = store::previews::take(ctx.c(), token).await?;
    let Some(preview) = preview.filter(|p| {
        (p.action == "autopair" || p.action == UNPAIRED_LIST)
            && p.actor_user_id == me
            && p.program_id == program.id
    }) else {
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
    // A page button under the list of those left unpaired: the list is shown again, and kept
    // for the next press.
    if preview.action == UNPAIRED_LIST {
        let list: Vec<Unpaired> =
            serde_json::from_str(&preview.payload).map_err(|e| Error::Internal(e.to_string()))?;
        let now = ctx.now;
        store::previews::insert(ctx.c(), &preview, now).await?;
        return unpaired_screen(ctx, program, &list, page, String::new()).await;
    }
    let plan: AutopairPlan =
        serde_json::from_str(&preview.payload).map_err(|e| Error::Internal(e.to_string()))?;
    let mut done = 0;
    for (mentee_id, mentor_id, _) in &plan.pairs {
        let (mentee, mu) = persona_user(ctx, *mentee_id).await?;
        let (mentor, tu) = persona_user(ctx, *mentor_id).await?;
        let why = match domain::recommend::unavailable_reason(&mu, &mentee) {
            Some(why) => Some(why),
            None => domain::recommend::mentor_unavailable_reason(ctx, &tu, &mentor).await?,
        };
        if let Some(why) = why {
            return Err(Error::conflict(format!(
                "things changed since the preview ({why}): nothing was paired — run /autopair again"
            )));
        }
        domain::matches::pair(ctx, &mentee, &mentor, "autopair", None).await?;
        if let Some(program_id) = mentor.program_id {
            domain::availability::top_up(ctx, tu.id, program_id).await?;
        }
        done += 1;
    }
    let head = format!(
        "Paired {} in {}. Everyone paired has been told; no offers were sent.",
        crate::text::counted(done, "mentee", "mentees"),
        program.full_name()
    );
    let list = tell_unpaired(ctx, program, &plan.unpaired).await?;
    if list.is_empty() {
        return Ok(Reply::text(head));
    }
    // Kept under the same token so the list's page buttons (`confirm:` and `page:`) show it.
    let now = ctx.now;
    let payload = serde_json::to_string(&list).map_err(|e| Error::Internal(e.to_string()))?;
    store::previews::insert(
        ctx.c(),
        &Preview {
            token: preview.token,
            actor_user_id: me,
            action: UNPAIRED_LIST.into(),
            program_id: program.id,
            payload,
            expires_at: now + Duration::minutes(30),
        },
        now,
    )
    .await?;
    unpaired_screen(ctx, program, &list, page, format!("{head}\n\n")).await
}

/// docs/domain.md#autopair-unpaired: each person the applied run left unpaired is told why
/// and what happens next (`domain::unpaired::tell`); someone no longer ready to be matched
/// (docs/domain.md#availability) or gone since the preview is not, as "you stay ready" would
/// not hold. Those told, for the staff member's list.
async fn tell_unpaired(
    ctx: &mut Ctx<'_>,
    program: &Program,
    left: &[Unpaired],
) -> Result<Vec<Unpaired>> {
    let found = people_of(ctx, left).await?;
    let name = program.full_name();
    let run = ctx.now.timestamp_millis();
    let mut told = Vec::new();
    for u in left {
        let Some((p, user)) = found.get(&u.persona_id) else {
            continue;
        };
        if domain::recommend::unavailable_reason(user, p).is_some() {
            continue;
        }
        let key = format!("autopair:{}:{run}:unpaired:{}", program.id, p.id);
        domain::unpaired::tell(ctx, user, u, &name, &key).await?;
        told.push(u.clone());
    }
    Ok(told)
}

/// The personas of `left` with their users, by persona id; in chunks, so one statement's
/// parameters stay well within both backends' limits.
async fn people_of(
    ctx: &mut Ctx<'_>,
    left: &[Unpaired],
) -> Result<std::collections::HashMap<i64, (Persona, User)>> {
    let mut found = std::collections::HashMap::new();
    let ids: Vec<i64> = left.iter().map(|u| u.persona_id).collect();
    for chunk in ids.chunks(500) {
        for (p, u) in store::users::personas_with_users(ctx.c(), chunk).await? {
            found.insert(p.id, (p, u));
        }
    }
    Ok(found)
}

/// One screen of those left unpaired, with `head` before it: each with the reason in brief;
/// on the first screen of a longer list, all of them as a CSV with the whole reason
/// (docs/domain.md#lists). Someone deleted since is left out.
async fn unpaired_screen(
    ctx: &mut Ctx<'_>,
    program: &Program,
    list: &[Unpaired],
    page: PageNo,
    head: String,
) -> Result<Reply> {
    let fit = Fit::of(ctx.caller.frontend);
    let total = list.len() as u64;
    let from = usize::try_from(page.offset(fit)).unwrap_or(usize::MAX);
    let shown: Vec<Unpaired> = list.iter().skip(from).take(fit.lines).cloned().collect();
    let role = |u: &Unpaired| if u.mentee { "mentee" } else { "mentor" };
    let people = people_of(ctx, &shown).await?;
    let lines = shown
        .iter()
        .filter_map(|u| {
            let (_, user) = people.get(&u.persona_id)?;
            Some(format!(
                "{} ({}): {}",
                user.full_name,
                role(u),
                u.why.brief(u.mentee)
            ))
        })
        .collect();
    let file = if screen::wants_file(page, total, fit) {
        let all: Vec<Unpaired> = list.iter().take(screen::FILE_ROWS).cloned().collect();
        let people = people_of(ctx, &all).await?;
        Some(screen::csv_file(
            &format!("autopair-unpaired-{}.csv", program.id),
            &["name", "email", "role", "reason"],
            all.iter().filter_map(|u| {
                let (_, user) = people.get(&u.persona_id)?;
                Some(vec![
                    user.full_name.clone(),
                    user.email.clone(),
                    role(u).to_string(),
                    u.why.reason(u.mentee),
                ])
            }),
        )?)
    } else {
        None
    };
    let mut reply = Screen {
        heading: "Left unpaired, each told why and what happens next".into(),
        lines,
        total,
        page,
        fit,
        narrow: "see the CSV attached to the first screen",
    }
    .reply(ctx.invocation()?, file)?;
    reply.text = format!("{head}{}", reply.text);
    Ok(reply)
}
