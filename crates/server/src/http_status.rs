//! How a domain error reads in HTTP: the one status map both facades (and the pages to
//! come) answer with, each in its own format.

use accord_domain::Error;
use axum::http::StatusCode;

/// Every domain error has its status; a new variant does not compile until it has one.
pub fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::InvalidInput(_) | Error::Rule(_) | Error::BadReference { .. } => {
            StatusCode::BAD_REQUEST
        }
        Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Upstream(_) => StatusCode::BAD_GATEWAY,
        Error::Contention(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `Retry-After` an error's answer carries, in seconds, if any.
pub fn retry_after_of(e: &Error) -> Option<u64> {
    match e {
        Error::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
        // The conflicting unit of work is through in well under a second.
        Error::Contention(_) => Some(1),
        _ => None,
    }
}
