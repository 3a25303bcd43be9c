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

/// Exponential backoff with jitter: about 30 s, 1 min, 2 min … capped at 1 h, ±20 %, so a
/// server that is down is not hammered and many rows do not retry in lockstep.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let base = 30i64
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

/// Delivers every due email; returns what happened to each.
pub async fn deliver_due_emails(
    db: &Db,
    mailer: &Mailer,
    from: &str,
    now: DateTime<Utc>,
) -> mentorops_core::Result<Vec<Delivered>> {
    let mut conn = db.pool().acquire().await?;
    let due = outbox::due(&mut conn, outbox::EMAIL, now, 500).await?;
    let mut done = Vec::new();
    for row in due {
        // Checked again at delivery: nothing goes to someone deactivated or deleted since.
        if let Some(reason) = outbox::undeliverable(&mut conn, &row).await? {
            outbox::mark_failed(&mut conn, row.id, reason).await?;
            done.push(Delivered {
                outbox_id: row.id,
                recipient: row.recipient,
                subject: row.subject,
                file: None,
                refused: Some("recipient deactivated".into()),
            });
            continue;
        }
        let result = match mail::build(&row, from) {
            Ok(message) => mailer.deliver(&message, &row).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(file) => {
                outbox::mark_sent(&mut conn, row.id, now).await?;
                done.push(Delivered {
                    outbox_id: row.id,
                    recipient: row.recipient,
                    subject: row.subject,
                    file,
                    refused: None,
                });
            }
            Err(MailError::Permanent(reason)) => {
                outbox::mark_failed(&mut conn, row.id, &reason).await?;
                done.push(Delivered {
                    outbox_id: row.id,
                    recipient: row.recipient,
                    subject: row.subject,
                    file: None,
                    refused: Some(reason),
                });
            }
            Err(e) => {
                let attempts = row.attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    let reason = format!("gave up after {attempts} attempts: {e}");
                    outbox::mark_failed(&mut conn, row.id, &reason).await?;
                    done.push(Delivered {
                        outbox_id: row.id,
                        recipient: row.recipient,
                        subject: row.subject,
                        file: None,
                        refused: Some(reason),
                    });
                } else {
                    let next = now + backoff(attempts);
                    warn!(outbox_id = row.id, attempts, error = %e, retry_at = %next, "email not delivered yet");
                    outbox::mark_retry(&mut conn, row.id, next, &e.to_string()).await?;
                }
            }
        }
    }
    Ok(done)
}
