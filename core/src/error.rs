//! The one error type of the core: expected outcomes a person can fix (bad input, no
//! permission, an illegal transition…) apart from unexpected failures (the database).

/// Every variant but [`Error::Internal`] carries a message written for the person who typed
/// the command: it names the problem and the fix. A command that returns any error has
/// changed nothing (its transaction is rolled back).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed or unknown input: a missing argument, a value that does not parse.
    #[error("{0}")]
    Input(String),
    /// The person, program or entry referred to does not exist (or is out of the caller's scope).
    #[error("{0}")]
    NotFound(String),
    /// A reference matched several people: the message lists them.
    #[error("{0}")]
    Ambiguous(String),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's own account is deactivated (IW, IR, ID).
    #[error("your account is deactivated: ask your program manager to reactivate it")]
    Deactivated,
    /// The request is valid but the current state refuses it (an illegal transition, a
    /// duplicate email, a confirmation that is needed first).
    #[error("{0}")]
    Conflict(String),
    /// A link code that opens nothing: unknown, used or expired get the same words, so trying
    /// codes teaches a guesser nothing. Counted against the chat account that tried it, after
    /// the command's transaction is rolled back (`Engine`), for the limits on guessing.
    #[error(
        "that code does not work: check it against your welcome email, or ask your program manager for a new one"
    )]
    WrongLinkCode,
    /// This update or interaction was handled before (a platform's redelivery, a replayed
    /// request): nothing ran again.
    #[error("this was handled already: see the answer above")]
    Duplicate,
    /// Something failed on our side; the person sees a generic message, the log the detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn input(msg: impl Into<String>) -> Self {
        Self::Input(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    /// What the person who ran the command is shown.
    pub fn user_message(&self) -> String {
        match self {
            Self::Internal(_) => {
                "something went wrong on our side and nothing was changed; please try again, and tell your program manager if it keeps happening".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
