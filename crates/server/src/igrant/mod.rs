//! The iGrant.io API v2.1.6 facade, mounted at `/v1`. One module per section of the spec.

pub mod error;
pub mod extract;
pub mod identity_management;
pub mod images;
pub mod permissions_and_consents;
pub mod personal_data_transfer;
pub mod service_management_organization;
pub mod service_management_user;
pub mod webhooks;
pub mod wire;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;

/// The facade's routes; JSON bodies are limited to `json_limit` bytes, images to theirs.
pub fn router(json_limit: usize) -> OpenApiRouter<Arc<Services>> {
    let json = OpenApiRouter::new()
        .merge(identity_management::router())
        .merge(service_management_user::router())
        .merge(service_management_organization::router())
        .merge(permissions_and_consents::router())
        .merge(personal_data_transfer::router())
        .merge(webhooks::router())
        .layer(axum::middleware::from_fn_with_state(
            json_limit,
            crate::body_limit::limit_body,
        ));
    let image_limit = crate::services::images::IMAGE_MAX_BYTES + 64 * 1024;
    let images = images::router().layer(axum::middleware::from_fn_with_state(
        image_limit,
        crate::body_limit::limit_body,
    ));
    json.merge(images)
}

/// The facade's routes outside `/v1` (the root login), with the same body limit.
pub fn root_router(json_limit: usize) -> OpenApiRouter<Arc<Services>> {
    identity_management::root_router().layer(axum::middleware::from_fn_with_state(
        json_limit,
        crate::body_limit::limit_body,
    ))
}
