//! The webhook: Telegram POSTs each update; it is written to the inbox (docs/chat-edge.md)
//! and only then answered 200, so an update Telegram counts as delivered is one we hold (a
//! non-2xx makes Telegram send it again). Every replica serves it; whichever process's lanes
//! claim the update runs it, once.
//!
//! The gate: a request without the configured `X-Telegram-Bot-Api-Secret-Token` is refused
//! before any update is read, comparing in constant time.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mentorops_core::command::Engine;
use mentorops_core::store::inbox;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use super::PROVIDER;
use super::handlers::lane_of;

/// The router serving the webhook's path.
pub(super) fn router(
    path: &str,
    secret: SecretString,
    engine: Arc<Engine>,
    wake: Arc<Notify>,
) -> Router {
    Router::new()
        .route(path, post(receive))
        .with_state(Arc::new(Receiver { engine, wake }))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(secret),
            require_secret,
        ))
}

struct Receiver {
    engine: Arc<Engine>,
    wake: Arc<Notify>,
}

async fn receive(State(r): State<Arc<Receiver>>, body: Bytes) -> Response {
    let update: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            // Telegram would send it again and again: take it, say so in the log.
            // Where it broke, not what it said: bodies hold what people typed.
            tracing::warn!(kind = ?e.classify(), line = e.line(), column = e.column(), "a Telegram webhook body is not JSON; dropped");
            return StatusCode::OK.into_response();
        }
    };
    let Some(id) = update["update_id"].as_i64() else {
        tracing::warn!("a Telegram webhook body has no update_id; dropped");
        return StatusCode::OK.into_response();
    };
    match record(&r.engine, id, &update).await {
        Ok(_) => {
            r.wake.notify_one();
            StatusCode::OK.into_response()
        }
        Err(e) => {
            // Not recorded: Telegram keeps it and sends it again.
            tracing::warn!(error = %e, "a Telegram update could not be recorded; Telegram will resend it");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Writes one update to the inbox (false: it was there already).
pub(super) async fn record(
    engine: &Engine,
    update_id: i64,
    update: &serde_json::Value,
) -> anyhow::Result<bool> {
    let key = inbox::Key {
        platform: PROVIDER.into(),
        update_key: update_id.to_string(),
        lane: lane_of(update),
    };
    let mut c = engine.db().pool().acquire().await?;
    Ok(inbox::receive(&mut c, &key, &update.to_string(), engine.now()).await?)
}

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub(super) async fn require_secret(
    State(secret): State<Arc<SecretString>>,
    request: Request,
    next: Next,
) -> Response {
    if secret_matches(
        &secret,
        request.headers().get(SECRET_HEADER).map(|v| v.as_bytes()),
    ) {
        next.run(request).await
    } else {
        tracing::warn!("Telegram webhook request without the right secret token refused");
        StatusCode::UNAUTHORIZED.into_response()
    }
}

/// Constant time in the contents (only the length may show, as with any such comparison).
fn secret_matches(secret: &SecretString, given: Option<&[u8]>) -> bool {
    let expected = secret.expose_secret().as_bytes();
    match given {
        Some(given) if !expected.is_empty() => bool::from(given.ct_eq(expected)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_passes() {
        let s = SecretString::from("abc_DEF-123");
        assert!(secret_matches(&s, Some(b"abc_DEF-123")));
        assert!(!secret_matches(&s, Some(b"abc_DEF-124")));
        assert!(!secret_matches(&s, Some(b"abc_DEF-12")));
        assert!(!secret_matches(&s, Some(b"")));
        assert!(!secret_matches(&s, None));
        assert!(!secret_matches(&SecretString::from(""), Some(b"")));
    }
}
