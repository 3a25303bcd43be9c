//! User status changes and their effects on matches and offers
//! (docs/domain.md#user-status).

use super::matches::{close_match, open_matches};
use super::offers::withdraw_for_persona;
use super::people::refuse_if_last_super_admin;
use super::prompts::application_complete;
use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::status::UserStatus;
use crate::store::users::User;
use crate::store::{self};

/// Changes a user status (docs/domain.md#user-status-changes): it applies to every persona; leaving
/// A closes the user's open matches, but only when `confirm` is given — otherwise it is refused
/// with the list.
pub async fn change_user_status(
    w: &mut Work<'_>,
    user: &User,
    new: UserStatus,
    reason: Option<&str>,
    confirm: bool,
    confirm_hint: &str,
) -> Result<Vec<String>> {
    if user.status == new {
        return Err(Error::conflict(format!(
            "{} is already {new}: nothing to change",
            user.full_name
        )));
    }
    if new.is_deactivated() {
        refuse_if_last_super_admin(w, user, &format!("setting them to {new}")).await?;
    }
    let mut effects = Vec::new();
    if user.status == UserStatus::Active {
        let open = open_matches(w, user).await?;
        if !open.is_empty() && !confirm {
            return Err(Error::conflict(format!(
                "{} → {new} would close {}: {}. If that is what you want, send it again with confirm:yes ({confirm_hint})",
                user.full_name,
                if open.len() == 1 {
                    "an active match".to_string()
                } else {
                    format!("{} active matches", open.len())
                },
                open.iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        for (m, line) in open {
            close_match(
                w,
                &m,
                Some(&format!(
                    "user status {} → {}",
                    user.status.code(),
                    new.code()
                )),
            )
            .await?;
            effects.push(format!("closed {line}"));
        }
    }
    store::users::set_status(w.c(), user.id, user.status, new).await?;
    w.audit(
        Audit::user(user.id, "user_status")
            .from(user.status.code())
            .to(new.code())
            .because(reason),
    )
    .await?;
    if user.status == UserStatus::ApplicationIncomplete && new == UserStatus::ScreeningIncomplete {
        application_complete(w, user).await?;
    }
    if user.status == UserStatus::Active {
        // docs/domain.md#user-status-changes: leaving A withdraws the user's pending offers; each
        // mentee's round moves on.
        let why = format!("{} is no longer active", user.full_name);
        for p in store::users::personas_of(w.c(), user.id).await? {
            withdraw_for_persona(w, &p, &why).await?;
        }
    }
    Ok(effects)
}
