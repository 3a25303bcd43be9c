//! Turning an outbox row into an email and handing it to a transport.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, header};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mentorops_core::reply::Attachment;
use mentorops_core::settings::Settings;
use mentorops_core::store::outbox;
use secrecy::ExposeSecret;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The row cannot become an email (bad address), or the server refused it for good
    /// (5xx): retrying will not help.
    #[error("refused for good: {0}")]
    Permanent(String),
    /// Writing or sending failed; a later attempt may succeed.
    #[error("cannot deliver the email now: {0}")]
    Transient(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// Where emails go.
#[derive(Clone)]
pub enum Mailer {
    /// Each email becomes `<dir>/<outbox id>-<kind>.eml` (no SMTP configured).
    Files(PathBuf),
    /// An SMTP server, through lettre's async transport with a connection pool. TLS, port and
    /// credentials come from the URL (`smtp://` with STARTTLS when offered… see lettre's
    /// `from_url`: `smtps://` for implicit TLS, `?tls=required` to insist on STARTTLS).
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    // The transport holds the SMTP password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Files(dir) => write!(f, "Files({})", dir.display()),
            Self::Smtp(_) => f.write_str("Smtp(..)"),
        }
    }
}

impl Mailer {
    /// The mailer of the settings. `smtp.from` is checked here, once, where lettre is at hand:
    /// a bad one would otherwise only show as every email refused for good.
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        sender(&settings.smtp.from)?;
        match &settings.smtp.url {
            Some(url) => Self::smtp(url.expose_secret()),
            None => Ok(Self::Files(settings.app.data_dir.join("mail"))),
        }
    }

    /// An SMTP mailer for `smtp://…` or `smtps://…` (lettre's URL form).
    pub fn smtp(url: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // The error text may echo the URL, password included: say only what is wrong.
            .map_err(|_| {
                MailError::Config(
                    "smtp.url (MENTOROPS__SMTP__URL) is not a valid smtp:// or smtps:// URL".into(),
                )
            })?
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(PoolConfig::new().max_size(4))
            .build();
        Ok(Self::Smtp(transport))
    }

    /// Delivers one email; the same row delivered twice gives the same file (idempotent).
    pub async fn deliver(
        &self,
        message: &Message,
        row: &outbox::Message,
    ) -> Result<Option<PathBuf>, MailError> {
        match self {
            Self::Files(dir) => write_eml(dir, message, row).await.map(Some),
            Self::Smtp(transport) => match transport.send(message.clone()).await {
                Ok(_) => Ok(None),
                // 5xx: the server will not take it, now or later.
                Err(e) if e.is_permanent() => Err(MailError::Permanent(smtp_reason(&e))),
                // 4xx, connection and TLS trouble, timeouts: try again later.
                Err(e) => Err(MailError::Transient(smtp_reason(&e))),
            },
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

/// `smtp.from` as lettre's mailbox.
pub fn sender(from: &str) -> Result<Mailbox, MailError> {
    from.parse().map_err(|e| {
        MailError::Config(format!(
            "smtp.from (MENTOROPS__SMTP__FROM) must be an address like \"mentorops <noreply@example.org>\", not '{from}' ({e})"
        ))
    })
}

/// Builds the email of an outbox row: plain text and HTML, a Message-ID derived from the row
/// (stable across retries, so receivers can drop duplicates), dated when it was queued, and
/// the row's files (`outbox::files`) attached, each with its media type as stored — a session's
/// calendar invitation is `text/calendar; method=REQUEST; charset=UTF-8` (or `CANCEL`), which
/// mail clients read to offer adding or removing the event (RFC 6047, docs/domain.md#sessions).
pub fn build(
    row: &outbox::Message,
    files: &[Attachment],
    from: &str,
) -> Result<Message, MailError> {
    // Checked at start (`Mailer::from_settings`); callers handing another one in still get
    // the row refused rather than a panic.
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
    let body = MultiPart::alternative_plain_html(row.body_text.clone(), html);
    let body = if files.is_empty() {
        body
    } else {
        // multipart/mixed: the text and HTML as one alternative, then each file.
        let mut mixed = MultiPart::mixed().multipart(body);
        for f in files {
            // A media type we wrote ourselves; one that does not parse is a row that can
            // never be sent as it is, so it is refused for good rather than retried.
            let kind = ContentType::parse(&f.media_type).map_err(|e| {
                MailError::Permanent(format!(
                    "attachment {} has a bad media type '{}': {e}",
                    f.file_name, f.media_type
                ))
            })?;
            // Base64 carries the file's bytes as they are — a calendar file's CRLF line ends
            // and folding included — whatever a relay does to line ends and long lines.
            let bytes = Body::new_with_encoding(f.bytes.clone(), ContentTransferEncoding::Base64)
                .map_err(|_| {
                MailError::Permanent(format!("attachment {} cannot be encoded", f.file_name))
            })?;
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(f.file_name.clone()).body(bytes, kind),
            );
        }
        mixed
    };
    builder
        .multipart(body)
        .map_err(|e| MailError::Permanent(e.to_string()))
}

/// The idempotency key as a Message-ID part: letters, digits and dashes only.
fn message_id_part(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The server's answer, as staff will read it in `/deliveries`.
fn smtp_reason(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}: {e}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn row() -> outbox::Message {
        outbox::Message {
            id: 7,
            created_at: chrono::DateTime::UNIX_EPOCH,
            channel: outbox::EMAIL.into(),
            kind: "session_booked".into(),
            recipient_user_id: Some(3),
            recipient: "ana@example.org".into(),
            subject: "Session".into(),
            body_text: "Booked.".into(),
            body_html: None,
            buttons: Vec::new(),
            idempotency_key: "session:1:booked:3".into(),
            status: "pending".into(),
            attempts: 0,
            last_error: None,
            sent_at: None,
            target: None,
            parts_sent: 0,
            available_at: chrono::DateTime::UNIX_EPOCH,
            sent_as: None,
            edits: None,
            not_before: None,
        }
    }

    #[test]
    fn a_row_with_a_calendar_file_becomes_a_mixed_message_with_a_text_calendar_part() -> TestResult
    {
        let invite = Attachment {
            file_name: "invite.ics".into(),
            media_type: "text/calendar; method=REQUEST; charset=UTF-8".into(),
            bytes: b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_vec(),
        };
        let with = String::from_utf8(build(&row(), &[invite], "m <m@example.org>")?.formatted())?;
        assert!(with.contains("Content-Type: multipart/mixed"), "{with}");
        assert!(
            with.contains("Content-Type: multipart/alternative"),
            "{with}"
        );
        assert!(
            with.to_ascii_lowercase()
                .contains("content-type: text/calendar; method=request; charset=utf-8"),
            "{with}"
        );
        assert!(with.contains("filename=\"invite.ics\""), "{with}");
        // The file's bytes as they are: base64, whatever they hold.
        assert!(
            with.contains("Content-Transfer-Encoding: base64")
                && with.contains("QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo="),
            "{with}"
        );
        let without = String::from_utf8(build(&row(), &[], "m <m@example.org>")?.formatted())?;
        assert!(
            !without.contains("multipart/mixed") && without.contains("multipart/alternative"),
            "{without}"
        );
        let bad = Attachment {
            file_name: "x".into(),
            media_type: "not a type".into(),
            bytes: Vec::new(),
        };
        assert!(matches!(
            build(&row(), &[bad], "m <m@example.org>"),
            Err(MailError::Permanent(_))
        ));
        Ok(())
    }
}
