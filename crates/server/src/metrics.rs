//! `/metrics`: what an operator watches, in the Prometheus text format (docs/operations.md,
//! "Metrics"). One registry per server, not a process-wide recorder: every server a test
//! process starts counts only its own requests.
//!
//! Events are counted where they happen (requests by the middleware [`record_request`],
//! deliveries, sign-ins and throttles by their services, the store's writers by the store);
//! levels that a query can tell (queues, the ledger, pools, hashing) are read when scraped
//! ([`crate::services::Services::scrape_metrics`]).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::services::Services;

/// 0.25 ms to 10 s, in the 1-2.5-5 steps dashboards read easily.
fn latency_buckets() -> Histogram {
    Histogram::new([
        0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        10.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The route's template (`/v1/organizations/{orgID}/users`), never the path itself:
    /// IDs and tokens stay out, and the series stay as many as the routes.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// How one webhook delivery attempt ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values as Prometheus shows them
pub enum DeliveryOutcome {
    delivered,
    /// The receiver answered, but not with 2xx.
    rejected,
    /// No answer: refused, timed out, not resolvable, a private address refused.
    unreachable,
    /// Its webhook was disabled or deleted before the attempt.
    dropped,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    outcome: DeliveryOutcome,
}

/// Which door a sign-in came through.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SignInKind {
    password,
    federated,
    rest_client,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    kind: SignInKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabels {
    /// `sign_in_address`, `sign_in_account`, `register`, `upload`, …
    throttle: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    /// `events` (not yet fanned out to webhooks) or `deliveries` (pending).
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    deliveries: Family<DeliveryLabels, Counter>,
    deliveries_abandoned: Counter,
    sign_in_failures: Family<SignInLabels, Counter>,
    throttled: Family<ThrottleLabels, Counter>,
    queue_length: Family<QueueLabels, Gauge>,
    queue_oldest_age: Family<QueueLabels, Seconds>,
    ledger_entries: Gauge,
    pool_open: Family<PoolLabels, Gauge>,
    pool_idle: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolLabels, Gauge>,
    hashes_running: Gauge,
    hashes_waiting: Gauge,
}

impl Metrics {
    pub fn new(store: &accord_store::StoreMetrics) -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_buckets),
            deliveries: Family::default(),
            deliveries_abandoned: Counter::default(),
            sign_in_failures: Family::default(),
            throttled: Family::default(),
            queue_length: Family::default(),
            queue_oldest_age: Family::default(),
            ledger_entries: Gauge::default(),
            pool_open: Family::default(),
            pool_idle: Family::default(),
            pool_max: Family::default(),
            hashes_running: Gauge::default(),
            hashes_waiting: Gauge::default(),
        };
        let r = &mut registry;
        r.register(
            "accord_build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "accord_http_requests",
            "Requests answered, by method, route template and status",
            m.requests.clone(),
        );
        r.register_with_unit(
            "accord_http_request_duration",
            "Time to answer a request, by method and route template",
            Unit::Seconds,
            m.request_seconds.clone(),
        );
        r.register(
            "accord_webhook_delivery_attempts",
            "Webhook delivery attempts made by this node, by outcome",
            m.deliveries.clone(),
        );
        r.register(
            "accord_webhook_deliveries_abandoned",
            "Deliveries given up after their last attempt failed",
            m.deliveries_abandoned.clone(),
        );
        r.register(
            "accord_sign_in_failures",
            "Sign-ins that did not succeed (wrong secret, unknown account, refused), by kind",
            m.sign_in_failures.clone(),
        );
        r.register(
            "accord_throttled",
            "Attempts refused with 429 by a throttle, by throttle",
            m.throttled.clone(),
        );
        r.register(
            "accord_webhook_queue_length",
            "Webhook work not yet done (all nodes): events not yet fanned out, deliveries pending",
            m.queue_length.clone(),
        );
        r.register_with_unit(
            "accord_webhook_queue_oldest_age",
            "Age of the oldest webhook work not yet done (0 when none)",
            Unit::Seconds,
            m.queue_oldest_age.clone(),
        );
        r.register(
            "accord_consent_ledger_entries",
            "Entries in every organisation's consent ledger",
            m.ledger_entries.clone(),
        );
        r.register(
            "accord_db_pool_connections_open",
            "Database connections open, by pool",
            m.pool_open.clone(),
        );
        r.register(
            "accord_db_pool_connections_idle",
            "Database connections open and idle, by pool",
            m.pool_idle.clone(),
        );
        r.register(
            "accord_db_pool_connections_max",
            "The most connections a pool opens",
            m.pool_max.clone(),
        );
        r.register(
            "accord_password_hashes_running",
            "Password hashes (argon2) being computed on this node",
            m.hashes_running.clone(),
        );
        r.register(
            "accord_password_hashes_waiting",
            "Password hashes waiting for a hashing thread on this node",
            m.hashes_waiting.clone(),
        );
        store.register(r);
        Self { registry, ..m }
    }

    pub fn delivery_attempted(&self, outcome: DeliveryOutcome, abandoned: bool) {
        self.deliveries
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
        if abandoned {
            self.deliveries_abandoned.inc();
        }
    }

    /// The counter of failed sign-ins of a kind (an attempt counts itself when dropped
    /// unsucceeded).
    pub fn sign_in_failures(&self, kind: SignInKind) -> Counter {
        self.sign_in_failures
            .get_or_create_owned(&SignInLabels { kind })
    }

    pub fn throttled(&self, throttle: &str) {
        self.throttled
            .get_or_create(&ThrottleLabels {
                throttle: throttle.to_owned(),
            })
            .inc();
    }

    /// The levels read at scrape, then every series in the text format.
    pub(crate) fn render(&self, levels: &Levels) -> String {
        let queue = &levels.queue;
        let age = |oldest: Option<chrono::DateTime<chrono::Utc>>| {
            oldest.map_or(0.0, |t| {
                ((levels.now - t).num_milliseconds().max(0) as f64) / 1000.0
            })
        };
        for (name, length, oldest) in [
            ("events", queue.events, queue.oldest_event),
            ("deliveries", queue.deliveries, queue.oldest_delivery),
        ] {
            let labels = QueueLabels { queue: name };
            self.queue_length.get_or_create(&labels).set(length);
            self.queue_oldest_age
                .get_or_create(&labels)
                .set(age(oldest));
        }
        self.ledger_entries.set(levels.ledger_entries);
        for p in &levels.pools {
            let labels = PoolLabels { pool: p.pool };
            self.pool_open.get_or_create(&labels).set(p.open.into());
            self.pool_idle.get_or_create(&labels).set(p.idle.into());
            self.pool_max.get_or_create(&labels).set(p.max.into());
        }
        self.hashes_running.set(levels.hashing.running as i64);
        self.hashes_waiting.set(levels.hashing.waiting as i64);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// What a scrape reads from the store and the hasher.
pub(crate) struct Levels {
    pub now: chrono::DateTime<chrono::Utc>,
    pub queue: accord_store::DeliveryQueue,
    pub ledger_entries: i64,
    pub pools: Vec<accord_store::PoolUse>,
    pub hashing: crate::services::passwords::HashingQueue,
}

pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Counts every request routed to a handler by its route template, and times it.
/// Requests no route matched count under the route `unmatched`.
pub(crate) async fn record_request(
    State(services): State<Arc<Services>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let res = next.run(req).await;
    let m = &services.metrics;
    let route = RouteLabels { method, route };
    m.request_seconds
        .get_or_create(&route)
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method: route.method,
            route: route.route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

/// The standard methods by name; any other (a client may send any token) as `other`, so
/// no client can make series without end.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
