//! Draining the outbox: due email rows are built, delivered and marked sent, one at a time.
//! A row is marked sent only after the transport took it, so a crash in between delivers it
//! again (at least once); the file transport and the Message-ID make that repeat harmless.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mentorops_core::db::Db;
use mentorops_core::store::outbox;
use rand::Rng;
use tracing::warn;

use crate::mail::{self, MailError, Mailer};

/// After this many failed attempts a message is marked failed for staff to see.
pub const MAX_ATTEMPTS: i64 = 8;

/// How long one delivery attempt holds its row: longer than the SMTP timeout (30 s).
const SEND_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// Exponential backoff with jitter: about 30 s, 1 min, 2 min … capped at 1 h, ±20 %, so a
/// server that is down is not hammered and many rows do not retry in lockstep.
pub fn backoff(attempts: i64) -> chrono::Duration {
    backoff_from(30, attempts)
}

/// The same from another first delay (`smtp.retry_base_secs`).
pub fn backoff_from(base_secs: u64, attempts: i64) -> chrono::Duration {
    let first = i64::try_from(base_secs).unwrap_or(30).max(1);
    let base = first
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(3600);
    let jitter = rand::rng().random_range(-(base / 5)..=base / 5);
    chrono::Duration::seconds(base + jitter)
}

/// One delivered (or refused) email, for the console to show.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub outbox_id: i64,
    pub recipient: String,
    pub subject: String,
    pub file: Option<PathBuf>,
    pub refused: Option<String>,
}

/// What one attempt at one row came to.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// Delivered, or refused for good (see `refused`).
    Done(Delivered),
    /// Not delivered yet: tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Not pending any more (sent or failed meanwhile, or gone).
    NotPending,
}

/// Delivers every due email; returns what happened to each. A failure for now is retried
/// `retry_base_secs` later, doubling each time.
pub async fn deliver_due_emails(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    now: DateTime<Utc>,
    retry_base_secs: u64,
) -> mentorops_core::Result<Vec<Delivered>> {
    let mut conn = db.pool().acquire().await?;
    let due = outbox::due(&mut conn, outbox::EMAIL, now, 500).await?;
    drop(conn);
    let mut done = Vec::new();
    for row in due {
        if let Attempt::Done(d) = attempt(db, mailer, from, row, now, retry_base_secs).await? {
            done.push(d);
        }
    }
    Ok(done)
}

/// Delivers one email row by id (the worker's job), if it is still pending; a failure for now
/// is retried `retry_base_secs` later, doubling each time.
pub async fn deliver_email(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    outbox_id: i64,
    now: DateTime<Utc>,
    retry_base_secs: u64,
) -> mentorops_core::Result<Attempt> {
    let mut conn = db.pool().acquire().await?;
    let row = outbox::get(&mut conn, outbox_id).await?;
    drop(conn);
    match row {
        Some(row) if row.status == "pending" && row.channel == outbox::EMAIL => {
            attempt(db, mailer, from, row, now, retry_base_secs).await
        }
        _ => Ok(Attempt::NotPending),
    }
}

async fn attempt(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    row: outbox::Message,
    now: DateTime<Utc>,
    retry_base_secs: u64,
) -> mentorops_core::Result<Attempt> {
    let mut conn = db.pool().acquire().await?;
    let done = |row: &outbox::Message, file, refused| {
        Attempt::Done(Delivered {
            outbox_id: row.id,
            recipient: row.recipient.clone(),
            subject: row.subject.clone(),
            file,
            refused,
        })
    };
    // Checked again at delivery: nothing goes to someone deactivated or deleted since.
    if let Some(reason) = outbox::undeliverable(&mut conn, &row).await? {
        outbox::mark_failed(&mut conn, row.id, reason).await?;
        return Ok(done(&row, None, Some(reason.into())));
    }
    // One attempt at a time per row: another job for it (a reconciler re-queue, a retry)
    // finds it claimed and leaves it, so nobody gets the same email twice from us.
    if !outbox::claim(&mut conn, row.id, now, SEND_LEASE).await? {
        return Ok(Attempt::NotPending);
    }
    // Its files (a session's calendar invitation), read before the connection goes back.
    let files = outbox::files(&mut conn, row.id).await?;
    // The connection goes back to the pool while the SMTP server is talked to.
    drop(conn);
    let result = match mail::build(&row, &files, from) {
        Ok(message) => mailer.deliver(&message, &row).await,
        Err(e) => Err(e),
    };
    let mut conn = db.pool().acquire().await?;
    match result {
        Ok(file) => {
            outbox::mark_sent(&mut conn, row.id, now).await?;
            Ok(done(&row, file, None))
        }
        Err(MailError::Permanent(reason)) => {
            outbox::mark_failed(&mut conn, row.id, &reason).await?;
            Ok(done(&row, None, Some(reason)))
        }
        Err(e) => {
            let attempts = row.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                let reason = format!("gave up after {attempts} attempts: {e}");
                outbox::mark_failed(&mut conn, row.id, &reason).await?;
                Ok(done(&row, None, Some(reason)))
            } else {
                // The first retry waits the base delay, each further one twice as long.
                let next = now + backoff_from(retry_base_secs, row.attempts);
                warn!(outbox_id = row.id, attempts, error = %e, retry_at = %next, "email not delivered yet");
                outbox::mark_retry(&mut conn, row.id, next, &e.to_string()).await?;
                Ok(Attempt::RetryAt(next))
            }
        }
    }
}
