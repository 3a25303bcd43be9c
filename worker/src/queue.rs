//! The queue the jobs go through: apalis 1.0 on Redis (production, several replicas) or on
//! its SQLite backend (one machine). Pushing goes through here so every job carries its
//! idempotency key and due time the same way on both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::SqliteStorage;
use chrono::Utc;
use futures::stream;
use mentorops_core::settings::Settings;
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use secrecy::ExposeSecret;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::jobs::Job;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot reach the Redis queue at queue.url (MENTOROPS__QUEUE__URL): {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the embedded queue's SQLite file: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("the embedded queue's setup: {0}")]
    Setup(String),
    #[error("cannot queue jobs: {0}")]
    Push(String),
}

/// A Redis connection that counts its round trips (one per command or pipeline), for
/// `/metrics` and the benchmark's round-trips-per-job figure.
#[derive(Clone)]
pub struct CountingConn {
    inner: ConnectionManager,
    round_trips: Arc<AtomicU64>,
}

impl CountingConn {
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }
}

impl ConnectionLike for CountingConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.inner.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.inner.req_packed_commands(pipeline, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

pub type RedisJobs = RedisStorage<Job, CountingConn>;

/// Tuning read from `[queue]` in the configuration.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub poll_interval: Duration,
    pub heartbeat: Duration,
    pub missed_heartbeats: usize,
    pub idempotency_ttl: Duration,
    pub batch_size: usize,
}

impl Tuning {
    pub fn from_settings(s: &Settings) -> Self {
        let q = &s.queue;
        Self {
            poll_interval: Duration::from_millis(q.poll_interval_ms),
            heartbeat: Duration::from_secs(q.heartbeat_secs),
            missed_heartbeats: q.missed_heartbeats,
            idempotency_ttl: Duration::from_secs(q.idempotency_ttl_hours * 3600),
            batch_size: q.concurrency.clamp(10, 100),
        }
    }
}

#[derive(Clone)]
pub enum Queue {
    Redis {
        storage: RedisJobs,
        conn: CountingConn,
    },
    Sqlite {
        storage: SqliteStorage<Job>,
    },
}

impl Queue {
    /// Connects to the queue `settings` name: Redis when `queue.url` is set, else the
    /// embedded SQLite file.
    pub async fn open(settings: &Settings) -> Result<Self, QueueError> {
        let tuning = Tuning::from_settings(settings);
        match &settings.queue.url {
            Some(url) => Self::redis(url.expose_secret(), &settings.queue.name, &tuning).await,
            None => {
                Self::sqlite(&settings.queue_sqlite_path(), &settings.queue.name, &tuning).await
            }
        }
    }

    pub async fn redis(url: &str, queue: &str, t: &Tuning) -> Result<Self, QueueError> {
        let client = redis::Client::open(url)?;
        // The connection manager reconnects by itself after Redis restarts; the worker is restarted
        // on top of it (see runtime.rs, apalis trap 4: docs/operations.md#trap-dead-worker).
        let inner = client.get_connection_manager().await?;
        let conn = CountingConn {
            inner,
            round_trips: Arc::new(AtomicU64::new(0)),
        };
        let config = apalis_redis::Config::default()
            .queue(queue)
            .batch_size(t.batch_size)
            .heartbeat_interval(t.heartbeat)
            .missed_heartbeats(t.missed_heartbeats)
            // apalis trap 2 (docs/operations.md#trap-idempotency-ttl): with no TTL apalis-redis
            // runs `EXPIRE key 0`, deleting each idempotency key as soon as it is set, so
            // duplicates would be queued.
            .idempotency_ttl(Some(t.idempotency_ttl))
            // Per-task leases cost three extra scripts per batch and buy nothing here: a fetch
            // moves tasks atomically into this worker's own in-flight set, and a dead worker's set
            // is re-queued as a whole after its missed heartbeats
            // (trap 6: docs/operations.md#trap-orphaned-jobs).
            .lock_tasks(false)
            // Nobody subscribes to apalis' pub/sub events; publishing them is wasted work.
            .emit_events(false)
            // Results must be recorded (apalis trap 12, docs/operations.md#trap-persist-results):
            // that is what takes a finished job out of the worker's in-flight set, so a restart
            // does not run it again.
            .persist_results(true);
        let storage = RedisStorage::new(conn.clone()).with_config(config);
        Ok(Self::Redis { storage, conn })
    }

