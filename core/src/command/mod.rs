//! The command layer every front-end shares: the registry (what exists and who may run it),
//! the parser (text → invocation), the engine (permission check, one transaction, dispatch),
//! and the handlers.

pub mod ctx;
pub mod engine;
pub(crate) mod handlers;
pub mod matching;
pub mod ops;
pub mod parse;
pub mod registry;
pub mod suggest;

pub use engine::{Caller, Engine, Frontend, Inbound, Outcome, ReplyRoute, ReplyTarget, Who};
pub use parse::{Invocation, parse, quote};
pub use registry::{COMMANDS, CommandId, CommandSpec};
pub use suggest::{Suggestion, Suggests, suggests};
