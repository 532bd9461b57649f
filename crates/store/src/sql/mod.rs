//! The unit of work, written once and compiled into both `sqlite` and `postgres`: each
//! declares this directory as its `sql` module (`#[path]`) after defining `DB` and
//! `FOR_UPDATE` (docs/ARCHITECTURE.md, "The store"). Only SQL that both backends accept
//! belongs here: `$n` placeholders, BIGINT millisecond times, TEXT IDs. One file per area
//! of [`crate::tx`].

mod accounts;
mod activity;
pub(crate) mod consent_read;
mod consents;
mod customer_id;
mod data_requests;
mod federation;
mod images;
mod keys;
mod mandates;
mod organizations;
mod purposes;
mod retention;
mod rows;
mod sessions;
pub(crate) mod statements;
mod subscriptions;
mod webhooks;

use prelude::*;

/// What every file of the unit of work uses.
mod prelude {
    pub(crate) use super::super::{
        CONSENT_BY_PERSON, DB, FOR_UPDATE, LOCK_SIGNING_KEYS, ORGANIZATION_BY_ID,
        RECORD_VALUES_JSON, SESSION_BY_ID, SKIP_LOCKED, USER_BY_ID,
    };
    pub(crate) use super::rows::*;
    pub(crate) use super::statements::*;
    pub(crate) use super::{Columns, DbRow, Uow};
    pub(crate) use crate::tx::*;
    pub(crate) use crate::{db_error, from_ms, to_ms, ConsentRead, ConsentReadQuery};
    pub(crate) use accord_domain::consent::{ChangedBy, ConsentValue, HistoryEntry, StoredConsent};
    pub(crate) use accord_domain::federation::{
        ExternalIdentity, IdentityProvider, LoginState, ProviderSettings, TokenAuthMethod,
    };
    pub(crate) use accord_domain::identity::{
        Email, Language, OrgRole, RoleGrant, User, UserStatus,
    };
    pub(crate) use accord_domain::ledger::{CurrentValue, LedgerRow, RecordedValue};
    pub(crate) use accord_domain::organization::{
        FoundOrganization, LawfulBasis, Offer, OfferKind, Organization, OrganizationType, Purpose,
        SubscribeMethod, SubscribedOrg, Template,
    };
    pub(crate) use accord_domain::purpose_version::{OutdatedConsent, VersionRef};
    pub(crate) use accord_domain::session::{RefreshTokenRecord, Session};
    pub(crate) use accord_domain::throttle::ThrottleState;
    pub(crate) use accord_domain::webhook::{
        ActionLog, Delivery, DeliveryStatus, EventType, Notification, OutboxEvent, Webhook,
    };
    pub(crate) use accord_domain::{
        AttributeId, ConsentId, DataRequestId, DelegationId, DeliveryId, ImageId, MandateId,
        NotificationId, OfferId, OrganizationId, OrganizationTypeId, OutboxEventId, PurposeId,
        Result, RoleId, RoleInvitationId, SessionId, UserId, WebhookId,
    };
    pub(crate) use async_trait::async_trait;
    pub(crate) use chrono::{DateTime, Utc};
    pub(crate) use sqlx::Row;
}

pub struct Uow {
    pub(crate) tx: sqlx::Transaction<'static, DB>,
    /// SQLite's in-process write lock, held until the unit of work ends.
    #[allow(dead_code)] // held, never read
    pub(crate) write_lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

pub(crate) type DbRow = <DB as sqlx::Database>::Row;

#[async_trait]
impl Tx for Uow {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.map_err(db_error)
    }
}

impl Uow {
    /// Every change to an organisation's layout (settings, purposes, templates) counts
    /// here, in its own unit of work: nodes caching the layout compare this counter.
    async fn bump_layout(&mut self, org: OrganizationId) -> Result<()> {
        self.execute(
            sqlx::query(
                "UPDATE organizations SET layout_version = layout_version + 1 WHERE id = $1",
            )
            .bind(org.to_string()),
        )
        .await
        .map(|_| ())
    }
}

/// A statement of this backend with its parameters bound.
pub(crate) type Query<'q> = sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>;

/// The one way a statement runs in a unit of work: database errors become domain errors
/// here ([`db_error`]), nowhere else.
impl Uow {
    /// Runs a statement: the number of rows it changed.
    pub(crate) async fn execute(&mut self, q: Query<'_>) -> Result<u64> {
        let done = q.execute(&mut *self.tx).await.map_err(db_error)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn fetch_optional(&mut self, q: Query<'_>) -> Result<Option<DbRow>> {
        q.fetch_optional(&mut *self.tx).await.map_err(db_error)
    }

    pub(crate) async fn fetch_one(&mut self, q: Query<'_>) -> Result<DbRow> {
        q.fetch_one(&mut *self.tx).await.map_err(db_error)
    }

    pub(crate) async fn fetch_all(&mut self, q: Query<'_>) -> Result<Vec<DbRow>> {
        q.fetch_all(&mut *self.tx).await.map_err(db_error)
    }
}

/// The one way a column is read: decoding errors become domain errors, times are
/// stored as milliseconds.
pub(crate) trait Columns {
    fn col<'r, T>(&'r self, name: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, DB> + sqlx::Type<DB>;
    fn time(&self, name: &str) -> Result<DateTime<Utc>> {
        self.col::<i64>(name).map(from_ms)
    }
    fn opt_time(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self.col::<Option<i64>>(name)?.map(from_ms))
    }
    /// A typed ID stored as text.
    fn id<T: From<uuid::Uuid>>(&self, name: &str) -> Result<T> {
        parse_uuid(name, &self.col::<String>(name)?).map(T::from)
    }
    /// A typed ID stored as text, or NULL.
    fn opt_id<T: From<uuid::Uuid>>(&self, name: &str) -> Result<Option<T>> {
        let raw = self.col::<Option<String>>(name)?;
        raw.map(|s| parse_uuid(name, &s).map(T::from)).transpose()
    }
}

fn parse_uuid(column: &str, raw: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw)
        .map_err(|e| accord_domain::Error::internal(format!("bad uuid in {column}: {e}")))
}

impl Columns for DbRow {
    fn col<'r, T>(&'r self, name: &str) -> Result<T>
    where
        T: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    {
        self.try_get(name).map_err(db_error)
    }
}
