//! The connection pool and the migrations, for SQLite and PostgreSQL behind sqlx's Any driver.
//!
//! Why Any: one SQL text serves both backends (placeholders `$1…` work on both; times are
//! BIGINT milliseconds), so every repository query is written once and the same tests run on
//! both. The two schemas live in `migrations/sqlite` and `migrations/postgres` with the same
//! version numbers.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

/// The app's migration table. apalis-sqlite keeps its own migrations in `_sqlx_migrations`
/// (STACK.md trap 7): a table of our own keeps the two from refusing each other's history.
pub const MIGRATIONS_TABLE: &str = "mentorops_migrations";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `sqlite://…` or `postgres://…`; for SQLite the file's folder is created.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::input(
                "database URL must start with sqlite:// or postgres://",
            ));
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent(url)?;
        }
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| Error::Internal(format!("database URL: {e}")))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers go on while a command writes; the busy timeout makes a
                        // second writer wait instead of failing at once.
                        conn.execute("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    pub fn migrator(backend: Backend) -> Migrator {
        let mut m = match backend {
            Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
        };
        m.dangerous_set_table_name(MIGRATIONS_TABLE);
        m
    }

    pub async fn migrate(&self) -> Result<()> {
        Self::migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// Begins a command's transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): two commands never both read and then fight to write, they queue
    /// (for up to the busy timeout). PostgreSQL's row locks and compare-and-swap updates do
    /// the same job there.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
    pub fn backend(&self) -> Backend {
        self.backend
    }
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_sqlite_parent(url: &str) -> Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(())
}
