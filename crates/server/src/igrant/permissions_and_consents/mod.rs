//! Spec section "Permissions and consents": an individual's consents with an
//! organisation, who consented, and — beyond the spec — the consent history, its
//! verification and signed receipts (docs/consents.md).

mod consent_history;
mod logs;
mod notifications;
mod sdk;

pub use consent_history::ConsentHistoryEntry;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, IgrantQuery, Signed};
use super::wire::{organization_image_url, rfc3339, Links, Purpose, SpecTime, ZERO_TIME};
use crate::services::consent_history::{HistoryPage, HistoryQuery, NamedEntry};
use crate::services::consents::{ConsentPath, ConsentRecord, PurposeConsents};
use crate::services::paging::PAGE_DEFAULT;
use crate::services::Services;
use accord_domain::consent::{ComputedStatus, HistoryEntry};
use accord_domain::consent_change::consent_not_found;
use accord_domain::{AttributeId, ConsentId, OrganizationId, PurposeId, UserId};

/// A consent record's place in the path (`{orgID}/users/{userID}/consents/{consentID}`,
/// the consent optional), parsed once. An ID that is not one names nothing: 404, as an
/// unknown one is after the credential is checked.
struct RecordAt {
    org: OrganizationId,
    user: UserId,
    consent: Option<ConsentId>,
    purpose: Option<PurposeId>,
}

#[derive(Deserialize)]
struct RawRecordPath {
    #[serde(rename = "orgID")]
    org: String,
    #[serde(rename = "userID")]
    user: String,
    #[serde(rename = "consentID")]
    consent: Option<String>,
    #[serde(rename = "purposeID")]
    purpose: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RecordAt {
    type Rejection = IgrantError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, IgrantError> {
        let Path(raw) = Path::<RawRecordPath>::from_request_parts(parts, state)
            .await
            .map_err(|_| IgrantError::from(consent_not_found()))?;
        fn id<T: std::str::FromStr>(raw: &str) -> Result<T, IgrantError> {
            raw.parse()
                .map_err(|_| IgrantError::from(consent_not_found()))
        }
        Ok(RecordAt {
            org: id(&raw.org)?,
            user: id(&raw.user)?,
            consent: raw.consent.as_deref().map(id).transpose()?,
            purpose: raw.purpose.as_deref().map(id).transpose()?,
        })
    }
}

/// A purpose of a consent record (`…/consents/{consentID}/purposes/{purposeID}`).
struct ConsentAt(ConsentPath);

impl<S: Send + Sync> FromRequestParts<S> for ConsentAt {
    type Rejection = IgrantError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, IgrantError> {
        let at = RecordAt::from_request_parts(parts, state).await?;
        match (at.consent, at.purpose) {
            (Some(consent), Some(purpose)) => Ok(ConsentAt(ConsentPath {
                org: at.org,
                user: at.user,
                consent,
                purpose,
            })),
            _ => Err(consent_not_found().into()),
        }
    }
}

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(get_consents))
        .routes(routes!(get_consent))
        .routes(routes!(get_purpose_consents, patch_purpose_consents))
        .routes(routes!(get_purpose_status, set_purpose_status))
        .routes(routes!(patch_attribute_consent))
        .routes(routes!(purpose_consented_users))
        .routes(routes!(attribute_consented_users))
        .merge(consent_history::router())
        .merge(notifications::router())
        .merge(sdk::router())
        .merge(logs::router())
}

type Svc = State<Arc<Services>>;

// ---- wire shapes ----

/// An attribute's status. `Consent` is the spec's name; `Consented` is what iGrant.io's
/// SDKs read: both carry the same value.
#[derive(Serialize, ToSchema)]
pub struct AttributeStatus {
    #[serde(rename = "Consent")]
    consent: &'static str,
    #[serde(rename = "Consented")]
    consented: &'static str,
    #[serde(rename = "TimeStamp")]
    #[schema(value_type = String)]
    timestamp: SpecTime,
    #[serde(rename = "Days")]
    days: i64,
    #[serde(rename = "Remaining")]
    remaining: i64,
}

impl From<ComputedStatus> for AttributeStatus {
    fn from(s: ComputedStatus) -> Self {
        Self {
            consent: s.consent.as_str(),
            consented: s.consent.as_str(),
            timestamp: SpecTime(s.timestamp),
            days: s.days,
            remaining: s.remaining,
        }
    }
}

