//! The iGrant facade's error body, `{"Code": <status>, "Message": "..."}`, for every 4xx
//! and 5xx it answers — its own, axum's rejections, and anything else a layer produces.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http_status::{retry_after_of, status_of};
use accord_domain::Error;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[serde(rename = "Code")]
    pub code: u16,
    #[serde(rename = "Message")]
    pub message: String,
}

#[derive(Debug)]
pub struct IgrantError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

impl IgrantError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }
}

impl From<Error> for IgrantError {
    fn from(e: Error) -> Self {
        let status = status_of(&e);
        let message = match &e {
            Error::Internal(detail) => {
                // The cause goes to the log (inside the request's span, with its ID); the
                // client gets nothing it could learn our internals from.
                tracing::error!(cause = ?detail, "internal error");
                "internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after_secs = retry_after_of(&e);
        Self {
            status,
            message,
            retry_after_secs,
        }
    }
}

impl IntoResponse for IgrantError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.status.as_u16(),
            message: self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"accord\""),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Gives an error response that was not written by us (405 from routing, 408 from the
/// timeout, 413 from a body limit, a caught panic) the facade's JSON error body.
pub fn with_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("xml"));
    if is_ours {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed for this path".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_owned(),
        StatusCode::BAD_REQUEST => "the request could not be read".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "request timed out".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = serde_json::to_vec(&ErrorBody {
        code: status.as_u16(),
        message,
    })
    .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

pub async fn not_found() -> IgrantError {
    IgrantError::new(StatusCode::NOT_FOUND, "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_has_its_status() {
        let cases = [
            (Error::invalid("x"), 400),
            (Error::Unauthenticated("x".into()), 401),
            (Error::Forbidden("x".into()), 403),
            (Error::not_found("x"), 404),
            (Error::Conflict("x".into()), 409),
            (Error::Upstream("x".into()), 502),
            (Error::Contention("x".into()), 503),
            (
                Error::TooManyRequests {
                    retry_after_secs: 5,
                },
                429,
            ),
            (Error::internal("secret detail"), 500),
        ];
        for (e, code) in cases {
            assert_eq!(status_of(&e).as_u16(), code);
        }
    }

    #[test]
    fn internal_details_stay_out_of_the_body() {
        let e = IgrantError::from(Error::internal("password=hunter2 at db"));
        assert_eq!(e.message, "internal server error");
    }
}
