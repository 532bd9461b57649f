//! CustomerID error documents, with the HTTP status saying what failed.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::wire::{self, Format};
use accord_domain::Error;

/// An error, rendered in the format the client asked for.
#[derive(Debug)]
pub struct CidError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub format: Format,
    pub retry_after_secs: Option<u64>,
}

/// CustomerID's error codes, as the product documents them ("REST API response messages -
/// CustomerID"), for an error known only by its status: every other 4xx is "Client error",
/// every 5xx "Internal server error".
pub fn code_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Invalid arguments",
        401 => "Authentication failed",
        403 => "Unauthorized",
        404 => "Entity not found",
        405 => "Method not allowed",
        409 => "Already exists",
        413 => "Size limit exceeded",
        s if s < 500 => "Client error",
        _ => "Internal server error",
    }
}

/// The code of a domain error: by its cause where the status does not tell it.
fn code_of_error(e: &Error, status: StatusCode) -> &'static str {
    match e {
        Error::BadReference {
            to_parent: true, ..
        } => "Parent not found",
        Error::BadReference { .. } => "Invalid reference",
        _ => code_of(status),
    }
}

impl CidError {
    pub fn new(format: Format, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code_of(status),
            message: message.into(),
            format,
            retry_after_secs: None,
        }
    }

    pub fn from_domain(format: Format, e: Error) -> Self {
        let status = crate::http_status::status_of(&e);
        let code = code_of_error(&e, status);
        let message = match &e {
            Error::Internal(detail) => {
                tracing::error!(cause = ?detail, "internal error");
                "internal server error".to_owned()
            }
            other => other.to_string(),
        };
        Self {
            retry_after_secs: crate::http_status::retry_after_of(&e),
            code,
            ..Self::new(format, status, message)
        }
    }
}

impl IntoResponse for CidError {
    fn into_response(self) -> Response {
        let mut response = wire::error(self.format, self.status, self.code, &self.message);
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub async fn not_found(request: Request) -> CidError {
    CidError::new(
        Format::of(request.headers()),
        StatusCode::NOT_FOUND,
        "no such resource",
    )
}

/// An error response not written by the facade (a 405, 408, 413, a caught panic), as an
/// error document in the caller's format.
pub fn with_error_document(format: Format, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("xml") || ct.starts_with("application/json"));
    if ours {
        return response;
    }
    CidError::new(
        format,
        status,
        status.canonical_reason().unwrap_or("error").to_lowercase(),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_say_when_to_retry() {
        for (e, status, code, after) in [
            (
                Error::Contention("busy".into()),
                503,
                "Internal server error",
                "1",
            ),
            (
                Error::TooManyRequests {
                    retry_after_secs: 7,
                },
                429,
                "Client error",
                "7",
            ),
        ] {
            let r = CidError::from_domain(Format::Xml, e).into_response();
            assert_eq!(r.status().as_u16(), status);
            assert_eq!(r.headers()[header::RETRY_AFTER], after);
            assert_eq!(code_of(r.status()), code);
        }
        let r = CidError::from_domain(Format::Json, Error::Conflict("x".into())).into_response();
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }
}
