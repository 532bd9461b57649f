//! Organisations as the iGrant.io facade sees them (CustomerID's view of the same entity
//! comes later): types, subscription settings, GDPR usage purposes and data attributes.

use chrono::{DateTime, Utc};

use crate::{AttributeId, Error, OrganizationId, OrganizationTypeId, PurposeId, Result};

/// How individuals may subscribe to an organisation (iGrant's subscribe methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeMethod {
    Undefined = 0,
    KeyBased = 1,
    OpenIdConnect = 2,
}

impl SubscribeMethod {
    pub const ALL: [SubscribeMethod; 3] = [Self::Undefined, Self::KeyBased, Self::OpenIdConnect];

    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.id() == id)
            .ok_or_else(|| Error::invalid(format!("unknown subscribe method {id}")))
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Undefined => "Undefined",
            Self::KeyBased => "Key-Based",
            Self::OpenIdConnect => "OpenID-Connect",
        }
    }
}

pub const SUBSCRIBE_KEY_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A subscription key, `XXXX-XXXX-XXXX` over `[A-Z0-9]`, from 12 uniform indices into
/// [`SUBSCRIBE_KEY_ALPHABET`] (the caller draws them from a CSPRNG).
pub fn subscribe_key_from_indices(indices: &[usize; 12]) -> String {
    let chars: Vec<char> = indices
        .iter()
        .map(|i| SUBSCRIBE_KEY_ALPHABET[i % 36] as char)
        .collect();
    format!(
        "{}-{}-{}",
        chars[0..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..12].iter().collect::<String>()
    )
}

/// The GDPR Article 6 lawful basis of a purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LawfulBasis {
    Consent = 0,
    Contract = 1,
    LegalObligation = 2,
    VitalInterest = 3,
    PublicTask = 4,
    LegitimateInterest = 5,
}

impl LawfulBasis {
    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Result<Self> {
        Ok(match id {
            0 => Self::Consent,
            1 => Self::Contract,
            2 => Self::LegalObligation,
            3 => Self::VitalInterest,
            4 => Self::PublicTask,
            5 => Self::LegitimateInterest,
            other => {
                return Err(Error::invalid(format!(
                    "LawfulBasisOfProcessing must be 0 to 5, not {other}"
                )))
            }
        })
    }

    /// Processing that needs no consent: attributes default to Allow.
    pub fn is_lawful_usage(self) -> bool {
        self != Self::Consent
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationType {
    pub id: OrganizationTypeId,
    pub name: String,
    pub image_id: Option<crate::ImageId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub location: String,
    pub description: String,
    pub type_id: Option<OrganizationTypeId>,
    /// Open for subscriptions ("Enabled" in the spec).
    pub enabled: bool,
    pub policy_url: String,
    pub eula_url: String,
    pub cover_image_id: Option<crate::ImageId>,
    pub logo_image_id: Option<crate::ImageId>,
    pub hlc_support: bool,
    pub subscribe_method: SubscribeMethod,
    pub subscribe_key: String,
    pub retention_period_secs: i64,
    pub retention_enabled: bool,
    pub created_at: DateTime<Utc>,
    /// CustomerID's `technicalName` (unique among siblings); the ID when never set.
    pub technical_name: Option<String>,
    /// CustomerID's organisation tree.
    pub parent_id: Option<OrganizationId>,
    /// A download request's export is the person's as soon as they ask, not once the
    /// organisation answers (docs/data-rights.md).
    pub data_export_at_once: bool,
}

impl Organization {
    /// A new organisation with a fresh ID and nothing set: closed to subscriptions, no
    /// type, no images, no retention, at the top of the tree. Callers fill in the rest.
    pub fn new(created_at: DateTime<Utc>) -> Self {
        Self {
            id: OrganizationId::new(),
            name: String::new(),
            location: String::new(),
            description: String::new(),
            type_id: None,
            enabled: false,
            policy_url: String::new(),
            eula_url: String::new(),
            cover_image_id: None,
            logo_image_id: None,
            hlc_support: false,
            subscribe_method: SubscribeMethod::Undefined,
            subscribe_key: String::new(),
            retention_period_secs: 0,
            retention_enabled: false,
            created_at,
            technical_name: None,
            parent_id: None,
            data_export_at_once: false,
        }
    }
}

/// A purpose the organisation processes personal data for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    pub id: PurposeId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: String,
    pub lawful_basis: LawfulBasis,
    pub policy_url: String,
    pub attribute_type: i64,
    pub jurisdiction: String,
    pub disclosure: String,
    pub industry_scope: String,
    pub restriction: String,
    pub shared_3pp: bool,
    /// The number of its current wording (`purpose_version`); 1 until it is reworded.
    pub version: i64,
    /// What a consent given under an older version means until the person answers.
    pub outdated_consent: crate::purpose_version::OutdatedConsent,
}

/// A data attribute (the spec's "template"), e.g. "Age", and the purposes it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub id: AttributeId,
    pub organization_id: OrganizationId,
    pub consent: String,
    pub purpose_ids: Vec<PurposeId>,
}

/// An http(s) URL, or an error naming the field.
pub fn parse_http_url(field: &str, raw: &str) -> Result<String> {
    let s = raw.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let valid = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    }) && s.len() <= 2048
        && !s.chars().any(|c| c.is_control() || c.is_whitespace());
    if valid {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid(format!("{field} must be an http(s) URL")))
    }
}

