//! mentorops-worker: delivers what the outbox holds. For now email is written as `.eml` files
//! (the embedded default, SPEC §10); SMTP, the apalis queue, timers and cron come with the
//! worker milestone and plug in here.

pub mod delivery;
pub mod mail;

pub use delivery::{Delivered, deliver_due_emails};
pub use mail::Mailer;
