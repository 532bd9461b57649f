use std::fmt;

/// The one error type of the domain and its services. Each facade maps every variant
/// to its own status code and error body; there is no catch-all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well-formed but a value breaks a rule (bad email, short password...).
    #[error("{0}")]
    InvalidInput(String),
    /// A value a person gave breaks one of the rules they are told about in their own
    /// language on the pages (`Rule`); the APIs answer its English, as `InvalidInput`.
    #[error("{0}")]
    Rule(Rule),
    /// No credentials, or credentials that do not identify anyone.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0}")]
    NotFound(String),
    /// A parameter names something that does not exist or is out of the caller's sight:
    /// a parent organisation, or another entity the request refers to. (Distinct from
    /// `NotFound`, the thing the path names; CustomerID's error codes tell them apart.)
    #[error("{message}")]
    BadReference { to_parent: bool, message: String },
    /// A uniqueness rule would be broken (an email already registered...).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again after the given number of seconds.
    #[error("too many attempts, retry after {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// A service we call on the client's behalf (an organisation's identity provider)
    /// failed or could not be reached. The message says which, without its answer.
    #[error("{0}")]
    Upstream(String),
    /// Another unit of work held what this one needed, and the database aborted this one
    /// to let both go on (a deadlock broken, a serialization failure). Nothing of it was
    /// written: the same request may simply be sent again.
    #[error("{0}")]
    Contention(String),
    /// A fault of ours (database down, bug). The detail is logged, never shown.
    #[error("internal error")]
    Internal(InternalDetail),
}

/// The cause of an internal error, kept for the log and kept out of responses.
pub struct InternalDetail(pub String);

impl fmt::Debug for InternalDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error {
    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::Internal(InternalDetail(detail.to_string()))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// A parameter naming a parent organisation that is not there (for the caller).
    pub fn parent_not_found(message: impl Into<String>) -> Self {
        Error::BadReference {
            to_parent: true,
            message: message.into(),
        }
    }

    /// A parameter naming another entity that is not there (for the caller).
    pub fn bad_reference(message: impl Into<String>) -> Self {
        Error::BadReference {
            to_parent: false,
            message: message.into(),
        }
    }

    /// What a lookup of something a parameter names found missing: a bad reference.
    pub fn as_reference(self) -> Self {
        match self {
            Error::NotFound(message) => Error::bad_reference(message),
            other => other,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A rule a person's value broke, known by what it is (not by its English words), so each
/// facade can say it in its own way and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Not an email address.
    EmailInvalid,
    /// Fewer than `PASSWORD_MIN_CHARS` characters.
    PasswordTooShort,
    /// More than `PASSWORD_MAX_BYTES` bytes.
    PasswordTooLong,
    /// The password is the account's address.
    PasswordIsEmail,
    /// Free text beyond its length.
    TextTooLong { field: String, max: usize },
    /// Free text with control characters (or any XML cannot carry).
    TextUnprintable { field: String },
    /// An address change to the address the account already has.
    AlreadyTheAddress,
}

impl Rule {
    /// A rule of new passwords.
    pub fn is_password(&self) -> bool {
        matches!(
            self,
            Rule::PasswordTooShort | Rule::PasswordTooLong | Rule::PasswordIsEmail
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::identity::{PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS};
        match self {
            Rule::EmailInvalid => f.write_str("username must be a valid email address"),
            Rule::PasswordTooShort => write!(
                f,
                "password must be at least {PASSWORD_MIN_CHARS} characters"
            ),
            Rule::PasswordTooLong => {
                write!(f, "password must be at most {PASSWORD_MAX_BYTES} bytes")
            }
            Rule::PasswordIsEmail => f.write_str("password must not be the email address"),
            Rule::TextTooLong { field, max } => {
                write!(f, "{field} must be at most {max} characters")
            }
            Rule::TextUnprintable { field } => {
                write!(f, "{field} must not contain control characters")
            }
            Rule::AlreadyTheAddress => f.write_str("this is already the account's address"),
        }
    }
}
