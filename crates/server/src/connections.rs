//! Serving connections, with the guards `axum::serve` does not give (docs/security.md,
//! "Slow and numerous clients"): a total and a per-source share of connection slots, a
//! deadline for the first request head that covers protocol detection, an idle timeout
//! with no request in flight (HTTP/1 keep-alive is also closed by hyper's header timer
//! while it waits for the next head), and HTTP/2 keep-alive pings.

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::{Builder, Connection as AutoConnection, HttpServerConnExec};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::app::App;
use crate::per_source::{PerSource, Share};

/// How long a connection being closed (idle, or the server stopping) may take to finish
/// what it is writing before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = &app.services.config;
    let limits = Slots::new(config.max_connections, config.connections_per_address);
    let timing = Timing {
        head: config.header_read_timeout,
        idle: config.idle_timeout,
        stop: config.request_timeout + CLOSE_GRACE,
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.idle_timeout.min(Duration::from_secs(20))))
        .keep_alive_timeout(config.header_read_timeout);
    let (stopping, _) = tokio::sync::watch::channel(false);
    let router = app.router;
    let services = Arc::clone(&app.services);
    let drain = config.shutdown_drain;
    tokio::pin!(shutdown);
    // Set once a stop is asked for: until then the server goes on accepting, readiness off.
    let mut draining_until: Option<tokio::time::Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown, if draining_until.is_none() => {
                services.begin_shutdown();
                tracing::info!(
                    drain_secs = drain.as_secs_f64(),
                    "stop asked for: /readyz answers 503; serving on for the drain time"
                );
                draining_until = Some(tokio::time::Instant::now() + drain);
                continue;
            }
            () = tokio::time::sleep_until(draining_until.unwrap_or_else(tokio::time::Instant::now)),
                if draining_until.is_some() => break,
        };
        let slot = match limits.take(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                tracing::debug!(peer = %peer.ip(), reason = refusal, "connection refused");
                tokio::spawn(refuse_overloaded(stream));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let service = {
            let router = router.clone();
            let activity = Arc::clone(&activity);
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                let busy = activity.begin();
                let response = tower::Service::call(&mut router.clone(), request);
                async move {
                    let response = response.await;
                    drop(busy);
                    response
                }
            })
        };
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let stop = stopping.subscribe();
        tokio::spawn(async move {
            watch_connection(connection, &activity, timing, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection task holds a slot until it ends: all slots back means all done.
    let _ = limits.total.acquire_many(limits.total_max).await;
    Ok(())
}

#[derive(Clone, Copy)]
struct Timing {
    /// The first request head must be complete this long after the connection opened.
    head: Duration,
    /// A connection with no request in flight for this long is closed.
    idle: Duration,
    /// At shutdown, in-flight requests get this long (their timeout and a grace).
    stop: Duration,
}

/// Drives one connection, closing it gracefully when its first request head is late, when
/// it has been idle too long or when the server stops; dropped if closing itself stalls.
async fn watch_connection<S, B>(
    connection: AutoConnection<'static, TokioIo<TcpStream>, S, TokioExecutor>,
    activity: &Activity,
    timing: Timing,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = hyper::Response<B>>,
    S::Future: 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    TokioExecutor: HttpServerConnExec<S::Future, B>,
{
    tokio::pin!(connection);
    let mut hard_deadline: Option<Instant> = None;
    loop {
        let wake = hard_deadline.unwrap_or_else(|| activity.next_check(timing));
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = ?e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if hard_deadline.is_some() {
                    tracing::debug!("connection dropped: it did not close in time");
                    return;
                }
                if activity.expired(timing) {
                    connection.as_mut().graceful_shutdown();
                    hard_deadline = Some(Instant::now() + CLOSE_GRACE);
                }
            }
            _ = stop.changed(), if hard_deadline.is_none() => {
                connection.as_mut().graceful_shutdown();
                hard_deadline = Some(Instant::now() + timing.stop);
            }
        }
    }
}

/// What the watchdog knows of a connection: requests in flight, and when the last one
/// started or ended (milliseconds since the connection opened; 0: none yet).
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        Busy(Arc::clone(self))
    }

    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis().max(1) as u64;
        self.last_ms.store(ms, Ordering::SeqCst);
    }

    /// When the connection may next be found idle: the head deadline before any request,
    /// the idle timeout after the last one.
    fn next_check(&self, timing: Timing) -> Instant {
        let due = match self.last_ms.load(Ordering::SeqCst) {
            0 => self.opened + timing.head,
            ms => self.opened + Duration::from_millis(ms) + timing.idle,
        };
        // A request in flight for longer than the idle time: look again later, not at once.
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            due.max(Instant::now() + timing.idle)
        } else {
            due
        }
    }

    fn expired(&self, timing: Timing) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && Instant::now() >= self.next_check(timing)
    }
}

/// A request in flight; its end counts as activity.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Connection slots: `total_max` in all, a share of them per source, so one client cannot
/// take every slot.
struct Slots {
    total: Arc<Semaphore>,
    total_max: u32,
    per_source: Arc<PerSource>,
}

/// A held slot; given back on drop.
struct Slot {
    _total: OwnedSemaphorePermit,
    _share: Share,
}

impl Slots {
    fn new(total_max: usize, per_source_max: usize) -> Self {
        let total_max = u32::try_from(total_max.max(1)).unwrap_or(u32::MAX >> 3);
        Self {
            total: Arc::new(Semaphore::new(total_max as usize)),
            total_max,
            per_source: PerSource::new(per_source_max),
        }
    }

    fn take(&self, peer: IpAddr) -> Result<Slot, &'static str> {
        let total = Arc::clone(&self.total)
            .try_acquire_owned()
            .map_err(|_| "all connection slots are taken")?;
        let share = self
            .per_source
            .try_take(peer)
            .ok_or("the source's share of connection slots is taken")?;
        Ok(Slot {
            _total: total,
            _share: share,
        })
    }
}

/// A connection over the limit: read what the client sent (briefly, so closing does not
/// reset the connection under its unread request), answer 503 in the iGrant error
/// shape, close.
async fn refuse_overloaded(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await;
    let body = r#"{"Code":503,"Message":"too many connections; retry shortly"}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
