//! A real HTTP server on loopback that receives webhooks and remembers them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub json: Value,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Statuses to answer, in order; 200 once they run out.
    script: Vec<u16>,
    /// The event type the script answers (others get 200); any if `None`.
    script_event: Option<String>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// Answer these statuses to the next requests (then 200).
    pub fn answer(&self, statuses: &[u16]) {
        let mut inner = self.inner.lock().unwrap();
        inner.script = statuses.to_vec();
        inner.script_event = None;
    }

    /// Answer these statuses to the next requests of `event` (then 200); others get 200.
    /// Deliveries run concurrently, so a script over all events would race.
    pub fn answer_to(&self, event: &str, statuses: &[u16]) {
        let mut inner = self.inner.lock().unwrap();
        inner.script = statuses.to_vec();
        inner.script_event = Some(event.to_owned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn of_type(&self, event: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.json["type"] == event)
            .collect()
    }

    /// Waits (bounded: 15 s) until at least `n` requests of `event` arrived.
    pub async fn wait_for(&self, event: &str, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.of_type(event);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{n} × {event} not received within 15 s; got {:?}",
            self.received()
                .iter()
                .map(|r| r.json["type"].clone())
                .collect::<Vec<_>>()
        );
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let event = json["type"].as_str().unwrap_or_default().to_owned();
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        headers,
        body,
        json,
    });
    let scripted = inner.script_event.as_ref().is_none_or(|e| *e == event);
    let status = if inner.script.is_empty() || !scripted {
        200
    } else {
        inner.script.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

/// Checks `X-Accord-Signature: t=<unix>,sig=<hex HMAC-SHA256(secret, t + "." + body)>`.
pub fn signature_valid(secret: &str, r: &Received) -> bool {
    use hmac::Mac as _;
    let header = r
        .headers
        .get("x-accord-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((t, sig)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",sig="))
    else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == sig
}

/// A receiver that accepts connections, reads what is sent and never answers: the slowest
/// endpoint a webhook can have. Counts the connections it holds.
pub struct Tarpit {
    pub url: String,
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl Tarpit {
    pub async fn start() -> Self {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                });
            }
        });
        Self { url, connections }
    }
}

/// A span as an OTLP receiver got it: IDs in lowercase hex, as `traceparent` writes them.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a trace's first span.
    pub parent_span_id: String,
}

#[derive(Default)]
struct TraceInner {
    spans: Vec<ReceivedSpan>,
    /// The headers of every GET: this server also stands where an OpenID provider's
    /// discovery document would be (and has none).
    gets: Vec<HeaderMap>,
}

/// A real OTLP/HTTP trace receiver on loopback, where a collector listens (`/v1/traces`,
/// protobuf): it decodes each export and keeps its spans.
pub struct TraceReceiver {
    pub base: String,
    inner: Arc<Mutex<TraceInner>>,
}

impl TraceReceiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(TraceInner::default()));
        let app = Router::new()
            .route("/v1/traces", post(receive_traces))
            .fallback(axum::routing::get(record_get))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, inner }
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.inner.lock().unwrap().spans.clone()
    }

    pub fn gets(&self) -> Vec<HeaderMap> {
        self.inner.lock().unwrap().gets.clone()
    }

    /// Waits (bounded: 15 s) for a span that `found` accepts.
    pub async fn wait_for(
        &self,
        what: &str,
        found: impl Fn(&ReceivedSpan) -> bool,
    ) -> ReceivedSpan {
        for _ in 0..300 {
            if let Some(s) = self.spans().into_iter().find(&found) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no span {what} within 15 s; got {:#?}", self.spans());
    }
}

async fn receive_traces(State(inner): State<Arc<Mutex<TraceInner>>>, body: Bytes) -> StatusCode {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut inner = inner.lock().unwrap();
    for span in export
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        inner.spans.push(ReceivedSpan {
            name: span.name.clone(),
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
            parent_span_id: hex(&span.parent_span_id),
        });
    }
    // An empty ExportTraceServiceResponse: every span accepted.
    StatusCode::OK
}

async fn record_get(State(inner): State<Arc<Mutex<TraceInner>>>, headers: HeaderMap) -> StatusCode {
    inner.lock().unwrap().gets.push(headers);
    StatusCode::NOT_FOUND
}
