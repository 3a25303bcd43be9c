//! `/deliveries`: what the outbox could not deliver, and why; staff act on it
//! (docs/operations.md#email, docs/chat-edge.md).

use super::prelude::*;
use crate::reply::echo;
use crate::store;

command! {
    pub struct Deliveries {
        name: "deliveries",
        about: "Messages that could not be delivered (or pending / sent ones), with the reason",
        access: Access::Staff(Capability::ReadUsers),
        example: "/deliveries state:failed",
        args: {
            state: Option<String> = opt(K::Choice(&["failed", "pending", "sent"]), "failed (default), pending or sent"),
            limit: Limit<30, 500> = opt(K::Number, "how many (default 30)"),
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
    let limit = a.limit.get();
    let global = ctx.actor.is_global(Capability::ReadUsers);
    let rows =
        store::outbox::in_state(ctx.c(), &state, if global { limit } else { limit * 10 }).await?;
    let mut lines = Vec::new();
    for m in rows {
        if lines.len() as i64 >= limit {
            break;
        }
        let who = match m.recipient_user_id {
            Some(id) => store::users::user(ctx.c(), id).await?,
            None => None,
        };
        if !global {
            // Staff with programs see messages to people in their programs only.
            let visible = match &who {
                Some(u) => ctx.in_scope(Capability::ReadUsers, u).await?,
                None => false,
            };
            if !visible {
                continue;
            }
        }
        let name = who
            .map(|u| u.full_name)
            .unwrap_or_else(|| m.recipient.clone());
        let mut line = format!(
            "#{} {} {} to {name} ({}) · {} attempt(s)",
            m.id, m.channel, m.kind, m.recipient, m.attempts
        );
        if let Some(e) = &m.last_error {
            line.push_str(&format!(" · {e}"));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Ok(Reply::text(format!("No {state} deliveries.")));
    }
    Ok(Reply::text(format!(
        "{} {state} deliveries:\n{}",
        lines.len(),
        lines.join("\n")
    )))
}
