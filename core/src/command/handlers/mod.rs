//! One handler per command: it parses its arguments into typed values, calls the domain and
//! the store through the context, and returns the reply. Handlers are grouped by what they
//! touch.

mod basics;
mod deliveries;
mod matching;
mod orgs;
mod people;
mod removal;
pub(crate) mod sessions;
mod statuses;

use super::ctx::Ctx;
use super::parse::Invocation;
use super::registry::CommandId as Id;
use crate::error::{Error, Result};
use crate::program::parse_yes_no;
use crate::reply::{Reply, echo};

pub(crate) async fn dispatch(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
    match inv.spec.id {
        Id::Start => basics::start(ctx).await,
        Id::Help => basics::help(ctx, inv).await,
        Id::Link => basics::link(ctx, inv).await,
        Id::Me => basics::me(ctx).await,
        Id::OrgAdd => orgs::org_add(ctx, inv).await,
        Id::ProgramAdd => orgs::program_add(ctx, inv).await,
        Id::ProgramSet => orgs::program_set(ctx, inv).await,
        Id::StaffAdd => orgs::staff_add(ctx, inv).await,
        Id::UserAdd => people::user_add(ctx, inv).await,
        // Runs through `crate::import::run` (chunks, each its own transaction); the engine
        // never hands it to a command's transaction.
        Id::UserImport => Err(crate::Error::Internal(
            "/user_import runs through import::run, never inside a command's transaction".into(),
        )),
        Id::UserShow => people::user_show(ctx, inv).await,
        Id::UserList => people::user_list(ctx, inv).await,
        Id::Inactive => people::inactive(ctx, inv).await,
        Id::PersonaNew => people::persona_new(ctx, inv).await,
        Id::ProgramAssign => people::program_assign(ctx, inv).await,
        Id::Status => statuses::status(ctx, inv).await,
        Id::Deactivate => statuses::deactivate(ctx, inv).await,
        Id::Reactivate => statuses::reactivate(ctx, inv).await,
        Id::PersonaStatus => statuses::persona_status(ctx, inv).await,
        Id::MatchStatus => statuses::match_status(ctx, inv).await,
        Id::History => statuses::history(ctx, inv).await,
        Id::Revert => statuses::revert(ctx, inv).await,
        Id::Delete => removal::delete(ctx, inv).await,
        Id::Export => removal::export(ctx, inv).await,
        Id::Apply => matching::apply(ctx, inv).await,
        Id::Mentors => matching::mentors(ctx).await,
        Id::Suggest => matching::suggest(ctx, inv).await,
        Id::Choose => matching::choose(ctx, inv).await,
        Id::Accept => matching::accept(ctx, inv).await,
        Id::Decline => matching::decline(ctx, inv).await,
        Id::Offers => matching::offers(ctx, inv).await,
        Id::Assign => matching::assign(ctx, inv).await,
        Id::Unassign => matching::unassign(ctx, inv).await,
        Id::MatchReopen => matching::match_reopen(ctx, inv).await,
        Id::Autopair => matching::autopair(ctx, inv).await,
        Id::SessionBook => sessions::session_book(ctx, inv).await,
        Id::Sessions => sessions::sessions(ctx).await,
        Id::SessionCancel => sessions::session_cancel(ctx, inv).await,
        Id::Deliveries => deliveries::deliveries(ctx, inv).await,
    }
}

/// `confirm:yes` (or any yes-word).
fn confirmed(inv: &Invocation) -> Result<bool> {
    inv.get("confirm")
        .map(|v| parse_yes_no("confirm", v))
        .transpose()
        .map(|v| v.unwrap_or(false))
}

/// The longest reason the audit log takes, in characters: a few sentences. `/history` shows
/// each entry on a line with its reason, so a page of text there would bury the log.
const MAX_REASON: usize = 500;

/// `reason:`, for the audit log: at most [`MAX_REASON`] characters. Every handler reads it
/// through here, before it changes anything.
fn reason(inv: &Invocation) -> Result<Option<&str>> {
    let Some(r) = inv.get("reason") else {
        return Ok(None);
    };
    let length = r.chars().count();
    if length > MAX_REASON {
        return Err(Error::input(format!(
            "reason: is {length} characters long: keep it to {MAX_REASON} (it is shown in /history)"
        )));
    }
    Ok(Some(r))
}

fn yes_no(inv: &Invocation, name: &str) -> Result<bool> {
    inv.get(name)
        .map(|v| parse_yes_no(name, v))
        .transpose()
        .map(|v| v.unwrap_or(false))
}

fn number(inv: &Invocation, name: &str, default: i64, max: i64) -> Result<i64> {
    match inv.get(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Error::input(format!(
                    "{name} must be a whole number from 1 to {max}, not '{}'",
                    echo(raw.trim())
                ))
            }),
    }
}

/// "3 days ago", "just now": how activity is shown.
fn ago(now: chrono::DateTime<chrono::Utc>, then: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(then) = then else {
        return "never".into();
    };
    let d = now - then;
    if d.num_days() >= 1 {
        format!(
            "{} day{} ago",
            d.num_days(),
            if d.num_days() == 1 { "" } else { "s" }
        )
    } else if d.num_hours() >= 1 {
        format!("{} h ago", d.num_hours())
    } else if d.num_minutes() >= 1 {
        format!("{} min ago", d.num_minutes())
    } else {
        "just now".into()
    }
}
