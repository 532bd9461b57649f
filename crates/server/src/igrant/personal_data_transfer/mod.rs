//! The v2.1.2 OpenAPI's section "Personal data transfer": data-subject requests
//! (docs/data-rights.md). The organisation's queue is here; the person's side, at the
//! paths iGrant.io's server and apps use, is in [`individual`].

mod export;
mod individual;
mod qr_codes;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, IgrantQuery};
use super::wire::{go_time, Links, GO_ZERO_TIME};
use crate::services::data_requests::{DataRequestPage, DataRequestView};
use crate::services::paging::PAGE_DEFAULT;
use crate::services::Services;
use accord_domain::data_request::{DataRequestKind, DataRequestState};
use accord_store::RequestsFilter;

type Svc = State<Arc<Services>>;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(data_request_states))
        .routes(routes!(organization_data_requests))
        .routes(routes!(organization_data_request, answer_data_request))
        .merge(individual::router())
        .merge(export::router())
        .merge(qr_codes::router())
}

/// A data request as iGrant.io's server wrote it (`dataReqResp`), plus its due date.
#[derive(Serialize, ToSchema)]
pub struct DataRequest {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "UserID")]
    user_id: String,
    /// The person's name (else their address).
    #[serde(rename = "UserName")]
    user_name: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    /// 1 delete, 2 download.
    #[serde(rename = "Type")]
    kind: i64,
    #[serde(rename = "TypeStr")]
    kind_str: &'static str,
    /// 1 initiated, 2 acknowledged, 6 processed without action, 7 with action, 8 cancelled.
    #[serde(rename = "State")]
    state: i64,
    /// `2019-12-02 11:06:06 +0000 UTC` (Go's form, which iGrant.io's apps parse).
    #[serde(rename = "RequestedDate")]
    requested_date: String,
    /// Go's zero time while open.
    #[serde(rename = "ClosedDate")]
    closed_date: String,
    #[serde(rename = "StateStr")]
    state_str: &'static str,
    /// The organisation's comment on the latest step.
    #[serde(rename = "Comment")]
    comment: String,
    /// When the answer is due: a month after the request (GDPR Art. 12(3)).
    #[serde(rename = "DueDate")]
    due_date: String,
    /// Open past its due date.
    #[serde(rename = "Overdue")]
    overdue: bool,
}

impl From<DataRequestView> for DataRequest {
    fn from(v: DataRequestView) -> Self {
        let r = v.request;
        Self {
            id: r.id.to_string(),
            user_id: r.user_id.to_string(),
            user_name: v.user_name,
            org_id: r.organization_id.to_string(),
            kind: r.kind.id(),
            kind_str: r.kind.label(),
            state: r.state.id(),
            requested_date: go_time(r.requested_at),
            closed_date: r.closed_at.map_or_else(|| GO_ZERO_TIME.to_owned(), go_time),
            state_str: r.state.label(),
            comment: r.comment.clone(),
            due_date: go_time(r.due_at()),
            overdue: v.overdue,
        }
    }
}

/// A page of requests: iGrant.io's `DataRequests` envelope.
#[derive(Serialize, ToSchema)]
pub struct DataRequests {
    /// `null` when there is none, as iGrant.io's server wrote it (its apps page until then).
    #[serde(rename = "DataRequests")]
    requests: Option<Vec<DataRequest>>,
    /// Whether a request (of any kind) is open: the person's, or on this page.
    #[serde(rename = "IsRequestsOngoing")]
    ongoing: bool,
    #[serde(rename = "IsDataDeleteRequestOngoing")]
    delete_ongoing: bool,
    #[serde(rename = "IsDataDownloadRequestOngoing")]
    download_ongoing: bool,
    #[serde(rename = "Links")]
    links: Links,
}

impl DataRequests {
    /// `base` is the page's URL up to `?limit=N`.
    fn new(page: DataRequestPage, base: &str, start: Option<&str>) -> Self {
        let open_kinds: Vec<DataRequestKind> = if page.open.is_empty() {
            page.requests
                .iter()
                .filter(|v| v.request.state.is_open())
                .map(|v| v.request.kind)
                .collect()
        } else {
            page.open.iter().map(|r| r.kind).collect()
        };
        let links = Links::keyset(base, start, page.next);
        let requests: Vec<DataRequest> = page.requests.into_iter().map(DataRequest::from).collect();
        Self {
            requests: (!requests.is_empty()).then_some(requests),
            ongoing: !open_kinds.is_empty(),
            delete_ongoing: open_kinds.contains(&DataRequestKind::Delete),
            download_ongoing: open_kinds.contains(&DataRequestKind::Download),
            links,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StateName {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Str")]
    name: &'static str,
}

/// The states a data request goes through
#[utoipa::path(get, path = "/organizations/data-requests", tag = "Personal data transfer",
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Vec<StateName>), (status = 401, body = ErrorBody)))]
async fn data_request_states(_caller: Caller) -> Json<Vec<StateName>> {
    Json(
        DataRequestState::ALL
            .into_iter()
            .map(|s| StateName {
                id: s.id(),
                name: s.label(),
            })
            .collect(),
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueParams {
    /// `open` (initiated or acknowledged) or `closed`.
    status: Option<String>,
    limit: Option<i64>,
    /// The last request ID of the previous page (newest first).
    startid: Option<String>,
}

/// An organisation's data requests, newest first (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/data-requests", tag = "Personal data transfer",
    params(("orgID" = String, Path), QueueParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequests), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_data_requests(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<QueueParams>,
) -> Result<Json<DataRequests>, IgrantError> {
    let filter = match q.status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("open") => RequestsFilter::Open,
        Some("closed") => RequestsFilter::Closed,
        _ => {
            return Err(IgrantError::new(
                StatusCode::BAD_REQUEST,
                "status must be open or closed",
            ))
        }
    };
    let page = s
        .organization_data_requests(&a, org.parse()?, filter, q.startid.as_deref(), q.limit)
        .await?;
    let status = if filter == RequestsFilter::Open {
        "open"
    } else {
        "closed"
    };
    let base = format!(
        "{}/v1/organizations/{org}/data-requests?status={status}&limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    Ok(Json(DataRequests::new(page, &base, q.startid.as_deref())))
}

/// One of an organisation's data requests (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{organizationID}/data-requests/{dataReqID}", tag = "Personal data transfer",
    params(("organizationID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_data_request(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .organization_data_request(&a, org.parse()?, id.parse()?)
        .await?;
    Ok(Json(view.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct AnswerBody {
    /// 2 (acknowledged), 6 (processed without action) or 7 (processed with action).
    state: i64,
    /// What the person reads with the step.
    #[serde(default)]
    comment: String,
}

/// Moves a data request to its next state, with a comment; the person is told (Admin, Dpo)
#[utoipa::path(patch, path = "/organizations/{organizationID}/data-requests/{dataReqID}", tag = "Personal data transfer",
    params(("organizationID" = String, Path), ("dataReqID" = String, Path)), request_body = AnswerBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Changed meanwhile", body = ErrorBody)))]
async fn answer_data_request(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<AnswerBody>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .answer_data_request(&a, org.parse()?, id.parse()?, b.state, &b.comment)
        .await?;
    Ok(Json(view.into()))
}
