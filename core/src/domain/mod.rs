//! The workflows of a mentoring program (docs/domain.md), under the command layer: people and
//! their statuses, recommendations, the offer cascade, matches, sessions and inactivity. Each
//! works on a [`Work`] (one transaction, the clock, the actor, the audit log and the outbox) and
//! knows nothing of commands, arguments or chat: handlers translate arguments and call these;
//! the worker's timers call these too, never a handler.
//!
//! Modules depend one way: `work` ← `show`, `people` ← `recommend` ← `offers` ← `matches` ←
//! `statuses`; `availability` (a mentor's pause and places) uses `recommend`, `offers` and
//! `people`; `sessions` and `inactivity` use `people` and `show`; `edits` (editing a person,
//! nudging them) uses `people`.

pub mod availability;
pub mod edits;
pub mod inactivity;
pub mod matches;
pub mod offers;
pub mod people;
pub mod prompts;
pub mod recommend;
pub mod sessions;
pub mod show;
pub mod statuses;
pub mod unpaired;
pub mod work;

pub use work::{Actor, Audit, Frontend, Work};
