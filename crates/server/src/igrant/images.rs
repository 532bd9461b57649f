//! The image endpoints of the spec's service-management sections (organisation cover and
//! logo, user image) and of organisation types. Uploads are multipart; the image is
//! validated by decoding it (see `services::images`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, MaybeCaller};
use super::wire::{Organization, OrganizationEnvelope, OrganizationType, User, UserEnvelope};
use crate::services::images::{OrgImageKind, IMAGE_MAX_BYTES};
use crate::services::Services;
use accord_store::ImageRecord;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(set_cover_image))
        .routes(routes!(set_logo_image))
        .routes(routes!(get_org_image))
        .routes(routes!(get_org_image_web))
        .routes(routes!(get_type_image, set_type_image))
        .routes(routes!(set_user_image, delete_user_image))
        .routes(routes!(set_own_image))
        .routes(routes!(get_user_image))
        .routes(routes!(get_user_image_web))
        // `body_limit` (in `igrant::router`) bounds these bodies.
        .layer(DefaultBodyLimit::disable())
}

/// A multipart form with the image in the named field.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageForm {
    /// The image: PNG, JPEG, WebP or GIF, at most 2 MiB. The field is `orgimage` for
    /// organisations and types, `userimage` for users.
    #[schema(format = Binary)]
    orgimage: String,
}

/// The bytes of the first field named `field` (or of the only file field).
async fn image_field(mut form: Multipart, field: &str) -> Result<Vec<u8>, IgrantError> {
    let multipart_error =
        |e: axum::extract::multipart::MultipartError| IgrantError::new(e.status(), e.body_text());
    while let Some(part) = form.next_field().await.map_err(multipart_error)? {
        if part.name() == Some(field) {
            let bytes = part.bytes().await.map_err(multipart_error)?;
            if bytes.len() > IMAGE_MAX_BYTES {
                return Err(IgrantError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("images must be at most {IMAGE_MAX_BYTES} bytes"),
                ));
            }
            return Ok(bytes.to_vec());
        }
    }
    Err(IgrantError::new(
        StatusCode::BAD_REQUEST,
        format!("the form has no '{field}' field"),
    ))
}

/// Serves an image; unchanged images answer 304 to `If-None-Match`.
fn image_response(image: ImageRecord, headers: &HeaderMap, cache: &'static str) -> Response {
    let etag = HeaderValue::from_str(&image.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = HeaderValue::from_static(cache);
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == image.etag.as_bytes())
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let content_type = HeaderValue::from_str(&image.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            // Opened on its own, an image runs nothing and loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
        ],
        Body::from(image.data),
    )
        .into_response()
}

/// Image IDs change with every upload, so a served image never changes.
const PUBLIC_IMMUTABLE: &str = "public, max-age=31536000, immutable";
const PRIVATE: &str = "private, max-age=3600";

async fn org_image(
    s: Arc<Services>,
    caller: Caller,
    org: String,
    form: Multipart,
    kind: OrgImageKind,
) -> Result<Json<OrganizationEnvelope>, IgrantError> {
    let bytes = image_field(form, "orgimage").await?;
    let view = s
        .set_organization_image(&caller.0, org.parse()?, kind, bytes)
        .await?;
    Ok(Json(OrganizationEnvelope {
        organization: Organization::new(view, &s.config.public_url),
    }))
}

/// Update org cover image (Admin; multipart field `orgimage`)
#[utoipa::path(post, path = "/organizations/{organizationID}/coverimage", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), request_body(content = ImageForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 400, description = "Not a whole PNG, JPEG, WebP or GIF", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, description = "Over 2 MiB", body = ErrorBody)))]
async fn set_cover_image(
    State(s): State<Arc<Services>>,
    caller: Caller,
    Path(org): Path<String>,
    form: Multipart,
) -> Result<Json<OrganizationEnvelope>, IgrantError> {
    org_image(s, caller, org, form, OrgImageKind::Cover).await
}

/// Updates logo image (Admin; multipart field `orgimage`)
#[utoipa::path(post, path = "/organizations/{organizationID}/logoimage", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), request_body(content = ImageForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn set_logo_image(
    State(s): State<Arc<Services>>,
    caller: Caller,
    Path(org): Path<String>,
    form: Multipart,
) -> Result<Json<OrganizationEnvelope>, IgrantError> {
    org_image(s, caller, org, form, OrgImageKind::Logo).await
}

