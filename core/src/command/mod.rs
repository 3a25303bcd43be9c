//! The command layer every front-end shares: each command declared once with typed arguments
//! (`declare`, `spec`, `args`), the registry of them, the parser (text → invocation), the
//! engine (who asks, the permission table, one transaction, dispatch), and the handlers, which
//! translate arguments into calls of the domain (`crate::domain`).
//!
//! Modules depend one way (a test reads the imports): `spec` ← `args` ← `declare`; `caller`,
//! `access` (spec) ← `ctx` ← `handlers` ← `registry` ← `parse`; `engine` (the state) ←
//! `import`, `run`, `suggest`; `inbound` ← `import`, `run`; `screen` (args, parse) ← `handlers`.

pub mod access;
pub mod args;
pub mod caller;
pub mod ctx;
pub mod declare;
pub mod engine;
pub(crate) mod handlers;
pub mod import;
pub mod inbound;
pub mod parse;
pub mod registry;
pub mod run;
pub mod screen;
pub mod spec;
pub mod suggest;

pub use args::Invocation;
pub use caller::{Caller, Frontend, Who};
pub use engine::Engine;
pub use inbound::{Inbound, ReplyRoute, ReplyTarget};
pub use parse::{parse, quote};
pub use registry::COMMANDS;
pub use run::Outcome;
pub use spec::CommandSpec;
pub use suggest::{Suggestion, Suggests, suggests};
