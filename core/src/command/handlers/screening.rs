//! `/screening`: the people whose application is complete and who wait to be screened (user
//! status SI), oldest first, each with a button that makes them Active
//! (docs/domain.md#prompts) — and, where their program sets `ready_on_approval`, ready to be
//! matched in the same press (docs/domain.md#ready-on-approval).

use super::people::scoped_filter;
use super::prelude::*;
use crate::command::screen::{self, Fit, PageNo, Screen};
use crate::domain;
use crate::status::UserStatus;
use crate::store;
use crate::store::users::UserSort;

command! {
    pub struct Screening {
        name: "screening",
        about: "People waiting to be screened (SI), oldest first, with a button to approve each",
        access: Access::Staff(Capability::ChangeStatus),
        example: "/screening program:\"Spring 2027\"",
        press: crate::command::spec::Press::Replaces,
        args: {
            program: Option<ProgramRef> = opt(K::Program, "only this program"),
            page: PageNo = opt(K::Number, "which screen of the list (default 1: the longest waiting)"),
        }
    }
}

pub(crate) async fn screening(ctx: &mut Ctx<'_>, a: Screening) -> Result<Reply> {
    let (mut f, program) = scoped_filter(ctx, a.program.as_deref()).await?;
    f.status = Some(UserStatus::ScreeningIncomplete);
    f.participants_only = true;
    f.sort = UserSort::Added;
    let place = program
        .map(|p| format!(" in {}", p.full_name()))
        .unwrap_or_default();
    let total = u64::try_from(store::users::count_users(ctx.c(), &f).await?).unwrap_or(0);
    if total == 0 {
        return Ok(Reply::text(format!(
            "Nobody is waiting to be screened{place}."
        )));
    }
    let fit = Fit::of(ctx.caller.frontend);
    let file = if screen::wants_file(a.page, total, fit) {
        f.limit = screen::FILE_ROWS as i64;
        let all = store::users::list_users(ctx.c(), &f).await?;
        Some(screen::csv_file(
            "screening.csv",
            &["id", "name", "email", "phone", "added"],
            all.into_iter().map(|u| {
                vec![
                    u.id.to_string(),
                    u.full_name,
                    u.email,
                    u.phone.unwrap_or_default(),
                    u.created_at.to_rfc3339(),
                ]
            }),
        )?)
    } else {
        None
    };
    f.limit = fit.lines as i64;
    f.offset = a.page.offset(fit);
    let waiting = store::users::list_users(ctx.c(), &f).await?;
    let mut lines = Vec::new();
    let mut buttons = Reply::default();
    for u in &waiting {
        // The button runs /status … A, which makes these personas ready as well: the same
        // rule names them here and moves them there.
        let readies = domain::statuses::ready_on_approval(ctx, u).await?;
        let (label, also) = if readies.is_empty() {
            (format!("Make {} Active", u.full_name), String::new())
        } else {
            let mut programs: Vec<String> = readies.iter().map(|(_, p)| p.full_name()).collect();
            programs.sort();
            programs.dedup();
            (
                format!("Approve {} and make ready", u.full_name),
                format!(
                    " · approving makes them ready to be matched in {}",
                    programs.join(", ")
                ),
            )
        };
        lines.push(format!(
            "#{} {} · added {}{also}",
            u.id,
            u.label(),
            u.created_at.format("%Y-%m-%d")
        ));
        buttons = buttons.with_button(
            label,
            format!("/status #{} A reason:\"screening passed\"", u.id),
        );
    }
    let mut reply = Screen {
        heading: format!("Waiting to be screened{place}, oldest first"),
        lines,
        total,
        page: a.page,
        fit,
        narrow: "screen these first, or narrow with program:",
    }
    .reply(ctx.invocation()?, file)?;
    let paging = std::mem::take(&mut reply.buttons);
    reply.buttons = buttons.buttons;
    reply.buttons.extend(paging);
    Ok(reply)
}
