//! Assembles the server: facades, operational endpoints, middleware; and serves it.

use std::sync::Arc;

use accord_domain::{Clock, Result};
use accord_store::OpenOptions;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::igrant;
use crate::igrant::error::{ErrorBody, IgrantError};
use crate::services::Services;

pub struct App {
    pub router: Router,
    pub services: Arc<Services>,
}

/// Opens the database (migrating it), loads the keys and builds every route.
/// The server, its database opened and migrated; a failure says what failed and where
/// ([`accord_store::OpenError`], with the process's exit code for it).
pub async fn build_app(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<App, accord_store::OpenError> {
    let options = OpenOptions {
        max_connections: config.max_db_connections,
    };
    let store = accord_store::open(&config.database_url, &options).await?;
    let services = Arc::new(Services::new(config, store, clock).await?);
    Ok(App {
        router: trailing_slash_ignored(router(Arc::clone(&services))),
        services,
    })
}

fn router(services: Arc<Services>) -> Router {
    let config = &services.config;
    let (router, mut openapi) = OpenApiRouter::with_openapi(crate::api_doc::ApiDoc::openapi())
        .nest("/v1", igrant::router(config.json_body_limit))
        .merge(igrant::root_router(config.json_body_limit))
        .nest(
            CUSTOMERID_PREFIX,
            crate::customerid::router(config.json_body_limit),
        )
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(jwks))
        .split_for_parts();
    crate::api_doc::complete_responses(&mut openapi);
    let openapi = Arc::new(openapi.to_pretty_json().unwrap_or_default());

    router
        .merge(crate::web::router())
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&openapi);
                async move { ([(header::CONTENT_TYPE, "application/json")], doc.as_str().to_owned()) }
            }),
        )
        // Not in the API description: the operator's, behind a token of its own.
        .route("/metrics", get(metrics))
        .fallback(igrant::error::not_found)
        .layer(DefaultBodyLimit::max(config.json_body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            // A bare 500: `facade_errors` gives it the facade's error body.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }))
        .layer(middleware::from_fn(facade_errors))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&services),
            crate::metrics::record_request,
        ))
        .layer(
            TraceLayer::new_for_http()
                // Method, path (never the query string) and request ID; no headers, no bodies.
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // Client-controlled text is logged escaped (`?`): no forged fields or lines.
                    let span = tracing::info_span!("request", method = %req.method(), path = ?loggable_path(req.uri().path()), request_id = %id);
                    crate::telemetry::continue_trace(&span, req.headers());
                    span
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Micros)),
        )
        // No answer is ever sniffed into another type (an image into HTML).
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(refuse_unsafe_request_id))
        .with_state(services)
}

/// A trailing slash is ignored on every path: the CustomerID spec's own URLs end its
/// collections with one (`/users/`, `/organizations/{id}/users/?recursive=true`). The
/// routes are matched after the path is trimmed, so the slash cannot be a middleware of
/// the router itself (axum runs those after routing): the router becomes the fallback
/// of one that routes only the API reference (whose page lives at `/docs/`).
fn trailing_slash_ignored(router: Router) -> Router {
    api_reference()
        .fallback_service(tower_http::normalize_path::NormalizePath::trim_trailing_slash(router))
}

/// The API reference at `/docs/`: Swagger UI over `/openapi.json`, its files compiled into
/// the binary (utoipa-swagger-ui's `vendored` feature): nothing is fetched from outside at
/// build or run time, and its policy lets the page load nothing but its own files.
fn api_reference() -> Router {
    let ui: Router = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json"))
        .into();
    ui.layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        // Swagger UI sets style attributes from its script; no inline script runs.
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
        ),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
}