/// The spec's `AttributeConsent`: `ID` is the attribute (template) ID, `Description` its name.
#[derive(Serialize, ToSchema)]
pub struct AttributeConsent<'a> {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    id: AttributeId,
    #[serde(rename = "Description")]
    description: &'a str,
    /// The attribute's data value: not kept by Accord, always empty.
    #[serde(rename = "Value")]
    value: &'static str,
    #[serde(rename = "Status")]
    status: AttributeStatus,
    /// Ours: the purpose's version the current value was given under (`null` when never
    /// set; docs/consents.md, "Outdated consents").
    #[serde(rename = "Version")]
    version: Option<i64>,
    /// Ours: given under an older version of the purpose; the person is asked again.
    #[serde(rename = "Outdated")]
    outdated: bool,
    /// Ours: when an outdated consent lapses (or lapsed) to the purpose's default, where the
    /// organisation chose so; RFC 3339, else `null`.
    #[serde(rename = "LapsesAt")]
    lapses_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Count {
    #[serde(rename = "Total")]
    total: i64,
    #[serde(rename = "Consented")]
    consented: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionExpiry<'a> {
    /// `2020-11-14 03:03:10 +0000 UTC`, or empty.
    #[serde(rename = "Expiry")]
    expiry: &'a str,
}

/// One purpose of a consent record, with the status of each of its attributes.
// Rendered without copying: the purpose and its attributes are borrowed from the
// organisation's cached layout.
#[derive(Serialize, ToSchema)]
pub struct ConsentsAndPurpose<'a> {
    #[serde(rename = "Purpose")]
    purpose: Purpose<'a>,
    #[serde(rename = "Count")]
    count: Count,
    #[serde(rename = "Consents")]
    consents: Vec<AttributeConsent<'a>>,
    #[serde(rename = "DataRetention")]
    data_retention: RetentionExpiry<'a>,
}

impl<'a> From<&'a PurposeConsents> for ConsentsAndPurpose<'a> {
    fn from(p: &'a PurposeConsents) -> Self {
        Self {
            count: Count {
                total: p.total,
                consented: p.consented,
            },
            consents: p
                .attributes
                .iter()
                .map(|a| AttributeConsent {
                    id: a.attribute.id,
                    description: &a.attribute.consent,
                    value: "",
                    status: a.status.into(),
                    version: a.status.version,
                    outdated: a.status.outdated,
                    lapses_at: a
                        .status
                        .lapses_at
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                })
                .collect(),
            data_retention: RetentionExpiry {
                expiry: &p.retention_expiry,
            },
            purpose: Purpose::from(&*p.purpose),
        }
    }
}

/// A consent record: every purpose of the organisation with its attributes.
#[derive(Serialize, ToSchema)]
pub struct Consents<'a> {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    id: ConsentId,
    #[serde(rename = "OrgID")]
    #[schema(value_type = String)]
    org_id: OrganizationId,
    #[serde(rename = "UserID")]
    #[schema(value_type = String)]
    user_id: UserId,
    #[serde(rename = "ConsentsAndPurposes")]
    consents_and_purposes: Vec<ConsentsAndPurpose<'a>>,
}

/// The record as a response: every purpose.
impl<'a> From<&'a ConsentRecord> for Consents<'a> {
    fn from(record: &'a ConsentRecord) -> Self {
        Consents {
            id: record.id,
            org_id: record.organization_id,
            user_id: record.user_id,
            consents_and_purposes: record
                .purposes
                .iter()
                .map(ConsentsAndPurpose::from)
                .collect(),
        }
    }
}

fn consents(record: &ConsentRecord) -> Response {
    Json(Consents::from(record)).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct PurposeConsentsBody<'a> {
    #[serde(rename = "Purpose")]
    purpose: Purpose<'a>,
    #[serde(rename = "Count")]
    count: Count,
    #[serde(rename = "Consents")]
    consents: Vec<AttributeConsent<'a>>,
}

/// One purpose of a consent record.
#[derive(Serialize, ToSchema)]
pub struct PurposeConsentsEnvelope<'a> {
    /// The purpose's ID, as iGrant.io's server answered: its Android apps address the
    /// attribute changes with it (the spec's sample repeats the consent ID; docs/igrant.md).
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    id: PurposeId,
    #[serde(rename = "ConsentID")]
    #[schema(value_type = String)]
    consent_id: ConsentId,
    #[serde(rename = "OrgID")]
    #[schema(value_type = String)]
    org_id: OrganizationId,
    #[serde(rename = "UserID")]
    #[schema(value_type = String)]
    user_id: UserId,
    #[serde(rename = "DataRetention")]
    data_retention: RetentionExpiry<'a>,
    #[serde(rename = "Consents")]
    consents: PurposeConsentsBody<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct Summary {
    #[serde(rename = "Consented")]
    consented: &'static str,
}

// ---- reading ----

