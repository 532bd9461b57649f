//! Mandates: GET110 List Mandates, GET111 Query Mandate, GET118/GET119 an organization's
//! given and received mandates, GET120/GET121 a user's; create and delete.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::{wants_entities, Cid, CidParams};
use super::wire;
use crate::services::customer_id::MandateList;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_mandates, create_mandate))
        .routes(routes!(query_mandate, delete_mandate))
        .routes(routes!(organization_given))
        .routes(routes!(organization_received))
        .routes(routes!(user_given))
        .routes(routes!(user_received))
}

async fn list(
    s: &Services,
    cid: &Cid,
    which: MandateList<'_>,
    q: Option<String>,
) -> Result<Response, CidError> {
    let entities = wants_entities(q, cid.ctx.format)?;
    let mandates = s
        .cid_mandates(&cid.actor, which)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::ids_or_entities(
        "Mandates", "Mandate", &cid.ctx, &mandates, entities,
    ))
}

/// GET110 List Mandates (`entities=true` for the entities)
#[utoipa::path(get, path = "/mandates", tag = "CustomerID", params(("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates><Id>…</Id></Mandates>", content_type = "application/xml"), (status = 401)))]
async fn list_mandates(
    State(s): State<Arc<Services>>,
    cid: Cid,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, MandateList::All, q).await
}

/// GET111 Query Mandate (`entities=true`: the mandater, mandatee and role as entities)
#[utoipa::path(get, path = "/mandates/{id}", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandate><Attribute …/></Mandate>", content_type = "application/xml"), (status = 404)))]
async fn query_mandate(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    let entities = wants_entities(q, cid.ctx.format)?;
    let mandate = s
        .cid_mandate(&cid.actor, &id, entities)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::entity("Mandate", &cid.ctx, &mandate))
}

/// Create Mandate: `type`, `mandater`, `mandatee` or `assigneeEmail`, `role`, `validFrom`, `validUntil`
#[utoipa::path(post, path = "/mandates", tag = "CustomerID",
    responses((status = 201, description = "<Mandates method=\"POST\"><Id>…</Id></Mandates>", content_type = "application/xml"), (status = 400)))]
async fn create_mandate(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_mandate(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Mandates",
        id,
        StatusCode::CREATED,
    ))
}

/// Delete Mandate
#[utoipa::path(delete, path = "/mandates/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Mandates method=\"DELETE\"><Id>…</Id></Mandates>", content_type = "application/xml"), (status = 404)))]
async fn delete_mandate(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_delete_mandate(&cid.actor, id.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(&cid.ctx, "Mandates", id, StatusCode::OK))
}

/// GET118 List Organization's Given Mandates
#[utoipa::path(get, path = "/organizations/{id}/givenmandates", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates>", content_type = "application/xml"), (status = 404)))]
async fn organization_given(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, MandateList::GivenByOrganization(&id), q).await
}

/// GET119 List Organization's Received Mandates
#[utoipa::path(get, path = "/organizations/{id}/receivedmandates", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates>", content_type = "application/xml"), (status = 404)))]
async fn organization_received(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, MandateList::ReceivedByOrganization(&id), q).await
}

/// GET120 List User's Given Mandates
#[utoipa::path(get, path = "/users/{id}/givenmandates", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates>", content_type = "application/xml"), (status = 404)))]
async fn user_given(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, MandateList::GivenByUser(&id), q).await
}

/// GET121 List User's Received Mandates
#[utoipa::path(get, path = "/users/{id}/receivedmandates", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates>", content_type = "application/xml"), (status = 404)))]
async fn user_received(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, MandateList::ReceivedByUser(&id), q).await
}
