//! Consent records, their hash-chained history and the lists read from them.

use super::prelude::*;

/// Which consent history to read: newest first, strictly before `before` (an entry ID).
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub user: Option<UserId>,
    pub organization: Option<OrganizationId>,
    pub purpose: Option<PurposeId>,
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
    pub purpose_id: PurposeId,
    pub attribute_id: AttributeId,
    pub stored: StoredConsent,
}

#[async_trait]
pub trait ConsentsTx: Send {
    /// Deletes the user's consent record with the organisation and its values (the
    /// history stays: it is the organisation's proof).
    async fn delete_consent_record(&mut self, org: OrganizationId, user: UserId) -> Result<()>;
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
        purpose: PurposeId,
        attribute: Option<AttributeId>,
        now: DateTime<Utc>,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>>;
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
    /// Subscribers for whom at least one of `attributes` of the purpose reads Disallow
    /// (no live Allow or AskMe) at `now`.
    async fn users_lacking_consent(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        attributes: &[AttributeId],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>>;
}
