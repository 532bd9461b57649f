//! How CustomerID sees Accord's users and organisations: one mapping, attribute by
//! attribute (docs/customerid.md). CustomerID speaks of entities as lists of named
//! attributes, each with one or more values.

use crate::identity::UserStatus;
use crate::{Error, Result};

/// One attribute of an entity: its name, one or more values, and — for a reference to
/// another entity (a mandate's parties and role) — the type of what it names
/// (`<Attribute name="mandater" type="organization">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub kind: Option<&'static str>,
    pub values: Vec<String>,
    /// The referenced entity itself (its root element and attributes), in place of its ID
    /// (GET111 `entities=true`).
    pub entity: Option<(&'static str, Vec<Attribute>)>,
}

impl Attribute {
    pub fn new(name: impl Into<String>, values: Vec<String>) -> Self {
        Self {
            name: name.into(),
            kind: None,
            values,
            entity: None,
        }
    }

    pub fn first(&self) -> Option<&str> {
        self.values.first().map(String::as_str)
    }
}

/// An entity as CustomerID shows it: its attributes, in a stable order.
pub type Attributes = Vec<Attribute>;

/// The first value of the named attribute.
pub fn value_of<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name == name)
        .and_then(Attribute::first)
}

impl UserStatus {
    /// CustomerID's technical name (`waiting_for_registration`).
    pub fn technical_name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Locked => "locked",
            Self::WaitingForRegistration => "waiting_for_registration",
        }
    }

    /// The name CustomerID shows (`Waiting for registration`).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::Locked => "Locked",
            Self::WaitingForRegistration => "Waiting for registration",
        }
    }

    /// A status as a search gives it: its code or technical name (or shown name), any case.
    pub fn parse_search(raw: &str) -> Result<Self> {
        let s = raw.trim().to_ascii_lowercase();
        if let Ok(code) = s.parse::<i64>() {
            return Self::from_code(code)
                .ok_or_else(|| Error::invalid(format!("unknown status {raw:?}")));
        }
        [
            Self::Pending,
            Self::Enabled,
            Self::Disabled,
            Self::Locked,
            Self::WaitingForRegistration,
        ]
        .into_iter()
        .find(|st| st.technical_name() == s || st.display_name().to_ascii_lowercase() == s)
        .ok_or_else(|| Error::invalid(format!("unknown status {raw:?}")))
    }
}

/// A user's builtin attribute that a search can filter on, and where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Id,
    FirstName,
    Surname,
    Mobile,
    Email,
    /// Accord users log in with their email: `login` is the email.
    Login,
    OrganizationId,
    /// The home organisation's friendly name.
    Organization,
    /// The home organisation's entity name (`Parent/Child`).
    OrganizationEntityName,
    Status,
}

impl UserField {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "id" | "cn" => Self::Id,
            "firstname" => Self::FirstName,
            "surname" => Self::Surname,
            "mobile" => Self::Mobile,
            "email" => Self::Email,
            "login" => Self::Login,
            "organizationId" => Self::OrganizationId,
            "organization" => Self::Organization,
            "organizationEntityName" => Self::OrganizationEntityName,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// An organisation's builtin attribute that a search can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationField {
    Id,
    TechnicalName,
    FriendlyName,
    /// The organisation type's name (`organizationClass` is its synonym).
    OrganizationType,
    EntityName,
}

impl OrganizationField {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "id" => Self::Id,
            "technicalName" => Self::TechnicalName,
            "friendlyName" => Self::FriendlyName,
            "organizationType" | "organizationClass" => Self::OrganizationType,
            "entityName" => Self::EntityName,
            _ => return None,
        })
    }
}

/// Custom attribute names: letters, digits, `_`, `-`, `.`; at most 64; not a parameter
/// of the operation itself.
pub fn parse_custom_attribute_name(name: &str) -> Result<String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid(format!("{name:?} is not an attribute name")))
    }
}

