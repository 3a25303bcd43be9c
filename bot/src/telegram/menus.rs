//! `setMyCommands` from the registry. The default scope lists what an unlinked account may run
//! (`menus()`'s "unlinked"); each private chat gets the commands its own user may run —
//! `registry::visible_to` with their link, status and staff roles, so the menu is exactly what
//! `/help` shows them. A chat's menu is recomputed after each of its updates and published only
//! when it changed since the last one published by this process (so once per chat after a
//! start, and again after /link, a role grant or a status change).

use mentorops_core::command::CommandSpec;
use mentorops_core::command::registry::{Audience, menus, visible_to};
use mentorops_core::reply::clip;
use mentorops_core::store;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, BotCommandScope, Recipient, UserId};
use tracing::warn;

use super::PROVIDER;
use super::handlers::State;
use teloxide::Bot as TgBot;

/// Telegram's limit on a command description.
const MAX_DESCRIPTION: usize = 256;

/// The commands as Telegram menu entries: the name, and `about` cut to 256 characters.
pub fn command_list(specs: &[&CommandSpec]) -> Vec<BotCommand> {
    specs
        .iter()
        .map(|c| {
            let about = if c.about.trim().is_empty() {
                c.name
            } else {
                c.about
            };
            BotCommand::new(c.name, clip(about, MAX_DESCRIPTION))
        })
        .collect()
}

fn unlinked() -> Vec<&'static CommandSpec> {
    menus()
        .into_iter()
        .find(|(audience, _)| *audience == "unlinked")
        .map(|(_, specs)| specs)
        .unwrap_or_default()
}

pub(super) async fn publish_default(bot: &TgBot) -> Result<(), RequestError> {
    bot.set_my_commands(command_list(&unlinked())).await?;
    Ok(())
}

/// The commands the user behind this Telegram account may run (unlinked: /start, /help, /link).
pub async fn menu_for_account(
    engine: &mentorops_core::command::Engine,
    account_id: &str,
) -> anyhow::Result<Vec<&'static CommandSpec>> {
    let mut c = engine.db().pool().acquire().await?;
    let Some(link) = store::links::link_of_account(&mut c, PROVIDER, account_id).await? else {
        return Ok(unlinked());
    };
    let Some(user) = store::users::user(&mut c, link.user_id).await? else {
        return Ok(unlinked());
    };
    let roles: Vec<_> = store::staff::grants_of(&mut c, user.id)
        .await?
        .into_iter()
        .map(|g| g.role)
        .collect();
    Ok(visible_to(Audience {
        linked: true,
        status: Some(user.status),
        staff_roles: &roles,
    }))
}

/// Publishes this private chat's menu if it differs from the last one published.
pub(super) async fn refresh_chat(state: &State, user: UserId) {
    let specs = match menu_for_account(&state.engine, &user.0.to_string()).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "could not work out a Telegram chat's command menu");
            return;
        }
    };
    let names: Vec<&'static str> = specs.iter().map(|c| c.name).collect();
    if state.published_menu(user.0) == Some(names.clone()) {
        return;
    }
    let scope = BotCommandScope::Chat {
        chat_id: Recipient::Id(ChatId::from(user)),
    };
    let result = if specs.is_empty() {
        state.bot.delete_my_commands().scope(scope).await
    } else {
        state
            .bot
            .set_my_commands(command_list(&specs))
            .scope(scope)
            .await
    };
    match result {
        Ok(_) => state.remember_menu(user.0, names),
        Err(e) => warn!(error = %e, "could not publish a Telegram chat's command menu"),
    }
}
