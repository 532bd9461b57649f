//! The person's side of data requests, at both paths iGrant.io's apps use:
//! `/v1/user/organizations/{orgID}/…` (the caller) and
//! `/v1/users/{userID}/organizations/{orgID}/…` (the caller, named; anyone else: 404).
//! Opening and cancelling take no body and answer the request (iGrant.io's iOS apps need
//! a JSON body, its Android apps a 200).

use super::*;
use crate::services::Actor;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(user_data_status))
        .routes(routes!(user_download_requests))
        .routes(routes!(user_open_download))
        .routes(routes!(user_download_status))
        .routes(routes!(user_cancel_download))
        .routes(routes!(user_delete_requests))
        .routes(routes!(user_open_delete))
        .routes(routes!(user_delete_status))
        .routes(routes!(user_cancel_delete))
        .routes(routes!(users_data_status))
        .routes(routes!(users_download_requests))
        .routes(routes!(users_open_download))
        .routes(routes!(users_download_status))
        .routes(routes!(users_cancel_download))
        .routes(routes!(users_delete_requests))
        .routes(routes!(users_open_delete))
        .routes(routes!(users_delete_status))
        .routes(routes!(users_cancel_delete))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    limit: Option<i64>,
    /// The last request ID of the previous page (newest first).
    startid: Option<String>,
}

/// Where the person's open request of a kind stands (empty fields when none is open).
#[derive(Serialize, ToSchema)]
pub struct RequestStatus {
    #[serde(rename = "RequestOngoing")]
    ongoing: bool,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "State")]
    state: i64,
    #[serde(rename = "StateStr")]
    state_str: &'static str,
    #[serde(rename = "RequestedDate")]
    requested_date: String,
}

impl From<Option<accord_domain::data_request::DataRequest>> for RequestStatus {
    fn from(open: Option<accord_domain::data_request::DataRequest>) -> Self {
        match open {
            Some(r) => Self {
                ongoing: true,
                id: r.id.to_string(),
                state: r.state.id(),
                state_str: r.state.label(),
                requested_date: go_time(r.requested_at),
            },
            None => Self {
                ongoing: false,
                id: String::new(),
                state: 0,
                state_str: "",
                requested_date: String::new(),
            },
        }
    }
}

/// A page of the person's requests (of one kind, or all).
async fn requests(
    s: &Services,
    a: &Actor,
    named: Option<&str>,
    org: &str,
    kind: Option<DataRequestKind>,
    q: &PageParams,
    path: &str,
) -> Result<Json<DataRequests>, IgrantError> {
    let page = s
        .my_data_requests(a, named, org.parse()?, kind, q.startid.as_deref(), q.limit)
        .await?;
    let base = format!(
        "{}/v1{path}?limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    Ok(Json(DataRequests::new(page, &base, q.startid.as_deref())))
}

/// The person's data requests with an organisation, newest first (the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-status", tag = "Personal data transfer",
    params(("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequests), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_data_status(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<DataRequests>, IgrantError> {
    let base = format!("/user/organizations/{org}/data-status");
    requests(&s, &a, None, &org, None, &q, &base).await
}

/// The person's requests for a copy of their data, newest first (`null` when none; the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-download", tag = "Personal data transfer",
    params(("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Option<Vec<DataRequest>>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_download_requests(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<Option<Vec<DataRequest>>>, IgrantError> {
    let base = format!("/user/organizations/{org}/data-download");
    let page = requests(
        &s,
        &a,
        None,
        &org,
        Some(DataRequestKind::Download),
        &q,
        &base,
    )
    .await?;
    Ok(Json(page.0.requests))
}

/// Asks the organisation for a copy of their data (GDPR Art. 15, 20); one open at a time (the caller's). No body
#[utoipa::path(post, path = "/user/organizations/{orgID}/data-download", tag = "Personal data transfer",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_open_download(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .open_data_request(&a, None, org.parse()?, DataRequestKind::Download)
        .await?;
    Ok(Json(view.into()))
}

/// Whether a request for a copy of their data is open, and where it stands (the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-download/status", tag = "Personal data transfer",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = RequestStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_download_status(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<RequestStatus>, IgrantError> {
    let open = s
        .data_request_status(&a, None, org.parse()?, DataRequestKind::Download)
        .await?;
    Ok(Json(RequestStatus::from(open)))
}

/// Cancels the person's open request for a copy of their data (the caller's). No body
#[utoipa::path(post, path = "/user/organizations/{orgID}/data-download/{dataReqID}/cancel", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Changed meanwhile", body = ErrorBody)))]
async fn user_cancel_download(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .cancel_data_request(
            &a,
            None,
            org.parse()?,
            DataRequestKind::Download,
            id.parse()?,
        )
        .await?;
    Ok(Json(view.into()))
}

/// The person's requests for the erasure of their data, newest first (`null` when none; the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-delete", tag = "Personal data transfer",
    params(("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Option<Vec<DataRequest>>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_delete_requests(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<Option<Vec<DataRequest>>>, IgrantError> {
    let base = format!("/user/organizations/{org}/data-delete");
    let page = requests(&s, &a, None, &org, Some(DataRequestKind::Delete), &q, &base).await?;
    Ok(Json(page.0.requests))
}

/// Asks the organisation for the erasure of their data (GDPR Art. 17); one open at a time (the caller's). No body
#[utoipa::path(post, path = "/user/organizations/{orgID}/data-delete", tag = "Personal data transfer",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_open_delete(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .open_data_request(&a, None, org.parse()?, DataRequestKind::Delete)
        .await?;
    Ok(Json(view.into()))
}

/// Whether a request for the erasure of their data is open, and where it stands (the caller's)
#[utoipa::path(get, path = "/user/organizations/{orgID}/data-delete/status", tag = "Personal data transfer",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = RequestStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_delete_status(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<RequestStatus>, IgrantError> {
    let open = s
        .data_request_status(&a, None, org.parse()?, DataRequestKind::Delete)
        .await?;
    Ok(Json(RequestStatus::from(open)))
}

