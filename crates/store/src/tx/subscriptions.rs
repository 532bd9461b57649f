//! Who is subscribed to which organisation, and the offers awaiting an answer.

use super::prelude::*;

#[async_trait]
pub trait SubscriptionsTx: Send {
    /// Idempotent: `false` if the user was already subscribed.
    async fn subscribe(
        &mut self,
        org: OrganizationId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn unsubscribe(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    /// Records an offer; `false` if one of its kind is open already.
    async fn insert_offer(&mut self, offer: &Offer) -> Result<bool>;
    async fn offers_of(&mut self, user: UserId) -> Result<Vec<Offer>>;
    /// Removes one of the user's offers (accepted or declined) and answers it.
    async fn take_offer(&mut self, user: UserId, id: OfferId) -> Result<Option<Offer>>;
    /// Records that the subscriber accepted the EULA at `url`; `false` if not subscribed.
    async fn accept_eula(
        &mut self,
        org: OrganizationId,
        user: UserId,
        url: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Removes every offer the organisation made the user (an erasure).
    async fn withdraw_offers(&mut self, org: OrganizationId, user: UserId) -> Result<()>;
    async fn is_subscribed(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    /// When the user subscribed, if they are subscribed.
    async fn subscribed_since(
        &mut self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<DateTime<Utc>>>;
    /// Subscribers in ascending user ID order, strictly after `after`, at most `limit`.
    async fn subscribers(
        &mut self,
        org: OrganizationId,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>>;
    async fn subscriber_count(&mut self, org: OrganizationId) -> Result<i64>;
    async fn subscriptions_of(&mut self, user: UserId) -> Result<Vec<SubscribedOrg>>;
}
