//! SQLite's batched writer: small durable writes that would each cost a commit of their
//! own (a refresh token's rotation, a read's audit entry) run on one thread with an inline
//! connection, as many to a transaction as are queued, each inside a savepoint of its own.
//! Every caller is answered only after the commit that makes its write durable. A job
//! that fails (or panics) is rolled back to its savepoint alone; a failed commit fails
//! every job of the batch.
//!
//! The consent committer ([`crate::group_commit`]) is the same idea with batching of its
//! own (one chain head per organisation). Both share SQLite's one write lock with the
//! units of work.

use std::panic::{catch_unwind, AssertUnwindSafe};

use accord_domain::{Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::group_commit::{next_batch_blocking, QUEUE};

/// How a job's caller hears the outcome: its own result, unless the commit failed.
type Answer = Box<dyn FnOnce(Result<()>) + Send>;
/// Runs inside the batch's transaction; says whether it succeeded (else its savepoint is
/// rolled back) and how to answer its caller once the commit's outcome is known.
type Job = Box<dyn FnOnce(&rusqlite::Connection) -> (bool, Answer) + Send>;

pub(crate) struct BatchedWriter {
    queue: mpsc::Sender<Job>,
}

impl BatchedWriter {
    /// The writer and the thread that runs its batches (`run`), sharing `write_lock` with
    /// every other writer of the database and telling the checkpointer of each commit.
    pub(crate) fn start(
        conn: rusqlite::Connection,
        write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
        committed: std::sync::mpsc::SyncSender<()>,
        metrics: crate::StoreMetrics,
    ) -> Result<Self> {
        let (queue, jobs) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("accord-writer".into())
            .spawn(move || run(conn, write_lock, jobs, committed, metrics))
            .map_err(|e| Error::internal(format!("writer thread: {e}")))?;
        Ok(Self { queue })
    }

    /// Runs `write` in the next batch and answers once that batch is durable.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let out = write(conn);
            let ok = out.is_ok();
            let answer: Answer = Box::new(move |committed| {
                let _ = reply.send(committed.and(out));
            });
            (ok, answer)
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| Error::internal("the SQLite writer has stopped"))?;
        // The reply is dropped unanswered when the job panicked or the batch could not
        // begin; the thread logged why.
        answer
            .await
            .map_err(|_| Error::internal("the write was not committed"))?
    }
}

fn run(
    conn: rusqlite::Connection,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    mut jobs: mpsc::Receiver<Job>,
    committed: std::sync::mpsc::SyncSender<()>,
    metrics: crate::StoreMetrics,
) {
    while let Some(batch) = next_batch_blocking(&mut jobs) {
        let write = write_lock.blocking_lock();
        let (changes, started) = (batch.len(), std::time::Instant::now());
        let (answers, outcome) = run_batch(&conn, batch);
        metrics.batch_committed(
            crate::metrics::Writer::small_writes,
            changes,
            started.elapsed(),
        );
        if outcome.is_err() && !conn.is_autocommit() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back a write batch failed");
            }
        }
        drop(write);
        for answer in answers {
            answer(outcome.clone().map_err(Error::internal));
        }
        // Full: the checkpointer has been told already.
        let _ = committed.try_send(());
    }
}

/// One transaction: every job in a savepoint of its own, then one commit.
fn run_batch(
    conn: &rusqlite::Connection,
    batch: Vec<Job>,
) -> (Vec<Answer>, std::result::Result<(), String>) {
    let failed = |e: rusqlite::Error| {
        tracing::error!(error = %e, "a batch of writes failed");
        format!("sqlite: {e}")
    };
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return (Vec::new(), Err(failed(e)));
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            return (answers, Err(failed(e)));
        }
        let kept = match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok((ok, answer)) => {
                answers.push(answer);
                ok
            }
            Err(_) => {
                tracing::error!("a write panicked; it is rolled back alone");
                false
            }
        };
        let end = if kept {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            return (answers, Err(failed(e)));
        }
    }
    let outcome = conn.execute_batch("COMMIT").map_err(failed);
    (answers, outcome)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer on a fresh database file with one table, and a way to read it back.
    fn writer(name: &str) -> (BatchedWriter, rusqlite::Connection, std::path::PathBuf) {
        let path =
            std::env::temp_dir().join(format!("accord-writer-{name}-{}.db", uuid::Uuid::now_v7()));
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY)")
            .expect("schema");
        let (committed, _checkpoints) = std::sync::mpsc::sync_channel(1);
        let writes = rusqlite::Connection::open(&path).expect("open");
        let writer = BatchedWriter::start(
            writes,
            Arc::new(Default::default()),
            committed,
            crate::StoreMetrics::default(),
        )
        .expect("writer");
        (writer, conn, path)
    }

    type TestJob = Box<dyn FnOnce(&rusqlite::Connection) -> Result<()> + Send>;

    fn keys(conn: &rusqlite::Connection) -> Vec<String> {
        let mut s = conn.prepare("SELECT k FROM t ORDER BY k").expect("prepare");
        s.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    fn insert(k: &'static str) -> impl FnOnce(&rusqlite::Connection) -> Result<()> {
        move |conn| {
            conn.execute("INSERT INTO t (k) VALUES (?1)", [k])
                .map(|_| ())
                .map_err(Error::internal)
        }
    }

    #[tokio::test]
    async fn a_failing_or_panicking_job_is_rolled_back_alone() {
        let (writer, conn, path) = writer("rollback");
        let writer = Arc::new(writer);
        let job = |w: &Arc<BatchedWriter>, f: TestJob| {
            let w = Arc::clone(w);
            tokio::spawn(async move { w.write(f).await })
        };
        // Queued together (batches may hold several): a job that writes, then fails, must
        // leave nothing; one that panics must not stop the writer or its neighbours.
        let handles = vec![
            job(&writer, Box::new(insert("a"))),
            job(
                &writer,
                Box::new(|conn| {
                    insert("b")(conn)?;
                    Err(Error::invalid("refused after writing"))
                }),
            ),
            job(
                &writer,
                Box::new(|conn| {
                    insert("c")(conn)?;
                    panic!("a bug in a job");
                }),
            ),
            job(&writer, Box::new(insert("a"))),
            job(&writer, Box::new(insert("d"))),
        ];
        let mut outcomes = vec![];
        for h in handles {
            outcomes.push(h.await.expect("task").is_ok());
        }
        assert_eq!(outcomes, [true, false, false, false, true]);
        assert_eq!(keys(&conn), ["a", "d"]);
        drop(writer);
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn every_acknowledged_write_is_seen_by_another_connection() {
        let (writer, conn, path) = writer("commit");
        let writer = Arc::new(writer);
        let keys_of: Vec<&'static str> = vec!["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"];
        let handles: Vec<_> = keys_of
            .iter()
            .map(|k| {
                let w = Arc::clone(&writer);
                let k = *k;
                tokio::spawn(async move { w.write(insert(k)).await })
            })
            .collect();
        for h in handles {
            h.await.expect("task").expect("written");
        }
        // Another connection sees every acknowledged write: each was committed first.
        assert_eq!(keys(&conn), keys_of);
        drop(writer);
        let _ = std::fs::remove_file(&path);
    }
}
