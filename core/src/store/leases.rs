//! Leases: which process holds a connection only one process may hold at a time (Telegram long
//! polling, the Discord gateway). A lease is held until `expires_at` and renewed by its holder
//! while it lives; once it runs out, any process may take it.

use chrono::{DateTime, Utc};

use super::{Conn, ms};
use crate::error::Result;

/// Takes `name` for `holder` until `now + ttl` when it is free, expired or already
/// `holder`'s (a renewal); false when another process holds it.
pub async fn acquire(
    c: &mut Conn,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
    )
    .bind(name)
    .bind(holder)
    .bind(ms(now + ttl))
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives `name` up at once (a clean stop), so another process need not wait for it to expire.
pub async fn release(c: &mut Conn, name: &str, holder: &str) -> Result<()> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Who holds `name` now, if anyone.
pub async fn holder(c: &mut Conn, name: &str, now: DateTime<Utc>) -> Result<Option<String>> {
    use sqlx::Row;
    let row = sqlx::query("SELECT holder FROM leases WHERE name = $1 AND expires_at > $2")
        .bind(name)
        .bind(ms(now))
        .fetch_optional(&mut *c)
        .await?;
    row.map(|r| Ok(r.try_get("holder")?)).transpose()
}
