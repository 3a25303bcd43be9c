//! `/overview [program]`: a program on one chat screen — people by user status, personas by match
//! status, activity, the pending offers due soonest, this week's sessions, applications waiting —
//! and a chart of it attached as a PNG (`crate::chart`). The counts are `store::overview`'s.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use tracing::warn;

use super::prelude::*;
use crate::chart::{self, Bar};
use crate::reply::{Attachment, clip, listed};
use crate::status::{MatchStatus, UserStatus};
use crate::store::orgs::Program;
use crate::store::{self, overview as numbers};

command! {
    pub struct Overview {
        name: "overview",
        about: "A program at a glance: statuses, activity, offers, sessions, with a chart",
        access: Access::Staff(Capability::ReadUsers),
        example: "/overview \"Spring 2027\"",
        args: {
            program: Option<ProgramRef> = opt_pos(K::Program, "the program (default: all of yours)"),
        }
    }
}

/// How many pending offers and upcoming sessions are listed.
const LISTED_ITEMS: i64 = 5;
/// How many weeks the chart's activity panel shows.
const WEEKS: i64 = 8;
/// A name in a list line is cut to this many characters, so the reply stays on one screen
/// however long people's names are.
const NAME_CHARS: usize = 32;

pub(crate) async fn overview(ctx: &mut Ctx<'_>, a: Overview) -> Result<Reply> {
    let all = store::orgs::list_programs(ctx.c()).await?;
    // docs/domain.md#scope: the program named (if it is one of the caller's), else every program
    // the caller reads people in (a super admin: all of them).
    let (scope, shown): (Option<Vec<i64>>, Vec<Program>) = match a.program.as_deref() {
        Some(p) => {
            let program = ctx.find_program(p, Capability::ReadUsers).await?;
            (Some(vec![program.id]), vec![program])
        }
        None => match ctx.actor.programs_for(Capability::ReadUsers) {
            None => (None, all.clone()),
            Some(ids) => {
                let mine = all
                    .iter()
                    .filter(|p| ids.contains(&p.id))
                    .cloned()
                    .collect();
                (Some(ids), mine)
            }
        },
    };
    if shown.is_empty() {
        return Ok(Reply::text(if scope.is_none() {
            "There is no program yet: /program_add creates one."
        } else {
            "None of your roles is for a program, so there is nothing to show."
        }));
    }
    let scope = scope.as_deref();
    let now = ctx.now;
    // Times are shown in the program's zone; for several programs in several zones, in UTC
    // (each offer's and session's own time carries its zone's abbreviation anyway).
    let tz = match shown.first().map(|p| p.settings.timezone) {
        Some(tz) if shown.iter().all(|p| p.settings.timezone == tz) => tz,
        _ => Tz::UTC,
    };
    let name = match (shown.as_slice(), scope) {
        ([one], _) => one.full_name(),
        (_, None) => format!("all {} programs", shown.len()),
        (many, Some(_)) => format!(
            "your programs ({})",
            listed(&many.iter().map(Program::full_name).collect::<Vec<_>>())
        ),
    };
    let local_now = now.with_timezone(&tz);
    let today = local_now.date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let week_end = midnight(tz, monday + Duration::days(7));

    let counts = numbers::counts(ctx.c(), scope, now).await?;
    let offers = numbers::soonest_offers(ctx.c(), scope, LISTED_ITEMS).await?;
    let week_sessions =
        numbers::sessions_between(ctx.c(), scope, midnight(tz, monday), week_end).await?;
    let next_sessions = numbers::next_sessions(ctx.c(), scope, now, week_end, LISTED_ITEMS).await?;
    let week_starts: Vec<NaiveDate> = (0..=WEEKS)
        .map(|k| monday - Duration::days(7 * (WEEKS - 1 - k)))
        .collect();
    let bounds: Vec<DateTime<Utc>> = week_starts.iter().map(|d| midnight(tz, *d)).collect();
    let per_week = numbers::last_active_between(ctx.c(), scope, &bounds).await?;

    let program_of = |id: Option<i64>| id.and_then(|id| all.iter().find(|p| p.id == id));
    let at = |program: Option<&Program>, t: DateTime<Utc>| {
        let zone = program.map_or(tz, |p| p.settings.timezone);
        t.with_timezone(&zone)
            .format("%a %d %b %H:%M %Z")
            .to_string()
    };
    let thresholds: Vec<i64> = shown
        .iter()
        .map(|p| p.settings.inactivity_after.num_days())
        .collect();
    let window = match thresholds.as_slice() {
        [first, rest @ ..] if rest.iter().all(|d| d == first) => {
            format!("the last {first} day{}", if *first == 1 { "" } else { "s" })
        }
        _ => "each program's inactivity_after".to_string(),
    };

    let mut lines = vec![
        format!(
            "Overview of {} · {}",
            clip(&name, 80),
            local_now.format("%a %d %b %Y %H:%M %Z")
        ),
        format!("In short: {}.", counts.headline()),
        format!(
            "People ({}): {}",
            counts.people(),
            counts
                .users
                .iter()
                .map(|(s, n)| format!("{} {n}", s.code()))
                .collect::<Vec<_>>()
                .join(" · ")
        ),
        format!(
            "Match status (personas): {}",
            counts
                .personas
                .iter()
                .map(|(s, n)| format!("{} {n}", s.code()))
                .collect::<Vec<_>>()
                .join(" · ")
        ),
        format!(
            "Activity in {window} (people in A or SI): {} active · {} inactive · {} never active",
            counts.activity.active, counts.activity.inactive, counts.activity.never
        ),
        format!(
            "Applications waiting: {} AI (application incomplete) · {} SI (screening incomplete)",
            counts.users_in(UserStatus::ApplicationIncomplete),
            counts.users_in(UserStatus::ScreeningIncomplete)
        ),
    ];
    if offers.is_empty() {
        lines.push("Offers pending: none.".into());
    } else {
        lines.push(format!(
            "Offers pending: {}{}",
            counts.offers_pending,
            if counts.offers_pending > LISTED_ITEMS {
                format!(", the {LISTED_ITEMS} due soonest:")
            } else {
                ", soonest first:".into()
            }
        ));
        for o in &offers {
            let due = o
                .deadline_at
                .map(|d| format!(", due {}", at(program_of(o.program_id), d)))
                .unwrap_or_default();
            lines.push(format!(
                "• {} ← {}{due}",
                clip(&o.mentor, NAME_CHARS),
                clip(&o.mentee, NAME_CHARS)
            ));
        }
    }
    let week = format!(
        "{} – {}",
        monday.format("%a %d %b"),
        (monday + Duration::days(6)).format("%a %d %b")
    );
    lines.push(match (week_sessions, next_sessions.is_empty()) {
        (0, _) => format!("Sessions this week ({week}): none booked."),
        (n, true) => format!("Sessions this week ({week}): {n} booked, none still to come."),
        (n, false) => format!("Sessions this week ({week}): {n} booked; next:"),
    });
    for s in &next_sessions {
        let who = |n: &Option<String>| {
            n.as_deref()
                .map_or_else(|| "(deleted)".to_string(), |n| clip(n, NAME_CHARS))
        };
        lines.push(format!(
            "• {}: {} & {}",
            at(program_of(s.program_id), s.starts_at),
            who(&s.mentor),
            who(&s.mentee)
        ));
    }
    // docs/domain.md#feedback: what the people of closed matches answered.
    lines.push(crate::messages::feedback_line(
        &store::feedback::counts(ctx.c(), scope).await?,
    ));

    let file_name = format!(
        "overview-{}-{}.png",
        match (shown.as_slice(), scope) {
            ([one], _) => slug(&one.name),
            (_, None) => "all".to_string(),
            _ => "mine".to_string(),
        },
        today.format("%Y-%m-%d")
    );
    let picture = chart::Overview {
        title: format!("{name} · {}", today.format("%a %d %b %Y")),
        funnel: vec![
            Bar::new("AI", counts.users_in(UserStatus::ApplicationIncomplete)),
            Bar::new("SI", counts.users_in(UserStatus::ScreeningIncomplete)),
            Bar::new("A", counts.users_in(UserStatus::Active)),
            Bar::new("RTBM", counts.personas_in(MatchStatus::ReadyToBeMatched)),
            Bar::new("Matched", counts.personas_in(MatchStatus::Matched)),
        ],
        weeks: week_starts
            .iter()
            .zip(&per_week)
            .map(|(d, n)| Bar::new(d.format("%d %b").to_string(), *n))
            .collect(),
    };
    let reply = match chart::overview_png(&picture) {
        Ok(bytes) => {
            lines.push(format!(
                "Chart: {file_name} — the funnel AI → SI → A → RTBM → Matched, and people by the week of their last activity."
            ));
            Reply::text(lines.join("\n")).with_attachment(Attachment {
                file_name,
                media_type: "image/png".into(),
                bytes,
            })
        }
        // The numbers are worth having without their picture.
        Err(e) => {
            warn!(error = %e, "the overview chart could not be drawn");
            lines.push("(The chart could not be drawn this time.)".into());
            Reply::text(lines.join("\n"))
        }
    };
    Ok(reply)
}