/// Cancels the person's open request for the erasure of their data (the caller's). No body
#[utoipa::path(post, path = "/user/organizations/{orgID}/data-delete/{dataReqID}/cancel", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Changed meanwhile", body = ErrorBody)))]
async fn user_cancel_delete(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .cancel_data_request(&a, None, org.parse()?, DataRequestKind::Delete, id.parse()?)
        .await?;
    Ok(Json(view.into()))
}

/// The person's data requests with an organisation, newest first (the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-status", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequests), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_data_status(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<DataRequests>, IgrantError> {
    let base = format!("/users/{user}/organizations/{org}/data-status");
    requests(&s, &a, Some(&user), &org, None, &q, &base).await
}

/// The person's requests for a copy of their data, newest first (`null` when none; the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-download", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Option<Vec<DataRequest>>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_download_requests(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<Option<Vec<DataRequest>>>, IgrantError> {
    let base = format!("/users/{user}/organizations/{org}/data-download");
    let page = requests(
        &s,
        &a,
        Some(&user),
        &org,
        Some(DataRequestKind::Download),
        &q,
        &base,
    )
    .await?;
    Ok(Json(page.0.requests))
}

/// Asks the organisation for a copy of their data (GDPR Art. 15, 20); one open at a time (the caller's (the path names them)). No body
#[utoipa::path(post, path = "/users/{userID}/organizations/{orgID}/data-download", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_open_download(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .open_data_request(&a, Some(&user), org.parse()?, DataRequestKind::Download)
        .await?;
    Ok(Json(view.into()))
}

/// Whether a request for a copy of their data is open, and where it stands (the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-download/status", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = RequestStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_download_status(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
) -> Result<Json<RequestStatus>, IgrantError> {
    let open = s
        .data_request_status(&a, Some(&user), org.parse()?, DataRequestKind::Download)
        .await?;
    Ok(Json(RequestStatus::from(open)))
}

/// Cancels the person's open request for a copy of their data (the caller's (the path names them)). No body
#[utoipa::path(post, path = "/users/{userID}/organizations/{orgID}/data-download/{dataReqID}/cancel", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Changed meanwhile", body = ErrorBody)))]
async fn users_cancel_download(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org, id)): Path<(String, String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .cancel_data_request(
            &a,
            Some(&user),
            org.parse()?,
            DataRequestKind::Download,
            id.parse()?,
        )
        .await?;
    Ok(Json(view.into()))
}

/// The person's requests for the erasure of their data, newest first (`null` when none; the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-delete", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), PageParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Option<Vec<DataRequest>>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_delete_requests(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
    IgrantQuery(q): IgrantQuery<PageParams>,
) -> Result<Json<Option<Vec<DataRequest>>>, IgrantError> {
    let base = format!("/users/{user}/organizations/{org}/data-delete");
    let page = requests(
        &s,
        &a,
        Some(&user),
        &org,
        Some(DataRequestKind::Delete),
        &q,
        &base,
    )
    .await?;
    Ok(Json(page.0.requests))
}

/// Asks the organisation for the erasure of their data (GDPR Art. 17); one open at a time (the caller's (the path names them)). No body
#[utoipa::path(post, path = "/users/{userID}/organizations/{orgID}/data-delete", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_open_delete(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .open_data_request(&a, Some(&user), org.parse()?, DataRequestKind::Delete)
        .await?;
    Ok(Json(view.into()))
}

/// Whether a request for the erasure of their data is open, and where it stands (the caller's (the path names them))
#[utoipa::path(get, path = "/users/{userID}/organizations/{orgID}/data-delete/status", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = RequestStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_delete_status(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org)): Path<(String, String)>,
) -> Result<Json<RequestStatus>, IgrantError> {
    let open = s
        .data_request_status(&a, Some(&user), org.parse()?, DataRequestKind::Delete)
        .await?;
    Ok(Json(RequestStatus::from(open)))
}

/// Cancels the person's open request for the erasure of their data (the caller's (the path names them)). No body
#[utoipa::path(post, path = "/users/{userID}/organizations/{orgID}/data-delete/{dataReqID}/cancel", tag = "Personal data transfer",
    params(("userID" = String, Path), ("orgID" = String, Path), ("dataReqID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DataRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Changed meanwhile", body = ErrorBody)))]
async fn users_cancel_delete(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, org, id)): Path<(String, String, String)>,
) -> Result<Json<DataRequest>, IgrantError> {
    let view = s
        .cancel_data_request(
            &a,
            Some(&user),
            org.parse()?,
            DataRequestKind::Delete,
            id.parse()?,
        )
        .await?;
    Ok(Json(view.into()))
}
