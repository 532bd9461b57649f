//! Roles: GET108 List Roles, GET109 Query Role, GET117 List User's Roles.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::{Cid, CidParams};
use super::wire;
use crate::services::Services;
use axum::http::StatusCode;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(query_role, delete_role))
        .routes(routes!(user_roles))
        .routes(routes!(assign_role, unassign_role))
}

/// GET108 List Roles
#[utoipa::path(get, path = "/roles", tag = "CustomerID",
    responses((status = 200, description = "<Roles><Id>…</Id></Roles>", content_type = "application/xml"), (status = 401)))]
async fn list_roles(State(s): State<Arc<Services>>, cid: Cid) -> Result<Response, CidError> {
    let ids = s
        .cid_roles(&cid.actor)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list("Roles", &cid.ctx, &ids))
}

/// GET109 Query Role
#[utoipa::path(get, path = "/roles/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Role><Attribute name=\"name\">…</Attribute></Role>", content_type = "application/xml"), (status = 401), (status = 404)))]
async fn query_role(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let attributes = s
        .cid_role(&cid.actor, id.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::entity("Role", &cid.ctx, &attributes))
}

/// GET117 List User's Roles
#[utoipa::path(get, path = "/users/{id}/roles", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Roles><Id>…</Id></Roles>", content_type = "application/xml"), (status = 401), (status = 404)))]
async fn user_roles(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let ids = s
        .cid_user_roles(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list("Roles", &cid.ctx, &ids))
}

/// Create Role: `name` and `organizationId` as request parameters
#[utoipa::path(post, path = "/roles", tag = "CustomerID",
    responses((status = 201, description = "<Roles method=\"POST\"><Id>…</Id></Roles>", content_type = "application/xml"), (status = 400), (status = 409)))]
async fn create_role(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_role(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(&cid.ctx, "Roles", id, StatusCode::CREATED))
}

/// Delete Role (roles created through CustomerID)
#[utoipa::path(delete, path = "/roles/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Roles method=\"DELETE\"><Id>…</Id></Roles>", content_type = "application/xml"), (status = 400), (status = 404)))]
async fn delete_role(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_delete_role(&cid.actor, id.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(&cid.ctx, "Roles", id, StatusCode::OK))
}

/// Assign a role to a user
#[utoipa::path(put, path = "/users/{id}/roles/{roleId}", tag = "CustomerID", params(("id" = String, Path), ("roleId" = String, Path)),
    responses((status = 200, description = "<Roles method=\"PUT\"><Id>…</Id></Roles>", content_type = "application/xml"), (status = 400), (status = 404)))]
async fn assign_role(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path((user, role)): Path<(String, String)>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_assign_role(&cid.actor, &user, role.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(&cid.ctx, "Roles", id, StatusCode::OK))
}

/// Remove a role from a user (never an organisation's last Admin)
#[utoipa::path(delete, path = "/users/{id}/roles/{roleId}", tag = "CustomerID", params(("id" = String, Path), ("roleId" = String, Path)),
    responses((status = 200, description = "<Roles method=\"DELETE\"><Id>…</Id></Roles>", content_type = "application/xml"), (status = 400), (status = 404)))]
async fn unassign_role(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path((user, role)): Path<(String, String)>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_unassign_role(&cid.actor, &user, role.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(&cid.ctx, "Roles", id, StatusCode::OK))
}
