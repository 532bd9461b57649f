//! Typed IDs: a user ID can't be passed where a session ID is expected.
//! All are UUIDv7, so they sort by creation time (cheap keyset pagination).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        typed_id!($(#[$doc])* $name, concat!(stringify!($name), " not found"));
    };
    ($(#[$doc:meta])* $name:ident, $not_found:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh ID. Deliberately not `Default`: a defaulted ID would be a new,
            /// random one where "none" was meant (`unwrap_or_default()` on an option).
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            /// IDs arrive from clients as opaque strings; anything that is not one of ours
            /// is simply not found.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::Error::not_found($not_found))
            }
        }
    };
}

typed_id!(
    /// A person's account (an individual, an organisation role holder, or both).
    UserId
);
typed_id!(
    /// A login session: every access and refresh token belongs to one.
    SessionId
);
typed_id!(
    /// An organisation.
    OrganizationId,
    "organisation not found"
);
typed_id!(
    /// An organisation's offer to a person (a subscription or a role) they may accept.
    OfferId
);

typed_id!(
    /// A purpose an organisation processes personal data for.
    PurposeId,
    "purpose not found"
);
typed_id!(
    /// A data attribute (the iGrant spec's "template").
    AttributeId,
    "template not found"
);
typed_id!(
    /// An organisation type.
    OrganizationTypeId,
    "organisation type not found"
);

typed_id!(
    /// An organisation's webhook.
    WebhookId,
    "webhook not found"
);
typed_id!(
    /// One event's delivery to one webhook.
    DeliveryId,
    "delivery not found"
);
typed_id!(
    /// An event in the outbox, written with the change it announces.
    OutboxEventId
);
typed_id!(
    /// A message to a person.
    NotificationId,
    "notification not found"
);

typed_id!(
    /// A CustomerID mandate: one party may act for another in a role.
    MandateId,
    "mandate not found"
);
typed_id!(
    /// A CustomerID delegation of a mandate.
    DelegationId,
    "delegation not found"
);
typed_id!(
    /// A CustomerID role invitation.
    RoleInvitationId,
    "role invitation not found"
);

typed_id!(
    /// A person's consent record with one organisation.
    ConsentId,
    "consent not found"
);
typed_id!(
    /// A person's request to an organisation for their data or its erasure.
    DataRequestId,
    "data request not found"
);
typed_id!(
    /// An uploaded image (a logo, a cover, an avatar, an organisation type's picture).
    ImageId,
    "image not found"
);
typed_id!(
    /// A CustomerID role an organisation defined.
    RoleId,
    "role not found"
);
typed_id!(
    /// A CustomerID REST client (its OAuth `client_id` is its name).
    RestClientId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        let id = UserId::new();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
    }

    #[test]
    fn garbage_is_not_found() {
        assert!(matches!(
            "5daf22cea531351111afc7c8".parse::<UserId>(),
            Err(crate::Error::NotFound(_))
        ));
    }

    #[test]
    fn ids_sort_by_creation() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b);
    }
}
