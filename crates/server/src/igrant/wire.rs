//! Wire shapes shared by several sections of the iGrant spec (User, Token). Field names
//! and casing are the spec's.

use serde::Serialize;
use utoipa::ToSchema;

use crate::services::identity::{TokenPair, UserProfile};

/// Go's zero time, which iGrant.io's server writes for times never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `time.String()` of a UTC time, as iGrant.io's server wrote dates of data requests
/// and retention expiries (`2019-12-02 11:06:06 +0000 UTC`); its apps parse this form.
pub fn go_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()
}

/// [`go_time`] of Go's zero time: a date never set.
pub const GO_ZERO_TIME: &str = "0001-01-01 00:00:00 +0000 UTC";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UserClient {
    /// The push-notification token of the user's device.
    pub token: String,
    #[serde(rename = "Type")]
    pub client_type: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOrg {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Location")]
    pub location: String,
    #[serde(rename = "Type")]
    pub org_type: String,
    #[serde(rename = "TypeID")]
    pub type_id: String,
    #[serde(rename = "EulaAccepted")]
    pub eula_accepted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserRole {
    #[serde(rename = "RoleID")]
    pub role_id: i64,
    #[serde(rename = "OrgID")]
    pub org_id: String,
}

/// The spec's `User`.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    /// The account's ID in the identity store: in Accord, the same as `ID`.
    #[serde(rename = "IamID")]
    pub iam_id: String,
    #[serde(rename = "Email")]
    pub email: String,
    /// Ours: whether the address was proven by a mailed link (docs/security.md).
    #[serde(rename = "EmailVerified")]
    pub email_verified: bool,
    #[serde(rename = "Phone")]
    pub phone: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "ImageURL")]
    pub image_url: String,
    #[serde(rename = "LastVisit")]
    pub last_visit: String,
    #[serde(rename = "Client")]
    pub client: UserClient,
    #[serde(rename = "Orgs")]
    pub orgs: Vec<UserOrg>,
    /// The user's APIKey; shown only to the user themselves, empty otherwise or if none.
    #[serde(rename = "APIKey")]
    pub api_key: String,
    #[serde(rename = "Roles")]
    pub roles: Vec<UserRole>,
}

impl User {
    pub fn from_profile(p: UserProfile, public_url: &str) -> Self {
        let u = p.user;
        let id = u.id.to_string();
        let image_url = match u.image_id {
            Some(image) => format!("{public_url}/v1/users/{id}/image/{image}"),
            None => String::new(),
        };
        let image_id = u.image_id.map(|i| i.to_string()).unwrap_or_default();
        Self {
            iam_id: id.clone(),
            name: u.name,
            email_verified: u.email.is_some() && u.email_verified_at.is_some(),
            email: u.email.map(|e| e.as_str().to_owned()).unwrap_or_default(),
            phone: u.phone,
            image_id,
            image_url,
            last_visit: u
                .last_visit
                .map(rfc3339)
                .unwrap_or_else(|| ZERO_TIME.to_owned()),
            client: UserClient {
                token: u.client_token,
                client_type: u.client_type,
            },
            orgs: p
                .orgs
                .into_iter()
                .map(|s| UserOrg {
                    org_id: s.organization.id.to_string(),
                    name: s.organization.name,
                    location: s.organization.location,
                    org_type: s.type_name,
                    type_id: s
                        .organization
                        .type_id
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    eula_accepted: s.eula_accepted,
                })
                .collect(),
            api_key: p.api_key.unwrap_or_default(),
            roles: p
                .roles
                .into_iter()
                .map(|r| UserRole {
                    role_id: r.role.id(),
                    org_id: r.organization_id.to_string(),
                })
                .collect(),
            id,
        }
    }
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time as [`rfc3339`] writes it, or [`ZERO_TIME`] for none, written straight into the
/// response rather than through a string of its own: a consent record has one per
/// attribute, and its reads are the busiest path (BENCHMARKS.md, `read-consents`).
#[derive(Debug, Clone, Copy)]
pub struct SpecTime(pub Option<chrono::DateTime<chrono::Utc>>);

impl std::fmt::Display for SpecTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike as _, Timelike as _};
        match self.0 {
            None => f.write_str(ZERO_TIME),
            Some(t) if (0..=9999).contains(&t.year()) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            Some(t) => f.write_str(&rfc3339(t)),
        }
    }
}

impl Serialize for SpecTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The spec's `Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