/// The first instant of `day` in `tz` (or the first hour that exists, where clocks jump at
/// midnight).
fn midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    (0..3)
        .find_map(|h| {
            day.and_hms_opt(h, 0, 0)
                .and_then(|t| tz.from_local_datetime(&t).earliest())
        })
        .map_or_else(
            || Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN)),
            |t| t.with_timezone(&Utc),
        )
}

/// A program's name as a file name part: lower-case letters and digits, runs of anything else
/// as one `-`; at most 40 characters.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "program".into()
    } else {
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_letters_and_digits() {
        assert_eq!(slug("Spring 2027"), "spring-2027");
        assert_eq!(slug("  Ça va / Été!! "), "a-va-t");
        assert_eq!(slug("💥"), "program");
        assert!(slug(&"x".repeat(300)).len() <= 40);
    }

    #[test]
    fn a_week_starts_at_local_midnight_even_where_midnight_is_skipped() {
        let sp = chrono_tz::America::Sao_Paulo;
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        assert_eq!(
            midnight(sp, day(2026, 11, 30)).to_rfc3339(),
            "2026-11-30T03:00:00+00:00"
        );
        // Sao Paulo skipped midnight on 4 Nov 2018 (clocks went to 01:00).
        assert_eq!(
            midnight(sp, day(2018, 11, 4)).to_rfc3339(),
            "2018-11-04T03:00:00+00:00"
        );
    }
}
