//! Delegations: GET115 List Received Mandate Role Delegations (for user), GET116 Query
//! Mandate Role Delegation, GET122 List User's Received Mandate Delegations; create, delete.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::{wants_entities, Cid, CidParams};
use super::wire;
use crate::services::customer_id::DelegationList;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_delegations, create_delegation))
        .routes(routes!(query_delegation, delete_delegation))
        .routes(routes!(user_delegations))
        .routes(routes!(user_received_delegated_mandates))
}

async fn list(
    s: &Services,
    cid: &Cid,
    which: DelegationList<'_>,
    q: Option<String>,
) -> Result<Response, CidError> {
    let entities = wants_entities(q, cid.ctx.format)?;
    let delegations = s
        .cid_delegations(&cid.actor, which)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::ids_or_entities(
        "Delegations",
        "Delegation",
        &cid.ctx,
        &delegations,
        entities,
    ))
}

/// List Delegations (ours): every delegation the caller may see
#[utoipa::path(get, path = "/delegations", tag = "CustomerID", params(("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Delegations><Id>…</Id></Delegations>", content_type = "application/xml"), (status = 401)))]
async fn list_delegations(
    State(s): State<Arc<Services>>,
    cid: Cid,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, DelegationList::All, q).await
}

/// GET115 List Received Mandate Role Delegations (for user)
#[utoipa::path(get, path = "/users/{id}/delegations", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Delegations><Id>…</Id></Delegations>", content_type = "application/xml"), (status = 404)))]
async fn user_delegations(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, DelegationList::ReceivedByUser(&id), q).await
}

/// GET122 List User's Received Mandate Delegations: the mandates delegated to the user
#[utoipa::path(get, path = "/users/{id}/receivedmandatedelegations", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<Mandates><Id>…</Id></Mandates>", content_type = "application/xml"), (status = 404)))]
async fn user_received_delegated_mandates(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    let entities = wants_entities(q, cid.ctx.format)?;
    let mandates = s
        .cid_delegated_mandates(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::ids_or_entities(
        "Mandates", "Mandate", &cid.ctx, &mandates, entities,
    ))
}

/// GET116 Query Mandate Role Delegation
#[utoipa::path(get, path = "/delegations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Delegation><Attribute …/></Delegation>", content_type = "application/xml"), (status = 404)))]
async fn query_delegation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let d = s
        .cid_delegation(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::entity("Delegation", &cid.ctx, &d))
}

/// Create Delegation (ours): `mandate`, `mandateruser` (who passes it on), `user` (who receives it)
#[utoipa::path(post, path = "/delegations", tag = "CustomerID",
    responses((status = 201, description = "<Delegations method=\"POST\"><Id>…</Id></Delegations>", content_type = "application/xml"), (status = 400), (status = 409)))]
async fn create_delegation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_delegation(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "Delegations",
        id,
        StatusCode::CREATED,
    ))
}

/// Delete Delegation (ours)
#[utoipa::path(delete, path = "/delegations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<Delegations method=\"DELETE\"><Id>…</Id></Delegations>", content_type = "application/xml"), (status = 404)))]
async fn delete_delegation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_delete_delegation(&cid.actor, id.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(&cid.ctx, "Delegations", id, StatusCode::OK))
}
