//! What the store tells `/metrics` (docs/operations.md, "Metrics"): how many changes its
//! writers commit at once and how long a commit takes, and how long a unit of work waits
//! to begin. The server registers them ([`StoreMetrics::register`]); the pools' use is
//! read when scraped ([`crate::Store::pool_use`]).

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::Mode;

/// Changes in one batch: 1, 2, 4, … 128 (the batches' ceiling).
fn batch_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 8))
}

/// 0.1 ms to 5 s, in 1-2.5-5 steps.
fn seconds_buckets() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        5.0,
    ])
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // label values as Prometheus shows them
enum ModeLabel {
    read,
    write,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BeginLabels {
    mode: ModeLabel,
}

/// Which writer a batch went through.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub(crate) enum Writer {
    /// The consent committer (`group_commit`), both backends.
    consents,
    /// SQLite's batched writer of small writes (`sqlite_writer`).
    small_writes,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriterLabels {
    writer: Writer,
}

/// Shared by the store's writers (clones count into the same series).
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    batch_size: Family<WriterLabels, Histogram, fn() -> Histogram>,
    commit_seconds: Family<WriterLabels, Histogram, fn() -> Histogram>,
    begin_wait_seconds: Family<BeginLabels, Histogram, fn() -> Histogram>,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        Self {
            batch_size: Family::new_with_constructor(batch_buckets),
            commit_seconds: Family::new_with_constructor(seconds_buckets),
            begin_wait_seconds: Family::new_with_constructor(seconds_buckets),
        }
    }
}

impl StoreMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "accord_db_batch_changes",
            "Changes committed in one transaction by a batching writer",
            self.batch_size.clone(),
        );
        registry.register_with_unit(
            "accord_db_batch_commit",
            "Time from a batch's first statement to its durable commit",
            Unit::Seconds,
            self.commit_seconds.clone(),
        );
        registry.register_with_unit(
            "accord_db_begin_wait",
            "Time a unit of work waited to begin: for a pooled connection, and on SQLite \
             for the write lock when it writes",
            Unit::Seconds,
            self.begin_wait_seconds.clone(),
        );
    }

    pub(crate) fn batch_committed(&self, writer: Writer, changes: usize, took: Duration) {
        let labels = WriterLabels { writer };
        self.batch_size
            .get_or_create(&labels)
            .observe(changes as f64);
        self.commit_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub(crate) fn began(&self, mode: Mode, waited: Duration) {
        let mode = match mode {
            Mode::Read => ModeLabel::read,
            Mode::Write => ModeLabel::write,
        };
        self.begin_wait_seconds
            .get_or_create(&BeginLabels { mode })
            .observe(waited.as_secs_f64());
    }
}

/// One connection pool's use when scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    /// `readers`, `writer` (SQLite) or `main` (PostgreSQL).
    pub pool: &'static str,
    /// Connections open.
    pub open: u32,
    /// Of them, idle.
    pub idle: u32,
    pub max: u32,
}
