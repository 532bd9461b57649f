//! Traces (docs/operations.md, "Traces"): a request's W3C trace context is continued by
//! Accord's spans, exported to a real OTLP/HTTP receiver, and passed on to the webhook
//! deliveries the request causes and to the OpenID providers called on its behalf.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{make_webhook, Fixture, TestApp, TestDb};
use crate::process::ServerProcess;
use crate::receiver::{Receiver, TraceReceiver};
use crate::webhooks::consent_once;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The parts of a `traceparent` header: trace ID, parent (span) ID, flags.
fn traceparent(headers: &reqwest::header::HeaderMap) -> Option<(String, String, String)> {
    let value = headers.get("traceparent")?.to_str().ok()?;
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!((parts.len(), parts[0]), (4, "00"), "{value}");
    Some((parts[1].into(), parts[2].into(), parts[3].into()))
}

async fn traces_follow_a_request_to_its_webhook_and_provider(db: TestDb) {
    let collector = TraceReceiver::start().await;
    let dir = std::env::temp_dir().join(format!("accord-traces-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = ServerProcess::start(
        &db.url,
        dir.join("server.log"),
        &[
            ("ACCORD_OTLP_ENDPOINT", &collector.base),
            // The SDK's own setting: batches sent every 200 ms, not 5 s.
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    let f = Fixture::on(TestApp::remote(&server.base), &db).await;
    let receiver = Receiver::start().await;
    make_webhook(
        &f,
        &receiver.url,
        &["consent.allowed", "consent.disallowed"],
    )
    .await;

    // A change without trace context: Accord's request span begins a trace, and the
    // delivery it causes continues it.
    let path = consent_once(&f, "Allow", 0).await;
    let allowed = receiver.wait_for("consent.allowed", 1).await;
    let (own_trace, delivery_span, flags) =
        traceparent(&allowed[0].headers).expect("the delivery carries a traceparent");
    assert_eq!(flags, "01", "sampled: every trace begun here is (ratio 1)");
    assert_ne!(own_trace, CALLER_TRACE);
    collector
        .wait_for("of the delivery in the trace the change began", |s| {
            s.name == "webhook delivery" && s.trace_id == own_trace && s.span_id == delivery_span
        })
        .await;
    let change = collector
        .wait_for("of the change that began the trace", |s| {
            s.name == "request" && s.trace_id == own_trace
        })
        .await;
    assert!(change.parent_span_id.is_empty(), "{change:?}");

    // A change continuing the caller's trace: the request's span is the caller's span's
    // child, the delivery's the request's (their trace is the caller's).
    let caller = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    let r = reqwest::Client::new()
        .request(Method::PATCH, format!("{}{path}", server.base))
        .header("Authorization", &f.individual)
        .header("traceparent", &caller)
        .json(&json!({"consented": "Disallow", "days": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let disallowed = receiver.wait_for("consent.disallowed", 1).await;
    let (trace, delivery_span, flags) = traceparent(&disallowed[0].headers).unwrap();
    assert_eq!((trace.as_str(), flags.as_str()), (CALLER_TRACE, "01"));
    assert_ne!(
        delivery_span, CALLER_SPAN,
        "Accord's own span, not the caller's"
    );
    let request = collector
        .wait_for("of the request continuing the caller's trace", |s| {
            s.name == "request" && s.trace_id == CALLER_TRACE
        })
        .await;
    assert_eq!(request.parent_span_id, CALLER_SPAN);
    let delivery = collector
        .wait_for("of the delivery in the caller's trace", |s| {
            s.name == "webhook delivery" && s.span_id == delivery_span
        })
        .await;
    assert_eq!(delivery.trace_id, CALLER_TRACE);

    // A malformed traceparent (version ff is forbidden) is ignored: the request is served
    // and its span begins a trace of its own.
    let forged_span = "1111111111111111";
    let r = reqwest::Client::new()
        .get(format!("{}/v1/user", server.base))
        .header("Authorization", &f.individual)
        .header("traceparent", format!("ff-{CALLER_TRACE}-{forged_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // The OpenID provider's discovery, fetched while the Admin's request is served, joins
    // the Admin's trace.
    let admin_trace = "0af7651916cd43dd8448eb211c80319c";
    let r = reqwest::Client::new()
        .post(format!("{}{}", server.base, f.org_path("/idp/open-id")))
        .header("Authorization", &f.admin)
        .header(
            "traceparent",
            format!("00-{admin_trace}-b7ad6b7169203331-01"),
        )
        .json(&json!({
            "discoveryUrl": format!("{}/idp/.well-known/openid-configuration", collector.base),
            "clientId": "c", "clientSecret": "s"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "the stand-in has no discovery"
    );
    let asked = collector.gets();
    assert!(!asked.is_empty(), "discovery was fetched");
    let (trace, span, _) = traceparent(&asked[0]).expect("the provider call carries a traceparent");
    assert_eq!(trace, admin_trace);
    assert_ne!(span, "b7ad6b7169203331");
    collector
        .wait_for("of the Admin's request", |s| s.trace_id == admin_trace)
        .await;
    assert!(
        collector
            .spans()
            .iter()
            .all(|s| s.parent_span_id != forged_span),
        "the malformed traceparent was continued"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(traces_follow_a_request_to_its_webhook_and_provider);

/// Without a receiver configured, nothing is passed on: the delivery of a change made
/// with trace context carries none (the in-process servers install no trace layer).
async fn without_a_receiver_no_trace_context_is_passed_on(db: TestDb) {
    let f = Fixture::new(&db).await;
    let receiver = Receiver::start().await;
    make_webhook(&f, &receiver.url, &["consent.allowed"]).await;
    consent_once(&f, "Allow", 0).await;
    let allowed = receiver.wait_for("consent.allowed", 1).await;
    assert!(allowed[0].headers.get("traceparent").is_none());
}
both_backends!(without_a_receiver_no_trace_context_is_passed_on);
