//! The test harness: a real engine on a fresh database per test — a temporary SQLite file, or
//! a new database on the machine's PostgreSQL — with a clock the test moves by hand.
//!
//! Here: starting and finishing a [`TestApp`], running commands as someone, the settings, and
//! `both_backends!`. The rest of the harness, by what it is for:
//!
//! - [`db`]: reading the database (people, counts, the outbox, link codes) and the race gates;
//! - [`people`]: a program with staff, people made ready to match, the shared cast of the
//!   matching tests (`world`), linking a chat account;
//! - [`outbox`]: chat messages queued as a change would queue them;
//! - [`wait`]: waiting until something holds;
//! - [`console`], [`telegram`], [`discord`]: each front-end started on the test's engine (and
//!   the fakes, `crate::fakes`), with the helpers that drive it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use mentorops_core::Error;
use mentorops_core::clock::{Clock, ManualClock, ShiftedClock};
use mentorops_core::command::{Caller, Engine, Frontend, Outcome, Who};
use mentorops_core::db::{Backend, Db};
use mentorops_core::reply::{Attachment, Reply};
use mentorops_core::settings::Settings;
use sqlx::{Connection, Executor};

pub mod console;
pub mod db;
pub mod discord;
pub mod outbox;
pub mod people;
pub mod telegram;
pub mod wait;

pub use people::{
    ANA, World, ana_chooses_maria, ana_maria_and_lee, offer_to_maria, offers_of, pending_of,
    persona_of, world, world_mentees, world_mentors,
};

/// The server the PostgreSQL tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("MENTOROPS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestApp {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    /// Set by `start_live`: the engine runs on the system clock shifted by this, so jobs on a
    /// real queue (which waits in wall-clock time) and the domain agree on what "now" is.
    pub live: Option<Arc<ShiftedClock>>,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg_db: Option<String>,
    pub admin_id: i64,
}