/// Get org image (public, so that pages can show it)
#[utoipa::path(get, path = "/organizations/{organizationID}/image/{imageID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("imageID" = String, Path)),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 304), (status = 404, body = ErrorBody)))]
async fn get_org_image(
    State(s): State<Arc<Services>>,
    Path((org, image)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, IgrantError> {
    Ok(image_response(
        s.organization_image(&org, image.parse()?).await?,
        &headers,
        PUBLIC_IMMUTABLE,
    ))
}

/// Get org image at the `/web` path of iGrant.io's server (the same image)
#[utoipa::path(get, path = "/organizations/{organizationID}/image/{imageID}/web", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("imageID" = String, Path)),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 304), (status = 404, body = ErrorBody)))]
async fn get_org_image_web(
    state: State<Arc<Services>>,
    path: Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, IgrantError> {
    get_org_image(state, path, headers).await
}

/// Get an organisation type's image (public)
#[utoipa::path(get, path = "/organizations/types/{typeID}/image", tag = "Service management (Organization)",
    params(("typeID" = String, Path)),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 304), (status = 404, body = ErrorBody)))]
async fn get_type_image(
    State(s): State<Arc<Services>>,
    Path(type_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, IgrantError> {
    // The URL is stable across uploads: revalidate rather than keep.
    Ok(image_response(
        s.organization_type_image(type_id.parse()?).await?,
        &headers,
        "public, no-cache",
    ))
}

/// Set an organisation type's image (platform admins; multipart field `orgimage`)
#[utoipa::path(post, path = "/organizations/types/{typeID}/image", tag = "Service management (Organization)",
    params(("typeID" = String, Path)), request_body(content = ImageForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationType), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn set_type_image(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    Path(type_id): Path<String>,
    form: Multipart,
) -> Result<Json<OrganizationType>, IgrantError> {
    let bytes = image_field(form, "orgimage").await?;
    let t = s
        .set_organization_type_image(&a, type_id.parse()?, bytes)
        .await?;
    Ok(Json(OrganizationType::new(t, &s.config.public_url)))
}

/// Update users image (the user themselves; multipart field `userimage`)
#[utoipa::path(post, path = "/users/{userID}/image", tag = "Service management (User)",
    params(("userID" = String, Path)), request_body(content = ImageForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, description = "Invalid user image provided", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn set_user_image(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    Path(user): Path<String>,
    form: Multipart,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let bytes = image_field(form, "userimage").await?;
    let profile = s.set_user_image(&a, &user, bytes).await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &s.config.public_url),
    }))
}

/// Update the caller's image (multipart field `userimage`; iGrant.io's iOS SDK)
#[utoipa::path(post, path = "/user/image", tag = "Service management (User)",
    request_body(content = ImageForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, description = "Invalid user image provided", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn set_own_image(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    form: Multipart,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let me = a.user()?.user_id.to_string();
    set_user_image(State(s), Caller(a), Path(me), form).await
}

/// Deletes a particular user image (the user themselves)
#[utoipa::path(delete, path = "/users/{userID}/image", tag = "Service management (User)",
    params(("userID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_user_image(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    Path(user): Path<String>,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let profile = s.delete_user_image(&a, &user).await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &s.config.public_url),
    }))
}

/// Get user image (the user themselves)
#[utoipa::path(get, path = "/users/{userID}/image/{imageID}", tag = "Service management (User)",
    params(("userID" = String, Path), ("imageID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 304), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user_image(
    State(s): State<Arc<Services>>,
    MaybeCaller(a): MaybeCaller,
    Path((user, image)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, IgrantError> {
    Ok(image_response(
        s.user_image(&a, &user, image.parse()?).await?,
        &headers,
        PRIVATE,
    ))
}

/// Get user image at the `/web` path of iGrant.io's server (the same image, the same rule)
#[utoipa::path(get, path = "/users/{userID}/image/{imageID}/web", tag = "Service management (User)",
    params(("userID" = String, Path), ("imageID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The image", content_type = "image/*"), (status = 304), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user_image_web(
    state: State<Arc<Services>>,
    caller: MaybeCaller,
    path: Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, IgrantError> {
    get_user_image(state, caller, path, headers).await
}
