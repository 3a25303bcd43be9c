//! Draining the outbox: due email rows are built, delivered and marked sent, one at a time.
//! A row is marked sent only after the transport took it, so a crash in between delivers it
//! again (at least once); the file transport and the Message-ID make that repeat harmless.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mentorops_core::db::Db;
use mentorops_core::store::{self, outbox};
use tracing::warn;

use crate::mail::{self, MailError, Mailer};

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
        let recipient_ok = match row.recipient_user_id {
            Some(uid) => store::users::user(&mut conn, uid)
                .await?
                .is_some_and(|u| !u.status.is_deactivated()),
            None => true,
        };
        if !recipient_ok {
            outbox::mark_failed(
                &mut conn,
                row.id,
                "recipient deactivated or deleted before delivery",
            )
            .await?;
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
                // Left pending: the next pass tries again.
                warn!(outbox_id = row.id, error = %e, "email not delivered yet");
            }
        }
    }
    Ok(done)
}
