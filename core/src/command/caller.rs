//! Who sent a command, and through which front-end.

pub use crate::domain::Frontend;

/// Who sent the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A chat account; linked to a user or not.
    Account {
        provider: String,
        account_id: String,
        handle: Option<String>,
    },
    /// A user chosen by the operator (`mentorops console --as EMAIL`).
    User(i64),
    /// Nobody: work the system does on its own (the worker's timers, the operator's command
    /// line). It holds no role, so the registry lets it run only what is open to everyone.
    System,
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub frontend: Frontend,
    pub who: Who,
}

impl Caller {
    pub fn system(frontend: Frontend) -> Self {
        Self {
            frontend,
            who: Who::System,
        }
    }
}
