//! mentorops-worker: turns the domain's timers and outbox into delivered messages
//! (docs/operations.md#queue, docs/operations.md#email). Jobs run on apalis 1.0 — Redis for several
//! replicas, SQLite for one machine — fed from SQL, the source of truth (`feed`); cron queues the
//! inactivity sweep, the staff digest and the reconciler. Email goes through lettre's SMTP
//! transport (retries with backoff on 4xx and connection trouble, none on 5xx), or to `.eml` files
//! when no SMTP server is configured.

pub mod context;
pub mod delivery;
pub mod feed;
pub mod handler;
pub mod health;
pub mod jobs;
pub mod mail;
pub mod queue;
pub mod runtime;

pub use delivery::{Delivered, deliver_due_emails};
pub use jobs::Job;
pub use mail::Mailer;
pub use queue::Queue;
pub use runtime::{Worker, process_name};
