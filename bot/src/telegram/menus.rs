//! `setMyCommands` from the registry. The default scope lists what an unlinked account may run;
//! each private chat gets the commands its own user may run — `Engine::visible_commands`, the
//! same list `/help` shows them. A chat's menu is recomputed after each of its updates and
//! published only when it changed since the last one published by this process (so once per
//! chat after a start, and again after /link, a role grant or a status change).

use std::collections::HashMap;
use std::sync::Mutex;

use mentorops_core::command::registry::visible_to;
use mentorops_core::command::spec::Audience;
use mentorops_core::command::{Caller, CommandSpec, Engine, Frontend, Who};
use mentorops_core::reply::clip;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{BotCommand, BotCommandScope, Recipient, UserId};
use tracing::warn;

use super::PROVIDER;
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
    visible_to(Audience::default())
}

pub(super) async fn publish_default(bot: &TgBot) -> Result<(), RequestError> {
    bot.set_my_commands(command_list(&unlinked())).await?;
    Ok(())
}

/// The commands the user behind this Telegram account may run (unlinked: /start, /help, /link).
pub async fn menu_for_account(
    engine: &Engine,
    account_id: &str,
) -> anyhow::Result<Vec<&'static CommandSpec>> {
    let caller = Caller {
        frontend: Frontend::Telegram,
        who: Who::Account {
            provider: PROVIDER.into(),
            account_id: account_id.to_string(),
            handle: None,
        },
    };
    Ok(engine.visible_commands(&caller).await?)
}

/// The command menu last published per private chat, by this process.
#[derive(Default)]
pub(super) struct Published(Mutex<HashMap<u64, Vec<&'static str>>>);

impl Published {
    fn get(&self, chat: u64) -> Option<Vec<&'static str>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&chat)
            .cloned()
    }
    fn remember(&self, chat: u64, names: Vec<&'static str>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chat, names);
    }
}

/// Publishes this private chat's menu if it differs from the last one published.
pub(super) async fn refresh_chat(
    bot: &TgBot,
    engine: &Engine,
    published: &Published,
    user: UserId,
) {
    let specs = match menu_for_account(engine, &user.0.to_string()).await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "could not work out a Telegram chat's command menu");
            return;
        }
    };
    let names: Vec<&'static str> = specs.iter().map(|c| c.name).collect();
    if published.get(user.0) == Some(names.clone()) {
        return;
    }
    let scope = BotCommandScope::Chat {
        chat_id: Recipient::Id(ChatId::from(user)),
    };
    let result = if specs.is_empty() {
        bot.delete_my_commands().scope(scope).await
    } else {
        bot.set_my_commands(command_list(&specs)).scope(scope).await
    };
    match result {
        Ok(_) => published.remember(user.0, names),
        Err(e) => warn!(error = %e, "could not publish a Telegram chat's command menu"),
    }
}
