//! The Discord front-end (serenity 0.12 models, builders and gateway client), as thin as the
//! others: a slash command becomes the text line `/name key:value …` for `engine.handle_text`,
//! the `Reply` becomes an interaction response (text, buttons whose custom_id is the command a
//! press runs, files, forms), and a button press runs its command as the presser. Every
//! decision is the core's.
//!
//! - [`commands`]: the registry as Discord application commands (typed options, choices,
//!   autocomplete where the core suggests values); [`register`] publishes them.
//! - [`interact`]: what both transports do with an interaction ([`Interactions::answer`]):
//!   one `Engine` call, deferral past 2.5 s, follow-ups, autocomplete, forms.
//! - [`gateway`]: the gateway transport (serenity's `Client`; the default).
//! - [`endpoint`]: the HTTP interactions transport (`POST /interactions`, Ed25519-verified).
//! - [`render`]: a `Reply` as serenity's builders: parts, components, forms, choices.
//! - [`rest`] and [`pace`]: every REST call we make, paced by us (50/s global, Discord's bucket
//!   headers per route template and top-level resource, 429 `retry_after`).
//! - [`delivery`]: the outbox's `chat:discord` rows as DMs.
//! - [`run`]: what `mentorops run` starts when `discord.token` is set.

pub mod commands;
pub mod delivery;
pub mod endpoint;
pub mod gateway;
pub mod interact;
pub mod pace;
pub mod render;
pub mod rest;

pub use commands::{OptionValue, application_commands, command_line, register};
pub use delivery::{deliver_due, driver, http, http_from_settings};
pub use endpoint::{router, serve};
pub use interact::{Answered, Interactions, caller_of};
pub use rest::Rest;

/// The chat provider name in `chat_links` and the outbox channel (`chat:discord`).
pub const PROVIDER: &str = "discord";

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mentorops_core::command::Engine;
use mentorops_core::settings::DiscordTransport;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Registers the commands, then answers interactions over the configured transport —
/// `gateway` (default: serenity's websocket client, nothing to expose) or `http` (the
/// interactions endpoint on `discord.interactions_addr`, default 127.0.0.1:8080, behind your
/// HTTPS proxy) — and delivers `chat:discord` DMs every 2 seconds, until `shutdown` is cancelled.
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let s = engine.settings().discord.clone();
    let transport = s.transport.as_str();
    let application_id = s.application_id.context(
        "discord.application_id (MENTOROPS__DISCORD__APPLICATION_ID) must be set to the application's numeric id",
    )?;
    let public_key = match s.transport {
        DiscordTransport::Http => Some(s.public_key.clone().context(
            "discord.public_key (MENTOROPS__DISCORD__PUBLIC_KEY) is needed to verify interactions",
        )?),
        DiscordTransport::Gateway => None,
    };
    let guild = s.guild_id;
    let rest = Arc::new(Rest::from_settings(&s)?);
    let n = register(&rest, application_id, guild)
        .await
        .context("cannot register the slash commands with Discord")?;
    info!(commands = n, transport, guild = ?guild, "Discord commands registered");
    let interactions = Arc::new(Interactions::new(engine.clone(), rest)?);
    let delivery = {
        // One driver for DMs and what follows first answers (those are given up after 15
        // minutes, when the interaction's webhook is dead; DMs after a day).
        let driver = interactions.delivery().clone();
        let stop = shutdown.clone();
        async move {
            driver.run(Arc::new(tokio::sync::Notify::new()), stop).await;
            Ok::<(), anyhow::Error>(())
        }
    };
    let front = async {
        match public_key {
            Some(key) => {
                let addr = s.interactions_addr;
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot listen on discord.interactions_addr {addr}")
                })?;
                info!(%addr, "Discord interactions endpoint listening on /interactions");
                serve(interactions, &key, listener, shutdown.clone()).await
            }
            None => gateway_under_lease(engine.clone(), interactions, &s, shutdown.clone()).await,
        }
    };
    tokio::try_join!(front, delivery)?;
    Ok(())
}

/// The lease of the gateway connection: one process at a time holds it (Discord would send each
/// interaction to every connection otherwise).
pub const GATEWAY_LEASE: &str = "discord:gateway";

/// The gateway while this process holds [`GATEWAY_LEASE`]; when the lease goes to another
/// process (this one was taken for dead), the connection is closed.
async fn gateway_under_lease(
    engine: Arc<Engine>,
    interactions: Arc<Interactions>,
    s: &mentorops_core::settings::DiscordSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (mut held, lease_task) = crate::chat::lease::hold(
        engine,
        GATEWAY_LEASE,
        crate::chat::lease::TTL,
        shutdown.clone(),
    );
    while crate::chat::lease::until_held(&mut held, &shutdown).await {
        info!("this process holds the Discord gateway connection");
        let connection = shutdown.child_token();
        let mut client = tokio::spawn(gateway::run(
            interactions.clone(),
            http_from_settings(s)?,
            connection.clone(),
        ));
        let lost = async {
            while *held.borrow() {
                if held.changed().await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            ended = &mut client => {
                connection.cancel();
                let _ = lease_task.await;
                return match ended {
                    Ok(r) => r,
                    Err(e) => Err(anyhow::anyhow!("the Discord gateway task failed: {e}")),
                };
            }
            _ = lost => {
                warn!("the Discord gateway lease went to another process; closing this connection");
                connection.cancel();
                let _ = tokio::time::timeout(Duration::from_secs(10), client).await;
            }
        }
    }
    let _ = lease_task.await;
    Ok(())
}
