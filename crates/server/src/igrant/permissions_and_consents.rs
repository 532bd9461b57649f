//! Spec section "Permissions and consents": an individual's consents with an
//! organisation, who consented, and — beyond the spec — the consent history, its
//! verification and signed receipts (docs/consents.md).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, IgrantQuery, Signed};
use super::wire::{rfc3339, Links, Purpose, SpecTime, ZERO_TIME};
use crate::services::consents::{
    ConsentPath, ConsentRecord, HistoryPage, HistoryQuery, PurposeConsents,
};
use crate::services::paging::PAGE_DEFAULT;
use crate::services::Services;
use accord_domain::consent::{ComputedStatus, HistoryEntry};
use accord_domain::{AttributeId, OrganizationId, UserId};

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(get_consents))
        .routes(routes!(get_consent))
        .routes(routes!(get_purpose_consents, patch_purpose_consents))
        .routes(routes!(get_purpose_status, set_purpose_status))
        .routes(routes!(patch_attribute_consent))
        .routes(routes!(purpose_consented_users))
        .routes(routes!(attribute_consented_users))
        .routes(routes!(user_consent_history))
        .routes(routes!(consent_receipt))
        .routes(routes!(organization_consent_history))
        .routes(routes!(
            verify_consent_ledger,
            verify_consent_ledger_against
        ))
        .routes(routes!(consent_ledger_checkpoint))
        .routes(routes!(request_consent))
        .routes(routes!(list_notifications))
        .routes(routes!(mark_notification_read))
        .routes(routes!(organization_logs))
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
    id: &'a str,
    #[serde(rename = "OrgID")]
    #[schema(value_type = String)]
    org_id: OrganizationId,
    #[serde(rename = "UserID")]
    #[schema(value_type = String)]
    user_id: UserId,
    #[serde(rename = "ConsentsAndPurposes")]
    consents_and_purposes: Vec<ConsentsAndPurpose<'a>>,
}

/// The record as a response (the purpose named by `only`, or all of them).
fn consents(record: &ConsentRecord, only: Option<&str>) -> Response {
    Json(Consents {
        id: &record.id,
        org_id: record.organization_id,
        user_id: record.user_id,
        consents_and_purposes: record
            .purposes
            .iter()
            .filter(|p| only.is_none_or(|id| id.parse().ok() == Some(p.purpose.id)))
            .map(ConsentsAndPurpose::from)
            .collect(),
    })
    .into_response()
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
    #[serde(rename = "ID")]
    id: &'a str,
    #[serde(rename = "ConsentID")]
    consent_id: &'a str,
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
    Path((org, user)): Path<(String, String)>,
) -> Result<Response, IgrantError> {
    Ok(consents(&s.consents(&a, &org, &user, None).await?, None))
}

