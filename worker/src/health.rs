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

use crate::context::Runtime;
use crate::jobs::Job;

/// The outbox channels `mentorops_outbox_backlog` is labelled with.
const CHANNELS: [&str; 3] = ["email", "chat:telegram", "chat:discord"];

/// The process-wide Prometheus recorder, installed on first use (a process has one), with
/// every series already there at 0.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let lag_buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("mentorops_job_lag_seconds".into()),
                    &lag_buckets,
                )
                .ok()?
                .install_recorder()
                .map_err(|e| warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            register_every_series();
            Some(handle)
        })
        .as_ref()
}

/// Creates every series the worker exports, at 0, before anything happened. A series that first
/// appears with the value 1 is invisible to `rate()` and `increase()` (Prometheus sees no
/// increase from nothing), so an alert on failed emails would miss the first failures; and a
/// dashboard shows 0 instead of "no data". Counters are added 0, never set, so a series that
/// already counted keeps its count. The names are those written in `handler` and in
/// `metrics_text` below.
fn register_every_series() {
    for name in [
        "mentorops_emails_sent_total",
        "mentorops_emails_failed_total",
        "mentorops_redis_round_trips_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    for kind in every_job_kind() {
        metrics::counter!("mentorops_jobs_processed_total", "kind" => kind).increment(0);
        metrics::counter!("mentorops_jobs_failed_total", "kind" => kind).increment(0);
        // Registered, not recorded: a made-up sample would be counted as a job's lag.
        let _ = metrics::histogram!("mentorops_job_lag_seconds", "kind" => kind);
    }
    for channel in CHANNELS {
        metrics::gauge!("mentorops_outbox_backlog", "channel" => channel).set(0.0);
    }
    metrics::gauge!("mentorops_chat_inbox_waiting").set(0.0);
    for state in ["ready", "scheduled"] {
        metrics::gauge!("mentorops_queue_jobs", "state" => state).set(0.0);
    }
}

/// The label of every kind of job.
fn every_job_kind() -> Vec<&'static str> {
    let one_of_each = [
        Job::ExpireOffers {
            offers: Vec::new(),
            due_ms: 0,
            round: 0,
        },
        Job::RemindOffers {
            offers: Vec::new(),
            due_ms: 0,
            round: 0,
        },
        Job::RemindSessions {
            sessions: Vec::new(),
            lead: crate::jobs::Lead::Day,
            due_ms: 0,
            round: 0,
        },
        Job::ExpireOffer {
            offer: 0,
            due_ms: 0,
            round: 0,
        },
        Job::RemindOffer {
            offer: 0,
            due_ms: 0,
            round: 0,
        },
        Job::RemindSession {
            session: 0,
            lead: crate::jobs::Lead::Day,
            due_ms: 0,
            round: 0,
        },
        Job::DeliverEmail {
            outbox: 0,
            due_ms: 0,
            round: 0,
        },
        Job::RemindInactive { user: 0, tick: 0 },
        Job::Sweep { tick: 0 },
        Job::Digest { tick: 0 },
        Job::Reconcile { tick: 0 },
        Job::CloseFlash { tick: 0 },
        Job::Availability { tick: 0 },
        Job::Noop { n: 0 },
    ];
    let mut kinds: Vec<&'static str> = one_of_each
        .iter()
        .map(|job| match job {
            // No catch-all arm: a new kind of job does not compile here until it is listed
            // above, so its series start at 0 too.
            Job::ExpireOffers { .. }
            | Job::RemindOffers { .. }
            | Job::RemindSessions { .. }
            | Job::ExpireOffer { .. }
            | Job::RemindOffer { .. }
            | Job::RemindSession { .. }
            | Job::DeliverEmail { .. }
            | Job::RemindInactive { .. }
            | Job::Sweep { .. }
            | Job::Digest { .. }
            | Job::Reconcile { .. }
            | Job::CloseFlash { .. }
            | Job::Availability { .. }
            | Job::Noop { .. } => job.kind(),
        })
        .collect();
    // A batch and a single item of a timer share their kind.
    kinds.sort_unstable();
    kinds.dedup();
    kinds
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
        for channel in CHANNELS {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_kind_is_listed_once() {
        let kinds = every_job_kind();
        let mut distinct = kinds.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), kinds.len(), "{kinds:?}");
    }
}
