//! Accord's domain: entities, typed IDs, validated values and the rules that govern them.
//!
//! Pure: nothing here performs I/O or knows about HTTP or SQL. Time comes in through [`Clock`].

pub mod access;
pub mod address;
pub mod clock;
pub mod consent;
pub mod consent_change;
pub mod customer_id;
pub mod data_request;
pub mod error;
pub mod federation;
pub mod identity;
pub mod ids;
pub mod ledger;
pub mod organization;
pub mod purpose_version;
pub mod session;
pub mod throttle;
pub mod webhook;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{Error, Result, Rule};
pub use ids::{
    AttributeId, ConsentId, DataRequestId, DelegationId, DeliveryId, ImageId, MandateId,
    NotificationId, OfferId, OrganizationId, OrganizationTypeId, OutboxEventId, PurposeId,
    RestClientId, RoleId, RoleInvitationId, SessionId, UserId, WebhookId,
};
