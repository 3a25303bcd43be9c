//! What every job, the feeder and the health endpoint work with. A module of its own so that
//! `runtime` (which starts them) and `feed`, `handler`, `health` (which it starts) all depend
//! on it and never on each other in a circle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mentorops_core::command::Engine;

use crate::jobs::Job;
use crate::mail::Mailer;
use crate::queue::Queue;

/// What every job sees.
pub struct Runtime {
    pub engine: Arc<Engine>,
    pub mailer: Mailer,
    pub from: String,
    pub queue: Queue,
    pub grace: chrono::Duration,
    pub stats: Stats,
}

/// What this worker has done, for its log and for tests that run several in one process
/// (the Prometheus counters are process-wide).
#[derive(Default)]
pub struct Stats {
    processed: Mutex<HashMap<&'static str, u64>>,
    sweep_ticks: Mutex<Vec<u64>>,
}

impl Stats {
    pub fn record(&self, job: &Job) {
        if let Ok(mut p) = self.processed.lock() {
            *p.entry(job.kind()).or_default() += 1;
        }
        if let (Job::Sweep { tick }, Ok(mut t)) = (job, self.sweep_ticks.lock()) {
            // The recent ones are enough; a long-running worker must not grow without bound.
            if t.len() >= 1000 {
                t.remove(0);
            }
            t.push(*tick);
        }
    }
    /// Jobs of this kind that ran to the end.
    pub fn processed(&self, kind: &str) -> u64 {
        self.processed
            .lock()
            .map(|p| p.get(kind).copied().unwrap_or(0))
            .unwrap_or(0)
    }
    /// The cron ticks of the sweeps this worker ran.
    pub fn sweep_ticks(&self) -> Vec<u64> {
        self.sweep_ticks
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }
}
