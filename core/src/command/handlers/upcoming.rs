//! `/upcoming [program] [hours:24]`: a dry run of the timers (docs/domain.md#upcoming) — which
//! offers expire (and to whom each then goes, if known) or are reminded, which sessions are
//! reminded, whom the next inactivity sweep reminds, and when, in the program's time zone —
//! within the next `hours`. It reads what the timers read (`store::jobs::due_between`, the
//! sweep's own query `store::users::inactive_due_at`) and changes nothing.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::prelude::*;
use crate::command::screen::{self, FILE_ROWS, Fit, PageNo, Screen};
use crate::domain::show::when;
use crate::domain::work::quiet_window;
use crate::store::jobs::{DueWork, Timer, Work};
use crate::store::offers::{Offer, OfferState};
use crate::store::orgs::Program;
use crate::store::sessions::ReminderColumn;
use crate::store::{self};

command! {
    pub struct Upcoming {
        name: "upcoming",
        about: "What the timers will do soon: expiries, reminders, whom the sweep reminds (changes nothing)",
        access: Access::Staff(Capability::ReadUsers),
        example: "/upcoming \"Spring 2027\" hours:48",
        press: crate::command::spec::Press::Replaces,
        args: {
            program: Option<ProgramRef> = opt_pos(K::Program, "the program (default: all of yours)"),
            hours: Limit<24, 168> = opt(K::Number, "how far ahead to look, in hours (1–168, default 24)"),
            page: PageNo = opt(K::Number, "which screen of the list (default 1)"),
        }
    }
}

/// One thing coming up: when, in which program, what.
struct Item {
    at: DateTime<Utc>,
    program: Option<i64>,
    kind: &'static str,
    what: String,
    /// Who gets its message (none for an expiry, whose state change is no reminder), by user id
    /// and name: a reminder falling in their quiet hours goes out at their end.
    to: Vec<(i64, String)>,
    /// What a reminder reminds of starts then (a session): never held until after it.
    hold_limit: Option<DateTime<Utc>>,
}

