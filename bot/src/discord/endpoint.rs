//! Discord's HTTP interactions endpoint: `POST /interactions`. Every request must carry a valid
//! Ed25519 signature (`X-Signature-Ed25519` over `X-Signature-Timestamp` + the raw body, by the
//! application's public key) or it is answered 401 before anything is parsed or run — Discord
//! sends bad signatures on purpose and drops endpoints that accept them. A signed timestamp more
//! than 5 minutes from our clock is refused too (a replayed request).
//!
//! A verified interaction goes to [`Interactions::answer`] (shared with the gateway): its first
//! answer is the response body (PING → PONG, a message, an update, a deferral, choices, a form);
//! what follows it (follow-ups, a deferred result) is sent over REST once the body is on its way.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serenity::interactions_endpoint::Verifier;
use serenity::model::application::Interaction;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::interact::{Answered, Interactions};

struct Endpoint {
    interactions: Arc<Interactions>,
    verifier: Verifier,
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
pub fn router(interactions: Arc<Interactions>, public_key: &str) -> anyhow::Result<Router> {
    let state = Arc::new(Endpoint {
        interactions,
        verifier: verifier(public_key)?,
    });
    Ok(Router::new()
        .route("/interactions", post(interactions_post))
        .with_state(state))
}

/// Serves the interactions endpoint on `listener` until `shutdown` is cancelled.
pub async fn serve(
    interactions: Arc<Interactions>,
    public_key: &str,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(interactions, public_key)?;
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

async fn interactions_post(
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
    let Answered { first, later } = state.interactions.answer(interaction).await;
    if let Some(later) = later {
        // After the body: Discord must hold the first answer before a follow-up or an edit
        // (a webhook call that comes too early is tried again).
        tokio::spawn(later);
    }
    axum::Json(first).into_response()
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
