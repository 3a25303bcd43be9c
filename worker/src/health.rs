//! `/healthz` and `/metrics` (Prometheus text) on `queue.health_addr`, for the operator's
//! probes and scraper. Loopback by default: metrics are not for the public.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use mentorops_core::store::jobs;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::runtime::Runtime;

/// The process-wide Prometheus recorder, installed on first use (a process has one).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let lag_buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("mentorops_job_lag_seconds".into()),
                    &lag_buckets,
                )
                .ok()?
                .install_recorder()
                .map_err(|e| warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    rt: Arc<Runtime>,
    shutdown: CancellationToken,
) {
    let _ = recorder();
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(rt);
    let stop = shutdown.clone();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    {
        warn!(error = %e, "the /healthz and /metrics server stopped");
    }
}

async fn healthz(State(rt): State<Arc<Runtime>>) -> (StatusCode, String) {
    let db = match rt.engine.db().pool().acquire().await {
        Ok(mut c) => jobs::outbox_backlog(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    // A queue that does not answer within 2 s is as bad as one that refuses.
    let queue = match tokio::time::timeout(std::time::Duration::from_secs(2), rt.queue.ping()).await
    {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 2 s".into()),
    };
    match (db, queue) {
        (Ok(()), Ok(())) => (StatusCode::OK, "ok\n".into()),
        (db, queue) => {
            let mut why = String::new();
            if let Err(e) = db {
                why.push_str(&format!("database: {e}\n"));
            }
            if let Err(e) = queue {
                why.push_str(&format!("queue: {e}\n"));
            }
            (StatusCode::SERVICE_UNAVAILABLE, why)
        }
    }
}

async fn metrics_text(State(rt): State<Arc<Runtime>>) -> (StatusCode, String) {
    // Gauges read at scrape time, from the source of truth.
    if let Ok(mut c) = rt.engine.db().pool().acquire().await
        && let Ok(backlog) = jobs::outbox_backlog(&mut c).await
    {
        for channel in ["email", "chat:telegram", "chat:discord"] {
            let n = backlog
                .iter()
                .find(|(c, _)| c == channel)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            metrics::gauge!("mentorops_outbox_backlog", "channel" => channel).set(n as f64);
        }
    }
    if let Ok(mut c) = rt.engine.db().pool().acquire().await
        && let Ok(waiting) = mentorops_core::store::inbox::waiting(&mut c).await
    {
        // Chat updates recorded and not yet run (docs/chat-edge.md).
        metrics::gauge!("mentorops_chat_inbox_waiting").set(waiting as f64);
    }
    metrics::counter!("mentorops_redis_round_trips_total").absolute(rt.queue.round_trips());
    if let Ok((ready, later)) = rt.queue.depth().await {
        metrics::gauge!("mentorops_queue_jobs", "state" => "ready").set(ready as f64);
        metrics::gauge!("mentorops_queue_jobs", "state" => "scheduled").set(later as f64);
    }
    match recorder() {
        Some(h) => (StatusCode::OK, h.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n".into(),
        ),
    }
}
