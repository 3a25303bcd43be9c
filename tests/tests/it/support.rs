//! The test harness: a real engine on a fresh database per test — a temporary SQLite file, or
//! a new database on the machine's PostgreSQL — with a clock the test moves by hand.

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
use mentorops_core::store;
use sqlx::{Connection, Executor, Row};

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
        Self::start_with(backend, overrides, true).await
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

    pub async fn user_id(&self, email: &str) -> i64 {
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::by_email(&mut c, email)
            .await
            .expect("query")
            .map(|u| u.id)
            .unwrap_or_else(|| panic!("no user {email}"))
    }

    pub async fn user(&self, email: &str) -> store::users::User {
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::by_email(&mut c, email)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("no user {email}"))
    }

    pub async fn personas(&self, email: &str) -> Vec<store::users::Persona> {
        let id = self.user_id(email).await;
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::personas_of(&mut c, id).await.expect("query")
    }

    /// A count from any SQL that returns one number column `n`.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let row = sqlx::query(sql)
            .fetch_one(self.engine.db().pool())
            .await
            .expect("count");
        row.try_get::<i64, _>("n").expect("n")
    }

    /// Every table and column of the schema (the app's own tables).
    pub async fn columns(&self) -> Vec<(String, String)> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY 1, 2"
            }
        };
        let rows = sqlx::query(sql)
            .fetch_all(self.engine.db().pool())
            .await
            .expect("columns");
        rows.iter()
            .map(|r| (r.try_get("t").expect("t"), r.try_get("c").expect("c")))
            .collect()
    }

    /// The tables and columns where `needle` appears anywhere in the database.
    pub async fn places_holding(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (t, c) in self.columns().await {
            let sql =
                format!("SELECT COUNT(*) AS n FROM {t} WHERE lower(CAST({c} AS TEXT)) LIKE $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(format!("%{}%", needle.to_lowercase()))
                .fetch_one(self.engine.db().pool())
                .await
                .expect("scan");
            if row.try_get::<i64, _>("n").expect("n") > 0 {
                found.push(format!("{t}.{c}"));
            }
        }
        found
    }

    /// A gate for race tests: a transaction holding the write locks the racers will need, so
    /// they all read first and then collide on their writes when `open_gate` lets them go.
    /// PostgreSQL: row locks on these personas and offers. SQLite: the database write lock.
    pub async fn close_gate(
        &self,
        persona_ids: &[i64],
        offer_ids: &[i64],
    ) -> sqlx::Transaction<'static, sqlx::Any> {
        let mut tx = self.engine.db().begin().await.expect("gate");
        if self.backend == Backend::Postgres {
            let list = |ids: &[i64]| {
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !persona_ids.is_empty() {
                let sql = format!(
                    "SELECT id FROM personas WHERE id IN ({}) FOR UPDATE",
                    list(persona_ids)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock personas");
            }
            if !offer_ids.is_empty() {
                let sql = format!(
                    "SELECT id FROM offers WHERE id IN ({}) FOR UPDATE",
                    list(offer_ids)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock offers");
            }
        }
        tx
    }

    /// Lets the racers go after they have had time to reach the gate.
    pub async fn open_gate(tx: sqlx::Transaction<'static, sqlx::Any>) {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        tx.rollback().await.expect("open gate");
    }

    /// The first email of this kind queued for `email`.
    pub async fn email_row(&self, email: &str, kind: &str) -> store::outbox::Message {
        let id = self.user_id(email).await;
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::outbox::by_recipient(&mut c, id)
            .await
            .expect("outbox")
            .into_iter()
            .find(|m| m.kind == kind && m.channel == "email")
            .expect("email row")
    }

    /// The link code in the newest welcome email to `email`.
    pub async fn code_for(&self, email: &str) -> String {
        let id = self.user_id(email).await;
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        let msgs = store::outbox::by_recipient(&mut c, id)
            .await
            .expect("outbox");
        let body = msgs
            .iter()
            .rev()
            .find(|m| m.kind == "welcome")
            .map(|m| m.body_text.clone())
            .expect("welcome email");
        body.split("/link ")
            .nth(1)
            .map(|s| s.chars().take(8).collect())
            .expect("code in email")
    }

    /// Adds a mentor or mentee to Spring who answers the questionnaire (`answers`, one per
    /// question, as typed to /apply), is made A and RTBM, and links the chat account `chat`.
    pub async fn ready_person(
        &self,
        name: &str,
        email: &str,
        phone: &str,
        role: &str,
        answers: &[&str],
        chat: &str,
    ) -> Caller {
        self.admin(&format!(
            "/user_add \"{name}\" {email} {phone} {role} program:Spring"
        ))
        .await;
        let code = self.code_for(email).await;
        let caller = self.chat(chat);
        assert!(self.run(&caller, &format!("/link {code}")).await.is_ok());
        for a in answers {
            let r = self
                .run(
                    &caller,
                    &format!("/apply {}", mentorops_core::command::quote(a)),
                )
                .await;
            assert!(r.is_ok(), "{email} /apply {a}: {r:?}");
        }
        self.admin(&format!("/status {email} A")).await;
        self.admin(&format!("/match_status {email} RTBM")).await;
        caller
    }

    /// A program "Spring" in org "Acme", with a program manager and coordinator for it.
    pub async fn with_program(&self) {
        self.admin("/org_add Acme").await;
        self.admin("/program_add Acme Spring").await;
        self.admin(
            "/staff_add \"Paula Pm\" pm@example.org +14155550101 program_manager program:Spring",
        )
        .await;
        self.admin(
            "/staff_add \"Sara Sc\" sc@example.org +14155550102 success_coordinator program:Spring",
        )
        .await;
    }
}

pub fn test_settings_with(
    db_url: &str,
    data_dir: &std::path::Path,
    overrides: &[(&str, figment::value::Value)],
) -> Settings {
    let mut figment = Figment::new()
        .merge(Toml::string(include_str!("../../../config/default.toml")))
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

impl TestApp {
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

impl TestApp {
    /// `n` active people, each linked to the Telegram chat `first_chat + i` (emails
    /// `p{i}@{domain}`, phones from `first_phone`), written straight to the store; each
    /// person's (user id, chat id).
    pub async fn linked_telegram_people(
        &self,
        n: i64,
        first_chat: i64,
        domain: &str,
        first_phone: i64,
    ) -> Vec<(i64, i64)> {
        use mentorops_core::values::{Email, ExternalId, FullName, Phone};
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        let now = self.engine.now();
        let mut out = Vec::new();
        for i in 0..n {
            let email = Email::parse(&format!("p{i}@{domain}")).expect("email");
            let phone =
                Phone::parse(&format!("+55119{:08}", first_phone + i), None).expect("phone");
            let name = FullName::parse(&format!("Person {i}")).expect("name");
            let user = store::users::NewUser {
                email: &email,
                phone: &phone,
                external_id: &ExternalId::from_phone(&phone),
                full_name: &name,
                status: mentorops_core::status::UserStatus::Active,
                org_id: None,
            };
            let uid = store::users::insert_user(&mut c, &user, now)
                .await
                .expect("user");
            let chat = first_chat + i;
            store::links::insert_link(&mut c, "telegram", &chat.to_string(), None, uid, now)
                .await
                .expect("link");
            out.push((uid, chat));
        }
        out
    }

    /// Queues a Telegram message to a person's chat, as a change would; its outbox id.
    pub async fn queue_telegram(&self, user: i64, chat: i64, text: &str, key: &str) -> i64 {
        let m = store::outbox::NewMessage {
            channel: store::outbox::chat_channel("telegram"),
            kind: "test",
            recipient_user_id: Some(user),
            recipient: chat.to_string(),
            subject: String::new(),
            body_text: text.into(),
            body_html: None,
            buttons: Vec::new(),
            idempotency_key: key.into(),
        };
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::outbox::insert(&mut c, &m, self.engine.now())
            .await
            .expect("insert")
            .expect("a new row")
    }
}