pub(crate) async fn upcoming(ctx: &mut Ctx<'_>, a: Upcoming) -> Result<Reply> {
    let all = store::orgs::list_programs(ctx.c()).await?;
    // docs/domain.md#scope: the program named (if it is one of the caller's), else every
    // program the caller reads people in (a super admin: all of them).
    let (scope, place): (Option<Vec<i64>>, String) = match a.program.as_deref() {
        Some(p) => {
            let program = ctx.find_program(p, Capability::ReadUsers).await?;
            (Some(vec![program.id]), program.full_name())
        }
        None => match ctx.actor.programs_for(Capability::ReadUsers) {
            None => (None, "all programs".into()),
            Some(ids) if ids.is_empty() => {
                return Ok(Reply::text(
                    "None of your roles is for a program, so nothing comes up for you.",
                ));
            }
            Some(ids) => (Some(ids), "your programs".into()),
        },
    };
    let programs: HashMap<i64, Program> = all.into_iter().map(|p| (p.id, p)).collect();
    let scope = scope.as_deref();
    let now = ctx.now;
    let hours = a.hours.get();
    let until = now + Duration::hours(hours);
    let cap = FILE_ROWS as i64;

    let mut items = Vec::new();
    // Offers: expiries (with the next choice) and reminders, from the timers' own queries.
    let mut due = store::jobs::due_between(ctx.c(), Timer::Expiry, now, until, scope, cap).await?;
    due.extend(
        store::jobs::due_between(ctx.c(), Timer::OfferReminder, now, until, scope, cap).await?,
    );
    let mut offers: HashMap<i64, Offer> = HashMap::new();
    for d in &due {
        let id = d.work.row().1;
        if !offers.contains_key(&id)
            && let Some(o) = store::offers::get(ctx.c(), id).await?
        {
            offers.insert(id, o);
        }
    }
    let mut mentees: Vec<i64> = offers.values().map(|o| o.mentee_persona_id).collect();
    mentees.sort_unstable();
    mentees.dedup();
    // The choices still queued in each offer's round: the first after it is where an expiry sends
    // the request, if that mentor is still available then (docs/domain.md#next-choice).
    let queued: Vec<Offer> = store::offers::of_mentees(ctx.c(), &mentees)
        .await?
        .into_iter()
        .filter(|o| o.state == OfferState::Queued)
        .collect();
    let mut personas: Vec<i64> = offers
        .values()
        .chain(queued.iter())
        .flat_map(|o| [o.mentor_persona_id, o.mentee_persona_id])
        .collect();
    personas.sort_unstable();
    personas.dedup();
    let people = store::offers::parties(ctx.c(), &personas).await?;
    let name = |persona: i64| {
        people
            .get(&persona)
            .map(|(_, u)| u.shown_name())
            .unwrap_or_else(|| format!("persona #{persona}"))
    };
    for DueWork { work, at } in due {
        let Some(o) = offers.get(&work.row().1) else {
            continue;
        };
        let (mentor, mentee) = (name(o.mentor_persona_id), name(o.mentee_persona_id));
        let (kind, what, to) = match work {
            Work::ExpireOffer(_) => {
                let next = queued
                    .iter()
                    .filter(|q| {
                        q.mentee_persona_id == o.mentee_persona_id
                            && q.round == o.round
                            && q.rank > o.rank
                    })
                    .min_by_key(|q| q.rank);
                let then = match next {
                    Some(q) => format!(
                        "then to {} (choice {}), if still available",
                        name(q.mentor_persona_id),
                        q.rank
                    ),
                    None => "it was the last choice: the round runs out".into(),
                };
                (
                    "offer expires",
                    format!("offer #{} to {mentor} from {mentee} expires; {then}", o.id),
                    Vec::new(),
                )
            }
            _ => (
                "offer reminder",
                format!("offer #{} reminder to {mentor} ({mentee} is waiting)", o.id),
                people
                    .get(&o.mentor_persona_id)
                    .map(|(_, u)| vec![(u.id, u.shown_name())])
                    .unwrap_or_default(),
            ),
        };
        items.push(Item {
            at,
            program: o.program_id,
            kind,
            what,
            to,
            hold_limit: None,
        });
    }
    // Session reminders, to both people.
    for column in ReminderColumn::ALL {
        let due = store::jobs::due_between(
            ctx.c(),
            Timer::SessionReminder(column),
            now,
            until,
            scope,
            cap,
        )
        .await?;
        let ids: Vec<i64> = due.iter().map(|d| d.work.row().1).collect();
        let parties = store::sessions::parties(ctx.c(), &ids).await?;
        let lead = match column {
            ReminderColumn::DayBefore => "24-hour",
            ReminderColumn::HourBefore => "1-hour",
        };
        for d in due {
            let id = d.work.row().1;
            let both: Vec<_> = parties.iter().filter(|p| p.session_id == id).collect();
            let names = both
                .iter()
                .map(|p| p.user.shown_name())
                .collect::<Vec<_>>()
                .join(" and ");
            let program = both.first().and_then(|p| p.program_id);
            items.push(Item {
                at: d.at,
                program,
                kind: "session reminder",
                what: format!("session #{id} {lead} reminder to {names}"),
                to: both
                    .iter()
                    .map(|p| (p.user.id, p.user.shown_name()))
                    .collect(),
                hold_limit: both.first().map(|p| p.starts_at),
            });
        }
    }
    // The next inactivity sweep, if it runs within the window: whom its own query finds then.
    let sweep =
        store::jobs::next_tick(&ctx.settings().queue.sweep_cron, now).filter(|t| *t <= until);
    if let Some(tick) = sweep {
        let d = ctx.program_defaults();
        let (after, repeat) = (d.inactivity_after, d.inactivity_repeat);
        for u in store::users::inactive_due_at(ctx.c(), tick, after, repeat, scope, cap).await? {
            items.push(Item {
                at: tick,
                program: None,
                kind: "inactivity reminder",
                what: format!(
                    "inactivity reminder to {} (the hourly sweep)",
                    u.shown_name()
                ),
                to: vec![(u.id, u.shown_name())],
                hold_limit: None,
            });
        }
    }
    items.sort_by(|x, y| x.at.cmp(&y.at).then_with(|| x.what.cmp(&y.what)));
    // docs/domain.md#quiet-hours: a reminder that falls in its recipient's quiet hours is
    // delivered at their end, by the rule the outbox applies when it is queued.
    let mut recipients: Vec<i64> = items
        .iter()
        .flat_map(|i| i.to.iter().map(|(id, _)| *id))
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    let quiet = store::users::quiet_of(ctx.c(), &recipients).await?;
    let defaults = ctx.program_defaults();
    for item in &mut items {
        let sent = item.at.max(now);
        let held: Vec<String> = item
            .to
            .iter()
            .filter_map(|(id, name)| {
                // Held or not is decided in the recipient's own zone, as the outbox does.
                let (hours, own_zone) = quiet_window(quiet.get(id)?, defaults);
                let at = hours.release_before(sent, own_zone, item.hold_limit)?;
                // In the zone the line's own time is shown in.
                let zone = item
                    .program
                    .and_then(|p| programs.get(&p))
                    .or_else(|| one_zone(scope, &programs))
                    .map_or(chrono_tz::Tz::UTC, |p| p.settings.timezone);
                Some(format!(
                    "{name}'s waits until {}",
                    at.with_timezone(&zone).format("%a %H:%M %Z")
                ))
            })
            .collect();
        if !held.is_empty() {
            item.what
                .push_str(&format!("; quiet hours: {}", held.join(", ")));
        }
    }

    let window = format!("the next {}", crate::text::counted(hours, "hour", "hours"));
    if items.is_empty() {
        return Ok(Reply::text(format!(
            "Nothing comes up in {place} in {window}: no offer expires or is reminded, no session is reminded{}.",
            match sweep {
                Some(t) => format!(
                    ", and the inactivity sweep at {} reminds no one",
                    when(one_zone(scope, &programs), t)
                ),
                None => String::new(),
            }
        )));
    }
    // Times in each item's program's zone; inactivity (a person, not a program) in the zone of
    // the one program shown, else UTC.
    let shown = |item: &Item| {
        let program = item
            .program
            .and_then(|id| programs.get(&id))
            .or_else(|| one_zone(scope, &programs));
        if item.at <= now {
            format!("now (due {})", short(program, item.at))
        } else {
            short(program, item.at)
        }
    };
    let fit = Fit::of(ctx.caller.frontend);
    let total = items.len() as u64;
    let lines: Vec<String> = items
        .iter()
        .skip(usize::try_from(a.page.offset(fit)).unwrap_or(0))
        .take(fit.lines)
        .map(|i| format!("{} · {}", shown(i), i.what))
        .collect();
    let file = if screen::wants_file(a.page, total, fit) {
        Some(screen::csv_file(
            "upcoming.csv",
            &["due_utc", "due_local", "kind", "what"],
            items.iter().take(FILE_ROWS).map(|i| {
                vec![
                    i.at.to_rfc3339(),
                    shown(i),
                    i.kind.to_string(),
                    i.what.clone(),
                ]
            }),
        )?)
    } else {
        None
    };
    Screen {
        heading: format!(
            "Coming up in {place} in {window}, soonest first; nothing here has happened yet"
        ),
        lines,
        total,
        page: a.page,
        fit,
        narrow: "narrow it with a program or fewer hours:",
    }
    .reply(ctx.invocation()?, file)
}

/// A time as a line of the list starts: in `program`'s zone (UTC without one), without the year,
/// so that a line keeps to what one screen's line holds (`Fit::line_chars`).
fn short(program: Option<&Program>, t: DateTime<Utc>) -> String {
    let zone = program.map_or(chrono_tz::Tz::UTC, |p| p.settings.timezone);
    t.with_timezone(&zone)
        .format("%a %d %b %H:%M %Z")
        .to_string()
}

/// The program whose zone a line without a program of its own is shown in: the one program in
/// scope, if there is exactly one.
fn one_zone<'p>(scope: Option<&[i64]>, programs: &'p HashMap<i64, Program>) -> Option<&'p Program> {
    match scope {
        Some([one]) => programs.get(one),
        _ => None,
    }
}