    pub async fn sqlite(
        path: &std::path::Path,
        queue: &str,
        t: &Tuning,
    ) -> Result<Self, QueueError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| QueueError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(10));
        let pool: SqlitePool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        // apalis trap 7 (docs/operations.md#trap-migrations-table): apalis-sqlite's migrations use
        // sqlx's `_sqlx_migrations` table. The queue has a file of its own and the app's migrations
        // use `mentorops_migrations`, so the two never see each other's history.
        SqliteStorage::setup(&pool)
            .await
            .map_err(|e| QueueError::Setup(e.to_string()))?;
        let config = apalis_sqlite::Config::default()
            .queue(queue)
            .batch_size(t.batch_size)
            .heartbeat_interval(t.heartbeat)
            .missed_heartbeats(t.missed_heartbeats);
        let storage = SqliteStorage::new(&pool).with_config(config);
        Ok(Self::Sqlite { storage })
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Self::Redis { .. })
    }

    /// Redis round trips made so far through this queue's connection (0 on SQLite).
    pub fn round_trips(&self) -> u64 {
        match self {
            Self::Redis { conn, .. } => conn.round_trips(),
            Self::Sqlite { .. } => 0,
        }
    }

    /// Queues jobs, each under its idempotency key, due at its time (or now).
    pub async fn push(&self, jobs: &[Job]) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let tasks: Vec<Task<Job>> = jobs
            .iter()
            .map(|job| {
                let mut b = TaskBuilder::new(job.clone()).idempotency_key(job.key());
                // apalis schedules in whole seconds (rounding a time down), so a job may be
                // handed out up to a second before its due time; the handler waits out the
                // rest (handler.rs) and so never acts early.
                if let Some(due) = job.due().filter(|d| *d > now) {
                    b = b.run_at_timestamp(due.timestamp().max(0) as u64);
                }
                // On SQLite this bounds the retries of a job whose handler failed on an
                // infrastructure error; apalis-redis ignores it and retries up to 25 times
                // (trap 3: docs/operations.md#trap-redis-retries), which is why handlers own their
                // retries and abort on the rest.
                b.max_attempts(5).build()
            })
            .collect();
        match self {
            Self::Redis { storage, conn } => {
                let mut s = storage.clone();
                for chunk in tasks.chunks(1000) {
                    s.push_all(stream::iter(chunk.to_vec()))
                        .await
                        .map_err(|e| QueueError::Push(e.to_string()))?;
                }
                // apalis-redis puts every pushed task in its scheduled set, and its fetch
                // script moves all due ones at once with one `unpack`, which Lua caps at
                // ~8000 values: past that the fetch fails and the worker dies. Move due tasks
                // over in bounded batches ourselves so that never happens.
                promote_due(&mut conn.clone(), storage.get_config()).await?;
            }
            Self::Sqlite { storage } => {
                let mut s = storage.clone();
                s.push_all(stream::iter(tasks))
                    .await
                    .map_err(|e| QueueError::Push(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Makes sure the queue still holds what was fed to it: false when Redis lost its data
    /// (FLUSHALL, a restart without persistence) since the last call, so everything pending
    /// in SQL must be fed again. Always true on SQLite, which keeps its data with the app's.
    pub async fn still_has_its_data(&self, epoch: &mut Option<String>) -> Result<bool, QueueError> {
        let Self::Redis { conn, storage } = self else {
            return Ok(true);
        };
        let key = format!("{}:epoch", storage.get_config().queue.as_ref());
        let mut c = conn.clone();
        let fresh = format!("{}-{}", std::process::id(), Utc::now().timestamp_millis());
        // SET NX then GET in one round trip: whoever sets it first defines the epoch.
        let (_, current): (Option<String>, Option<String>) = redis::pipe()
            .cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .cmd("GET")
            .arg(&key)
            .query_async(&mut c)
            .await?;
        let intact = match epoch.as_deref() {
            // First look: the data is intact if the epoch was there before us.
            None => current.as_deref() != Some(fresh.as_str()),
            Some(seen) => current.as_deref() == Some(seen),
        };
        *epoch = current;
        Ok(intact)
    }

    /// Moves tasks that have come due into the ready list (Redis; see `promote_due`).
    pub async fn promote(&self) -> Result<u64, QueueError> {
        match self {
            Self::Redis { storage, conn } => {
                promote_due(&mut conn.clone(), storage.get_config()).await
            }
            Self::Sqlite { .. } => Ok(0),
        }
    }

    /// Forgets finished jobs older than `age` (their payload and result), so the queue's storage
    /// holds what is pending plus a short history, not every job ever run. Neither backend's own
    /// vacuum does that as it is (apalis trap 11, docs/operations.md#trap-vacuum).
    pub async fn vacuum(&self, age: Duration) -> Result<u64, QueueError> {
        match self {
            Self::Redis { storage, conn } => {
                use apalis_core::backend::Vacuum;
                let n = storage
                    .clone()
                    .vacuum_before(age)
                    .await
                    .map_err(|e| QueueError::Push(e.to_string()))?;
                // apalis-redis' vacuum leaves every finished id in its done set; nothing of ours
                // reads that set, so it goes too rather than growing with every job ever run.
                let mut c = conn.clone();
                let _: () = redis::cmd("DEL")
                    .arg(storage.get_config().done_jobs_set())
                    .query_async(&mut c)
                    .await?;
                Ok(n as u64)
            }
            Self::Sqlite { storage } => {
                // Not apalis-sqlite's `vacuum_before`: it compares the integer `run_at` with a
                // text date (so it deletes every finished job whatever its age) and then runs
                // VACUUM on the whole file, locking it, every time.
                use apalis_core::backend::BackendConfig;
                let before = Utc::now().timestamp() - i64::try_from(age.as_secs()).unwrap_or(0);
                let done = sqlx::query(
                    "DELETE FROM Jobs WHERE job_type = ?1 AND done_at < ?2 \
                     AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))",
                )
                .bind(storage.config().queue.as_ref())
                .bind(before)
                .execute(storage.pool())
                .await?;
                Ok(done.rows_affected())
            }
        }
    }

    /// Jobs waiting: (due now, scheduled for later), for `/metrics`.
    pub async fn depth(&self) -> Result<(u64, u64), QueueError> {
        match self {
            Self::Redis { storage, conn } => {
                let config = storage.get_config();
                let mut c = conn.clone();
                let (ready, later): (u64, u64) = redis::pipe()
                    .cmd("LLEN")
                    .arg(config.active_jobs_list())
                    .cmd("ZCARD")
                    .arg(config.scheduled_jobs_set())
                    .query_async(&mut c)
                    .await?;
                Ok((ready, later))
            }
            Self::Sqlite { storage } => {
                use apalis_core::backend::BackendConfig;
                let queue = storage.config().queue.as_ref().to_string();
                let now = Utc::now().timestamp();
                let (ready, later): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(run_at <= ?2), 0), COALESCE(SUM(run_at > ?2), 0) \
                     FROM Jobs WHERE job_type = ?1 AND status = 'Pending'",
                )
                .bind(queue)
                .bind(now)
                .fetch_one(storage.pool())
                .await?;
                Ok((ready.max(0) as u64, later.max(0) as u64))
            }
        }
    }

    /// Pings the backend, for `/healthz`.
    pub async fn ping(&self) -> Result<(), QueueError> {
        match self {
            Self::Redis { conn, .. } => {
                let mut c = conn.clone();
                let _: String = redis::cmd("PING").query_async(&mut c).await?;
            }
            Self::Sqlite { storage } => {
                sqlx::query("SELECT 1").execute(storage.pool()).await?;
            }
        }
        Ok(())
    }
}

/// Moves due tasks from apalis-redis' scheduled set to its active list, 1000 at a time (apalis
/// trap 10, docs/operations.md#trap-promote-batches: its own fetch fails on too many at once).
pub async fn promote_due(
    conn: &mut CountingConn,
    config: &apalis_redis::Config,
) -> Result<u64, QueueError> {
    static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
        redis::Script::new(
            r#"
            local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, 1000)
            if #ids > 0 then
                redis.call('RPUSH', KEYS[2], unpack(ids))
                redis.call('ZREM', KEYS[1], unpack(ids))
                redis.call('DEL', KEYS[3])
                redis.call('LPUSH', KEYS[3], 1)
            end
            return #ids
            "#,
        )
    });
    let mut moved = 0u64;
    loop {
        let now = Utc::now().timestamp().max(0) as u64;
        let n: u64 = SCRIPT
            .key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .arg(now)
            .invoke_async(conn)
            .await?;
        moved += n;
        if n < 1000 {
            return Ok(moved);
        }
    }
}
