//! `/deliveries`: what the outbox could not deliver, and why; staff act on it
//! (docs/operations.md#email, docs/chat-edge.md).

use super::prelude::*;
use crate::command::screen::{self, Fit, PageNo, Screen, count};
use crate::reply::echo;
use crate::store;

command! {
    pub struct Deliveries {
        name: "deliveries",
        about: "Messages that could not be delivered (or pending / sent ones), with the reason",
        access: Access::Staff(Capability::ReadUsers),
        example: "/deliveries state:failed",
        press: crate::command::spec::Press::Replaces,
        args: {
            state: Option<String> = opt(K::Choice(&["failed", "pending", "sent"]), "failed (default), pending or sent"),
            page: PageNo = opt(K::Number, "which screen of the list (default 1: the newest)"),
        }
    }
}

pub(crate) async fn deliveries(ctx: &mut Ctx<'_>, a: Deliveries) -> Result<Reply> {
    let state = a
        .state
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_else(|| "failed".into());
    if !["failed", "pending", "sent"].contains(&state.as_str()) {
        return Err(Error::input(format!(
            "state:{} is not a delivery state: use failed, pending or sent",
            echo(&state)
        )));
    }
    // Staff with programs see messages to people they reach (docs/domain.md#scope).
    let reach = ctx.reach(Capability::ReadUsers);
    let total = store::outbox::count_in_state(ctx.c(), &state, reach.as_ref()).await?;
    if total == 0 {
        return Ok(Reply::text(format!("No {state} deliveries.")));
    }
    let total = u64::try_from(total).unwrap_or(0);
    let fit = Fit::of(ctx.caller.frontend);
    let rows = store::outbox::page_in_state(
        ctx.c(),
        &state,
        reach.as_ref(),
        a.page.offset(fit),
        fit.lines as i64,
    )
    .await?;
    let mut lines = Vec::new();
    for m in &rows {
        let name = match m.recipient_user_id {
            Some(id) => store::users::user(ctx.c(), id).await?.map(|u| u.full_name),
            None => None,
        }
        .unwrap_or_else(|| m.recipient.clone());
        let mut line = format!(
            "#{} {} {} to {name} ({}) · {}",
            m.id,
            m.channel,
            m.kind,
            m.recipient,
            count(
                u64::try_from(m.attempts).unwrap_or(0),
                "attempt",
                "attempts"
            )
        );
        if let Some(e) = &m.last_error {
            line.push_str(&format!(" · {e}"));
        }
        lines.push(line);
    }
    let file = if screen::wants_file(a.page, total, fit) {
        let all = store::outbox::page_in_state(
            ctx.c(),
            &state,
            reach.as_ref(),
            0,
            screen::FILE_ROWS as i64,
        )
        .await?;
        Some(screen::csv_file(
            &format!("deliveries-{state}.csv"),
            &[
                "id",
                "channel",
                "kind",
                "recipient_user_id",
                "recipient",
                "attempts",
                "last_error",
            ],
            all.into_iter().map(|m| {
                vec![
                    m.id.to_string(),
                    m.channel,
                    m.kind,
                    m.recipient_user_id
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    m.recipient,
                    m.attempts.to_string(),
                    m.last_error.unwrap_or_default(),
                ]
            }),
        )?)
    } else {
        None
    };
    Screen {
        heading: format!("Deliveries {state}, newest first"),
        lines,
        total,
        page: a.page,
        fit,
        narrow: "pick another state: with state:",
    }
    .reply(ctx.invocation()?, file)
}