/// A role of an organisation as CustomerID sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: crate::RoleId,
    pub organization_id: crate::OrganizationId,
    pub name: String,
}

impl crate::identity::OrgRole {
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Dpo => "Dpo",
            Self::Developer => "Developer",
        }
    }

    /// The iGrant roles are roles of every organisation; their IDs are derived (a UUIDv8
    /// from a hash of the organisation and the role), the same on every node, forever.
    pub fn role_of(self, org: crate::OrganizationId) -> Role {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(format!("accord-role:{org}:{}", self.name()).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Role {
            id: crate::RoleId(uuid::Uuid::new_v8(bytes)),
            organization_id: org,
            name: self.name().to_owned(),
        }
    }
}

/// The four kinds of mandate: who grants (organisation or person) to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MandateType {
    OrgToPer,
    PerToPer,
    OrgToOrg,
    PerToOrg,
}

impl MandateType {
    pub fn parse(raw: &str) -> Result<Self> {
        Ok(match raw.trim() {
            "OrgToPer" => Self::OrgToPer,
            "PerToPer" => Self::PerToPer,
            "OrgToOrg" => Self::OrgToOrg,
            "PerToOrg" => Self::PerToOrg,
            other => {
                return Err(Error::invalid(format!(
                    "type must be OrgToPer, PerToPer, OrgToOrg or PerToOrg, not {other:?}"
                )))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgToPer => "OrgToPer",
            Self::PerToPer => "PerToPer",
            Self::OrgToOrg => "OrgToOrg",
            Self::PerToOrg => "PerToOrg",
        }
    }

    pub fn mandater_is_organization(self) -> bool {
        matches!(self, Self::OrgToPer | Self::OrgToOrg)
    }

    pub fn mandatee_is_organization(self) -> bool {
        matches!(self, Self::OrgToOrg | Self::PerToOrg)
    }
}

/// One side of a mandate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    Organization(crate::OrganizationId),
    User(crate::UserId),
    /// A person not registered yet: the mandate waits for them.
    Email(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mandate {
    pub id: crate::MandateId,
    pub kind: MandateType,
    pub mandater: Party,
    pub mandatee: Party,
    pub role_id: crate::RoleId,
    /// The address the mandate was given to, kept after its holder registers.
    pub assignee_email: Option<String>,
    pub valid_from: Option<chrono::DateTime<chrono::Utc>>,
    pub valid_until: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Mandate {
    /// `active`, `pending` (not yet valid, or waiting for its assignee to register) or `expired`.
    pub fn status(&self, now: chrono::DateTime<chrono::Utc>) -> &'static str {
        if self.valid_until.is_some_and(|u| u <= now) {
            "expired"
        } else if self.valid_from.is_some_and(|f| f > now)
            || matches!(self.mandatee, Party::Email(_))
        {
            "pending"
        } else {
            "active"
        }
    }
}

/// A user of a mandatee organisation passes the mandated role on to another user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub id: crate::DelegationId,
    pub mandate_id: crate::MandateId,
    /// The user who passes the role on (`mandateruser`): someone of the mandatee organisation.
    pub delegator: crate::UserId,
    /// The user who receives it.
    pub delegate: crate::UserId,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An email address invited to a role of an organisation (or, with no role, to register).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInvitation {
    pub id: crate::RoleInvitationId,
    pub organization_id: Option<crate::OrganizationId>,
    pub role_id: Option<crate::RoleId>,
    /// The invited account (in status Waiting for registration until it registers).
    pub user_id: crate::UserId,
    /// The address the invitation was sent to.
    pub email: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub accepted_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl RoleInvitation {
    /// `accepted`, `expired` or `pending`.
    pub fn status(&self, now: chrono::DateTime<chrono::Utc>) -> &'static str {
        if self.accepted_at.is_some() {
            "accepted"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "pending"
        }
    }

    pub fn is_open(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.status(now) == "pending"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_code_and_by_name() {
        assert_eq!(UserStatus::parse_search("0").unwrap(), UserStatus::Pending);
        assert_eq!(
            UserStatus::parse_search("Enabled").unwrap(),
            UserStatus::Enabled
        );
        assert_eq!(
            UserStatus::parse_search("waiting_for_registration").unwrap(),
            UserStatus::WaitingForRegistration
        );
        assert_eq!(
            UserStatus::parse_search("Waiting for registration").unwrap(),
            UserStatus::WaitingForRegistration
        );
        assert!(UserStatus::parse_search("4").is_err());
        assert!(UserStatus::parse_search("active").is_err());
        assert_eq!(UserStatus::Locked.display_name(), "Locked");
    }

    #[test]
    fn builtin_role_ids_are_stable_and_distinct() {
        use crate::identity::OrgRole;
        let org = crate::OrganizationId(uuid::Uuid::from_u128(7));
        let other = crate::OrganizationId(uuid::Uuid::from_u128(8));
        assert_eq!(OrgRole::Admin.role_of(org), OrgRole::Admin.role_of(org));
        assert_ne!(OrgRole::Admin.role_of(org).id, OrgRole::Dpo.role_of(org).id);
        assert_ne!(
            OrgRole::Admin.role_of(org).id,
            OrgRole::Admin.role_of(other).id
        );
        assert_eq!(OrgRole::Admin.role_of(org).id.0.get_version_num(), 8);
    }

    #[test]
    fn mandate_types_and_statuses() {
        use chrono::{Duration, Utc};
        assert!(MandateType::parse("OrgToPer")
            .unwrap()
            .mandater_is_organization());
        assert!(MandateType::parse("PerToOrg")
            .unwrap()
            .mandatee_is_organization());
        assert!(MandateType::parse("orgtoper").is_err());
        let now = Utc::now();
        let mut m = Mandate {
            id: crate::MandateId::new(),
            kind: MandateType::OrgToPer,
            mandater: Party::Organization(crate::OrganizationId::new()),
            mandatee: Party::User(crate::UserId::new()),
            role_id: crate::RoleId::new(),
            assignee_email: None,
            valid_from: None,
            valid_until: Some(now + Duration::days(1)),
            created_at: now,
        };
        assert_eq!(m.status(now), "active");
        assert_eq!(m.status(now + Duration::days(1)), "expired");
        m.valid_from = Some(now + Duration::hours(1));
        assert_eq!(m.status(now), "pending");
        m.valid_from = None;
        m.mandatee = Party::Email("a@b.co".into());
        assert_eq!(m.status(now), "pending");
    }

    #[test]
    fn invitations_are_pending_until_accepted_or_expired() {
        use chrono::{Duration, Utc};
        let now = Utc::now();
        let mut i = RoleInvitation {
            id: crate::RoleInvitationId::new(),
            organization_id: None,
            role_id: None,
            user_id: crate::UserId::new(),
            email: "a@b.co".into(),
            expires_at: now + Duration::days(7),
            accepted_at: None,
            created_at: now,
        };
        assert!(i.is_open(now));
        assert_eq!(i.status(now + Duration::days(7)), "expired");
        i.accepted_at = Some(now);
        assert_eq!(i.status(now + Duration::days(8)), "accepted");
        assert!(!i.is_open(now));
    }

    #[test]
    fn builtin_fields_and_custom_names() {
        assert_eq!(UserField::parse("cn"), Some(UserField::Id));
        assert_eq!(UserField::parse("nickname"), None);
        assert_eq!(
            OrganizationField::parse("organizationClass"),
            Some(OrganizationField::OrganizationType)
        );
        assert!(parse_custom_attribute_name("employeeNumber").is_ok());
        for bad in ["", "a b", "x=y", "ä", &"a".repeat(65)] {
            assert!(parse_custom_attribute_name(bad).is_err(), "{bad:?}");
        }
    }
}