/// Gets user consent by ID
#[utoipa::path(get, path = "/organizations/{orgID}/users/{userID}/consents/{consentID}", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("userID" = String, Path), ("consentID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Consents), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_consent(
    State(s): Svc,
    Signed(a): Signed,
    Path((org, user, consent)): Path<(String, String, String)>,
) -> Result<Response, IgrantError> {
    Ok(consents(
        &s.consents(&a, &org, &user, Some(&consent)).await?,
        None,
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
    Path((org, user, consent, purpose)): Path<(String, String, String, String)>,
) -> Result<Response, IgrantError> {
    let at = ConsentPath {
        org: &org,
        user: &user,
        consent: &consent,
        purpose: &purpose,
    };
    let (record, p) = s.purpose_consents(&a, &at).await?;
    let p = ConsentsAndPurpose::from(&p);
    Ok(Json(PurposeConsentsEnvelope {
        id: &record.id,
        consent_id: &record.id,
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
    Path((org, user, consent, purpose)): Path<(String, String, String, String)>,
) -> Result<Json<Summary>, IgrantError> {
    let at = ConsentPath {
        org: &org,
        user: &user,
        consent: &consent,
        purpose: &purpose,
    };
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
    Path((org, user, consent, purpose)): Path<(String, String, String, String)>,
    IgrantJson(b): IgrantJson<ConsentedBody>,
) -> Result<Response, IgrantError> {
    let at = ConsentPath {
        org: &org,
        user: &user,
        consent: &consent,
        purpose: &purpose,
    };
    let (record, _) = s.set_purpose_consent(&a, &at, &b.consented).await?;
    Ok(consents(&record, Some(&purpose)))
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
    Path((org, user, consent, purpose)): Path<(String, String, String, String)>,
    IgrantJson(b): IgrantJson<PurposePatchBody>,
) -> Result<Json<PurposePatchReply>, IgrantError> {
    let ids = b
        .consentattributes
        .into_iter()
        .map(|r| r.attributeid)
        .collect();
    let at = ConsentPath {
        org: &org,
        user: &user,
        consent: &consent,
        purpose: &purpose,
    };
    let (record, changes) = s.set_attributes_consent(&a, &at, ids, &b.consented).await?;
    let purposes = record
        .purposes
        .iter()
        .filter(|p| purpose.parse().ok() == Some(p.purpose.id))
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
        id: record.id,
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
    Path((org, user, consent, purpose, attribute)): Path<(String, String, String, String, String)>,
    IgrantJson(b): IgrantJson<AttributePatchBody>,
) -> Result<Json<AttributePatchReply>, IgrantError> {
    let at = ConsentPath {
        org: &org,
        user: &user,
        consent: &consent,
        purpose: &purpose,
    };
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

// ---- history, verification, receipts ----

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    orgid: Option<String>,
    purposeid: Option<String>,
    /// From this time (RFC 3339) or date (YYYY-MM-DD), inclusive.
    #[serde(rename = "startDate")]
    start_date: Option<String>,
    /// Until this time or date (the whole day), inclusive.
    #[serde(rename = "endDate")]
    end_date: Option<String>,
    limit: Option<i64>,
    /// The last entry ID of the previous page (entries newest first).
    startid: Option<String>,
}

/// One recorded consent change.
#[derive(Serialize, ToSchema)]
pub struct ConsentHistoryEntry {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "ConsentID")]
    consent_id: String,
    #[serde(rename = "PurposeID")]
    purpose_id: String,
    #[serde(rename = "AttributeID")]
    attribute_id: String,
    #[serde(rename = "ActorID")]
    actor_id: String,
    /// `individual`, `organisation_admin` (on the individual's behalf) or `system`.
    #[serde(rename = "ChangedBy")]
    changed_by: &'static str,
    /// Empty when the attribute had never been set.
    #[serde(rename = "OldValue")]
    old_value: &'static str,
    #[serde(rename = "NewValue")]
    new_value: &'static str,
    #[serde(rename = "Days")]
    days: i64,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
    #[serde(rename = "PrevHash")]
    prev_hash: String,
    #[serde(rename = "Hash")]
    hash: String,
}

impl From<HistoryEntry> for ConsentHistoryEntry {
    fn from(e: HistoryEntry) -> Self {
        Self {
            timestamp: e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            old_value: e.old_value.map_or("", |v| v.as_str()),
            new_value: e.new_value.as_str(),
            changed_by: e.changed_by.as_str(),
            id: e.id,
            seq: e.seq,
            org_id: e.organization_id,
            user_id: e.user_id,
            consent_id: e.consent_id,
            purpose_id: e.purpose_id,
            attribute_id: e.attribute_id,
            actor_id: e.actor_id,
            days: e.days,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentHistory {
    #[serde(rename = "ConsentHistory")]
    entries: Vec<ConsentHistoryEntry>,
    #[serde(rename = "Links")]
    links: Links,
}

fn history_reply(page: HistoryPage, self_url: String, base: String) -> ConsentHistory {
    let next = page.next_start.map(|id| format!("{base}startid={id}"));
    ConsentHistory {
        entries: page
            .entries
            .into_iter()
            .map(ConsentHistoryEntry::from)
            .collect(),
        links: Links::new(self_url, next),
    }
}

fn query_of(q: &HistoryParams) -> HistoryQuery<'_> {
    HistoryQuery {
        organization: q.orgid.as_deref(),
        purpose: q.purposeid.as_deref(),
        from: q.start_date.as_deref(),
        until: q.end_date.as_deref(),
        limit: q.limit,
        start: q.startid.as_deref(),
    }
}

/// The same query, for paging links: every filter kept, `startid` last.
fn history_base(public: &str, path: &str, q: &HistoryParams) -> String {
    let mut url = format!("{public}{path}?limit={}&", q.limit.unwrap_or(PAGE_DEFAULT));
    for (k, v) in [
        ("orgid", &q.orgid),
        ("purposeid", &q.purposeid),
        ("startDate", &q.start_date),
        ("endDate", &q.end_date),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            url.push_str(&format!("{k}={}&", urlencode(v)));
        }
    }
    url
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn self_link(base: &str, q: &HistoryParams) -> String {
    match q.startid.as_deref().filter(|s| !s.is_empty()) {
        Some(start) => format!("{base}startid={start}"),
        None => base.trim_end_matches('&').to_owned(),
    }
}

/// The caller's own consent history, newest first
#[utoipa::path(get, path = "/users/{userID}/consenthistory", tag = "Permissions and consents",
    params(("userID" = String, Path), HistoryParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentHistory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_consent_history(
    State(s): Svc,
    Caller(a): Caller,
    Path(user): Path<String>,
    IgrantQuery(q): IgrantQuery<HistoryParams>,
) -> Result<Json<ConsentHistory>, IgrantError> {
    let page = s.my_consent_history(&a, &user, query_of(&q)).await?;
    let base = history_base(
        &s.config.public_url,
        &format!("/v1/users/{user}/consenthistory"),
        &q,
    );
    Ok(Json(history_reply(page, self_link(&base, &q), base)))
}

#[derive(Serialize, ToSchema)]
pub struct Receipt {
    #[serde(rename = "ConsentHistoryID")]
    history_id: String,
    /// A JWS (compact JWT, EdDSA) over the entry, verifiable against /.well-known/jwks.json.
    #[serde(rename = "Receipt")]
    receipt: String,
}

/// The signed receipt of a consent change (the individual; Admin and Dpo of its organisation)
#[utoipa::path(get, path = "/users/{userID}/consenthistory/{entryID}/receipt", tag = "Permissions and consents",
    params(("userID" = String, Path), ("entryID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Receipt), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_receipt(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, entry)): Path<(String, String)>,
) -> Result<Json<Receipt>, IgrantError> {
    let (e, receipt) = s.consent_receipt(&a, &user, &entry).await?;
    Ok(Json(Receipt {
        history_id: e.id,
        receipt,
    }))
}

/// An organisation's consent history, newest first (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory", tag = "Permissions and consents",
    params(("orgID" = String, Path), HistoryParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentHistory), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_consent_history(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<HistoryParams>,
) -> Result<Json<ConsentHistory>, IgrantError> {
    let page = s
        .organization_consent_history(&a, org.parse()?, query_of(&q))
        .await?;
    let base = history_base(
        &s.config.public_url,
        &format!("/v1/organizations/{org}/consenthistory"),
        &q,
    );
    Ok(Json(history_reply(page, self_link(&base, &q), base)))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerVerification {
    /// No problem found: every entry links to its predecessor and hashes to what it says,
    /// the head is the last entry, every current value is what its latest entry recorded,
    /// and the ledger extends every checkpoint given.
    #[serde(rename = "Intact")]
    intact: bool,
    /// Entries verified (before the problem, if any).
    #[serde(rename = "Entries")]
    entries: u64,
    /// The entry where the problem shows, when there is one and it can be read.
    #[serde(rename = "FirstBrokenEntry")]
    first_broken: Option<ConsentHistoryEntry>,
    /// The first problem found, or null.
    #[serde(rename = "Problem")]
    problem: Option<LedgerProblemBody>,
    /// Signed checkpoints and receipts checked against the ledger.
    #[serde(rename = "CheckpointsChecked")]
    checkpoints: usize,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerProblemBody {
    /// `altered`, `unlinked`, `missing`, `inserted`, `truncated`, `head`, `value` or `rewritten`.
    #[serde(rename = "Kind")]
    kind: &'static str,
    /// The ledger position where it shows.
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "Detail")]
    detail: String,
}

impl From<crate::services::consents::LedgerReport> for LedgerVerification {
    fn from(report: crate::services::consents::LedgerReport) -> Self {
        let (first_broken, problem) = match report.problem {
            Some(p) => (
                p.entry.map(ConsentHistoryEntry::from),
                Some(LedgerProblemBody {
                    kind: p.kind.as_str(),
                    seq: p.seq,
                    detail: p.detail,
                }),
            ),
            None => (None, None),
        };
        Self {
            intact: problem.is_none(),
            entries: report.entries,
            first_broken,
            problem,
            checkpoints: report.checkpoints,
        }
    }
}

/// Verify the organisation's consent ledger: the hash chain, its head, and every current
/// value against its latest entry (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory/verify", tag = "Permissions and consents",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerVerification), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_consent_ledger(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<LedgerVerification>, IgrantError> {
    let report = s.verify_consent_ledger(&a, org.parse()?, &[]).await?;
    Ok(Json(report.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct LedgerCheckpointsBody {
    /// Checkpoints (`GET …/consenthistory/checkpoint`) and consent receipts kept outside the
    /// database; at most 1000.
    #[serde(rename = "Checkpoints", alias = "checkpoints", default)]
    checkpoints: Vec<String>,
}

/// Verify the organisation's consent ledger as GET does, and that it extends every signed
/// checkpoint or receipt given (Admin, Dpo)
#[utoipa::path(post, path = "/organizations/{orgID}/consenthistory/verify", tag = "Permissions and consents",
    params(("orgID" = String, Path)), request_body = LedgerCheckpointsBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerVerification), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_consent_ledger_against(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<LedgerCheckpointsBody>,
) -> Result<Json<LedgerVerification>, IgrantError> {
    let report = s
        .verify_consent_ledger(&a, org.parse()?, &b.checkpoints)
        .await?;
    Ok(Json(report.into()))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerCheckpointReply {
    /// A JWS (compact JWT, `typ` `consent-checkpoint`) over the organisation, the head's
    /// position and hash, and the time; verifiable against `/.well-known/jwks.json`.
    #[serde(rename = "Checkpoint")]
    checkpoint: String,
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

/// A signed checkpoint of the organisation's consent ledger, to keep outside Accord
/// (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory/checkpoint", tag = "Permissions and consents",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerCheckpointReply), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_ledger_checkpoint(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<LedgerCheckpointReply>, IgrantError> {
    let c = s.consent_ledger_checkpoint(&a, org.parse()?).await?;
    Ok(Json(LedgerCheckpointReply {
        checkpoint: c.token,
        seq: c.seq,
        hash: c.hash,
        timestamp: super::wire::rfc3339(c.at),
    }))
}

// ---- consent requests and notifications ----

#[derive(Deserialize, ToSchema)]
pub struct ConsentRequestBody {
    attributeids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentRequestReply {
    #[serde(rename = "Msg")]
    msg: &'static str,
    /// How many subscribers were asked (those for whom an attribute reads Disallow).
    #[serde(rename = "NotifiedUsers")]
    notified_users: usize,
}

/// Notify consent requests: every subscriber for whom one of the attributes reads Disallow
/// gets a notification (and a push); one `consent.requested` event (Admin)
#[utoipa::path(post, path = "/organizations/{orgID}/purposes/{purposeID}/attributes/consent", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("purposeID" = String, Path)), request_body = ConsentRequestBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = ConsentRequestReply), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn request_consent(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<ConsentRequestBody>,
) -> Result<(StatusCode, Json<ConsentRequestReply>), IgrantError> {
    let n = s
        .request_consent(&a, org.parse()?, &purpose, &b.attributeids)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ConsentRequestReply {
            msg: "Consent requested",
            notified_users: n,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Notification {
    #[serde(rename = "ID")]
    id: String,
    /// `consent.requested`, or an organisation's offer: `org.subscription_offered`,
    /// `org.role_offered` (accepted or declined at `/v1/user/offers`)
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "PurposeID")]
    purpose_id: String,
    #[serde(rename = "AttributeIDs")]
    attribute_ids: Vec<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
    #[serde(rename = "Read")]
    read: bool,
}

fn notification(n: accord_domain::webhook::Notification) -> Notification {
    Notification {
        id: n.id.to_string(),
        kind: n.kind,
        org_id: n.organization_id.to_string(),
        purpose_id: n.purpose_id.map(|p| p.to_string()).unwrap_or_default(),
        attribute_ids: n.attribute_ids.iter().map(ToString::to_string).collect(),
        message: n.message,
        timestamp: rfc3339(n.created_at),
        read: n.read_at.is_some(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Notifications {
    #[serde(rename = "Notifications")]
    notifications: Vec<Notification>,
    #[serde(rename = "Links")]
    links: Links,
}

/// The caller's notifications, newest first
#[utoipa::path(get, path = "/user/notifications", tag = "Permissions and consents", params(PageQuery),
    security(("bearer" = []), ("apikey" = [])), responses((status = 200, body = Notifications), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_notifications(
    State(s): Svc,
    Caller(a): Caller,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<Notifications>, IgrantError> {
    let page = s
        .my_notifications(&a, q.limit, q.startid.as_deref())
        .await?;
    let base = format!(
        "{}/v1/user/notifications?limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    Ok(Json(Notifications {
        notifications: page.notifications.into_iter().map(notification).collect(),
        links,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct MarkReadBody {
    /// Only `true` is meaningful: a notification once read stays read.
    #[serde(default = "yes")]
    #[allow(dead_code)]
    read: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, ToSchema)]
pub struct NotificationEnvelope {
    #[serde(rename = "Notification")]
    notification: Notification,
}

/// Mark one of the caller's notifications read
#[utoipa::path(patch, path = "/user/notifications/{notificationID}", tag = "Permissions and consents", params(("notificationID" = String, Path)),
    request_body = MarkReadBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = NotificationEnvelope), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mark_notification_read(
    State(s): Svc,
    Caller(a): Caller,
    Path(id): Path<String>,
    IgrantJson(_b): IgrantJson<MarkReadBody>,
) -> Result<Json<NotificationEnvelope>, IgrantError> {
    Ok(Json(NotificationEnvelope {
        notification: notification(s.mark_notification_read(&a, id.parse()?).await?),
    }))
}

// ---- action logs ----

#[derive(Serialize, ToSchema)]
pub struct ActionLog {
    #[serde(rename = "ID")]
    id: String,
    /// `admin_login`, `configuration`, `consented_users`, `user_count` or `webhook_delivery`.
    #[serde(rename = "Type")]
    kind: String,
    /// Who did it (empty for Accord itself).
    #[serde(rename = "ActorID")]
    actor_id: String,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActionLogs {
    #[serde(rename = "Logs")]
    logs: Vec<ActionLog>,
    #[serde(rename = "Links")]
    links: Links,
}

/// The organisation's action log, newest first (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/logs", tag = "Permissions and consents", params(("orgID" = String, Path), PageQuery),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ActionLogs), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_logs(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<ActionLogs>, IgrantError> {
    let page = s
        .organization_logs(&a, org.parse()?, q.limit, q.startid.as_deref())
        .await?;
    let base = format!(
        "{}/v1/organizations/{org}/logs?limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    let logs = page
        .logs
        .into_iter()
        .map(|l| ActionLog {
            id: l.id,
            kind: l.kind,
            actor_id: l.actor_id,
            message: l.message,
            timestamp: rfc3339(l.created_at),
        })
        .collect();
    Ok(Json(ActionLogs { logs, links }))
}
