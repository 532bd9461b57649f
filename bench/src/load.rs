//! The load generator: closed loop (N connections as fast as they go: throughput at
//! saturation) and open loop (requests sent on a fixed schedule: latency). Open-loop
//! latency runs from each request's *scheduled* start, so a stalled server is charged
//! for the requests it delayed (coordinated omission corrected, as wrk2 and
//! `oha --latency-correction` do).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request of a scenario; `i` numbers it (scenarios pick their user from it).
/// `true` when the answer was the expected one.
pub type Request = Arc<dyn Fn(u64) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Microseconds, sorted.
    pub latencies: Vec<u64>,
    /// Each request's number, latency (µs) and whether it succeeded, in no order: a mix's
    /// figures per kind of request (`Outcome::of_requests`).
    pub requests: Vec<(u64, u64, bool)>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// Counts and sorted latencies of `requests`, which took `seconds`.
    fn from_requests(requests: Vec<(u64, u64, bool)>, seconds: f64) -> Outcome {
        let ok = requests.iter().filter(|r| r.2).count() as u64;
        let mut latencies: Vec<u64> = requests.iter().map(|r| r.1).collect();
        latencies.sort_unstable();
        Outcome {
            ok,
            errors: requests.len() as u64 - ok,
            seconds,
            latencies,
            requests,
        }
    }

    /// The requests whose number `keep` accepts, as an outcome of their own (same seconds).
    pub fn of_requests(&self, keep: impl Fn(u64) -> bool) -> Outcome {
        let kept = self.requests.iter().filter(|r| keep(r.0)).copied();
        Outcome::from_requests(kept.collect(), self.seconds)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)] as f64 / 1000.0
    }
}

/// `connections` workers, each sending its next request when the last is answered.
pub async fn closed_loop(
    request: &Request,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    run_closed(request, connections, warmup).await;
    run_closed(request, connections, duration).await
}

async fn run_closed(request: &Request, connections: usize, duration: Duration) -> Outcome {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + duration;
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let request = request.clone();
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            while Instant::now() < end {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = request(i).await;
                done.push((i, t.elapsed().as_micros() as u64, ok));
            }
            done
        }));
    }
    collect(workers, || start.elapsed().as_secs_f64()).await
}

/// Requests at `rate` per second for `duration` (after a warm-up at the same rate);
/// latency measured from when each request was due.
pub async fn open_loop(
    request: &Request,
    rate: f64,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    run_open(request, rate, connections, warmup).await;
    run_open(request, rate, connections, duration).await
}

/// As wrk2 does: each connection has its own schedule (every `connections / rate`
/// seconds, staggered). A request that is late starts at once, and its latency still
/// runs from when it was due, so a stall is charged to every request it delayed.
async fn run_open(request: &Request, rate: f64, connections: usize, duration: Duration) -> Outcome {
    let rate = rate.max(1.0);
    let connections = connections.clamp(1, rate.ceil() as usize);
    let period = Duration::from_secs_f64(connections as f64 / rate);
    let start = tokio::time::Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for k in 0..connections {
        let request = request.clone();
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            let offset = period.mul_f64(k as f64 / connections as f64);
            let mut j = 0u64;
            loop {
                let due = start + offset + period.mul_f64(j as f64);
                if due.duration_since(start) >= duration {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let i = j * connections as u64 + k as u64;
                let ok = request(i).await;
                done.push((i, due.elapsed().as_micros() as u64, ok));
                j += 1;
            }
            done
        }));
    }
    collect(workers, || start.elapsed().as_secs_f64()).await
}

/// The workers' requests, counted, with their latencies sorted; `seconds` is read once
/// they end.
async fn collect(
    workers: Vec<tokio::task::JoinHandle<Vec<(u64, u64, bool)>>>,
    seconds: impl FnOnce() -> f64,
) -> Outcome {
    let mut requests = Vec::new();
    for w in workers {
        requests.extend(w.await.expect("worker"));
    }
    Outcome::from_requests(requests, seconds())
}
