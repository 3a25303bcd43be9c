//! Turning an outbox row into an email and handing it to a transport.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use lettre::Message;
use lettre::message::{Mailbox, MultiPart, header};
use mentorops_core::settings::Settings;
use mentorops_core::store::outbox;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The row cannot become an email (bad address): retrying will not help.
    #[error("cannot build the email: {0}")]
    Permanent(String),
    /// Writing or sending failed; a later attempt may succeed.
    #[error("cannot deliver the email now: {0}")]
    Transient(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// Where emails go.
#[derive(Debug, Clone)]
pub enum Mailer {
    /// Each email becomes `<dir>/<outbox id>-<kind>.eml` (no SMTP configured).
    Files(PathBuf),
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        if settings.smtp.url.is_some() {
            return Err(MailError::Config(
                "smtp.url (MENTOROPS__SMTP__URL) is set, but SMTP delivery arrives with the worker milestone; \
                 unset it to write emails as .eml files under data/mail"
                    .into(),
            ));
        }
        Ok(Self::Files(settings.app.data_dir.join("mail")))
    }

    /// Delivers one email; the same row delivered twice gives the same file (idempotent).
    pub async fn deliver(
        &self,
        message: &Message,
        row: &outbox::Message,
    ) -> Result<Option<PathBuf>, MailError> {
        match self {
            Self::Files(dir) => write_eml(dir, message, row).await.map(Some),
        }
    }
}

async fn write_eml(
    dir: &Path,
    message: &Message,
    row: &outbox::Message,
) -> Result<PathBuf, MailError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| MailError::Transient(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("{:06}-{}.eml", row.id, row.kind));
    // Write beside, then rename: a reader never sees half a file.
    let tmp = dir.join(format!(".{:06}.tmp", row.id));
    tokio::fs::write(&tmp, message.formatted())
        .await
        .map_err(|e| MailError::Transient(format!("cannot write {}: {e}", tmp.display())))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(|e| MailError::Transient(format!("cannot rename to {}: {e}", path.display())))?;
    Ok(path)
}

/// Builds the email of an outbox row: plain text and HTML, a Message-ID derived from the row
/// (stable across retries, so receivers can drop duplicates), dated when it was queued.
pub fn build(row: &outbox::Message, from: &str) -> Result<Message, MailError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| MailError::Permanent(format!("smtp.from '{from}': {e}")))?;
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| MailError::Permanent(format!("recipient '{}': {e}", row.recipient)))?;
    let domain = from.email.domain().to_string();
    let millis = u64::try_from(row.created_at.timestamp_millis()).unwrap_or_default();
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!(
            "<{}.{}@{domain}>",
            row.id,
            message_id_part(&row.idempotency_key)
        )))
        .date(UNIX_EPOCH + Duration::from_millis(millis))
        .header(header::MIME_VERSION_1_0);
    let html = row
        .body_html
        .clone()
        .unwrap_or_else(|| format!("<pre>{}</pre>", row.body_text));
    builder
        .multipart(MultiPart::alternative_plain_html(
            row.body_text.clone(),
            html,
        ))
        .map_err(|e| MailError::Permanent(e.to_string()))
}

/// The idempotency key as a Message-ID part: letters, digits and dashes only.
fn message_id_part(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
