//! PostgreSQL: for many stateless nodes on one database. Read committed; rows that a unit
//! of work reads in order to change them are locked (`FOR UPDATE`).

use std::str::FromStr;
use std::time::Duration;

use accord_domain::Result;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::{db_error, migrations, Backend, Mode, OpenOptions, Store, Tx};

pub(crate) type DB = sqlx::Postgres;

/// How long a pooled connection may sit idle before the pool pings it on handing it out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);
/// How long a unit of work or a consent read waits for a connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) const FOR_UPDATE: &str = "FOR UPDATE";
/// Nodes claiming work take different rows instead of queueing on the same ones.
pub(crate) const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";
/// Nodes starting together on an empty database: the first to look for a signing key
/// holds the others until it has made one (they then find it).
pub(crate) const LOCK_SIGNING_KEYS: &str = "LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE";
/// PostgreSQL plans each execution from statistics autovacuum keeps current: no pins
/// (SQLite's are in `sqlite.rs`).
pub(crate) const USER_BY_ID: &str = "";
pub(crate) const SESSION_BY_ID: &str = "";
pub(crate) const ORGANIZATION_BY_ID: &str = "";
pub(crate) const CONSENT_BY_PERSON: &str = "";
/// A record's values as one JSON array of `[purpose, attribute, value, days, changed_at,
/// version]`.
pub(crate) const RECORD_VALUES_JSON: &str =
    "(SELECT COALESCE(json_agg(json_build_array(v.purpose_id, v.attribute_id, \
     v.value, v.days, v.changed_at, v.purpose_version)), '[]')::text FROM consent_values v WHERE v.consent_id = c.id)";

pub struct PostgresStore {
    pool: PgPool,
    consent_readers: std::sync::Arc<ConsentReaders>,
    committer: crate::group_commit::ConsentCommitter,
    metrics: crate::StoreMetrics,
}

