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

/// The app's migration table. apalis-sqlite keeps its own migrations in `_sqlx_migrations` (apalis
/// trap 7, docs/operations.md#trap-migrations-table): a table of our own keeps the two from
/// refusing each other's history.
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
    /// PostgreSQL on loopback goes without TLS unless the URL asks for it
    /// ([`plain_on_loopback`]).
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
        // On loopback with no TLS setting, first without TLS (see `plain_on_loopback`); if the
        // server's pg_hba.conf wants TLS there too, as sqlx would have done it (`prefer`).
        let pool = match plain_on_loopback(url) {
            Some(plain) => match open_pool(&plain, backend, max_connections).await {
                Err(e) if refused_without_tls(&e) => {
                    tracing::info!("PostgreSQL refused a plain connection on loopback: using TLS");
                    open_pool(url, backend, max_connections).await?
                }
                other => other?,
            },
            None => open_pool(url, backend, max_connections).await?,
        };
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

/// A pool on `url`; it has opened one connection when it returns, so a refusal shows here.
async fn open_pool(
    url: &str,
    backend: Backend,
    max_connections: u32,
) -> std::result::Result<AnyPool, sqlx::Error> {
    let options = AnyConnectOptions::from_str(url)
        .map_err(|e| sqlx::Error::Configuration(format!("database URL: {e}").into()))?;
    AnyPoolOptions::new()
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
        .await
}

/// `url` with `sslmode=disable` when it names PostgreSQL on loopback (`localhost`, 127.0.0.0/8,
/// `::1`) and sets nothing about TLS (no `ssl*` or `host` parameter, no `PGSSL*` variable);
/// otherwise `None` and `url` is used as it is.
///
/// Why: sqlx's default is `prefer`, so on a server with `ssl = on` every connection did a TLS
/// handshake, and sqlx 0.9.0 leaves Nagle's algorithm on (no TCP_NODELAY; 0.8 set it, 0.9.0
/// dropped it, upstream sqlx#4335): each handshake held a small write for the server's delayed
/// ACK twice (rustls' ChangeCipherSpec + second ClientHello after PostgreSQL's
/// HelloRetryRequest — PostgreSQL before 18 only does P-256 — and then the Finished + the
/// StartupMessage), ~90 ms a connection instead of ~3 ms. On loopback TLS guards nothing, so
/// the unstated default goes without it; a URL that asks (`sslmode=prefer`, `require`,
/// `verify-*`, `sslrootcert`…) gets TLS as it says, and a server that refuses plain loopback
/// connections (`hostssl` only in pg_hba.conf) gets them too (`Db::connect` retries with `url`).
pub fn plain_on_loopback(url: &str) -> Option<String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    if std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("PGSSL")) {
        return None;
    }
    let mut parsed = url::Url::parse(url).ok()?;
    let loopback = match parsed.host()? {
        // A `postgres:` URL's host is opaque to `url`: "127.0.0.1" comes as a domain.
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let says_where_or_tls = parsed.query_pairs().any(|(k, _)| {
        let k = k.to_ascii_lowercase();
        k.starts_with("ssl") || k == "host" || k == "hostaddr"
    });
    if !loopback || says_where_or_tls {
        return None;
    }
    parsed.query_pairs_mut().append_pair("sslmode", "disable");
    Some(parsed.into())
}

/// PostgreSQL refused the login (`28000`: e.g. "no pg_hba.conf entry … no encryption").
fn refused_without_tls(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("28000"))
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

#[cfg(test)]
mod tests {
    use super::plain_on_loopback;

    #[test]
    fn loopback_without_a_tls_setting_goes_plain() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@localhost/test?application_name=x",
            "postgres://u@[::1]:5433/test",
            "postgres://u@127.1.2.3/test",
        ] {
            let plain = plain_on_loopback(url).unwrap_or_default();
            assert!(plain.ends_with("sslmode=disable"), "{url} -> {plain}");
            assert!(plain.starts_with(url), "{url} -> {plain}");
        }
        for url in [
            "postgres://postgres@127.0.0.1:5432/test?sslmode=prefer",
            "postgres://postgres@127.0.0.1:5432/test?sslmode=require",
            "postgres://postgres@localhost/test?sslrootcert=/ca.pem",
            "postgres://postgres@localhost/test?host=/var/run/postgresql",
            "postgres://postgres@db.example.org/test",
            "postgres://postgres@10.0.0.5/test",
            "sqlite://data/x.db",
        ] {
            assert_eq!(plain_on_loopback(url), None, "{url}");
        }
    }
}
