//! The `Store`: Accord's only way to the database.
//!
//! Every domain operation runs in one unit of work ([`Tx`]): the change, its history entry
//! and its outbox row commit together or not at all. Two backends implement it from one
//! source (`sql.rs`, compiled once per backend) with runtime-checked queries; the store
//! conformance tests run every query on both.

use std::sync::Arc;

use accord_domain::consent::{HistoryEntry, StoredConsent};
use accord_domain::federation::{ExternalIdentity, IdentityProvider, LoginState};
use accord_domain::identity::{OrgRole, RoleGrant, User};
use accord_domain::ledger::{CurrentValue, LedgerRow};
use accord_domain::organization::{
    Offer, Organization, OrganizationType, Purpose, SubscribedOrg, Template,
};
use accord_domain::session::{RefreshState, RefreshTokenRecord, Rotation, Session};
use accord_domain::throttle::ThrottleState;
use accord_domain::webhook::{ActionLog, Delivery, Notification, OutboxEvent, Webhook};
use accord_domain::{OfferId, OrganizationId, Result, SessionId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use group_commit::{
    ChainHead, ConsentChangeJob, ConsentChangeOutcome, ConsentChangeState, ConsentDecider,
    ConsentWrites,
};

mod group_commit;
mod migrations;
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

/// What a retention sweep deletes, each older than the cut-off it is given
/// (docs/operations.md, "Retention").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Sessions expired or revoked (their refresh tokens go with them).
    EndedSessions,
    /// Throttle rows whose window and lockout both ended.
    QuietThrottles,
    /// Outbox events already fanned out.
    ProcessedOutbox,
    /// Webhook deliveries delivered or given up.
    FinishedDeliveries,
    OrganizationLogs,
    ExpiredResetTokens,
    ExpiredLoginStates,
    ExpiredEmailVerifications,
}

impl Sweep {
    pub const ALL: [Sweep; 8] = [
        Sweep::EndedSessions,
        Sweep::QuietThrottles,
        Sweep::ProcessedOutbox,
        Sweep::FinishedDeliveries,
        Sweep::OrganizationLogs,
        Sweep::ExpiredResetTokens,
        Sweep::ExpiredLoginStates,
        Sweep::ExpiredEmailVerifications,
    ];
}

/// An image as stored: bytes, sniffed content type, and who it belongs to
/// (`org:<id>`, `user:<id>`, `type:<id>`).
#[derive(Clone)]
pub struct ImageRecord {
    pub id: String,
    pub owner: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub etag: String,
    pub created_at: DateTime<Utc>,
}

/// A back end allowed to call the CustomerID API.
#[derive(Clone)]
pub struct RestClientRecord {
    pub id: String,
    pub name: String,
    /// argon2id PHC string. Never logged.
    pub secret_hash: String,
    /// Bound to this organisation and its sub-organisations; `None`: everything.
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for RestClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClientRecord")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A CustomerID search: `(attribute, value)` pairs, all of which must match.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub builtin: Vec<(SearchField, String)>,
    /// Custom attributes: (name, value).
    pub custom: Vec<(String, String)>,
    /// Exact (case-insensitive) or prefix matching.
    pub exact: bool,
    /// Only entities under these organisations (users: by home organisation).
    pub within: Option<Vec<OrganizationId>>,
    /// 0: no limit.
    pub max_results: i64,
}

/// Builtin attributes a search can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchField {
    UserId,
    UserFirstName,
    UserSurname,
    UserMobile,
    UserEmail,
    UserHomeOrganization,
    /// Matched exactly, by code.
    UserStatus,
    OrgId,
    OrgTechnicalName,
    OrgFriendlyName,
    OrgTypeName,
}

/// One organisation's place in the tree.
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub id: OrganizationId,
    pub parent_id: Option<OrganizationId>,
    pub technical_name: Option<String>,
    pub name: String,
}

/// Which consent history to read: newest first, strictly before `before` (an entry ID).
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub user: Option<UserId>,
    pub organization: Option<OrganizationId>,
    pub purpose: Option<OrganizationId>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<String>,
    pub limit: i64,
}