/// Get consents for a user (the individual; Admin and Dpo of the organisation)
#[utoipa::path(get, path = "/organizations/{orgID}/users/{userID}/consents", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Consents), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_consents(
    State(s): Svc,
    Signed(a): Signed,
    at: RecordAt,
) -> Result<Response, IgrantError> {
    Ok(consents(&s.consents(&a, at.org, at.user, None).await?))
}

/// Gets user consent by ID
#[utoipa::path(get, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Consents), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_consent(
    State(s): Svc,
    Signed(a): Signed,
    at: RecordAt,
) -> Result<Response, IgrantError> {
    Ok(consents(
        &s.consents(&a, at.org, at.user, at.consent).await?,
    ))
}

/// Get all purpose consents
#[utoipa::path(get, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path), ("purposeID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposeConsentsEnvelope), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_purpose_consents(
    State(s): Svc,
    Signed(a): Signed,
    ConsentAt(at): ConsentAt,
) -> Result<Response, IgrantError> {
    let (record, p) = s.purpose_consents(&a, &at).await?;
    let p = ConsentsAndPurpose::from(&p);
    Ok(Json(PurposeConsentsEnvelope {
        id: at.purpose,
        consent_id: record.id,
        org_id: record.organization_id,
        user_id: record.user_id,
        data_retention: p.data_retention,
        consents: PurposeConsentsBody {
            purpose: p.purpose,
            count: p.count,
            consents: p.consents,
        },
    })
    .into_response())
}

/// Get the purpose's summary: Allow (all attributes Allow), Disallow (all Disallow), else AskMe
#[utoipa::path(get, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}/status", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path), ("purposeID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Summary), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_purpose_status(
    State(s): Svc,
    Signed(a): Signed,
    ConsentAt(at): ConsentAt,
) -> Result<Json<Summary>, IgrantError> {
    Ok(Json(Summary {
        consented: s.purpose_status(&a, &at).await?.as_str(),
    }))
}

// ---- changing ----

#[derive(Deserialize, ToSchema)]
pub struct ConsentedBody {
    /// Allow, Disallow or AskMe (any case).
    consented: String,
}

/// Updates all attribute consents of a purpose (no time limit)
#[utoipa::path(post, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}/status", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path), ("purposeID" = String, Path)),
    request_body = ConsentedBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Consents), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_purpose_status(
    State(s): Svc,
    Signed(a): Signed,
    ConsentAt(at): ConsentAt,
    IgrantJson(b): IgrantJson<ConsentedBody>,
) -> Result<Response, IgrantError> {
    let (record, _) = s.set_purpose_consent(&a, &at, &b.consented).await?;
    // Every purpose, as iGrant.io's server answered: its web dashboard replaces its list.
    Ok(consents(&record))
}