impl TestApp {
    /// None when PostgreSQL is wanted but not reachable outside CI (the caller then skips
    /// loudly); under CI=true an unreachable PostgreSQL fails the test.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[], false).await
    }

    /// A test app on the system clock (see `live`), with settings overridden by `overrides`
    /// (`("queue.url", "redis://…")`…).
    pub async fn start_live(
        backend: Backend,
        overrides: &[(&str, figment::value::Value)],
    ) -> Option<Self> {
        // On the system clock a test runs at whatever hour it is: quiet hours off
        // (docs/domain.md#quiet-hours), so what it waits for never depends on the time of day.
        // An override of its own still wins.
        let mut all = vec![("program_defaults.quiet_hours", "off".into())];
        all.extend_from_slice(overrides);
        Self::start_with(backend, &all, true).await
    }

    async fn start_with(
        backend: Backend,
        overrides: &[(&str, figment::value::Value)],
        live: bool,
    ) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_db) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/test.db?mode=rwc", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                        eprintln!(
                            "SKIPPED: PostgreSQL at {admin} is not reachable ({e}); CI=true makes this a failure"
                        );
                        return None;
                    }
                    Err(e) => panic!("PostgreSQL at {admin} is not reachable under CI=true: {e}"),
                };
                let name = format!("mentorops_t_{}", uuid_like());
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin.clone());
                (format!("{base}/{name}"), Some(name))
            }
        };
        let settings = test_settings_with(&url, dir.path(), overrides);
        let db = Db::connect(&url, 12).await.expect("connect");
        db.migrate().await.expect("migrate");
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
                .single()
                .expect("time"),
        ));
        let live = live.then(|| Arc::new(ShiftedClock::new()));
        let engine_clock: Arc<dyn Clock> = match &live {
            Some(l) => l.clone(),
            None => clock.clone(),
        };
        let engine = Engine::new(db, Arc::new(settings), engine_clock).expect("engine");
        let (admin_id, _) = mentorops_core::bootstrap::bootstrap_admin(
            &engine,
            "Ada Admin",
            "admin@example.org",
            "+14155550100",
        )
        .await
        .expect("bootstrap");
        Some(Self {
            engine,
            clock,
            live,
            backend,
            dir,
            pg_db,
            admin_id,
        })
    }

    /// Drops the PostgreSQL database (SQLite's file goes with the temp dir).
    pub async fn finish(self) {
        self.engine.db().close().await;
        if let Some(name) = self.pg_db
            && let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await
        {
            let _ = conn
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await;
        }
    }

    /// A test app on SQLite, for the tests that need no PostgreSQL (the front-ends').
    pub async fn sqlite() -> Self {
        Self::start(Backend::Sqlite).await.expect("sqlite")
    }

    pub fn caller_for(&self, user_id: i64) -> Caller {
        Caller {
            frontend: Frontend::Console,
            who: Who::User(user_id),
        }
    }

    pub fn chat(&self, account: &str) -> Caller {
        Caller {
            frontend: Frontend::Telegram,
            who: Who::Account {
                provider: "telegram".into(),
                account_id: account.into(),
                handle: None,
            },
        }
    }

    pub async fn outcome(&self, caller: &Caller, line: &str) -> Outcome {
        self.engine.handle_text(caller, line, Vec::new()).await
    }

    pub async fn run(&self, caller: &Caller, line: &str) -> Result<Reply, Error> {
        self.outcome(caller, line).await.result
    }

    /// As the super admin; panics (with the message) if refused.
    pub async fn admin(&self, line: &str) -> Reply {
        match self.run(&self.caller_for(self.admin_id), line).await {
            Ok(r) => r,
            Err(e) => panic!("{line} was refused: {}", e.user_message()),
        }
    }

    pub async fn admin_err(&self, line: &str) -> Error {
        match self.run(&self.caller_for(self.admin_id), line).await {
            Ok(r) => panic!("{line} should have been refused, but replied: {}", r.text),
            Err(e) => e,
        }
    }

    pub async fn admin_with_file(
        &self,
        line: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<Reply, Error> {
        let file = Attachment {
            file_name: name.into(),
            media_type: "text/csv".into(),
            bytes: bytes.to_vec(),
        };
        self.engine
            .handle_text(&self.caller_for(self.admin_id), line, vec![file])
            .await
            .result
    }

    /// A second engine on the same database, settings and clock, for front-ends that take an
    /// `Arc<Engine>` (the Telegram front-end runs in its own tasks).
    pub fn shared_engine(&self) -> Arc<Engine> {
        let clock: Arc<dyn Clock> = match &self.live {
            Some(l) => l.clone(),
            None => self.clock.clone(),
        };
        Arc::new(
            Engine::new(
                self.engine.db().clone(),
                Arc::new(self.engine.settings().clone()),
                clock,
            )
            .expect("engine"),
        )
    }
}

pub fn test_settings_with(
    db_url: &str,
    data_dir: &std::path::Path,
    overrides: &[(&str, figment::value::Value)],
) -> Settings {
    let mut figment = Figment::new()
        .merge(Toml::string(include_str!(
            "../../../../config/default.toml"
        )))
        .merge(Serialized::default("database.url", db_url))
        .merge(Serialized::default(
            "app.data_dir",
            data_dir.display().to_string(),
        ));
    for (key, value) in overrides {
        figment = figment.merge(Serialized::default(key, value));
    }
    Settings::from_figment(figment).expect("test settings")
}

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `async fn name(app: &TestApp)` on SQLite and on PostgreSQL, as `name::sqlite` and
/// `name::postgres`, each on a fresh database.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::support::TestApp::start(mentorops_core::db::Backend::Sqlite).await {
                    super::$name(&app).await;
                    app.finish().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::support::TestApp::start(mentorops_core::db::Backend::Postgres).await {
                    super::$name(&app).await;
                    app.finish().await;
                }
            }
        }
        )+
    };
}
