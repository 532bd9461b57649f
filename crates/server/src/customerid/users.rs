//! Users: GET104 List Users, GET105 Query User, PUT117 Reinvite User; create, update, delete.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::{criteria, Cid, CidParams};
use super::wire;
use crate::services::Services;
use axum::http::StatusCode;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(query_user, update_user, delete_user))
        .routes(routes!(reinvite_user))
}

/// GET104 List Users: filter by any builtin or custom attribute; `status` by code or name;
/// `exactMatch` (default prefix); `maxResults`.
#[utoipa::path(get, path = "/users", tag = "CustomerID",
    params(("exactMatch" = Option<bool>, Query), ("maxResults" = Option<i64>, Query)),
    responses((status = 200, description = "<Users><Id>…</Id></Users>", content_type = "application/xml"), (status = 400), (status = 401)))]
async fn list_users(
    State(s): State<Arc<Services>>,
    cid: Cid,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    let ids = s
        .cid_users(&cid.actor, &criteria(q, &["exactMatch"], &cid)?)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list(
        "Users",
        &cid.ctx,
        &ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ))
}

/// GET105 Query User
#[utoipa::path(get, path = "/users/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<User><Attribute name=…><Value>…</Value></Attribute></User>", content_type = "application/xml"), (status = 401), (status = 404)))]
async fn query_user(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let attributes = s
        .cid_user(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::entity("User", &cid.ctx, &attributes))
}

/// Create User: `email` (required), `firstname`, `surname`, `mobile`, `organizationId`,
/// `status`, `password`, custom attributes, as request parameters
#[utoipa::path(post, path = "/users", tag = "CustomerID",
    responses((status = 201, description = "<Users method=\"POST\"><Id>…</Id></Users>", content_type = "application/xml"), (status = 400), (status = 401), (status = 409)))]
async fn create_user(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_user(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Users",
        id.to_string(),
        StatusCode::CREATED,
    ))
}

/// Update User (PUT103): defined attributes replaced, empty values remove, missing stay
#[utoipa::path(put, path = "/users/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Users method=\"PUT\"><Id>…</Id></Users>", content_type = "application/xml"), (status = 400), (status = 404), (status = 409)))]
async fn update_user(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_update_user(&cid.actor, &id, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Users",
        id.to_string(),
        StatusCode::OK,
    ))
}

/// Delete User
#[utoipa::path(delete, path = "/users/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Users method=\"DELETE\"><Id>…</Id></Users>", content_type = "application/xml"), (status = 404), (status = 409)))]
async fn delete_user(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let id = s
        .cid_delete_user(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Users",
        id.to_string(),
        StatusCode::OK,
    ))
}

/// PUT117 Reinvite User: a new invitation link to the user's current address (status
/// Waiting for registration only; the old link stops working)
#[utoipa::path(put, path = "/users/{id}/reinvite", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<ReinviteResponse><userId>…</userId><email>…</email></ReinviteResponse>", content_type = "application/xml"),
        (status = 400, description = "The user is not waiting for registration"), (status = 404)))]
async fn reinvite_user(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let r = s
        .cid_reinvite(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::reinvite_response(
        &cid.ctx,
        &r.user_id.to_string(),
        &r.email,
    ))
}
