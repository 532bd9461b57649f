//! The unit of work, one trait per area of the store. [`Tx`] is their sum: services take
//! `&mut dyn Tx` and call any area's operations within one transaction.

mod accounts;
mod activity;
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
mod sessions;
mod subscriptions;
mod webhooks;

pub use accounts::*;
pub use activity::*;
pub use consents::*;
pub use customer_id::*;
pub use data_requests::*;
pub use federation::*;
pub use images::*;
pub use keys::*;
pub use mandates::*;
pub use organizations::*;
pub use purposes::*;
pub use retention::*;
pub use sessions::*;
pub use subscriptions::*;
pub use webhooks::*;

use accord_domain::Result;
use async_trait::async_trait;

/// What every area file uses.
mod prelude {
    pub use accord_domain::consent::{HistoryEntry, StoredConsent};
    pub use accord_domain::federation::{ExternalIdentity, IdentityProvider, LoginState};
    pub use accord_domain::identity::{Language, OrgRole, RoleGrant, User, UserStatus};
    pub use accord_domain::ledger::{CurrentValue, LedgerRow};
    pub use accord_domain::organization::{
        FoundOrganization, Offer, Organization, OrganizationType, Purpose, SubscribedOrg, Template,
    };
    pub use accord_domain::session::{RefreshTokenRecord, Session};
    pub use accord_domain::throttle::ThrottleState;
    pub use accord_domain::webhook::{ActionLog, Delivery, Notification, OutboxEvent, Webhook};
    pub use accord_domain::{
        AttributeId, DataRequestId, DelegationId, DeliveryId, ImageId, MandateId, NotificationId,
        OfferId, OrganizationId, OrganizationTypeId, OutboxEventId, PurposeId, RestClientId,
        Result, RoleId, RoleInvitationId, SessionId, UserId, WebhookId,
    };
    pub use async_trait::async_trait;
    pub use chrono::{DateTime, Utc};
}

/// One unit of work: every area's operations in one transaction. Dropped without
/// [`Tx::commit`], it rolls back.
#[async_trait]
pub trait Tx:
    AccountsTx
    + SessionsTx
    + KeysTx
    + OrganizationsTx
    + SubscriptionsTx
    + PurposesTx
    + ConsentsTx
    + WebhooksTx
    + ActivityTx
    + ImagesTx
    + RetentionTx
    + CustomerIdTx
    + MandatesTx
    + FederationTx
    + DataRequestsTx
{
    async fn commit(self: Box<Self>) -> Result<()>;
}