impl From<TokenPair> for Token {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            expires_in: t.expires_in,
            refresh_expires_in: t.refresh_expires_in,
            refresh_token: t.refresh_token,
            token_type: "bearer".into(),
        }
    }
}

/// `{User, Token}`: what the logins answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAndToken {
    #[serde(rename = "User")]
    pub user: User,
    #[serde(rename = "Token")]
    pub token: Token,
}

/// `{"Msg": "..."}`: a confirmation with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Msg {
    #[serde(rename = "Msg")]
    pub msg: String,
}

impl Msg {
    pub fn new(msg: &str) -> Self {
        Self {
            msg: msg.to_owned(),
        }
    }
}

// ---- organisations ----

use accord_domain::organization::{
    OrganizationType as DomainOrgType, Purpose as DomainPurpose, Template as DomainTemplate,
};

use std::borrow::Cow;

use accord_domain::{ImageId, OrganizationId, PurposeId};

use crate::services::organizations::OrganizationView;

/// The spec's `OrganisationType`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationType {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Type")]
    pub name: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "ImageURL")]
    pub image_url: String,
}

impl OrganizationType {
    pub fn new(t: DomainOrgType, public_url: &str) -> Self {
        let image_url = match &t.image_id {
            Some(_) => format!("{public_url}/v1/organizations/types/{}/image", t.id),
            None => String::new(),
        };
        Self {
            id: t.id.to_string(),
            name: t.name,
            image_id: t.image_id.map(|i| i.to_string()).unwrap_or_default(),
            image_url,
        }
    }
}

/// A purpose: the spec's fields plus the lawful basis and the attributes of iGrant.io's
/// own server.
// Borrowed from the organisation's cached layout where a consent record is rendered,
// owned elsewhere.
#[derive(Debug, Serialize, ToSchema)]
pub struct Purpose<'a> {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    pub id: PurposeId,
    #[serde(rename = "Name")]
    pub name: Cow<'a, str>,
    #[serde(rename = "Description")]
    pub description: Cow<'a, str>,
    /// `true` when the lawful basis is not consent: attributes default to Allow.
    #[serde(rename = "LawfulUsage")]
    pub lawful_usage: bool,
    #[serde(rename = "PolicyURL")]
    pub policy_url: Cow<'a, str>,
    /// 0 Consent, 1 Contract, 2 Legal obligation, 3 Vital interest, 4 Public task, 5 Legitimate interest.
    #[serde(rename = "LawfulBasisOfProcessing")]
    pub lawful_basis: i64,
    #[serde(rename = "AttributeType")]
    pub attribute_type: i64,
    #[serde(rename = "Jurisdiction")]
    pub jurisdiction: Cow<'a, str>,
    #[serde(rename = "Disclosure")]
    pub disclosure: Cow<'a, str>,
    #[serde(rename = "IndustryScope")]
    pub industry_scope: Cow<'a, str>,
    #[serde(rename = "Restriction")]
    pub restriction: Cow<'a, str>,
    #[serde(rename = "Shared3PP")]
    pub shared_3pp: bool,
    /// Ours: the number of the current wording (docs/consents.md, "Versions").
    #[serde(rename = "Version")]
    pub version: i64,
    /// Ours: what a consent given under an older version means until the person
    /// answers, `Stands` or `Lapses` (docs/consents.md, "Outdated consents").
    #[serde(rename = "OutdatedConsent")]
    pub outdated_consent: &'static str,
    /// Ours: days from a new version until an outdated consent lapses (when it does).
    #[serde(rename = "ReconsentGraceDays")]
    pub reconsent_grace_days: i64,
}

impl From<DomainPurpose> for Purpose<'static> {
    fn from(p: DomainPurpose) -> Self {
        Self {
            id: p.id,
            name: p.name.into(),
            description: p.description.into(),
            lawful_usage: p.lawful_basis.is_lawful_usage(),
            policy_url: p.policy_url.into(),
            lawful_basis: p.lawful_basis.id(),
            attribute_type: p.attribute_type,
            jurisdiction: p.jurisdiction.into(),
            disclosure: p.disclosure.into(),
            industry_scope: p.industry_scope.into(),
            restriction: p.restriction.into(),
            shared_3pp: p.shared_3pp,
            version: p.version,
            outdated_consent: p.outdated_consent.as_str(),
            reconsent_grace_days: p.outdated_consent.grace_days(),
        }
    }
}

