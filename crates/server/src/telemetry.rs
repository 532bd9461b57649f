//! Traces (docs/operations.md, "Traces"): the W3C trace context a request carries is
//! continued by its span, kept with the events it causes, and passed on to the webhooks
//! that deliver them and to the OpenID providers called on its behalf; the spans are
//! exported over OTLP/HTTP when the operator names a receiver. Without one, no layer is
//! installed and every function here does nothing: the spans have no trace to carry.

use accord_domain::webhook::TraceParent;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";

/// Continues, in `span`, the trace a request names in its `traceparent` header (a
/// malformed one is ignored: the span starts a trace of its own). Before the span is
/// first entered: a started span's parent is fixed.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key(TRACEPARENT) {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// Continues, in `span`, a trace kept earlier ([`current_trace`]): a delivery's attempt
/// is part of the trace of the change it announces.
pub fn continue_kept_trace(span: &tracing::Span, trace: Option<&TraceParent>) {
    let Some(trace) = trace else { return };
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(&trace.0) {
        headers.insert(TRACEPARENT, value);
        continue_trace(span, &headers);
    }
}

/// Where the current span stands in its trace, to be kept with work done later.
pub fn current_trace() -> Option<TraceParent> {
    let mut headers = http::HeaderMap::new();
    pass_on(&tracing::Span::current(), &mut headers);
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| TraceParent(v.to_owned()))
}

/// Adds `span`'s `traceparent` (and `tracestate`) to an outgoing request's headers, so
/// the receiver's work joins the trace.
pub fn pass_on(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// The spans' way out: flushed and stopped by [`TraceExport::shutdown`] when the server
/// stops, so the last requests' spans are not lost.
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// Sends what is still queued and stops the exporter's thread (blocking: call it off
    /// the runtime's threads).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "traces not all exported at shutdown");
        }
    }
}

/// Checks an OTLP/HTTP receiver's base URL (`http://collector:4318`): the traces are sent
/// to its `/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` would.
pub fn traces_url(endpoint: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(endpoint).map_err(|e| format!("{endpoint:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{endpoint:?} is not an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{endpoint:?}: no query or fragment, please"));
    }
    Ok(format!("{}/v1/traces", url.as_str().trim_end_matches('/')))
}

/// The layer exporting spans to `endpoint` (see [`traces_url`]), sampling a trace begun
/// here at `sample_ratio` and following the caller's decision for one it continues.
/// The exporter runs on a thread of its own; its HTTP requests run on `runtime`.
pub fn export_layer<S>(
    endpoint: &str,
    sample_ratio: f64,
    runtime: tokio::runtime::Handle,
) -> Result<
    (
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
        TraceExport,
    ),
    String,
>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
    let url = traces_url(endpoint)?;
    if !(0.0..=1.0).contains(&sample_ratio) {
        return Err(format!(
            "the sample ratio {sample_ratio} is not within 0 to 1"
        ));
    }
    // The export's own timeout is the SDK's (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s unless
    // set); this one only bounds a request the SDK stopped waiting for.
    let client = reqwest::Client::builder()
        .timeout(EXPORT_REQUEST_LIMIT)
        .build()
        .map_err(|e| e.to_string())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_http_client(ExportClient { client, runtime })
        .build()
        .map_err(|e| e.to_string())?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            sample_ratio,
        ))))
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("accord")
                .with_attribute(opentelemetry::KeyValue::new(
                    "service.version",
                    env!("CARGO_PKG_VERSION"),
                ))
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("accord"))
        .with_threads(false)
        .with_location(false);
    Ok((layer, TraceExport { provider }))
}

const EXPORT_REQUEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The exporter's HTTP client: the server's own reqwest, its requests run on the server's
/// runtime (the exporter's thread has none). opentelemetry-otlp's own reqwest client
/// would be a second major version of reqwest in the build.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let client = self.client.clone();
        self.runtime
            .spawn(async move {
                let (parts, body) = request.into_parts();
                let response = client
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                let mut answer = opentelemetry_http::Response::new(body);
                *answer.status_mut() = status;
                *answer.headers_mut() = headers;
                Ok::<_, opentelemetry_http::HttpError>(answer)
            })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_is_an_http_base_url() {
        assert_eq!(
            traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/base/").unwrap(),
            "https://otel.example/base/v1/traces"
        );
        for bad in ["collector:4318", "ftp://x", "http://x/?a=b", "", "http://"] {
            assert!(traces_url(bad).is_err(), "{bad}");
        }
    }
}
