//! The `Store`: Accord's only way to the database.
//!
//! Every domain operation runs in one unit of work ([`Tx`]): the change, its history entry
//! and its outbox row commit together or not at all. Two backends implement it from one
//! source (`sql.rs`, compiled once per backend) with runtime-checked queries; the store
//! conformance tests run every query on both.

use std::sync::Arc;

use accord_domain::identity::{RoleGrant, User};
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::throttle::ThrottleState;
use accord_domain::{Result, SessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

mod migrations;
pub mod postgres;
pub mod sqlite;

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

#[derive(Clone)]
pub struct SigningKeyRecord {
    pub id: String,
    pub algorithm: String,
    /// PKCS#8 document. Never logged.
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn begin(&self, mode: Mode) -> Result<Box<dyn Tx>>;
    /// Is the database reachable? (readiness)
    async fn ping(&self) -> Result<()>;
    fn backend(&self) -> Backend;
}

/// One unit of work. Dropped without [`Tx::commit`], it rolls back.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> Result<()>;

    // Users
    async fn insert_user(&mut self, user: &User) -> Result<()>;
    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email_key(&mut self, email_key: &str) -> Result<Option<User>>;
    async fn update_user_profile(&mut self, id: UserId, name: &str, phone: &str) -> Result<()>;
    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()>;
    async fn set_last_visit(&mut self, id: UserId, at: DateTime<Utc>) -> Result<()>;
    async fn set_apikey(
        &mut self,
        id: UserId,
        revision: i64,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    async fn set_platform_admin(&mut self, id: UserId, is_admin: bool) -> Result<()>;
    /// Deletes the account and, by cascade, its sessions and tokens. `false` if absent.
    async fn delete_user(&mut self, id: UserId) -> Result<bool>;
    async fn role_grants_of(&mut self, id: UserId) -> Result<Vec<RoleGrant>>;

    // Sessions and refresh tokens
    async fn insert_session(&mut self, session: &Session) -> Result<()>;
    async fn session_by_id(&mut self, id: SessionId) -> Result<Option<Session>>;
    async fn revoke_session(&mut self, id: SessionId, at: DateTime<Utc>) -> Result<()>;
    /// Revokes every session of the user but `except` (the caller's own, when it stays).
    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: DateTime<Utc>,
        except: Option<SessionId>,
    ) -> Result<()>;
    async fn insert_refresh_token(&mut self, token: &RefreshTokenRecord) -> Result<()>;
    async fn refresh_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>>;
    /// Marks a refresh token used; `false` if it already was (someone raced us: a reuse).
    async fn mark_refresh_token_used(
        &mut self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    // Signing keys
    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>>;
    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> Result<()>;

    // Password reset
    async fn insert_password_reset(
        &mut self,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses a reset token once: the user it belongs to if it was unused and unexpired.
    async fn consume_password_reset(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>>;

    // Login throttling (row-locked where the backend supports it)
    /// The key's state, created as `fresh` if absent, locked for this unit of work.
    async fn throttle_state(&mut self, key: &str, fresh: &ThrottleState) -> Result<ThrottleState>;
    async fn put_throttle_state(&mut self, key: &str, state: &ThrottleState) -> Result<()>;
}

/// Opens the database a URL names (creating a SQLite file if needed) and runs migrations.
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::open(url, options).await?),
        Backend::Postgres => Arc::new(postgres::PostgresStore::open(url, options).await?),
    })
}

/// Runs the migrations alone (`accord migrate`).
pub async fn migrate(url: &str) -> Result<()> {
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

/// Constraint violations are the client's doing (a duplicate email); everything else is ours.
pub(crate) fn db_error(e: sqlx::Error) -> accord_domain::Error {
    use sqlx::error::ErrorKind;
    if let sqlx::Error::Database(db) = &e {
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