impl<'a> From<&'a DomainPurpose> for Purpose<'a> {
    fn from(p: &'a DomainPurpose) -> Self {
        Self {
            id: p.id,
            name: p.name.as_str().into(),
            description: p.description.as_str().into(),
            lawful_usage: p.lawful_basis.is_lawful_usage(),
            policy_url: p.policy_url.as_str().into(),
            lawful_basis: p.lawful_basis.id(),
            attribute_type: p.attribute_type,
            jurisdiction: p.jurisdiction.as_str().into(),
            disclosure: p.disclosure.as_str().into(),
            industry_scope: p.industry_scope.as_str().into(),
            restriction: p.restriction.as_str().into(),
            shared_3pp: p.shared_3pp,
            version: p.version,
            outdated_consent: p.outdated_consent.as_str(),
            reconsent_grace_days: p.outdated_consent.grace_days(),
        }
    }
}

/// A data attribute ("template"): its name and the purposes it serves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Template {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Consent")]
    pub consent: String,
    #[serde(rename = "PurposeIDs")]
    pub purpose_ids: Vec<String>,
}

impl From<DomainTemplate> for Template {
    fn from(t: DomainTemplate) -> Self {
        Self {
            id: t.id.to_string(),
            consent: t.consent,
            purpose_ids: t.purpose_ids.iter().map(ToString::to_string).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Admin {
    #[serde(rename = "UserID")]
    pub user_id: String,
    #[serde(rename = "RoleID")]
    pub role_id: i64,
}

/// Billing is not part of Accord: present with neutral values so the shape is the spec's.
#[derive(Debug, Serialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BillingInfo {
    #[serde(rename = "BillingRegistrationID")]
    pub billing_registration_id: String,
    pub max_user_counter: i64,
    pub default_charge_notified: bool,
    pub current_period_end: i64,
    pub prev_month_users: i64,
    pub pay_per_user_info: PayPerUserInfo,
    pub default_payment_source: PaymentSource,
    pub address: BillingAddress,
    pub service_agreement_version: String,
    pub free_trial_expired: bool,
}

#[derive(Debug, Serialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PayPerUserInfo {
    pub user_commitment: i64,
    pub time_commitment: String,
    pub cancel_on_commitment_end: bool,
    pub commitment_period_remaining: i64,
}

#[derive(Debug, Serialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentSource {
    pub brand: String,
    pub expiry_month: i64,
    pub expiry_year: i64,
    pub last4_digits: String,
}

#[derive(Debug, Serialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct BillingAddress {
    pub name: String,
    pub city: String,
    pub country: String,
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub state: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Subs {
    /// The subscribe method ID.
    pub method: i64,
    /// The subscription key; empty unless the caller may read it.
    pub key: String,
}

/// The hosted privacy dashboard of iGrant.io: not part of Accord, neutral values.
#[derive(Debug, Serialize, ToSchema, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PrivacyDashboard {
    pub host_name: String,
    pub version: String,
    pub status: i64,
    pub delete: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DataRetention {
    /// Seconds.
    pub retention_period: i64,
    pub enabled: bool,
}

/// Beyond the spec: how a person's copy of their data is released (docs/data-rights.md).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DataExport {
    /// The copy is the person's as soon as they ask, rather than once the organisation
    /// answers the request.
    pub release_at_once: bool,
}

/// The spec's `Organisation`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Organization {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    #[serde(rename = "CoverImageID")]
    pub cover_image_id: String,
    #[serde(rename = "CoverImageURL")]
    pub cover_image_url: String,
    #[serde(rename = "LogoImageID")]
    pub logo_image_id: String,
    #[serde(rename = "LogoImageURL")]
    pub logo_image_url: String,
    pub location: String,
    #[serde(rename = "Type")]
    pub org_type: OrganizationType,
    pub description: String,
    /// Open for subscriptions.
    pub enabled: bool,
    #[serde(rename = "PolicyURL")]
    pub policy_url: String,
    #[serde(rename = "EulaURL")]
    pub eula_url: String,
    pub templates: Vec<Template>,
    pub purposes: Vec<Purpose<'static>>,
    pub admins: Vec<Admin>,
    pub billing_info: BillingInfo,
    pub subs: Subs,
    pub hlc_support: bool,
    pub privacy_dashboard: PrivacyDashboard,
    pub data_retention: DataRetention,
    pub data_export: DataExport,
}

