//! Organizations: GET106 List Organizations, GET107 Query Organization, GET113 List
//! Organization's Users.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::criteria;
use super::extract::{Cid, CidParams};
use super::wire;
use crate::services::Services;
use axum::http::StatusCode;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(
            query_organization,
            update_organization,
            delete_organization
        ))
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
        .cid_organizations(&cid.actor, &criteria(q, &["exactMatch"], &cid)?)
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
        .cid_organization_users(
            &cid.actor,
            &id,
            &criteria(q, &["recursive", "exactMatch"], &cid)?,
        )
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::id_list(
        "Users",
        &cid.ctx,
        &ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
    ))
}

/// POST100 Create Organization: `technicalName`, `friendlyName` (required),
/// `parentOrganizationId`, `organizationType`/`organizationClass`, custom attributes, as
/// request parameters (query string or form body)
#[utoipa::path(post, path = "/organizations", tag = "CustomerID",
    responses((status = 201, description = "<Organizations method=\"POST\"><Id>…</Id></Organizations>", content_type = "application/xml"), (status = 400), (status = 401), (status = 403), (status = 409)))]
async fn create_organization(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_organization(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Organizations",
        id.to_string(),
        StatusCode::CREATED,
    ))
}

/// Update Organization: defined attributes replaced, empty values remove, missing ones stay
#[utoipa::path(put, path = "/organizations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Organizations method=\"PUT\"><Id>…</Id></Organizations>", content_type = "application/xml"), (status = 400), (status = 404), (status = 409)))]
async fn update_organization(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_update_organization(&cid.actor, &id, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Organizations",
        id.to_string(),
        StatusCode::OK,
    ))
}

/// Delete Organization (a leaf; its users lose their home organization)
#[utoipa::path(delete, path = "/organizations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Organizations method=\"DELETE\"><Id>…</Id></Organizations>", content_type = "application/xml"), (status = 400), (status = 403), (status = 404)))]
async fn delete_organization(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let id = s
        .cid_delete_organization(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Organizations",
        id.to_string(),
        StatusCode::OK,
    ))
}