/// An organisation's layout at a version: its settings, purposes and templates, as consents
/// are read and changed against them. Purposes and templates are shared: every consent
/// record read from the layout points at them rather than copying them.
#[derive(Debug)]
pub struct OrgLayout {
    pub version: i64,
    pub organization: Organization,
    /// The name of the organisation's type (empty without one): renaming a type counts
    /// as a change to the layout of every organisation of that type.
    pub type_name: String,
    pub purposes: Vec<std::sync::Arc<Purpose>>,
    pub templates: Vec<std::sync::Arc<Template>>,
    /// Each purpose's current version and the hash of its wording, computed once per
    /// layout: a consent change names them without a lookup.
    wordings: Vec<(PurposeId, crate::purpose_version::VersionRef)>,
    /// When each version after a purpose's first was published: the moment consents given
    /// under the one before became outdated.
    published: Vec<(PurposeId, i64, DateTime<Utc>)>,
}

impl OrgLayout {
    pub fn new(
        version: i64,
        organization: Organization,
        type_name: String,
        purposes: Vec<std::sync::Arc<Purpose>>,
        templates: Vec<std::sync::Arc<Template>>,
        published: Vec<(PurposeId, i64, DateTime<Utc>)>,
    ) -> Self {
        let wordings = purposes
            .iter()
            .map(|p| {
                let current =
                    crate::purpose_version::VersionRef::current(p, templates.iter().map(|t| &**t));
                (p.id, current)
            })
            .collect();
        Self {
            version,
            organization,
            type_name,
            purposes,
            templates,
            wordings,
            published,
        }
    }

    /// When version `number` of `purpose` was published, if it was (and after versions
    /// began).
    pub fn published(&self, purpose: PurposeId, number: i64) -> Option<DateTime<Utc>> {
        self.published
            .iter()
            .find(|(p, n, _)| *p == purpose && *n == number)
            .map(|(_, _, at)| *at)
    }

    /// The current version of one of the layout's purposes.
    pub fn wording_of(&self, purpose: PurposeId) -> Option<&crate::purpose_version::VersionRef> {
        self.wordings
            .iter()
            .find(|(p, _)| *p == purpose)
            .map(|(_, w)| w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_keys_have_the_documented_shape() {
        let key = subscribe_key_from_indices(&[0, 1, 25, 26, 35, 0, 2, 7, 8, 9, 10, 11]);
        assert_eq!(key.len(), 14);
        assert!(key
            .chars()
            .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(&key[4..5], "-");
        assert_eq!(&key[..4], "ABZ0");
    }

    #[test]
    fn lawful_basis_and_lawful_usage() {
        assert!(!LawfulBasis::from_id(0).unwrap().is_lawful_usage());
        assert!(LawfulBasis::from_id(5).unwrap().is_lawful_usage());
        assert!(LawfulBasis::from_id(6).is_err());
        assert!(LawfulBasis::from_id(-1).is_err());
    }

    #[test]
    fn subscribe_methods() {
        assert_eq!(SubscribeMethod::from_id(1).unwrap().name(), "Key-Based");
        assert!(SubscribeMethod::from_id(3).is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(parse_http_url("eulaurl", "https://example.com/eula.html").is_ok());
        assert!(parse_http_url("eulaurl", "http://example.com").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "https://",
            "example.com",
            "https://a b",
            "https://x\ny",
        ] {
            assert!(parse_http_url("eulaurl", bad).is_err(), "{bad}");
        }
    }
}

/// An organisation a user subscribes to, with its type's name (the User object's `Orgs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribedOrg {
    pub organization: Organization,
    pub type_name: String,
    /// The subscriber accepted the organisation's EULA as it reads now.
    pub eula_accepted: bool,
}

/// An organisation found by name, as a person searching sees it.
#[derive(Debug, Clone)]
pub struct FoundOrganization {
    pub organization: Organization,
    pub type_name: String,
    /// Whether the person searching subscribes to it.
    pub subscribed: bool,
}

/// What an organisation offers a person who is not its own (not homed in it): a
/// subscription, or a role. Nobody is subscribed to, or holds a role in, an organisation on
/// someone else's word alone: they accept or decline (docs/security.md, trust model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferKind {
    Subscription,
    Role(crate::identity::OrgRole),
}

impl OfferKind {
    /// As stored: 0 for a subscription, the role's ID for a role.
    pub fn code(self) -> i64 {
        match self {
            OfferKind::Subscription => 0,
            OfferKind::Role(r) => r.id(),
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(OfferKind::Subscription),
            other => crate::identity::OrgRole::from_id(other).map(OfferKind::Role),
        }
    }

    /// The notification's type.
    pub fn event(self) -> &'static str {
        match self {
            OfferKind::Subscription => "org.subscription_offered",
            OfferKind::Role(_) => "org.role_offered",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: crate::OfferId,
    pub organization_id: OrganizationId,
    pub user_id: crate::UserId,
    pub kind: OfferKind,
    pub offered_by: crate::UserId,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod offer_tests {
    use super::*;
    use crate::identity::OrgRole;

    #[test]
    fn offer_kinds_round_trip_their_codes() {
        for kind in [
            OfferKind::Subscription,
            OfferKind::Role(OrgRole::Admin),
            OfferKind::Role(OrgRole::Dpo),
            OfferKind::Role(OrgRole::Developer),
        ] {
            assert_eq!(OfferKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(OfferKind::from_code(7), None);
    }
}