/// Error answers no handler wrote (405 from routing, 408 from the timeout, 413 from a body
/// limit, a caught panic) in the facade's own format: CustomerID's error document (XML, or
/// JSON on request) under its prefix, iGrant's JSON elsewhere.
async fn facade_errors(req: axum::extract::Request, next: middleware::Next) -> Response {
    if req.uri().path().starts_with(CUSTOMERID_PREFIX) {
        let format = crate::customerid::wire::Format::of(req.headers());
        crate::customerid::error::with_error_document(format, next.run(req).await)
    } else if crate::web::owns(req.uri().path()) {
        let res = next.run(req).await;
        let bare = res.headers().get(header::CONTENT_TYPE).is_none();
        if bare && (res.status().is_client_error() || res.status().is_server_error()) {
            crate::web::error_page(res.status())
        } else {
            res
        }
    } else {
        igrant::error::with_error_body(next.run(req).await)
    }
}

const CUSTOMERID_PREFIX: &str = "/customerid-rest/services/2.1";

/// A client's `X-Request-Id` is kept only if it is short and of a safe alphabet; otherwise
/// it is dropped (a fresh one is made) and noted, escaped, so it cannot forge log lines.
async fn refuse_unsafe_request_id(
    mut req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    if let Some(value) = req.headers().get("x-request-id") {
        if !safe_request_id(value.as_bytes()) {
            tracing::info!(client_request_id = ?String::from_utf8_lossy(value.as_bytes()), "unsafe X-Request-Id replaced");
            req.headers_mut().remove("x-request-id");
        }
    }
    next.run(req).await
}

/// At most 64 bytes of letters, digits, `-`, `_`, `.` and `:`.
fn safe_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The path as the request log may show it: an invitation's token travels in its path
/// (`/v1/invitations/{token}/accept`, the endpoint the mailed link names) and never reaches
/// the log.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const SECRET_SEGMENT: &str = "/v1/invitations/";
    match path.strip_prefix(SECRET_SEGMENT) {
        Some(rest) => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{SECRET_SEGMENT}<token>{tail}").into()
        }
        None => path.into(),
    }
}

#[derive(Serialize, ToSchema)]
struct HealthBody {
    status: &'static str,
}

/// The process is up
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, body = HealthBody)))]
async fn healthz() -> Json<HealthBody> {
    Json(HealthBody { status: "ok" })
}

/// The process is up and its database reachable
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses((status = 200, body = HealthBody), (status = 503, description = "Database unreachable, or the server is stopping", body = ErrorBody)))]
async fn readyz(State(services): State<Arc<Services>>) -> Response {
    // Stopping: a load balancer takes this node out while it finishes (docs/operations.md).
    if services.is_stopping() {
        return IgrantError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match services.store.ping().await {
        Ok(()) => Json(HealthBody { status: "ready" }).into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            IgrantError::new(StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
                .into_response()
        }
    }
}

/// Every series of [`crate::metrics`] for the bearer of the metrics token; 404 without a
/// configured token (docs/operations.md, "Metrics").
async fn metrics(
    State(services): State<Arc<Services>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match services.scrape_metrics(presented).await {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => IgrantError::from(e).into_response(),
    }
}

/// The public keys that verify Accord's access tokens, APIKeys and receipts (JWKS)
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "Operations",
    responses((status = 200, description = "A JSON Web Key Set (RFC 7517) of Ed25519 keys")))]
async fn jwks(State(services): State<Arc<Services>>) -> Json<serde_json::Value> {
    Json(services.tokens.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_tokens_stay_out_of_the_request_log() {
        assert_eq!(
            loggable_path("/v1/invitations/s3cr3t-t0ken/accept"),
            "/v1/invitations/<token>/accept"
        );
        assert_eq!(
            loggable_path("/v1/invitations/s3cr3t"),
            "/v1/invitations/<token>"
        );
        assert_eq!(loggable_path("/v1/users/token"), "/v1/users/token");
    }

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for ok in [
            "abc-123",
            "0194f1e2-7c1a-7d2e-9a1b-3c4d5e6f7a8b",
            "trace:1.2_3",
        ] {
            assert!(safe_request_id(ok.as_bytes()), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "x\" level=error msg=\"forged",
            "a b",
            "é",
            long.as_str(),
        ] {
            assert!(!safe_request_id(bad.as_bytes()), "{bad}");
        }
    }
}
