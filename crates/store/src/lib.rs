//! The `Store`: Accord's only way to the database.
//!
//! Every domain operation runs in one unit of work ([`Tx`]): the change, its history entry
//! and its outbox row commit together or not at all. `Tx` is the sum of one trait per area
//! (`tx/`); two backends implement them from one source (`sql/`, one file per area,
//! compiled once per backend) with runtime-checked queries; the store tests run every
//! query on both.

use std::sync::Arc;

use accord_domain::session::{RefreshState, RefreshTokenRecord, Rotation, Session};
use accord_domain::webhook::ActionLog;
use accord_domain::{OrganizationId, Result, SessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use accord_domain::consent_change::{
    ChainHead, ConsentChangeState, ConsentRead, ConsentWrites,
};
pub use group_commit::{ConsentChangeJob, ConsentChangeOutcome, ConsentDecider};

mod group_commit;
pub mod tx;
pub use tx::*;
mod maintenance;
mod metrics;
pub use metrics::{PoolUse, StoreMetrics};
mod migrations;
mod open_error;
pub use maintenance::{backup_sqlite, check_migrations, MigrationCheck};
pub use open_error::OpenError;
pub mod postgres;
pub mod sqlite;
mod sqlite_writer;

/// Which backend a URL selects; chosen once, at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(accord_domain::Error::invalid(
                "database URL must start with sqlite:// or postgres://",
            ))
        }
    }
}

/// Whether a unit of work may write. SQLite takes its write lock up front for `Write`
/// (BEGIN IMMEDIATE), so a transaction never fails half-way on a lock upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn begin(&self, mode: Mode) -> Result<Box<dyn Tx>>;
    /// Everything a consent read needs that changes per request — the caller's account
    /// and session, their roles in the organisation, the organisation's layout version, the
    /// record and its values — in one indexed statement, outside a unit of work (one
    /// statement reads one snapshot). The read path of `GET …/consents` (BENCHMARKS.md).
    /// `None` when the caller's account does not exist.
    async fn consent_read(&self, q: &ConsentReadQuery) -> Result<Option<ConsentRead>>;
    /// Records a change to a consent record through the node's group committer: the
    /// change is decided (by the job's decider) against the record and the chain head
    /// as they stand inside the batch's transaction, and answered once that transaction
    /// is durable. The write path of the consent PATCH and POST endpoints (BENCHMARKS.md).
    async fn change_consent(&self, job: ConsentChangeJob) -> Result<ConsentChangeOutcome>;
    /// Rotates a refresh token in one durable write, as [`Rotation::judge`] decides on
    /// what is stored for `presented` (a token hash): `Rotated` spends it, stores
    /// `successor` (a token hash) for the same session and expiry, and records the
    /// account's visit; `Reused` revokes the session; `Refused` writes nothing. The
    /// token-refresh path (BENCHMARKS.md): SQLite batches these with other small writes.
    async fn rotate_refresh_token(
        &self,
        presented: &str,
        successor: &str,
        now: DateTime<Utc>,
    ) -> Result<Rotation> {
        let mut tx = self.begin(Mode::Write).await?;
        let state = match tx.refresh_token_by_hash(presented).await? {
            None => None,
            Some(record) => {
                let session = tx.session_by_id(record.session_id).await?;
                let user_status = match &session {
                    Some(s) => tx.user_by_id(s.user_id).await?.map(|u| u.status),
                    None => None,
                };
                Some(RefreshState {
                    record,
                    session,
                    user_status,
                })
            }
        };
        let rotation = Rotation::judge(state.as_ref(), now);
        match &rotation {
            Rotation::Refused => return Ok(rotation),
            Rotation::Reused { session_id } => tx.revoke_session(*session_id, now).await?,
            Rotation::Rotated { session } => {
                // The token's row is locked (FOR UPDATE) or the write lock held since it
                // was read, so it is still unspent.
                if !tx.mark_refresh_token_used(presented, now).await? {
                    return Err(accord_domain::Error::internal(
                        "a refresh token was spent under its lock",
                    ));
                }
                tx.insert_refresh_token(&successor_of(session, successor))
                    .await?;
                tx.set_last_visit(session.user_id, now).await?;
            }
        }
        tx.commit().await?;
        Ok(rotation)
    }
    /// Appends an entry to an organisation's action log in a durable write of its own
    /// (the audit of a read). SQLite batches these with other small writes.
    async fn append_action_log(&self, log: &ActionLog) -> Result<()> {
        let mut tx = self.begin(Mode::Write).await?;
        tx.insert_action_log(log).await?;
        tx.commit().await
    }
    /// Is the database reachable? (readiness)
    async fn ping(&self) -> Result<()>;
    fn backend(&self) -> Backend;
    /// The writers' batches and the waits to begin, for `/metrics`.
    fn metrics(&self) -> &StoreMetrics;
    /// The connection pools' use now, for `/metrics`.
    fn pool_use(&self) -> Vec<PoolUse>;
}

/// The refresh token that takes a spent one's place: same session, same expiry.
fn successor_of(session: &Session, token_hash: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: token_hash.to_owned(),
        session_id: session.id,
        expires_at: session.expires_at,
        used_at: None,
    }
}

/// Whose record, read by whom (see [`Store::consent_read`]).
#[derive(Debug, Clone)]
pub struct ConsentReadQuery {
    pub caller: UserId,
    /// The caller's session, when they came with an access token.
    pub session: Option<SessionId>,
    pub organization: OrganizationId,
    pub user: UserId,
}

/// Opens the database a URL names (creating a SQLite file if needed) and runs migrations.
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>, OpenError> {
    let backend = Backend::from_url(url)
        .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?;
    Ok(match backend {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::open(url, options).await?),
        Backend::Postgres => Arc::new(postgres::PostgresStore::open(url, options).await?),
    })
}

/// Runs the migrations alone (`accord migrate`).
pub async fn migrate(url: &str) -> Result<(), OpenError> {
    open(url, &OpenOptions::default()).await.map(|_| ())
}

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Connections for readers (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Constraint violations are the client's doing (a duplicate email); a transaction the
/// database aborted to break a deadlock is contention (nothing written, may be repeated);
/// everything else is ours.
pub(crate) fn db_error(e: sqlx::Error) -> accord_domain::Error {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &e {
        // PostgreSQL's deadlock_detected and serialization_failure.
        if matches!(db.code().as_deref(), Some("40P01" | "40001")) {
            return accord_domain::Error::Contention(
                "the server was busy with a conflicting change; nothing was written, try again"
                    .into(),
            );
        }
        match db.kind() {
            ErrorKind::UniqueViolation => {
                return accord_domain::Error::Conflict("already exists".into())
            }
            ErrorKind::ForeignKeyViolation => {
                return accord_domain::Error::invalid("refers to something that does not exist")
            }
            _ => {}
        }
    }
    accord_domain::Error::internal(format!("database: {e}"))
}
