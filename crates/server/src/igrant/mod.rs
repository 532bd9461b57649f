//! The iGrant.io API v2.1.6 facade, mounted at `/v1`. One module per section of the spec.

pub mod error;
pub mod extract;
pub mod identity_management;
pub mod service_management_organization;
pub mod service_management_user;
pub mod wire;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .merge(identity_management::router())
        .merge(service_management_user::router())
        .merge(service_management_organization::router())
}
