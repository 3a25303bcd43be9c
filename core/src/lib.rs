//! mentorops-core: the domain of a mentoring program run from chat — users, personas and their
//! statuses (docs/domain.md#statuses), organizations and programs, staff roles and permissions, the
//! command registry and its handlers, the audit log, the outbox — and its storage on SQLite or
//! PostgreSQL. No chat SDK, queue or SMTP client lives here: front-ends translate into
//! [`command::Engine`] calls, and the worker delivers what the outbox holds.
//!
//! Layers, each using only those below it: `store` (the only SQL) ← `domain` (the workflows,
//! on one unit of work) ← `command` (declared commands, the engine, the handlers) ← `timers`,
//! `bootstrap`. Modules that do I/O: `db` and `store` (SQL), `settings` (reads config files),
//! and the layers above `store`. The rest is pure.

/// `pub const CODES: [&str; N]`: the codes of an enum's `ALL`, in order, from its `const fn
/// code`, so the choices front-ends offer are read from the enum that defines them.
macro_rules! codes_of_all {
    ($n:literal) => {
        /// Every code, in [`Self::ALL`]'s order: what front-ends offer as choices.
        pub const CODES: [&'static str; $n] = {
            let mut out = [""; $n];
            let mut i = 0;
            while i < $n {
                out[i] = Self::ALL[i].code();
                i += 1;
            }
            out
        };
    };
}

pub mod assignment;
pub mod bootstrap;
pub mod chart;
pub mod clock;
pub mod command;
pub mod csv_safe;
pub mod db;
pub mod domain;
pub mod error;
pub mod ics;
pub mod messages;
pub mod program;
pub mod questionnaire;
pub mod quiet;
pub mod reply;
pub mod rng;
pub mod roles;
pub mod settings;
pub mod status;
pub mod store;
pub mod text;
pub mod timers;
pub mod values;

pub use error::{Error, Result};
