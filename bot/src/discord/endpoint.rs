//! Discord's HTTP interactions endpoint: `POST /interactions`. Every request must carry a valid
//! Ed25519 signature (`X-Signature-Ed25519` over `X-Signature-Timestamp` + the raw body, by the
//! application's public key) or it is answered 401 before anything is parsed or run — Discord
//! sends bad signatures on purpose and drops endpoints that accept them. A signed timestamp more
//! than 5 minutes from our clock is refused too (a replayed request).
//!
//! - PING → PONG.
//! - A slash command → its options as the text line `/name key:value …`, run by the core as the
//!   Discord account; answered with an ephemeral message (type 4, flags 64) with the reply's
//!   text and its buttons.
//! - A button press → its custom_id (the button's command) run as the presser; on success the
//!   message that held the button is updated (type 7) to show the outcome, its buttons removed;
//!   a refusal goes to the presser alone (type 4, ephemeral) and leaves the message as it was.
//! - Autocomplete → no suggestions yet (Discord then lets the person type the value).
//!
//! Everything is answered inside the request (Discord allows 3 s); deferral (type 5 plus a
//! follow-up) for slow commands is not done yet.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mentorops_core::command::{Caller, Engine, Frontend, Outcome, Who};
use mentorops_core::reply::Attachment;
use serenity::builder::{CreateAutocompleteResponse, CreateInteractionResponse};
use serenity::interactions_endpoint::Verifier;
use serenity::model::application::{CommandInteraction, ComponentInteraction, Interaction};
use serenity::model::id::UserId;
use serenity::model::user::User;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::commands::{command_line, options_of};
use super::{PROVIDER, render};

/// The largest upload downloaded for a command that takes a file.
pub const MAX_UPLOAD_BYTES: u32 = 10 * 1024 * 1024;

struct Endpoint {
    engine: Arc<Engine>,
    verifier: Verifier,
    /// Downloads the files attached to commands (from Discord's CDN).
    files: reqwest::Client,
}

