//! The Ubisecure CustomerID REST API 2.1 facade, mounted at
//! `/customerid-rest/services/2.1`. One module per resource of the spec.

pub mod delegations;
pub mod error;
pub mod extract;
pub mod mandates;
pub mod organizations;
pub mod request_body;
pub mod role_invitations;
pub mod roles;
pub mod users;
pub mod wire;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;

pub fn router(body_limit: usize) -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .merge(users::router())
        .merge(organizations::router())
        .merge(roles::router())
        .merge(mandates::router())
        .merge(delegations::router())
        .merge(role_invitations::router())
        .layer(axum::middleware::from_fn_with_state(
            body_limit,
            crate::body_limit::limit_body,
        ))
        .fallback(error::not_found)
}
