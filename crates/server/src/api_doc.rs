//! The OpenAPI document served at `/openapi.json`: what the handlers declare, completed
//! with the error answers every operation of its kind can give, so clients (and
//! schemathesis) can rely on it.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Accord",
        description = "Consent management and customer identity: the iGrant.io API v2.1.6 at /v1."
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "Identity management"),
        (name = "Service management (User)"),
        (name = "Service management (Organization)"),
        (name = "Permissions and consents"),
        (name = "Webhooks"),
        (name = "CustomerID", description = "The Ubisecure CustomerID REST API 2.1, at /customerid-rest/services/2.1"),
        (name = "Operations", description = "Health, readiness and signing keys"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        // `Authorization: ApiKey <key>`: an API key in the Authorization header.
        components.add_security_scheme(
            "apikey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Authorization"))),
        );
    }
}

/// The CustomerID facade's base path.
const CUSTOMER_ID: &str = "/customerid-rest/services/2.1";

/// Adds the error answers an operation can give by its shape, where its handler did not
/// declare them, and gives every error answer its body: `ErrorBody` in JSON on the iGrant
/// facade, `<error><code/><message/></error>` in XML on the CustomerID facade.
///
/// | shape | answers |
/// |---|---|
/// | needs credentials | 401, 403 (and 429 on the CustomerID facade: Basic secrets are throttled) |
/// | path parameters | 404 |
/// | any parameter or a body | 400 |
/// | a body | 413, 415 |
pub fn complete_responses(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "basic",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
    );
    for (path, item) in openapi.paths.paths.iter_mut() {
        let customer_id = path.starts_with(CUSTOMER_ID);
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            if customer_id && op.security.is_none() {
                // REST clients use HTTP Basic; platform administrators a bearer token.
                op.security = Some(vec![
                    SecurityRequirement::new("basic", Vec::<String>::new()),
                    SecurityRequirement::new("bearer", Vec::<String>::new()),
                ]);
            }
            complete_operation(op, customer_id);
        }
    }
}

fn complete_operation(op: &mut Operation, customer_id: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let params = op.parameters.as_deref().unwrap_or_default();
    let path_params = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let body = op.request_body.is_some();
    let mut statuses = vec![];
    if secured {
        statuses.extend(["401", "403"]);
    }
    if secured && customer_id {
        // A REST client's secret is throttled as logins are (docs/customerid.md).
        statuses.push("429");
    }
    if path_params {
        statuses.push("404");
    }
    if !params.is_empty() || body {
        statuses.push("400");
    }
    if body {
        statuses.extend(["413", "415"]);
    }
    for status in statuses {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(ResponseBuilder::new().description(reason(status)).build())
            });
    }
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) || !response.content.is_empty() {
            continue;
        }
        if customer_id {
            response.content.insert(
                "application/xml".into(),
                ContentBuilder::new()
                    .example(Some(serde_json::json!(
                        "<error><code>Invalid arguments</code><message>…</message></error>"
                    )))
                    .build(),
            );
        } else {
            response.content.insert(
                "application/json".into(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            );
        }
        if response.description.is_empty() {
            response.description = reason(status).to_owned();
        }
    }
}

fn reason(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}