/// The application's public key (64 hex digits, from the developer portal) as a verifier.
pub fn verifier(public_key: &str) -> anyhow::Result<Verifier> {
    let hex = public_key.trim();
    let bad = || {
        anyhow::anyhow!(
            "discord.public_key (MENTOROPS__DISCORD__PUBLIC_KEY) must be the 64 hex digits of the application's public key"
        )
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Verifier::try_new(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", bad()))
}

/// The router serving `POST /interactions` (for embedding in another axum app).
pub fn router(engine: Arc<Engine>, public_key: &str) -> anyhow::Result<Router> {
    let files = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .context("cannot build the HTTP client for Discord attachments")?;
    let state = Arc::new(Endpoint {
        engine,
        verifier: verifier(public_key)?,
        files,
    });
    Ok(Router::new()
        .route("/interactions", post(interactions))
        .with_state(state))
}

/// Serves the interactions endpoint on `listener` until `shutdown` is cancelled.
pub async fn serve(
    engine: Arc<Engine>,
    public_key: &str,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(engine, public_key)?;
    let addr = listener.local_addr()?;
    info!(%addr, "Discord interactions endpoint started");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("the Discord interactions endpoint failed")?;
    info!("Discord interactions endpoint stopped");
    Ok(())
}

/// How far a request's signed timestamp may be from our clock: a captured request replayed
/// later is refused (Discord does not require this check; it costs nothing).
pub const MAX_SKEW_SECS: u64 = 300;

/// Whether the signed `X-Signature-Timestamp` (Unix seconds) is within [`MAX_SKEW_SECS`] of `now`.
pub fn fresh(timestamp: &str, now: std::time::SystemTime) -> bool {
    let Ok(sent) = timestamp.trim().parse::<u64>() else {
        return false;
    };
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.abs_diff(sent) <= MAX_SKEW_SECS
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn interactions(
    State(state): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (Some(signature), Some(timestamp)) = (
        header(&headers, "x-signature-ed25519"),
        header(&headers, "x-signature-timestamp"),
    ) else {
        return (StatusCode::UNAUTHORIZED, "missing signature").into_response();
    };
    if state.verifier.verify(signature, timestamp, &body).is_err() {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    if !fresh(timestamp, std::time::SystemTime::now()) {
        return (StatusCode::UNAUTHORIZED, "stale request timestamp").into_response();
    }
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            warn!(error = %e, "a signed Discord interaction could not be read");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    let response = match interaction {
        Interaction::Ping(_) => {
            return axum::Json(serde_json::json!({ "type": 1 })).into_response();
        }
        Interaction::Command(c) => on_command(&state, &c).await,
        Interaction::Component(c) => on_component(&state.engine, &c).await,
        Interaction::Autocomplete(_) => {
            CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new())
        }
        Interaction::Modal(_) => CreateInteractionResponse::Message(render::refusal_message(
            "forms are not supported yet: use the slash command",
        )),
        _ => CreateInteractionResponse::Message(render::refusal_message(
            "this kind of interaction is not supported",
        )),
    };
    axum::Json(response).into_response()
}

/// The Discord user as the core's caller: account id = the user's snowflake. None when the
/// interaction named nobody: serenity then leaves `user` at its default (id 1) — a `member`
/// without a `guild_id` does that too — and nothing must run as that account.
pub fn caller_of(user: &User) -> Option<Caller> {
    (user.id != UserId::default()).then(|| Caller {
        frontend: Frontend::Discord,
        who: Who::Account {
            provider: PROVIDER.into(),
            account_id: user.id.get().to_string(),
            handle: Some(user.name.clone()),
        },
    })
}

const NOBODY: &str = "Discord did not say who sent this: please try again";

/// The text line a slash command stands for.
pub fn line_of(c: &CommandInteraction) -> String {
    let resolved = &c.data.resolved.attachments;
    let options = options_of(&c.data.options, |id| {
        resolved.get(id).map(|a| a.filename.clone())
    });
    command_line(&c.data.name, &options)
}

async fn on_command(state: &Endpoint, c: &CommandInteraction) -> CreateInteractionResponse {
    let Some(caller) = caller_of(&c.user) else {
        return CreateInteractionResponse::Message(render::refusal_message(NOBODY));
    };
    let line = line_of(c);
    let files = match uploads(&state.files, c).await {
        Ok(files) => files,
        Err(problem) => {
            return CreateInteractionResponse::Message(render::refusal_message(&problem));
        }
    };
    let outcome = state.engine.handle_text(&caller, &line, files).await;
    CreateInteractionResponse::Message(match &outcome.result {
        Ok(reply) => render::reply_message(reply),
        Err(e) => render::refusal_message(&e.user_message()),
    })
}

async fn on_component(engine: &Engine, c: &ComponentInteraction) -> CreateInteractionResponse {
    let command = c.data.custom_id.as_str();
    if !command.starts_with('/') {
        return CreateInteractionResponse::Message(render::refusal_message(
            "This button does nothing.",
        ));
    }
    let Some(caller) = caller_of(&c.user) else {
        return CreateInteractionResponse::Message(render::refusal_message(NOBODY));
    };
    let Outcome { result, .. } = engine.handle_text(&caller, command, Vec::new()).await;
    match &result {
        Ok(reply) => CreateInteractionResponse::UpdateMessage(render::outcome_message(
            &c.message.content,
            reply,
        )),
        Err(e) => CreateInteractionResponse::Message(render::refusal_message(&e.user_message())),
    }
}

/// The files attached to a command's attachment options, downloaded from the URL Discord gave
/// (serenity's `Attachment::download` would take an error page for the file: it does not look
/// at the status, nor at the size while reading).
async fn uploads(
    client: &reqwest::Client,
    c: &CommandInteraction,
) -> Result<Vec<Attachment>, String> {
    let too_big = || {
        format!(
            "the file is too big: the limit is {} MB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        )
    };
    let failed = |e: reqwest::Error| {
        warn!(error = %e.without_url(), "Discord attachment download failed");
        "the file could not be downloaded from Discord: please send it again".to_string()
    };
    let mut files = Vec::new();
    for a in c.data.resolved.attachments.values() {
        if a.size > MAX_UPLOAD_BYTES {
            return Err(too_big());
        }
        let mut resp = client
            .get(&a.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES as usize {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push(Attachment {
            file_name: a.filename.clone(),
            media_type: a
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_must_be_recent_unix_seconds() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(fresh("1800000000", now));
        assert!(fresh("1799999700", now));
        assert!(fresh("1800000300", now));
        assert!(!fresh("1799999699", now));
        assert!(!fresh("1800000301", now));
        assert!(!fresh("", now));
        assert!(!fresh("-5", now));
        assert!(!fresh("1800000000.5", now));
    }

    #[test]
    fn public_keys_must_be_64_hex_digits() {
        assert!(verifier("abc").is_err());
        assert!(verifier(&"zz".repeat(32)).is_err());
        assert!(verifier(&"é".repeat(32)).is_err());
        assert!(
            verifier("67c6bd767ca099e79efac9fcce4d2022a63bf7dea780e7f3d813f694c1597089").is_ok()
        );
    }
}
