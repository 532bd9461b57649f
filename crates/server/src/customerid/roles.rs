//! Roles: GET108 List Roles, GET109 Query Role, GET117 List User's Roles.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::Cid;
use super::wire;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_roles))
        .routes(routes!(query_role))
        .routes(routes!(user_roles))
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
    let attributes = s
        .cid_role(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
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