impl PostgresStore {
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self, crate::OpenError> {
        use crate::OpenError;
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?;
        // Where it tried, never the password.
        let target = format!(
            "PostgreSQL at {}:{} (database {}, user {})",
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or("(the user's)"),
            connect.get_username()
        );
        let unreachable =
            |e: sqlx::Error| OpenError::Unreachable(format!("cannot connect to {target}: {e}"));
        // One connection first: a pool's retries would hide the cause ("connection
        // refused", "password authentication failed") behind a timeout.
        {
            use sqlx::{ConnectOptions as _, Connection as _};
            let probe = connect.connect().await.map_err(unreachable)?;
            let _ = probe.close().await;
        }
        // Half the connections for the consent read, the hottest statement.
        let readers = (options.max_connections / 2).max(1);
        let consent_readers = std::sync::Arc::new(ConsentReaders::new(connect.clone(), readers));
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.saturating_sub(readers).max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx pings every connection it hands out: a round trip before each unit of
            // work's `BEGIN` (BENCHMARKS.md, issue #27). Only a connection idle long
            // enough for the server to have gone (a restart, a proxy's timeout) is
            // pinged now; a hot one was checked when it came back (sqlx pings on release).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .map_err(unreachable)?;
        // The migrator takes an advisory lock: nodes starting together migrate once.
        migrations::migrator(migrations::POSTGRES)
            .await?
            .run(&pool)
            .await
            .map_err(|e| OpenError::Migration(e.to_string()))?;
        let known = migrations::POSTGRES.newest();
        let newer: Vec<i64> = sqlx::query_scalar(migrations::NEWER_SQL)
            .bind(known)
            .fetch_all(&pool)
            .await
            .map_err(|e| OpenError::Other(crate::db_error(e)))?;
        migrations::warn_of_newer(&newer, known);
        let (committer, queue) = crate::group_commit::ConsentCommitter::new();
        let metrics = crate::StoreMetrics::default();
        tokio::spawn(run_consent_committer(pool.clone(), queue, metrics.clone()));
        Ok(Self {
            pool,
            consent_readers,
            committer,
            metrics,
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn begin(&self, mode: Mode) -> Result<Box<dyn Tx>> {
        let asked = std::time::Instant::now();
        let tx = self.pool.begin().await.map_err(db_error)?;
        self.metrics.began(mode, asked.elapsed());
        Ok(Box::new(Uow {
            tx,
            write_lock: None,
        }))
    }

    async fn consent_read(
        &self,
        q: &crate::ConsentReadQuery,
    ) -> Result<Option<crate::ConsentRead>> {
        self.consent_readers.read(q).await
    }

    async fn change_consent(
        &self,
        job: crate::ConsentChangeJob,
    ) -> Result<crate::ConsentChangeOutcome> {
        self.committer.submit(job).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn metrics(&self) -> &crate::StoreMetrics {
        &self.metrics
    }

    fn pool_use(&self) -> Vec<crate::PoolUse> {
        vec![
            crate::PoolUse {
                pool: "main",
                open: self.pool.size(),
                idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                max: self.pool.options().get_max_connections(),
            },
            self.consent_readers.pool_use(),
        ]
    }
}

/// Connections of their own for the consent read, the hottest statement (issue #27):
/// sqlx's pool pings each connection that comes back to it, a round trip of both
/// processes' time for every read (BENCHMARKS.md). At most `max` are open. A read runs on
/// a task of its own, so a request that is dropped never leaves a connection in the
/// middle of an exchange.
struct ConsentReaders {
    connect: PgConnectOptions,
    idle: std::sync::Mutex<Vec<sqlx::PgConnection>>,
    permits: tokio::sync::Semaphore,
    max: u32,
}

impl ConsentReaders {
    fn new(connect: PgConnectOptions, max: u32) -> Self {
        Self {
            connect,
            idle: Default::default(),
            permits: tokio::sync::Semaphore::new(max as usize),
            max,
        }
    }

    async fn read(
        self: &std::sync::Arc<Self>,
        q: &crate::ConsentReadQuery,
    ) -> Result<Option<crate::ConsentRead>> {
        let readers = std::sync::Arc::clone(self);
        let q = q.clone();
        let row = tokio::spawn(async move { readers.fetch(&q).await })
            .await
            .map_err(|e| accord_domain::Error::internal(format!("consent read: {e}")))??;
        match row {
            Some(row) => consent_read_row(&row)?.into_read().map(Some),
            None => Ok(None),
        }
    }

    /// The read's row. A connection the server has closed (a restart, an idle timeout,
    /// an operator's `pg_terminate_backend`) is dropped with every idle one (they are
    /// likely closed too) and the read runs again on a new connection: a read has no
    /// effect to repeat.
    async fn fetch(&self, q: &crate::ConsentReadQuery) -> Result<Option<DbRow>> {
        let no_connection = || accord_domain::Error::internal("no connection for a consent read");
        let _permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| no_connection())?
            .map_err(|_| no_connection())?;
        let mut retried = false;
        loop {
            let idle = self.idle.lock().expect("consent readers").pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => {
                    use sqlx::ConnectOptions as _;
                    tokio::time::timeout(ACQUIRE_TIMEOUT, self.connect.connect())
                        .await
                        .map_err(|_| no_connection())?
                        .map_err(db_error)?
                }
            };
            match fetch_consent_read(&mut conn, q).await {
                Ok(row) => {
                    self.idle.lock().expect("consent readers").push(conn);
                    return Ok(row);
                }
                Err(e) if !retried && connection_lost(&e) => {
                    self.idle.lock().expect("consent readers").clear();
                    retried = true;
                }
                Err(e) => return Err(db_error(e)),
            }
        }
    }

    fn pool_use(&self) -> crate::PoolUse {
        let idle = self.idle.lock().expect("consent readers").len();
        let busy = self.max as usize - self.permits.available_permits();
        crate::PoolUse {
            pool: "consent_readers",
            open: u32::try_from(idle + busy).unwrap_or(u32::MAX),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max,
        }
    }
}

/// The connection is gone, not the statement wrong: the socket failed, or the server
/// is shutting the session down (SQLSTATE class 57P: operator intervention; 08:
/// connection exception).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

/// The consent read's statement as this backend runs it ($1 caller, $2 session, $3
/// organisation, $4 person, $5 and $6 the Admin and Dpo role IDs), for tests that read
/// its plan.
pub fn consent_read_statement() -> &'static str {
    consent_read_sql()
}

// Compiled once per backend on purpose (docs/ARCHITECTURE.md, "The store").
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
use crate::to_ms;
use accord_domain::consent::ConsentValue;
use accord_domain::identity::OrgRole;
use sql::consent_read::*;
use sql::{DbRow, Uow};
use sqlx::Row as _;

/// The consent committer ([`crate::group_commit`]) of this node: a batch is one
/// transaction holding its organisations' chain heads (locked in one order on every
/// node), three statements whatever its size (rows go in as arrays).
async fn run_consent_committer(
    pool: PgPool,
    mut queue: tokio::sync::mpsc::Receiver<crate::group_commit::Pending>,
    metrics: crate::StoreMetrics,
) {
    use crate::group_commit::{next_batch, Batch};
    while let Some(pending) = next_batch(&mut queue).await {
        let changes = pending.len();
        let mut batch = Batch::new(pending);
        let started = std::time::Instant::now();
        // Dropped unfinished, the transaction rolls back.
        let recorded = record_batch(&pool, &mut batch).await;
        metrics.batch_committed(crate::metrics::Writer::consents, changes, started.elapsed());
        batch.answer(recorded);
    }
}

/// A batch in five round trips whatever its size and its organisations: `BEGIN`, the
/// heads ([`HOLD_CHAIN_HEADS_SQL`]), every change's state ([`consent_reads`]), every
/// write ([`RECORD_BATCH_SQL`]), `COMMIT`. The reads need a statement after the heads'
/// (READ COMMITTED takes a statement's snapshot at its start, and the heads' lock may
/// have waited for another node's batch); the writes need the decisions.
async fn record_batch(pool: &PgPool, batch: &mut crate::group_commit::Batch) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let organizations = batch.organizations();
    let held = sqlx::query(HOLD_CHAIN_HEADS_SQL)
        .bind(column(&organizations, ToString::to_string))
        .bind(accord_domain::consent::GENESIS)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let mut heads = std::collections::HashMap::new();
    for row in &held {
        let org: String = row.try_get("organization_id").map_err(db_error)?;
        let head = crate::ChainHead {
            seq: row.try_get("seq").map_err(db_error)?,
            hash: row.try_get("hash").map_err(db_error)?,
        };
        let listened: Vec<String> = row.try_get("events").map_err(db_error)?;
        heads.insert(org, (head, listened));
    }
    // An organisation that does not exist holds no head: its changes are refused.
    for org in organizations {
        let (head, listened) = heads.remove(&org.to_string()).unzip();
        batch.hold_organization(org, head, listened.unwrap_or_default());
    }
    for read in consent_reads(&mut tx, &batch.queries()).await? {
        batch.decide_next(read);
    }
    let v = &batch.values;
    let h = &batch.history;
    let o = &batch.outbox;
    let moved: Vec<_> = batch.moved_heads().collect();
    if !(v.is_empty() && h.is_empty() && o.is_empty() && moved.is_empty()) {
        sqlx::query(RECORD_BATCH_SQL)
            .bind(column(v, |r| r.consent_id.to_string()))
            .bind(column(v, |r| r.organization_id.to_string()))
            .bind(column(v, |r| r.user_id.to_string()))
            .bind(column(v, |r| r.purpose_id.to_string()))
            .bind(column(v, |r| r.attribute_id.to_string()))
            .bind(column(v, |r| r.stored.value.as_str()))
            .bind(column(v, |r| r.stored.days))
            .bind(column(v, |r| to_ms(r.stored.changed_at)))
            .bind(column(v, |r| r.stored.expires_at().map(to_ms)))
            .bind(column(v, |r| r.stored.version))
            .bind(column(h, |e| e.id.clone()))
            .bind(column(h, |e| e.organization_id.clone()))
            .bind(column(h, |e| e.seq))
            .bind(column(h, |e| e.user_id.clone()))
            .bind(column(h, |e| e.consent_id.clone()))
            .bind(column(h, |e| e.purpose_id.clone()))
            .bind(column(h, |e| e.attribute_id.clone()))
            .bind(column(h, |e| e.actor_id.clone()))
            .bind(column(h, |e| e.changed_by.as_str()))
            .bind(column(h, |e| e.old_value.map(ConsentValue::as_str)))
            .bind(column(h, |e| e.new_value.as_str()))
            .bind(column(h, |e| e.days))
            .bind(column(h, |e| to_ms(e.at)))
            .bind(column(h, |e| e.prev_hash.clone()))
            .bind(column(h, |e| e.hash.clone()))
            .bind(column(h, |e| e.wording.as_ref().map(|w| w.number)))
            .bind(column(h, |e| e.wording.as_ref().map(|w| w.hash.clone())))
            .bind(column(o, |e| e.id.to_string()))
            .bind(column(o, |e| e.organization_id.to_string()))
            .bind(column(o, |e| e.event_type.clone()))
            .bind(column(o, |e| e.data.clone()))
            .bind(column(o, |e| to_ms(e.created_at)))
            .bind(column(o, |e| e.trace.as_ref().map(|t| t.0.clone())))
            .bind(column(&moved, |(org, _)| org.to_string()))
            .bind(column(&moved, |(_, head)| head.seq))
            .bind(column(&moved, |(_, head)| head.hash.clone()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
    }
    tx.commit().await.map_err(db_error)
}

/// A column of rows, as an array to bind (the committer's statements `unnest` them).
fn column<T, U>(rows: &[T], cell: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(cell).collect()
}

/// The batch's chain heads in one statement: each organisation that exists gets its
/// head (at genesis if it had none), locked in the batch's order (the same on every
/// node: `Batch::organizations`), as it stands once any other holder has committed
/// (`ON CONFLICT DO UPDATE` waits for the lock, then reads the row's latest version),
/// with the events its enabled webhooks listen to. $1 the organisations, $2 genesis.
const HOLD_CHAIN_HEADS_SQL: &str =
    "INSERT INTO consent_chain_heads AS h (organization_id, seq, hash) \
     SELECT o.id, 0, $2 FROM unnest($1::text[]) WITH ORDINALITY AS q(org, ord) \
     JOIN organizations o ON o.id = q.org ORDER BY q.ord \
     ON CONFLICT (organization_id) DO UPDATE SET seq = h.seq \
     RETURNING h.organization_id, h.seq, h.hash, \
     ARRAY(SELECT w.subscribed_events FROM webhooks w \
           WHERE w.organization_id = h.organization_id AND NOT w.disabled) AS events";

/// Every write of a batch in one statement: its final values, its history entries, its
/// outbox events (each a set of arrays, empty when the batch has none) and its moved
/// chain heads.
const RECORD_BATCH_SQL: &str = "WITH \
     written_values AS (INSERT INTO consent_values (consent_id, organization_id, user_id, purpose_id, \
       attribute_id, value, days, changed_at, expires_at, purpose_version) \
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
       $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) \
       ON CONFLICT (consent_id, purpose_id, attribute_id) DO UPDATE SET value = excluded.value, \
       days = excluded.days, changed_at = excluded.changed_at, expires_at = excluded.expires_at, \
       purpose_version = excluded.purpose_version, expiry_recorded_at = NULL), \
     written_history AS (INSERT INTO consent_history (id, organization_id, seq, user_id, consent_id, \
       purpose_id, attribute_id, actor_id, changed_by, old_value, new_value, days, at, prev_hash, hash, \
       purpose_version, wording_hash) \
       SELECT * FROM unnest($11::text[], $12::text[], $13::bigint[], $14::text[], $15::text[], $16::text[], \
       $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bigint[], $23::bigint[], \
       $24::text[], $25::text[], $26::bigint[], $27::text[])), \
     written_outbox AS (INSERT INTO outbox (id, organization_id, event_type, data, created_at, trace_parent) \
       SELECT * FROM unnest($28::text[], $29::text[], $30::text[], $31::text[], $32::bigint[], $33::text[])) \
     UPDATE consent_chain_heads h SET seq = m.seq, hash = m.hash \
     FROM unnest($34::text[], $35::bigint[], $36::text[]) AS m(org, seq, hash) \
     WHERE h.organization_id = m.org";

