//! Why the database could not be opened, in words an operator can act on: what failed,
//! where (host and port, file, migration), and an exit code per kind
//! (docs/operations.md, "When it does not start").

use accord_domain::Error;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database URL (or another setting) is malformed.
    #[error("{0}")]
    Configuration(String),
    /// The server or file could not be reached or opened.
    #[error("{0}")]
    Unreachable(String),
    /// A migration failed to apply.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Anything else on the way up.
    #[error("{}", describe(.0))]
    Other(Error),
}

/// The detail of an internal error (which responses never show, but an operator must).
fn describe(e: &Error) -> String {
    match e {
        Error::Internal(detail) => format!("{detail:?}"),
        other => other.to_string(),
    }
}

impl OpenError {
    /// The process's exit code for this failure: 2 configuration (as for a bad flag),
    /// 3 database unreachable, 5 migration failed, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Configuration(_) => 2,
            Self::Unreachable(_) => 3,
            Self::Migration(_) => 5,
            Self::Other(_) => 1,
        }
    }
}

impl From<Error> for OpenError {
    fn from(e: Error) -> Self {
        Self::Other(e)
    }
}