/// A time-limited consent whose time is up and whose expiry is not yet recorded.
#[derive(Debug, Clone)]
pub struct ExpiringConsent {
    pub consent_id: String,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub purpose_id: OrganizationId,
    pub attribute_id: OrganizationId,
    pub stored: StoredConsent,
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

#[derive(Debug, Clone)]
pub struct ConsentRead {
    pub caller_status: accord_domain::identity::UserStatus,
    pub caller_is_platform_admin: bool,
    /// The revision of the caller's APIKey, if one is issued.
    pub caller_api_key: Option<i64>,
    pub session: Option<Session>,
    /// `None` when the organisation does not exist.
    pub layout_version: Option<i64>,
    /// The caller's roles in the organisation (Admin and Dpo are the ones a read needs).
    pub caller_roles: Vec<OrgRole>,
    pub consent_id: Option<String>,
    /// (purpose, attribute, value) of the record.
    pub values: Vec<(OrganizationId, OrganizationId, StoredConsent)>,
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
    /// Ends the user's APIKey, if one is issued (the revision moves on, so the old key
    /// never works again).
    async fn revoke_apikey(&mut self, id: UserId) -> Result<()>;
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
    /// Whether any refresh token of the session was used: its access token came from a
    /// refresh, not from the sign-in itself.
    async fn session_was_refreshed(&mut self, session: SessionId) -> Result<bool>;
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
    // Proof of an address
    /// When the account's current address was proven (`None`: not, or not since it changed).
    async fn set_email_verified(&mut self, user: UserId, at: Option<DateTime<Utc>>) -> Result<()>;
    async fn insert_email_verification(
        &mut self,
        token_hash: &str,
        user: UserId,
        email_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses a verification token once: its account and the address it was mailed to, if
    /// it had not expired.
    async fn take_email_verification(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>>;
    async fn void_email_verifications(&mut self, user: UserId) -> Result<()>;
    /// Voids every outstanding reset token of the user (a credential or address changed).
    async fn void_password_resets(&mut self, user: UserId) -> Result<()>;
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

    // Organisation types
    async fn insert_org_type(&mut self, t: &OrganizationType, at: DateTime<Utc>) -> Result<()>;
    async fn org_type_by_id(&mut self, id: OrganizationId) -> Result<Option<OrganizationType>>;
    async fn org_types(&mut self) -> Result<Vec<OrganizationType>>;
    async fn update_org_type(&mut self, t: &OrganizationType) -> Result<()>;
    async fn delete_org_type(&mut self, id: OrganizationId) -> Result<bool>;
    async fn org_type_in_use(&mut self, id: OrganizationId) -> Result<bool>;

    // Organisations and their role holders
    async fn insert_organization(&mut self, org: &Organization) -> Result<()>;
    async fn organization_by_id(&mut self, id: OrganizationId) -> Result<Option<Organization>>;
    /// Writes every mutable column of `org`.
    async fn update_organization(&mut self, org: &Organization) -> Result<()>;
    async fn grant_role(&mut self, org: OrganizationId, user: UserId, role: OrgRole) -> Result<()>;
    /// Removes every role the user holds in the organisation; `false` if there was none.
    async fn revoke_roles(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    async fn role_holders(&mut self, org: OrganizationId) -> Result<Vec<(UserId, OrgRole)>>;

    // Subscriptions
    /// Idempotent: `false` if the user was already subscribed.
    async fn subscribe(
        &mut self,
        org: OrganizationId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn unsubscribe(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    // Offers (a subscription or a role) awaiting the person's answer
    /// Records an offer; `false` if one of its kind is open already.
    async fn insert_offer(&mut self, offer: &Offer) -> Result<bool>;
    async fn offers_of(&mut self, user: UserId) -> Result<Vec<Offer>>;
    /// Removes one of the user's offers (accepted or declined) and answers it.
    async fn take_offer(&mut self, user: UserId, id: OfferId) -> Result<Option<Offer>>;
    /// Deletes the user's consent record with the organisation and its values (the
    /// history stays: it is the organisation's proof).
    async fn delete_consent_record(&mut self, org: OrganizationId, user: UserId) -> Result<()>;
    async fn is_subscribed(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    /// Subscribers in ascending user ID order, strictly after `after`, at most `limit`.
    async fn subscribers(
        &mut self,
        org: OrganizationId,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>>;
    async fn subscriber_count(&mut self, org: OrganizationId) -> Result<i64>;
    async fn subscriptions_of(&mut self, user: UserId) -> Result<Vec<SubscribedOrg>>;

    // Purposes and templates (data attributes); deleted ones are kept, not listed
    async fn insert_purpose(&mut self, p: &Purpose, at: DateTime<Utc>) -> Result<()>;
    async fn purposes_of(&mut self, org: OrganizationId) -> Result<Vec<Purpose>>;
    /// The counter every change to the organisation's layout increments; `None` if it
    /// does not exist.
    async fn layout_version(&mut self, org: OrganizationId) -> Result<Option<i64>>;
    async fn update_purpose(&mut self, p: &Purpose) -> Result<()>;
    async fn delete_purpose(
        &mut self,
        org: OrganizationId,
        id: OrganizationId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn insert_template(&mut self, t: &Template, at: DateTime<Utc>) -> Result<()>;
    async fn templates_of(&mut self, org: OrganizationId) -> Result<Vec<Template>>;
    async fn update_template(&mut self, t: &Template) -> Result<()>;
    async fn delete_template(
        &mut self,
        org: OrganizationId,
        id: OrganizationId,
        at: DateTime<Utc>,
    ) -> Result<bool>;

    // Images
    async fn insert_image(&mut self, image: &ImageRecord) -> Result<()>;
    async fn image_by_id(&mut self, id: &str) -> Result<Option<ImageRecord>>;
    async fn delete_image(&mut self, id: &str) -> Result<()>;
    /// Deletes up to `limit` rows of one kind older than `before`; the number deleted.
    async fn sweep(&mut self, what: Sweep, before: DateTime<Utc>, limit: i64) -> Result<u64>;
    async fn set_user_image(&mut self, user: UserId, image_id: Option<&str>) -> Result<()>;

    // Consents
    /// The user's consent record with the organisation, created if absent: its ID.
    async fn ensure_consent(
        &mut self,
        org: OrganizationId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<String>;
    async fn consent_of(&mut self, org: OrganizationId, user: UserId) -> Result<Option<String>>;
    /// Locks the organisation's chain head for this unit of work: (last seq, last hash).
    async fn lock_chain_head(&mut self, org: OrganizationId) -> Result<(i64, String)>;
    async fn set_chain_head(&mut self, org: OrganizationId, seq: i64, hash: &str) -> Result<()>;
    async fn insert_history(&mut self, entry: &HistoryEntry) -> Result<()>;
    async fn history(&mut self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>>;
    async fn history_entry(&mut self, id: &str) -> Result<Option<HistoryEntry>>;
    /// A page of the organisation's chain in sequence, after position `after_seq`.
    async fn chain_page(
        &mut self,
        org: OrganizationId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LedgerRow>>;
    /// The chain's head (position and hash) and the highest position stored, read together.
    async fn chain_end(
        &mut self,
        org: OrganizationId,
    ) -> Result<(Option<(i64, String)>, Option<i64>)>;
    /// A page of the organisation's current values (in key order, after `after`), each with
    /// the latest entry that set it (expiry records aside).
    async fn current_values_page(
        &mut self,
        org: OrganizationId,
        after: &(String, String, String),
        limit: i64,
    ) -> Result<Vec<CurrentValue>>;
    /// Subscribed users with at least one live attribute of the purpose (or the given
    /// attribute) reading Allow or AskMe and not expired at `now`; ascending user ID,
    /// strictly after `after`.
    async fn consented_users(
        &mut self,
        org: OrganizationId,
        purpose: OrganizationId,
        attribute: Option<OrganizationId>,
        now: DateTime<Utc>,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>>;

    // Webhooks, outbox, deliveries
    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()>;
    async fn webhooks_of(&mut self, org: OrganizationId) -> Result<Vec<Webhook>>;
    async fn update_webhook(&mut self, w: &Webhook) -> Result<()>;
    async fn delete_webhook(&mut self, org: OrganizationId, id: &str) -> Result<bool>;
    async fn insert_outbox(&mut self, e: &OutboxEvent) -> Result<()>;
    /// Unprocessed events, oldest first; rows other nodes hold are skipped.
    async fn claim_outbox(&mut self, limit: i64) -> Result<Vec<OutboxEvent>>;
    async fn mark_outbox_processed(&mut self, ids: &[String], at: DateTime<Utc>) -> Result<()>;
    /// Idempotent per (outbox event, webhook).
    async fn insert_delivery(&mut self, d: &Delivery) -> Result<()>;
    /// Takes a lease on due deliveries (pending, due, not leased by a live node, their
    /// endpoint not backing off), oldest first, with at most `per_organization` in flight
    /// (leased) per organisation counting those already leased.
    async fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_organization: i64,
    ) -> Result<Vec<Delivery>>;
    /// Extends the lease of a delivery still in flight.
    async fn renew_delivery_lease(&mut self, id: &str, lease_until: DateTime<Utc>) -> Result<()>;
    /// The webhook, locked until the unit of work ends (its health is read and written).
    async fn lock_webhook(&mut self, id: &str) -> Result<Option<Webhook>>;
    /// Writes a webhook's health: failures in a row, back-off, and whether it is disabled.
    async fn save_webhook_health(&mut self, w: &Webhook) -> Result<()>;
    /// Writes the outcome of an attempt and drops the lease.
    async fn save_delivery(&mut self, d: &Delivery) -> Result<()>;
    async fn deliveries_of(
        &mut self,
        webhook: &str,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    async fn delivery_by_id(&mut self, webhook: &str, id: &str) -> Result<Option<Delivery>>;
    /// Candidates, not locked (see [`Tx::mark_expiry_recorded`]).
    async fn expiring_consents(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ExpiringConsent>>;
    /// Claims the recording of an expiry: `false` if another node did it, or the value has
    /// changed since (a new consent, not expired). Take the organisation's chain head
    /// first: the lock order of a consent change.
    async fn mark_expiry_recorded(
        &mut self,
        c: &ExpiringConsent,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // Notifications and action logs
    /// Subscribers for whom at least one of `attributes` of the purpose reads Disallow
    /// (no live Allow or AskMe) at `now`.
    async fn users_lacking_consent(
        &mut self,
        org: OrganizationId,
        purpose: OrganizationId,
        attributes: &[OrganizationId],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>>;
    async fn insert_notification(&mut self, n: &Notification) -> Result<()>;
    /// The user's notifications, newest first, strictly before `before`.
    async fn notifications_of(
        &mut self,
        user: UserId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    async fn mark_notification_read(
        &mut self,
        user: UserId,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn notification_by_id(&mut self, user: UserId, id: &str) -> Result<Option<Notification>>;
    async fn insert_action_log(&mut self, log: &ActionLog) -> Result<()>;
    /// The organisation's log, newest first, strictly before `before`.
    async fn action_logs(
        &mut self,
        org: OrganizationId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActionLog>>;

    // CustomerID
    async fn insert_rest_client(&mut self, c: &RestClientRecord) -> Result<()>;
    async fn rest_client_by_name(&mut self, name: &str) -> Result<Option<RestClientRecord>>;
    async fn user_custom_attributes(&mut self, user: UserId) -> Result<Vec<(String, String)>>;
    async fn organization_custom_attributes(
        &mut self,
        org: OrganizationId,
    ) -> Result<Vec<(String, String)>>;
    /// Every organisation's place in the tree (for entity names and sub-organisations).
    async fn organization_tree(&mut self) -> Result<Vec<TreeNode>>;
    async fn search_users(&mut self, search: &Search) -> Result<Vec<UserId>>;
    async fn search_organizations(&mut self, search: &Search) -> Result<Vec<OrganizationId>>;
    /// Writes the user's identity columns: email, name, phone, status, first name, surname,
    /// home organisation.
    async fn update_user_identity(&mut self, user: &User) -> Result<()>;
    /// Replaces the values of a user's custom attribute (no values: removes it).
    async fn set_user_attribute(
        &mut self,
        user: UserId,
        name: &str,
        values: &[String],
    ) -> Result<()>;
    /// Replaces the values of the named custom attributes (no values: removes it).
    async fn set_organization_attribute(
        &mut self,
        org: OrganizationId,
        name: &str,
        values: &[String],
    ) -> Result<()>;
    /// Deletes an organisation; its users lose their home organisation. `false` if absent.
    async fn delete_organization(&mut self, org: OrganizationId) -> Result<bool>;
    async fn org_type_by_name(&mut self, name: &str) -> Result<Option<OrganizationType>>;
    async fn insert_role(
        &mut self,
        role: &accord_domain::customer_id::Role,
        at: DateTime<Utc>,
    ) -> Result<()>;
    async fn delete_role(&mut self, id: &str) -> Result<bool>;
    /// Idempotent.
    async fn add_role_member(&mut self, role: &str, user: UserId) -> Result<()>;
    async fn remove_role_member(&mut self, role: &str, user: UserId) -> Result<bool>;
    /// Removes one iGrant role of a user in an organisation; `false` if not held.
    async fn revoke_role(
        &mut self,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
    ) -> Result<bool>;
    async fn insert_mandate(&mut self, m: &accord_domain::customer_id::Mandate) -> Result<()>;
    async fn delete_mandate(&mut self, id: &str) -> Result<bool>;
    /// Every mandate (the caller filters by scope); ascending ID.
    async fn mandates(&mut self) -> Result<Vec<accord_domain::customer_id::Mandate>>;
    /// A mandate to an email address becomes a mandate to the account that now holds it.
    async fn attach_mandates_to(&mut self, user: UserId, email_key: &str) -> Result<()>;
    async fn insert_delegation(&mut self, d: &accord_domain::customer_id::Delegation)
        -> Result<()>;
    async fn delete_delegation(&mut self, id: &str) -> Result<bool>;
    /// Every delegation (the caller filters by scope); ascending ID.
    async fn delegations(&mut self) -> Result<Vec<accord_domain::customer_id::Delegation>>;
    async fn insert_role_invitation(
        &mut self,
        i: &accord_domain::customer_id::RoleInvitation,
        token_hash: &str,
    ) -> Result<()>;
    async fn delete_role_invitation(&mut self, id: &str) -> Result<bool>;
    /// Every role invitation (the caller filters by scope); ascending ID.
    async fn role_invitations(&mut self)
        -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
    async fn role_invitations_of(
        &mut self,
        user: UserId,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
    /// The invited user of the open invitation holding this token hash.
    async fn user_of_invitation_token(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>>;
    /// Moves the user's link to a new token (the old one stops working) and gives every
    /// unaccepted invitation of the user a new expiry (expired ones revive).
    async fn renew_invitations(
        &mut self,
        user: UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks the user's open invitations accepted and clears their tokens; returns them.
    async fn accept_invitations(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
    /// Roles created through CustomerID, of every organisation.
    async fn custom_roles(&mut self) -> Result<Vec<accord_domain::customer_id::Role>>;
    /// IDs of the custom roles the user is a member of.
    async fn custom_roles_of(&mut self, user: UserId) -> Result<Vec<String>>;

    // ---- federated login ----
    async fn identity_provider(&mut self, org: OrganizationId) -> Result<Option<IdentityProvider>>;
    /// `Conflict` when the organisation already has one.
    async fn insert_identity_provider(&mut self, provider: &IdentityProvider) -> Result<()>;
    /// `false` when the organisation has none.
    async fn update_identity_provider(&mut self, provider: &IdentityProvider) -> Result<bool>;
    async fn delete_identity_provider(&mut self, org: OrganizationId) -> Result<bool>;
    /// Stores a login in progress, purging those expired before `now`.
    async fn insert_login_state(&mut self, state: &LoginState, now: DateTime<Utc>) -> Result<()>;
    /// Removes and returns a login in progress: a state works once.
    async fn take_login_state(&mut self, state_hash: &str) -> Result<Option<LoginState>>;
    async fn external_identity_user(
        &mut self,
        org: OrganizationId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>>;
    async fn insert_external_identity(&mut self, identity: &ExternalIdentity) -> Result<()>;
    /// Unlinks every outside identity of the account.
    async fn delete_external_identities_of(&mut self, user: UserId) -> Result<()>;
    async fn server_secret(&mut self, name: &str) -> Result<Option<String>>;
    /// Keeps the first value stored under a name (nodes starting together may race).
    async fn insert_server_secret_if_absent(
        &mut self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
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