/// [`consent_read_sql`] for many queries in one statement: `None` for a query whose
/// caller does not exist, in the queries' order.
async fn consent_reads(
    tx: &mut sqlx::PgConnection,
    queries: &[crate::ConsentReadQuery],
) -> Result<Vec<Option<crate::ConsentRead>>> {
    let sql = format!(
        "SELECT q.ord AS q_ord, {} \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
           AS q(caller, session_id, org, person, ord) \
         JOIN users u ON u.id = q.caller \
         LEFT JOIN sessions s ON s.id = q.session_id \
         LEFT JOIN organizations o ON o.id = q.org \
         LEFT JOIN consents c ON c.organization_id = o.id AND c.user_id = q.person",
        consent_read_columns("q.org")
    );
    let rows = sqlx::query(&sql)
        .bind(column(queries, |q| q.caller.to_string()))
        .bind(column(queries, |q| q.session.map(|s| s.to_string())))
        .bind(column(queries, |q| q.organization.to_string()))
        .bind(column(queries, |q| q.user.to_string()))
        .bind(OrgRole::Admin.id())
        .bind(OrgRole::Dpo.id())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
    let mut reads: Vec<Option<crate::ConsentRead>> = queries.iter().map(|_| None).collect();
    for row in &rows {
        let ord: i64 = row.try_get("q_ord").map_err(db_error)?;
        let slot = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| reads.get_mut(i))
            .ok_or_else(|| accord_domain::Error::internal("consent read out of order"))?;
        *slot = Some(consent_read_row(row)?.into_read()?);
    }
    Ok(reads)
}
