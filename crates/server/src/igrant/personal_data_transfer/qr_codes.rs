//! QR codes for subscribing to an organisation and to one of its purposes (the v2.1.2
//! document files them under "Personal data transfer"; docs/igrant.md, "QR codes").

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::*;
use accord_domain::{OrganizationId, PurposeId};

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(
            organization_qr_code,
            generate_organization_qr_code,
            delete_organization_qr_code
        ))
        .routes(routes!(organization_qr_code_web))
        .routes(routes!(
            purpose_qr_code,
            generate_purpose_qr_code,
            delete_purpose_qr_code
        ))
        .routes(routes!(purpose_qr_code_web))
}

fn png(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            // Deleting the code must take it off pages that showed it.
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        bytes,
    )
        .into_response()
}

fn ids(
    org: &str,
    purpose: Option<&str>,
) -> Result<(OrganizationId, Option<PurposeId>), IgrantError> {
    let purpose = purpose.map(str::parse).transpose()?;
    Ok((org.parse()?, purpose))
}

/// Generates the organisation's QR code and answers it (Admin). The code encodes the organisation's URL here
#[utoipa::path(post, path = "/organizations/{organizationID}/qrcode", tag = "Personal data transfer",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn generate_organization_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Response, IgrantError> {
    let (org, _) = ids(&org, None)?;
    Ok(png(s.generate_qr_code(&a, org, None).await?))
}

/// Gets the organisation's QR code, once generated (any signed-in caller)
#[utoipa::path(get, path = "/organizations/{organizationID}/qrcode", tag = "Personal data transfer",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 401, body = ErrorBody), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn organization_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Response, IgrantError> {
    let (org, _) = ids(&org, None)?;
    Ok(png(s.qr_code(Some(&a), org, None).await?))
}

/// Deletes the organisation's QR code (Admin)
#[utoipa::path(delete, path = "/organizations/{organizationID}/qrcode", tag = "Personal data transfer",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn delete_organization_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<StatusCode, IgrantError> {
    let (org, _) = ids(&org, None)?;
    s.delete_qr_code(&a, org, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gets the organisation's QR code, once generated, for a web page (anyone)
#[utoipa::path(get, path = "/organizations/{orgID}/qrcode/web", tag = "Personal data transfer",
    params(("orgID" = String, Path)),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn organization_qr_code_web(
    State(s): Svc,
    Path(org): Path<String>,
) -> Result<Response, IgrantError> {
    let (org, _) = ids(&org, None)?;
    Ok(png(s.qr_code(None, org, None).await?))
}

/// Generates a QR code for one of the organisation's purposes and answers it (Admin)
#[utoipa::path(post, path = "/organizations/{orgID}/purposes/{purposeID}/qrcode", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn generate_purpose_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
) -> Result<Response, IgrantError> {
    let (org, purpose) = ids(&org, Some(&purpose))?;
    Ok(png(s.generate_qr_code(&a, org, purpose).await?))
}

/// Gets a purpose's QR code, once generated (any signed-in caller)
#[utoipa::path(get, path = "/organizations/{orgID}/purposes/{purposeID}/qrcode", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 401, body = ErrorBody), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn purpose_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
) -> Result<Response, IgrantError> {
    let (org, purpose) = ids(&org, Some(&purpose))?;
    Ok(png(s.qr_code(Some(&a), org, purpose).await?))
}

/// Deletes a purpose's QR code (Admin)
#[utoipa::path(delete, path = "/organizations/{orgID}/purposes/{purposeID}/qrcode", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn delete_purpose_qr_code(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
) -> Result<StatusCode, IgrantError> {
    let (org, purpose) = ids(&org, Some(&purpose))?;
    s.delete_qr_code(&a, org, purpose).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gets a purpose's QR code, once generated, for a web page (anyone)
#[utoipa::path(get, path = "/organizations/{orgID}/purposes/{purposeID}/qrcode/web", tag = "Personal data transfer",
    params(("orgID" = String, Path), ("purposeID" = String, Path)),
    responses((status = 200, description = "The QR code", content_type = "image/png"), (status = 404, description = "QR code does not exist", body = ErrorBody)))]
async fn purpose_qr_code_web(
    State(s): Svc,
    Path((org, purpose)): Path<(String, String)>,
) -> Result<Response, IgrantError> {
    let (org, purpose) = ids(&org, Some(&purpose))?;
    Ok(png(s.qr_code(None, org, purpose).await?))
}
