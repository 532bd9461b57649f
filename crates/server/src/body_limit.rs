//! Request body limits that answer instead of hanging up. Refusing a large body without
//! reading it makes the server close the connection while the client is still sending:
//! most clients then report a broken pipe, not our 413. So a body over the limit is read
//! to its end (up to a hard cap) and discarded, then answered 413. The answer is a bare
//! status: each facade's error middleware renders it in that facade's format.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;

/// Beyond this much, stop reading: the client is not behaving like one.
const DRAIN_CAP: usize = 64 * 1024 * 1024;

/// Buffers the body if it is at most `limit` bytes; answers 413 otherwise.
pub async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let too_large = || StatusCode::PAYLOAD_TOO_LARGE.into_response();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_CAP) {
        return too_large();
    }
    let (parts, mut body) = request.into_parts();
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > DRAIN_CAP {
            return too_large();
        }
        if total <= limit {
            buffer.extend_from_slice(&data);
        }
    }
    if total > limit {
        return too_large();
    }
    next.run(Request::from_parts(parts, Body::from(buffer)))
        .await
}
