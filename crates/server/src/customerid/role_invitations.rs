//! Role invitations: GET112 List Role Invitations, GET114 List Role Invitations (for
//! user); query, create and delete (ours). PUT117 Reinvite User lives with the users.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::CidError;
use super::extract::{wants_entities, Cid, CidParams};
use super::wire;
use crate::services::customer_id::InvitationList;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_role_invitations, create_role_invitation))
        .routes(routes!(query_role_invitation, delete_role_invitation))
        .routes(routes!(user_role_invitations))
}

async fn list(
    s: &Services,
    cid: &Cid,
    which: InvitationList<'_>,
    q: Option<String>,
) -> Result<Response, CidError> {
    let entities = wants_entities(q, cid.ctx.format)?;
    let invitations = s
        .cid_role_invitations(&cid.actor, which)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::ids_or_entities(
        "RoleInvitations",
        "RoleInvitation",
        &cid.ctx,
        &invitations,
        entities,
    ))
}

/// GET112 List Role Invitations
#[utoipa::path(get, path = "/roleinvitations", tag = "CustomerID", params(("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<RoleInvitations><Id>…</Id></RoleInvitations>", content_type = "application/xml"), (status = 401)))]
async fn list_role_invitations(
    State(s): State<Arc<Services>>,
    cid: Cid,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, InvitationList::All, q).await
}

/// GET114 List Role Invitations (for user)
#[utoipa::path(get, path = "/users/{id}/roleinvitations", tag = "CustomerID", params(("id" = String, Path), ("entities" = Option<bool>, Query)),
    responses((status = 200, description = "<RoleInvitations><Id>…</Id></RoleInvitations>", content_type = "application/xml"), (status = 404)))]
async fn user_role_invitations(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, CidError> {
    list(&s, &cid, InvitationList::OfUser(&id), q).await
}

/// Query Role Invitation (ours)
#[utoipa::path(get, path = "/roleinvitations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<RoleInvitation><Attribute …/></RoleInvitation>", content_type = "application/xml"), (status = 404)))]
async fn query_role_invitation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let i = s
        .cid_role_invitation(&cid.actor, &id)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::entity("RoleInvitation", &cid.ctx, &i))
}

/// Create Role Invitation (ours): `email`, `role`, optional `firstname`, `surname`; mails a single-use link
#[utoipa::path(post, path = "/roleinvitations", tag = "CustomerID",
    responses((status = 201, description = "<RoleInvitations method=\"POST\"><Id>…</Id></RoleInvitations>", content_type = "application/xml"), (status = 400)))]
async fn create_role_invitation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    CidParams(p): CidParams,
) -> Result<Response, CidError> {
    let id = s
        .cid_create_role_invitation(&cid.actor, &p)
        .await
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))?;
    Ok(wire::modified(
        &cid.ctx,
        "RoleInvitations",
        id,
        StatusCode::CREATED,
    ))
}

/// Delete Role Invitation (ours): the link stops working
#[utoipa::path(delete, path = "/roleinvitations/{id}", tag = "CustomerID", params(("id" = String, Path)),
    responses((status = 200, description = "<RoleInvitations method=\"DELETE\"><Id>…</Id></RoleInvitations>", content_type = "application/xml"), (status = 404)))]
async fn delete_role_invitation(
    State(s): State<Arc<Services>>,
    cid: Cid,
    Path(id): Path<String>,
) -> Result<Response, CidError> {
    let fail = |e| CidError::from_domain(cid.ctx.format, e);
    let id = s
        .cid_delete_role_invitation(&cid.actor, id.parse().map_err(fail)?)
        .await
        .map_err(fail)?;
    Ok(wire::modified(
        &cid.ctx,
        "RoleInvitations",
        id,
        StatusCode::OK,
    ))
}