#[derive(Deserialize, ToSchema)]
pub struct AttributeRef {
    attributeid: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PurposePatchBody {
    consentattributes: Vec<AttributeRef>,
    consented: String,
}

#[derive(Serialize, ToSchema)]
pub struct PatchStatus {
    #[serde(rename = "Consented")]
    consented: &'static str,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
    #[serde(rename = "Days")]
    days: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PatchedConsent {
    #[serde(rename = "Status")]
    status: PatchStatus,
    #[serde(rename = "Value")]
    value: String,
    #[serde(rename = "TemplateID")]
    template_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct PatchedPurpose {
    #[serde(rename = "ID")]
    id: String,
    /// Every attribute of the purpose reads Allow.
    #[serde(rename = "AllowAll")]
    allow_all: bool,
    #[serde(rename = "Consents")]
    consents: Vec<PatchedConsent>,
}

#[derive(Serialize, ToSchema)]
pub struct PurposePatchReply {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Purposes")]
    purposes: Vec<PatchedPurpose>,
    /// Signed receipts of the recorded changes (JWS, verifiable against the JWKS).
    #[serde(rename = "Receipts")]
    receipts: Vec<String>,
}

/// Update consents for several attributes of a purpose (no time limit)
#[utoipa::path(patch, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path), ("purposeID" = String, Path)),
    request_body = PurposePatchBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposePatchReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch_purpose_consents(
    State(s): Svc,
    Signed(a): Signed,
    ConsentAt(at): ConsentAt,
    IgrantJson(b): IgrantJson<PurposePatchBody>,
) -> Result<Json<PurposePatchReply>, IgrantError> {
    let ids = b
        .consentattributes
        .into_iter()
        .map(|r| r.attributeid)
        .collect();
    let (record, changes) = s.set_attributes_consent(&a, &at, ids, &b.consented).await?;
    let purposes = record
        .purposes
        .iter()
        .filter(|p| p.purpose.id == at.purpose)
        .map(|p| PatchedPurpose {
            id: p.purpose.id.to_string(),
            allow_all: accord_domain::consent::all_allowed(p.attributes.iter().map(|a| &a.status)),
            consents: p
                .attributes
                .iter()
                .map(|a| PatchedConsent {
                    status: PatchStatus {
                        consented: a.status.consent.as_str(),
                        timestamp: a
                            .status
                            .timestamp
                            .map(rfc3339)
                            .unwrap_or_else(|| ZERO_TIME.to_owned()),
                        days: a.status.days,
                    },
                    value: String::new(),
                    template_id: a.attribute.id.to_string(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(PurposePatchReply {
        id: record.id.to_string(),
        org_id: record.organization_id.to_string(),
        user_id: record.user_id.to_string(),
        purposes,
        receipts: changes.into_iter().map(|c| c.receipt).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct AttributePatchBody {
    consented: String,
    /// 0: no time limit; otherwise the consent holds this many days.
    #[serde(default)]
    days: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AttributePatchReply {
    #[serde(rename = "Msg")]
    msg: &'static str,
    #[serde(rename = "Status")]
    status: u16,
    /// The history entry recording the change.
    #[serde(rename = "ConsentHistoryID")]
    history_id: String,
    /// Its signed receipt (JWS, verifiable against the JWKS).
    #[serde(rename = "Receipt")]
    receipt: String,
}

/// Update an attribute consent, optionally for a number of days
#[utoipa::path(patch, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}/attributes/{attributeID}", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path), ("purposeID" = String, Path), ("attributeID" = String, Path)),
    request_body = AttributePatchBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = AttributePatchReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn patch_attribute_consent(
    State(s): Svc,
    Signed(a): Signed,
    ConsentAt(at): ConsentAt,
    Path((_org, _user, _consent, _purpose, attribute)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
    IgrantJson(b): IgrantJson<AttributePatchBody>,
) -> Result<Json<AttributePatchReply>, IgrantError> {
    let change = s
        .set_attribute_consent(&a, &at, &attribute, &b.consented, b.days)
        .await?;
    Ok(Json(AttributePatchReply {
        msg: "Consent updated successfully",
        status: 200,
        history_id: change.entry.id,
        receipt: change.receipt,
    }))
}

// ---- consented users ----

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size: default 50, at most 500.
    limit: Option<i64>,
    /// The last user ID of the previous page (users in ascending ID order).
    startid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentedUser {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Email")]
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentedUsers {
    #[serde(rename = "Users")]
    users: Vec<ConsentedUser>,
    #[serde(rename = "Links")]
    links: Links,
}

async fn consented(
    s: &Services,
    a: &crate::services::Actor,
    org: OrganizationId,
    purpose: &str,
    attribute: Option<&str>,
    q: PageQuery,
) -> Result<Json<ConsentedUsers>, IgrantError> {
    let page = s
        .consented_users(a, org, purpose, attribute, q.limit, q.startid.as_deref())
        .await?;
    let limit = q.limit.unwrap_or(PAGE_DEFAULT);
    let path = match attribute {
        Some(attr) => {
            format!("/v1/organizations/{org}/purposes/{purpose}/attributes/{attr}/consented/users")
        }
        None => format!("/v1/organizations/{org}/purposes/{purpose}/consented/users"),
    };
    let base = format!("{}{path}?limit={limit}", s.config.public_url);
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    let users = page
        .users
        .into_iter()
        .map(|u| ConsentedUser {
            id: u.id.to_string(),
            name: u.name,
            phone: u.phone,
            email: u.email.map(|e| e.as_str().to_owned()).unwrap_or_default(),
        })
        .collect();
    Ok(Json(ConsentedUsers { users, links }))
}

/// Get all consented users (Purpose): Admin, Dpo, Developer; keyset-paginated
#[utoipa::path(get, path = "/organizations/{orgID}/purposes/{purposeID}/consented/users", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("purposeID" = String, Path), PageQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentedUsers), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn purpose_consented_users(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<ConsentedUsers>, IgrantError> {
    consented(&s, &a, org.parse()?, &purpose, None, q).await
}

/// Get all consented users (Attribute): Admin, Dpo, Developer; keyset-paginated
#[utoipa::path(get, path = "/organizations/{orgID}/purposes/{purposeID}/attributes/{attributeID}/consented/users", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("purposeID" = String, Path), ("attributeID" = String, Path), PageQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentedUsers), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn attribute_consented_users(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose, attribute)): Path<(String, String, String)>,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<ConsentedUsers>, IgrantError> {
    consented(&s, &a, org.parse()?, &purpose, Some(&attribute), q).await
}
