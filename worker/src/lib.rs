//! mentorops-worker: delivers what the outbox holds. Email goes through lettre's SMTP
//! transport (retries with backoff on 4xx and connection trouble, none on 5xx), or to `.eml`
//! files when no SMTP server is configured (the embedded default, SPEC §10). The apalis
//! queue, cron and the reconciler are the next step and plug in here.

pub mod delivery;
pub mod mail;

pub use delivery::{Delivered, deliver_due_emails};
pub use mail::Mailer;
