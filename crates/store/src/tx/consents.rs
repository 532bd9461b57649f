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

/// Which consents count as held: Allow or AskMe, not expired at `now`, and, where the
/// purpose's outdated consents lapse, not lapsed: given under no version whose successor
/// was published at or before `lapsed_before` (`now` less the grace).
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    pub now: DateTime<Utc>,
    pub lapsed_before: Option<DateTime<Utc>>,
}

/// Whose consents to a purpose to list (ascending user ID, strictly after `after`).
#[derive(Debug, Clone)]
pub struct HoldersQuery {
    pub purpose: PurposeId,
    /// One attribute of the purpose, or any.
    pub attribute: Option<AttributeId>,
    pub holding: Holding,
    /// Only consents given under a version below this one: those it made outdated.
    pub given_below: Option<i64>,
    pub after: Option<UserId>,
    pub limit: i64,
}

/// A new version of a purpose whose outdated consents are being asked again: the worker
/// has asked everyone up to `after_user`.
#[derive(Debug, Clone)]
pub struct ReconsentJob {
    pub organization_id: OrganizationId,
    pub purpose_id: PurposeId,
    pub version: i64,
    pub after_user: Option<UserId>,
    /// Whether the people asked are mailed too.
    pub mail: bool,
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
    /// Entries in every organisation's consent ledger (the sum of the chains' heads), for
    /// `/metrics`.
    async fn ledger_entries(&mut self) -> Result<i64>;
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
    /// Subscribed users holding (see [`Holding`]) a consent to at least one live attribute
    /// of the purpose (or the given attribute).
    async fn consented_users(&mut self, org: OrganizationId, q: &HoldersQuery)
        -> Result<Vec<User>>;
    /// How many subscribed people hold a consent to the purpose given under `version` or
    /// later, and how many one given under an older version (a person may be in both).
    async fn holder_counts(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        holding: Holding,
        version: i64,
    ) -> Result<(i64, i64)>;
    /// Queues asking again for consents `version` of the purpose made outdated (once).
    async fn insert_reconsent_job(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        version: i64,
        mail: bool,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The oldest queued job no other node holds, held until the unit of work ends.
    async fn claim_reconsent_job(&mut self) -> Result<Option<ReconsentJob>>;
    /// Records where a job stopped; `None`: done, the job goes.
    async fn advance_reconsent_job(
        &mut self,
        purpose: PurposeId,
        version: i64,
        after: Option<UserId>,
    ) -> Result<()>;
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
    /// (no consent held, see [`Holding`]).
    async fn users_lacking_consent(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        attributes: &[AttributeId],
        holding: Holding,
    ) -> Result<Vec<User>>;
}
