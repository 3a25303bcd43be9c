//! The worker process: the apalis job worker, the feeder, the cron schedules and the
//! `/healthz` + `/metrics` endpoint, until shutdown.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_cron::{CronScheduler, Tick};
use mentorops_core::command::Engine;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use crate::context::{Runtime, Stats};
use crate::feed;
use crate::handler;
use crate::health;
use crate::jobs::Job;
use crate::mail::Mailer;
use crate::queue::{Queue, QueueError, Tuning};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error("{0}")]
    Config(String),
    #[error("cannot serve /healthz and /metrics on {addr} (queue.health_addr): {source}")]
    Health {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// The cron jobs (docs/operations.md#cron; the rules they carry out: docs/domain.md#inactivity).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronJob {
    Sweep,
    Digest,
    Reconcile,
}

impl CronJob {
    /// The jobs a tick queues. The reconciler's tick (every minute by default) also queues the
    /// flash-mentoring close (docs/domain.md#flash-mentoring), and the end of mentors' pauses and
    /// their missing places (docs/domain.md#availability): none is a row the feeder sees, so each is looked for
    /// on a clock, and a minute late is on time for them.
    fn jobs(self, tick: u64) -> Vec<Job> {
        match self {
            Self::Sweep => vec![Job::Sweep { tick }],
            Self::Digest => vec![Job::Digest { tick }],
            Self::Reconcile => vec![
                Job::Reconcile { tick },
                Job::CloseFlash { tick },
                Job::Availability { tick },
            ],
        }
    }
}

/// A running worker; `stop` (or the token given to `start`) shuts it down gracefully.
pub struct Worker {
    pub runtime: Arc<Runtime>,
    pub name: String,
    /// Where `/healthz` and `/metrics` are served, when they are.
    pub health_addr: Option<std::net::SocketAddr>,
    tasks: JoinSet<()>,
    shutdown: CancellationToken,
}

impl Worker {
    /// Connects to the configured queue and starts everything.
    pub async fn start(
        engine: Arc<Engine>,
        shutdown: CancellationToken,
    ) -> Result<Self, StartError> {
        let settings = engine.settings().clone();
        let queue = Queue::open(&settings).await?;
        Self::start_on(engine, queue, None, shutdown).await
    }

    /// Starts on a queue opened by the caller, under `name` when given (tests run several
    /// replicas in one process; benchmarks choose the queue).
    pub async fn start_on(
        engine: Arc<Engine>,
        queue: Queue,
        name: Option<String>,
        shutdown: CancellationToken,
    ) -> Result<Self, StartError> {
        let settings = engine.settings().clone();
        let q = &settings.queue;
        let tuning = Tuning::from_settings(&settings);
        let runtime = Arc::new(Runtime {
            mailer: Mailer::from_settings(&settings)?,
            from: settings.smtp.from.clone(),
            queue,
            grace: feed::grace(q.reconcile_grace_secs),
            stats: Stats::default(),
            engine,
        });
        // apalis trap 5 (docs/operations.md#trap-worker-names): a worker's name must be unique, or
        // a crashed worker's jobs are never recovered; the default is host and process id.
        let name = name
            .or_else(|| q.worker_name.clone())
            .unwrap_or_else(process_name);
        let mut tasks = JoinSet::new();
        tasks.spawn(job_worker(
            runtime.clone(),
            format!("{name}-jobs"),
            q.concurrency,
            tuning.poll_interval,
            shutdown.clone(),
        ));
        tasks.spawn(feeder(
            runtime.clone(),
            Duration::from_millis(q.feed_interval_ms),
            shutdown.clone(),
        ));
        for (kind, expr) in [
            (CronJob::Sweep, &q.sweep_cron),
            (CronJob::Digest, &q.digest_cron),
            (CronJob::Reconcile, &q.reconcile_cron),
        ] {
            let schedule = cron::Schedule::from_str(expr)
                .map_err(|e| StartError::Config(format!("queue cron '{expr}': {e}")))?;
            tasks.spawn(cron_worker(
                runtime.clone(),
                format!("{name}-cron-{kind:?}").to_lowercase(),
                kind,
                schedule,
                shutdown.clone(),
            ));
        }
        let health_addr = match q.health_addr {
            None => None,
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Health { addr, source })?;
                let bound = listener.local_addr().ok();
                tasks.spawn(health::serve(listener, runtime.clone(), shutdown.clone()));
                bound
            }
        };
        info!(worker = %name, queue = if runtime.queue.is_redis() { "redis" } else { "sqlite" }, ?health_addr, "worker started");
        Ok(Self {
            runtime,
            name,
            health_addr,
            tasks,
            shutdown,
        })
    }

    /// Stops taking jobs, lets the running ones finish (unstarted ones go back to the queue),
    /// and returns when everything has stopped.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }

    /// Waits until the shutdown token is cancelled and everything has stopped.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// `host-pid`: this process among the others sharing the database and the queue.
