//! Organizations: GET106 List Organizations, GET107 Query Organization, GET113 List
//! Organization's Users.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::Cid;
use super::users::params;
use super::wire;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations))
        .routes(routes!(query_organization))
        .routes(routes!(organization_users))
}

/// GET106 List Organizations: `entityName`, `technicalName`, `friendlyName`,
/// `organizationType`, custom attributes; `exactMatch`.
#[utoipa::path(get, path = "/organizations", tag = "CustomerID", params(("exactMatch" = Option<bool>, Query)),
    responses((status = 200, description = "<Organizations><Id>…</Id></Organizations>", content_type = "application/xml"), (status = 400), (status = 401)))]
async fn list_organizations(
    State(s): State<Arc<Services>>,
    cid: Cid,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    let ids = s
        .cid_organizations(&cid.actor, &params(q))
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list(
        "Organizations",
        &cid.ctx,
        &ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ))
}

/// GET107 Query Organization
#[utoipa::path(get, path = "/organizations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Organization><Attribute …/></Organization>", content_type = "application/xml"), (status = 401), (status = 404)))]
async fn query_organization(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let attributes = s
        .cid_organization(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::entity("Organization", &cid.ctx, &attributes))
}

/// GET113 List Organization's Users (`recursive=true` includes sub-organizations)
#[utoipa::path(get, path = "/organizations/{id}/users", tag = "CustomerID",
    params(("id" = String, Path), ("recursive" = Option<bool>, Query)),
    responses((status = 200, description = "<Users><Id>…</Id></Users>", content_type = "application/xml"), (status = 401), (status = 404)))]
async fn organization_users(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    let ids = s
        .cid_organization_users(&cid.actor, &id, &params(q))
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list(
        "Users",
        &cid.ctx,
        &ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ))
}
