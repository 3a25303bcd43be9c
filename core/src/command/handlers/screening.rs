//! `/screening`: the people whose application is complete and who wait to be screened (user
//! status SI), oldest first, each with a button that makes them Active
//! (docs/domain.md#prompts).

use super::people::scoped_filter;
use super::prelude::*;
use crate::status::UserStatus;
use crate::store;

/// One chat screen of people.
const SCREEN: usize = 25;

command! {
    pub struct Screening {
        name: "screening",
        about: "People waiting to be screened (SI), oldest first, with a button to make each Active",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/screening program:\"Spring 2027\"",
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
        }
    }
}

pub(crate) async fn screening(ctx: &mut Ctx<'_>, a: Screening) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, a.program.as_deref()).await?;
    f.status = Some(UserStatus::ScreeningIncomplete);
    f.participants_only = true;
    f.limit = 10_000;
    let mut waiting = store::users::list_users(ctx.c(), &f).await?;
    // Oldest first: added to the program longest ago.
    waiting.sort_by_key(|u| (u.created_at, u.id));
    let place = program
        .map(|p| format!(" in {}", p.full_name()))
        .unwrap_or_default();
    if waiting.is_empty() {
        return Ok(Reply::text(format!(
            "Nobody is waiting to be screened{place}."
        )));
    }
    let total = waiting.len();
    let mut reply = Reply::default();
    let mut lines = vec![format!(
        "{total} waiting to be screened{place}, oldest first:"
    )];
    for u in waiting.iter().take(SCREEN) {
        lines.push(format!(
            "#{} {} · added {}",
            u.id,
            u.label(),
            u.created_at.format("%Y-%m-%d")
        ));
        reply = reply.with_button(
            format!("Make {} Active", u.full_name),
            format!("/status #{} A reason:\"screening passed\"", u.id),
        );
    }
    if total > SCREEN {
        lines.push(format!(
            "…and {} more: screen these first, or narrow with program:",
            total - SCREEN
        ));
    }
    reply.text = lines.join("\n");
    Ok(reply)
}
