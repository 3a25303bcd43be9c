//! Delivering the outbox's `chat:discord` rows as direct messages over Discord's REST API. A
//! row is marked sent only after Discord accepted every part; a refusal that will not change
//! (DMs closed, unknown user: a 4xx other than 429) marks it failed; anything else (429, 5xx,
//! network) leaves it pending, and that person's later rows wait too so they stay in order.
//! Like email and Telegram, nothing goes to a user deactivated or deleted since it was queued.

use std::collections::BTreeMap;

use anyhow::Context;
use mentorops_core::command::Engine;
use mentorops_core::settings::DiscordSettings;
use mentorops_core::store::outbox;
use secrecy::ExposeSecret;
use serenity::http::{Http, HttpBuilder};

use super::rest::{Rest, RestError};
use super::{PROVIDER, render};

/// Rows read per pass.
const BATCH: i64 = 500;

/// One delivery pass at a time per process, so no row is sent by two passes.
static DELIVERING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// serenity's REST client for these settings, which the gateway client uses to ask for the
/// gateway's URL (every other call goes through [`Rest`]). With `discord.api_url` set (a local
/// fake) it goes there, with serenity's rate limiter off — it would otherwise send its requests
/// to discord.com whatever the proxy says — and without the system proxy.
pub fn http_from_settings(settings: &DiscordSettings) -> anyhow::Result<Http> {
    let token = settings
        .token
        .as_ref()
        .context("discord.token (MENTOROPS__DISCORD__TOKEN) is not set")?;
    http(
        token.expose_secret(),
        settings.api_url.as_deref().filter(|u| !u.trim().is_empty()),
    )
}

/// [`http_from_settings`] with the values given.
pub fn http(token: &str, api_url: Option<&str>) -> anyhow::Result<Http> {
    let builder = HttpBuilder::new(token);
    let Some(api) = api_url else {
        return Ok(builder.build());
    };
    let url = url::Url::parse(api).with_context(|| {
        format!("discord.api_url (MENTOROPS__DISCORD__API_URL) is not a URL: {api}")
    })?;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .no_proxy()
        .build()
        .context("cannot build the HTTP client for Discord")?;
    Ok(builder
        .client(client)
        .proxy(url.as_str().trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .build())
}

/// Delivers every due `chat:discord` row; returns how many Discord accepted.
pub async fn deliver_due(engine: &Engine, rest: &Rest) -> anyhow::Result<usize> {
    let _one_pass = DELIVERING.lock().await;
    let due = {
        let mut c = engine.db().pool().acquire().await?;
        outbox::due(&mut c, &outbox::chat_channel(PROVIDER), engine.now(), BATCH).await?
    };
    let mut by_user: BTreeMap<String, Vec<outbox::Message>> = BTreeMap::new();
    for row in due {
        by_user.entry(row.recipient.clone()).or_default().push(row);
    }
    let mut sent = 0;
    for rows in by_user.into_values() {
        sent += deliver_to(engine, rest, rows).await?;
    }
    Ok(sent)
}

async fn deliver_to(
    engine: &Engine,
    rest: &Rest,
    rows: Vec<outbox::Message>,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for row in rows {
        if crate::relay::refuse_if_undeliverable(engine, &row, "Discord").await? {
            continue;
        }
        let Some(user) = row.recipient.parse::<u64>().ok().filter(|id| *id != 0) else {
            let mut c = engine.db().pool().acquire().await?;
            outbox::mark_failed(
                &mut c,
                row.id,
                &format!("'{}' is not a Discord user id", row.recipient),
            )
            .await?;
            continue;
        };
        let result = send_dm(rest, user, &row.body_text, &row.buttons).await;
        if result.is_err() {
            rest.forget_dm_channel(user);
        }
        match crate::relay::settle(engine, &row, result, RestError::is_permanent, "Discord").await?
        {
            crate::relay::Next::Continue(delivered) => sent += usize::from(delivered),
            crate::relay::Next::Stop => break,
        }
    }
    Ok(sent)
}

/// Opens the DM channel (once per user) and sends the text in parts of at most 2000 characters, the
/// buttons under the last part. Each part is paced and a 429 is waited out and sent again, so a
/// row is either delivered whole or left pending; a part sent before a failure is sent again
/// with the row (at least once).
async fn send_dm(
    rest: &Rest,
    user: u64,
    text: &str,
    buttons: &[mentorops_core::reply::Button],
) -> Result<(), RestError> {
    let channel = rest.dm_channel(user).await?;
    let (rows, extra) = render::components(buttons);
    let mut parts =
        render::split_text(&render::with_extra_lines(text, &extra), render::MAX_CONTENT);
    if parts.is_empty() {
        parts.push("Done.".to_string());
    }
    let last = parts.len() - 1;
    for (i, part) in parts.into_iter().enumerate() {
        let rows = if i == last { &rows[..] } else { &[] };
        rest.send_message(&channel, &render::message_json(&part, rows, false))
            .await?;
    }
    Ok(())
}
