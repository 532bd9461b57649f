//! What a person consents to is a purpose's wording: its meaning-bearing fields and the
//! names of its data attributes. Each distinct wording is a version, numbered from 1,
//! never edited or deleted (docs/consents.md, "Versions").

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::organization::{Purpose, Template};
use crate::{AttributeId, PurposeId, UserId};

/// A purpose's wording in canonical form: the fields in a fixed order, the attributes by
/// ID. Two wordings are the same version exactly when their canonical texts are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurposeWording {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "LawfulBasisOfProcessing")]
    pub lawful_basis: i64,
    #[serde(rename = "PolicyURL")]
    pub policy_url: String,
    #[serde(rename = "Jurisdiction")]
    pub jurisdiction: String,
    #[serde(rename = "Disclosure")]
    pub disclosure: String,
    #[serde(rename = "IndustryScope")]
    pub industry_scope: String,
    #[serde(rename = "Restriction")]
    pub restriction: String,
    #[serde(rename = "Shared3PP")]
    pub shared_3pp: bool,
    #[serde(rename = "Attributes")]
    pub attributes: Vec<WordedAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WordedAttribute {
    #[serde(rename = "ID")]
    pub id: AttributeId,
    #[serde(rename = "Name")]
    pub name: String,
}

impl PurposeWording {
    /// The wording of `purpose` with those of `templates` that serve it.
    pub fn of<'t>(purpose: &Purpose, templates: impl IntoIterator<Item = &'t Template>) -> Self {
        let mut attributes: Vec<WordedAttribute> = templates
            .into_iter()
            .filter(|t| t.purpose_ids.contains(&purpose.id))
            .map(|t| WordedAttribute {
                id: t.id,
                name: t.consent.clone(),
            })
            .collect();
        attributes.sort_by_key(|a| a.id.to_string());
        Self {
            name: purpose.name.clone(),
            description: purpose.description.clone(),
            lawful_basis: purpose.lawful_basis.id(),
            policy_url: purpose.policy_url.clone(),
            jurisdiction: purpose.jurisdiction.clone(),
            disclosure: purpose.disclosure.clone(),
            industry_scope: purpose.industry_scope.clone(),
            restriction: purpose.restriction.clone(),
            shared_3pp: purpose.shared_3pp,
            attributes,
        }
    }

    /// The canonical text: compact JSON, fields in declaration order.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).expect("a wording serialises")
    }
}

/// `sha256:` and the hex digest of a canonical text: a receipt naming it proves the words.
pub fn wording_hash(canonical: &str) -> String {
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What a consent given under an older version of a purpose means until the person
/// answers: the organisation's choice, per purpose (docs/consents.md, "Outdated
/// consents"). Not part of the wording: changing it is no version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutdatedConsent {
    /// It holds as given.
    #[default]
    Stands,
    /// It holds `grace_days` from the publication of the version that outdated it, then
    /// reads as the purpose's default.
    Lapses { grace_days: i64 },
}

/// The longest grace an organisation may give (a year: past it, "lapses" means little).
pub const MAX_GRACE_DAYS: i64 = 365;
/// The grace stored with a purpose that never chose one.
pub const DEFAULT_GRACE_DAYS: i64 = 30;

impl OutdatedConsent {
    /// From the wire: `Stands` or `Lapses` (any case), and the grace in days (0 to
    /// [`MAX_GRACE_DAYS`]).
    pub fn parse(policy: &str, grace_days: i64) -> crate::Result<Self> {
        if !(0..=MAX_GRACE_DAYS).contains(&grace_days) {
            return Err(crate::Error::invalid(format!(
                "ReconsentGraceDays must be a whole number from 0 to {MAX_GRACE_DAYS}"
            )));
        }
        match policy.trim().to_ascii_lowercase().as_str() {
            "stands" => Ok(Self::Stands),
            "lapses" => Ok(Self::Lapses { grace_days }),
            _ => Err(crate::Error::invalid(format!(
                "OutdatedConsent must be Stands or Lapses, not {policy:?}"
            ))),
        }
    }

    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stands => "Stands",
            Self::Lapses { .. } => "Lapses",
        }
    }

    /// The grace answered beside the policy (the default when it stands).
    pub fn grace_days(self) -> i64 {
        match self {
            Self::Stands => DEFAULT_GRACE_DAYS,
            Self::Lapses { grace_days } => grace_days,
        }
    }
}

/// The version a consent was given under, as its history entry, receipt and event name
/// it: the number, and the hash of the canonical text, which proves the words without
/// the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRef {
    pub number: i64,
    pub hash: String,
}

impl VersionRef {
    /// The current version of `purpose` (its number rides on the purpose) with the hash of
    /// its wording among `templates`.
    pub fn current<'t>(
        purpose: &Purpose,
        templates: impl IntoIterator<Item = &'t Template>,
    ) -> Self {
        Self {
            number: purpose.version,
            hash: wording_hash(&PurposeWording::of(purpose, templates).canonical()),
        }
    }
}

/// One version of a purpose's wording, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeVersion {
    pub purpose_id: PurposeId,
    pub number: i64,
    /// The canonical text (`PurposeWording::canonical`).
    pub wording: String,
    pub hash: String,
    /// When it was published; `None` for a wording that predates versions.
    pub created_at: Option<DateTime<Utc>>,
    /// Who published it; `None` for a wording that predates versions.
    pub author: Option<UserId>,
}

impl PurposeVersion {
    pub fn new(
        purpose_id: PurposeId,
        number: i64,
        wording: &PurposeWording,
        created_at: Option<DateTime<Utc>>,
        author: Option<UserId>,
    ) -> Self {
        let wording = wording.canonical();
        Self {
            purpose_id,
            number,
            hash: wording_hash(&wording),
            wording,
            created_at,
            author,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organization::LawfulBasis;
    use crate::OrganizationId;

    fn purpose() -> Purpose {
        Purpose {
            id: PurposeId::new(),
            organization_id: OrganizationId::new(),
            name: "Marketing".into(),
            description: "Offers by mail".into(),
            lawful_basis: LawfulBasis::Consent,
            policy_url: String::new(),
            attribute_type: 0,
            jurisdiction: String::new(),
            disclosure: String::new(),
            industry_scope: String::new(),
            restriction: String::new(),
            shared_3pp: false,
            version: 1,
            outdated_consent: Default::default(),
        }
    }

    #[test]
    fn the_wording_changes_with_meaning_and_only_with_it() {
        let p = purpose();
        let t = Template {
            id: AttributeId::new(),
            organization_id: p.organization_id,
            consent: "Email".into(),
            purpose_ids: vec![p.id],
        };
        let other = Template {
            purpose_ids: vec![],
            ..t.clone()
        };
        let base = PurposeWording::of(&p, &[t.clone(), other]);
        assert_eq!(base.attributes.len(), 1);
        // Structure alone (the attribute type, the version counter) is not wording.
        let same = Purpose {
            attribute_type: 2,
            version: 7,
            ..p.clone()
        };
        assert_eq!(PurposeWording::of(&same, std::slice::from_ref(&t)), base);
        let reworded = Purpose {
            description: "Offers by mail and phone".into(),
            ..p.clone()
        };
        assert_ne!(
            PurposeWording::of(&reworded, std::slice::from_ref(&t)),
            base
        );
        let renamed = Template {
            consent: "Email address".into(),
            ..t
        };
        let r = PurposeWording::of(&p, &[renamed]);
        assert_ne!(r, base);
        assert_ne!(
            wording_hash(&r.canonical()),
            wording_hash(&base.canonical())
        );
        assert!(wording_hash("x").starts_with("sha256:"));
    }
}