/// Where an organisation's image is served (public, absolute); empty without one.
pub fn organization_image_url(
    public_url: &str,
    org: OrganizationId,
    image: Option<ImageId>,
) -> String {
    match image {
        Some(i) => format!("{public_url}/v1/organizations/{org}/image/{i}"),
        None => String::new(),
    }
}

impl Organization {
    pub fn new(v: OrganizationView, public_url: &str) -> Self {
        let o = v.organization;
        let id = o.id.to_string();
        let image_url = |image: &Option<ImageId>| organization_image_url(public_url, o.id, *image);
        let org_type = match v.org_type {
            Some(t) => OrganizationType::new(t, public_url),
            None => OrganizationType {
                id: String::new(),
                name: String::new(),
                image_id: String::new(),
                image_url: String::new(),
            },
        };
        Self {
            cover_image_url: image_url(&o.cover_image_id),
            logo_image_url: image_url(&o.logo_image_id),
            cover_image_id: o.cover_image_id.map(|i| i.to_string()).unwrap_or_default(),
            logo_image_id: o.logo_image_id.map(|i| i.to_string()).unwrap_or_default(),
            name: o.name,
            location: o.location,
            org_type,
            description: o.description,
            enabled: o.enabled,
            policy_url: o.policy_url,
            eula_url: o.eula_url,
            templates: v.templates.into_iter().map(Template::from).collect(),
            purposes: v.purposes.into_iter().map(Purpose::from).collect(),
            admins: v
                .admins
                .into_iter()
                .map(|(u, r)| Admin {
                    user_id: u.to_string(),
                    role_id: r.id(),
                })
                .collect(),
            billing_info: BillingInfo::default(),
            subs: Subs {
                method: o.subscribe_method.id(),
                key: if v.reveal_key {
                    o.subscribe_key
                } else {
                    String::new()
                },
            },
            hlc_support: o.hlc_support,
            privacy_dashboard: PrivacyDashboard::default(),
            data_retention: DataRetention {
                retention_period: o.retention_period_secs,
                enabled: o.retention_enabled,
            },
            data_export: DataExport {
                release_at_once: o.data_export_at_once,
            },
            id,
        }
    }
}

/// `{"Organization": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationEnvelope {
    #[serde(rename = "Organization")]
    pub organization: Organization,
}

/// `{"User": {...}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct UserEnvelope {
    #[serde(rename = "User")]
    pub user: User,
}

/// Keyset pagination links: the spec's `Self`/`Next`, and the `self`/`next` the iOS SDK
/// reads. `Next` is absent on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "Self")]
    pub self_upper: String,
    #[serde(rename = "self")]
    pub self_lower: String,
    #[serde(rename = "Next", skip_serializing_if = "Option::is_none")]
    pub next_upper: Option<String>,
    #[serde(rename = "next", skip_serializing_if = "Option::is_none")]
    pub next_lower: Option<String>,
}

impl Links {
    /// Links of a keyset page: `base` ends in `?limit=N`; `start` is this page's
    /// `startid`, `next` the next page's (when more follow).
    pub fn keyset(base: &str, start: Option<&str>, next: Option<impl std::fmt::Display>) -> Self {
        let self_url = match start.filter(|s| !s.is_empty()) {
            Some(start) => format!("{base}&startid={start}"),
            None => base.to_owned(),
        };
        Self::new(self_url, next.map(|id| format!("{base}&startid={id}")))
    }

    pub fn new(self_url: String, next_url: Option<String>) -> Self {
        Self {
            self_lower: self_url.clone(),
            self_upper: self_url,
            next_lower: next_url.clone(),
            next_upper: next_url,
        }
    }
}

/// A body carrying tokens, which caches must not keep (RFC 6749 §5.1): least of all a
/// browser's, which receives them at the federation callback.
pub fn no_store<T: Serialize>(body: T) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse as _;
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        axum::Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn spec_time_writes_what_rfc3339_writes() {
        let times = [
            chrono::Utc.with_ymd_and_hms(2026, 1, 31, 9, 5, 7).unwrap(),
            chrono::Utc.timestamp_millis_opt(1_767_225_599_999).unwrap(),
            chrono::Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(10_000, 3, 1, 0, 0, 0).unwrap(),
        ];
        for t in times {
            assert_eq!(SpecTime(Some(t)).to_string(), rfc3339(t));
            assert_eq!(
                serde_json::to_string(&SpecTime(Some(t))).unwrap(),
                format!("\"{}\"", rfc3339(t))
            );
        }
        assert_eq!(SpecTime(None).to_string(), ZERO_TIME);
    }
}
