//! The Discord front-end (serenity 0.12 models and builders), as thin as the others: a slash
//! command becomes the text line `/name key:value …` for `engine.handle_text`, the `Reply`
//! becomes an interaction response (text, buttons whose custom_id is the command a press runs),
//! and a button press runs its command as the presser. Every decision is the core's.
//!
//! - [`application_commands`]: the registry as Discord application commands (typed options,
//!   choices, autocomplete for people, programs and organizations); [`register`] publishes them.
//! - [`serve`]: the HTTP interactions endpoint (`POST /interactions`, Ed25519-verified).
//! - [`deliver_due`]: the outbox's `chat:discord` rows as DMs over REST ([`http`] points the
//!   client at `discord.api_url` when set).
//!
//! - [`run`]: what `mentorops run` starts when `discord.token` is set (HTTP transport).
//!
//! Not yet: the gateway transport, autocomplete suggestions, deferral of slow commands, files
//! in replies.

pub mod commands;
pub mod delivery;
pub mod endpoint;
pub mod render;

pub use commands::{OptionValue, application_commands, command_line, register};
pub use delivery::{deliver_due, http, http_from_settings};
pub use endpoint::{caller_of, router, serve};

/// The chat provider name in `chat_links` and the outbox channel (`chat:discord`).
pub const PROVIDER: &str = "discord";

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mentorops_core::command::Engine;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Registers the commands, serves the interactions endpoint on `discord.interactions_addr`
/// (default 127.0.0.1:8080, behind your HTTPS proxy) and delivers `chat:discord` DMs every
/// 2 seconds, until `shutdown` is cancelled. Only the HTTP transport exists so far.
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let s = engine.settings().discord.clone();
    if s.transport.as_deref().unwrap_or("gateway") != "http" {
        anyhow::bail!(
            "discord.transport (MENTOROPS__DISCORD__TRANSPORT) is gateway, which is not built yet: set it to http and give Discord this server's https URL ending in /interactions as the Interactions Endpoint URL"
        );
    }
    let application_id: u64 = s
        .application_id
        .as_deref()
        .and_then(|v| v.trim().parse().ok())
        .context("discord.application_id (MENTOROPS__DISCORD__APPLICATION_ID) must be the application's numeric id")?;
    let public_key = s.public_key.clone().context(
        "discord.public_key (MENTOROPS__DISCORD__PUBLIC_KEY) is needed to verify interactions",
    )?;
    let http = http_from_settings(&s)?;
    let n = register(&http, application_id)
        .await
        .context("cannot register the slash commands with Discord")?;
    info!(commands = n, "Discord commands registered");
    let addr = s
        .interactions_addr
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on discord.interactions_addr {addr}"))?;
    info!(%addr, "Discord interactions endpoint listening on /interactions");
    let delivery = {
        let (engine, stop) = (engine.clone(), shutdown.clone());
        async move {
            loop {
                match deliver_due(&engine, &http).await {
                    Ok(0) => {}
                    Ok(n) => info!(count = n, "Discord messages delivered"),
                    Err(e) => warn!(
                        error = format!("{e:#}"),
                        "Discord delivery pass failed; retrying"
                    ),
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Ok::<(), anyhow::Error>(())
        }
    };
    tokio::try_join!(
        serve(engine, &public_key, listener, shutdown.clone()),
        delivery
    )?;
    Ok(())
}