pub fn process_name() -> String {
    format!("{}-{}", hostname(), std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

/// apalis trap 4 (docs/operations.md#trap-dead-worker): when the backend fails (Redis restarted, a
/// timeout), apalis marks the worker dead and nothing restarts it. Each worker runs under this loop
/// instead, which starts it again after a growing pause (0.5 s doubling to 10 s) until shutdown.
async fn supervise<F, Fut>(what: &str, shutdown: CancellationToken, mut run_once: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
{
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let result = run_once().await;
        if shutdown.is_cancelled() {
            return;
        }
        match result {
            Ok(()) => warn!(worker = what, "worker stopped by itself; starting it again"),
            Err(e) => warn!(worker = what, error = %e, "worker failed; starting it again"),
        }
        if started.elapsed() > Duration::from_secs(60) {
            failures = 0;
        }
        let pause = Duration::from_millis(500u64.saturating_mul(1 << failures.min(5)))
            .min(Duration::from_secs(10));
        failures += 1;
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

fn until(
    shutdown: &CancellationToken,
) -> impl Future<Output = Result<(), WorkerError>> + Send + 'static {
    let stop = shutdown.clone();
    async move {
        stop.cancelled().await;
        Ok(())
    }
}

async fn job_worker(
    rt: Arc<Runtime>,
    name: String,
    concurrency: usize,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let what = name.clone();
    supervise(&what, shutdown.clone(), || {
        let rt = rt.clone();
        let name = name.clone();
        let stop = until(&shutdown);
        async move {
            // apalis trap 1 (docs/operations.md#trap-idle-worker): an idle worker only looks for
            // jobs on its heartbeat (30 s by default), so scheduled jobs would run late; poll at
            // `queue.poll_interval_ms`. The two backends are different types; the worker is built
            // the same on both.
            macro_rules! run_on {
                ($storage:expr) => {
                    WorkerBuilder::new(name)
                        .backend($storage.poll_with_interval(poll))
                        .data(rt)
                        .concurrency(concurrency)
                        .build(handler::handle)
                        .run_until(stop)
                        .await
                };
            }
            match rt.queue.clone() {
                Queue::Redis { storage, .. } => run_on!(storage),
                Queue::Sqlite { storage } => run_on!(storage),
            }
        }
    })
    .await;
}

/// apalis trap 8 (docs/operations.md#trap-cron-every-replica): apalis-cron fires on every replica.
/// The cron handler therefore only queues the real job, under a key made of the tick, so N replicas
/// give one job per tick.
async fn on_tick(
    tick: Tick,
    kind: Data<CronJob>,
    rt: Data<Arc<Runtime>>,
) -> Result<(), BoxDynError> {
    let jobs = kind.jobs(tick.get_timestamp());
    rt.queue.push(&jobs).await?;
    Ok(())
}

async fn cron_worker(
    rt: Arc<Runtime>,
    name: String,
    kind: CronJob,
    schedule: cron::Schedule,
    shutdown: CancellationToken,
) {
    let what = name.clone();
    supervise(&what, shutdown.clone(), || {
        WorkerBuilder::new(name.clone())
            .backend(CronScheduler::new(schedule.clone()))
            .data(kind)
            .data(rt.clone())
            .build(on_tick)
            .run_until(until(&shutdown))
    })
    .await;
}

async fn feeder(rt: Arc<Runtime>, every: Duration, shutdown: CancellationToken) {
    let mut epoch = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match feed::feed(&rt, &mut epoch).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(jobs = n, "fed the queue"),
            Err(e) => warn!(error = %e, "feeding the queue failed; trying again"),
        }
    }
}
