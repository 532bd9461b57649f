//! The person's copy of their data, released by a download request
//! (`…/data-download/{dataReqID}/export`, at both of the person's path forms). Accord's
//! own format (docs/data-rights.md, "The copy"): iGrant.io's server had none.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::*;
use crate::igrant::permissions_and_consents::{ConsentHistoryEntry, Consents};
use crate::igrant::service_management_organization::PurposeVersionBody;
use crate::services::data_export::DataExport;
use crate::services::data_requests::DataRequestView;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(user_data_export))
        .routes(routes!(users_data_export))
}

/// The format's name and version, so a reader knows what it holds.
const FORMAT: &str = "accord-data-export/1";

#[derive(Serialize, ToSchema)]
pub struct ExportOrganization {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "PolicyURL")]
    policy_url: String,
}

/// The person's account as the organisation sees it.
#[derive(Serialize, ToSchema)]
pub struct ExportProfile {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Email")]
    email: String,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "FirstName")]
    first_name: String,
    #[serde(rename = "Surname")]
    surname: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExportSubscription {
    /// RFC 3339, whole seconds.
    #[serde(rename = "SubscribedAt")]
    subscribed_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExportRole {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Role")]
    role: &'static str,
}

/// A consent change with its signed receipt (a JWS verifiable against
/// `/.well-known/jwks.json`, so the copy alone proves each entry).
#[derive(Serialize, ToSchema)]
pub struct ExportedEntry {
    #[serde(flatten)]
    entry: ConsentHistoryEntry,
    #[serde(rename = "Receipt")]
    receipt: String,
}

/// A version of a purpose's wording the person's consents or history name.
#[derive(Serialize, ToSchema)]
pub struct ExportedVersion {
    #[serde(rename = "PurposeID")]
    purpose_id: String,
    #[serde(flatten)]
    version: PurposeVersionBody,
}

/// Everything Accord holds about the person for the organisation.
#[derive(Serialize, ToSchema)]
pub struct DataExportBody<'a> {
    /// `accord-data-export/1`.
    #[serde(rename = "Format")]
    format: &'static str,
    /// When the copy was assembled (RFC 3339): it is read when fetched.
    #[serde(rename = "GeneratedAt")]
    generated_at: String,
    #[serde(rename = "DataRequestID")]
    request_id: String,
    #[serde(rename = "Organization")]
    organization: ExportOrganization,
    #[serde(rename = "Profile")]
    profile: ExportProfile,
    /// `null` when the person is not subscribed now.
    #[serde(rename = "Subscription")]
    subscription: Option<ExportSubscription>,
    #[serde(rename = "Roles")]
    roles: Vec<ExportRole>,
    /// The consent record as `GET …/consents` answers it; `null` when there is none.
    #[serde(rename = "Consents")]
    consents: Option<Consents<'a>>,
    /// Every recorded change, newest first.
    #[serde(rename = "ConsentHistory")]
    history: Vec<ExportedEntry>,
    /// Every request the person made to the organisation, newest first.
    #[serde(rename = "DataRequests")]
    requests: Vec<DataRequest>,
    /// The words the person agreed to: every version of a purpose that `Consents` or
    /// `ConsentHistory` names (`Version`, `PurposeVersion`), with its text and hash.
    #[serde(rename = "PurposeVersions")]
    versions: Vec<ExportedVersion>,
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn render(x: DataExport, public: &str) -> Response {
    let p = &x.profile;
    let name = if p.name.trim().is_empty() {
        p.email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()
    } else {
        p.name.clone()
    };
    let body = DataExportBody {
        format: FORMAT,
        generated_at: rfc3339(x.generated_at),
        request_id: x.request.id.to_string(),
        organization: ExportOrganization {
            id: x.organization.id.to_string(),
            name: x.organization.name.clone(),
            policy_url: x.organization.policy_url.clone(),
        },
        profile: ExportProfile {
            id: p.id.to_string(),
            name: p.name.clone(),
            email: p
                .email
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            phone: p.phone.clone(),
            first_name: p.first_name.clone(),
            surname: p.surname.clone(),
        },
        subscription: x.subscribed_since.map(|at| ExportSubscription {
            subscribed_at: rfc3339(at),
        }),
        roles: x
            .roles
            .iter()
            .map(|r| ExportRole {
                id: r.id(),
                role: r.name(),
            })
            .collect(),
        consents: x.record.as_ref().map(Consents::from),
        history: x
            .history
            .into_iter()
            .map(|(named, receipt)| ExportedEntry {
                entry: ConsentHistoryEntry::from(named).linked(public),
                receipt,
            })
            .collect(),
        requests: x
            .requests
            .iter()
            .map(|r| {
                DataRequest::from(DataRequestView {
                    request: r.clone(),
                    user_name: name.clone(),
                    overdue: r.is_overdue(x.generated_at),
                })
            })
            .collect(),
        versions: x
            .versions
            .into_iter()
            .map(|v| ExportedVersion {
                purpose_id: v.purpose_id.to_string(),
                version: v.into(),
            })
            .collect(),
    };
    let file = format!(
        "attachment; filename=\"data-export-{}.json\"",
        x.organization.id
    );
    (
        [
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(body),
    )
        .into_response()
}

/// The caller's copy of their data with the organisation, once the download request released it (the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-download/{dataReqID}/export", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataExportBody), (status = 400, description = "Not released yet", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_data_export(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Response, IgrantError> {
    let export = s.data_export(&a, None, org.parse()?, id.parse()?).await?;
    Ok(render(export, &s.config.public_url))
}

/// The caller's copy of their data with the organisation, once the download request released it (the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-download/{dataReqID}/export", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataExportBody), (status = 400, description = "Not released yet", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_data_export(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org, id)): Path<(String, String, String)>,
) -> Result<Response, IgrantError> {
    let export = s
        .data_export(&a, Some(&user), org.parse()?, id.parse()?)
        .await?;
    Ok(render(export, &s.config.public_url))
}
