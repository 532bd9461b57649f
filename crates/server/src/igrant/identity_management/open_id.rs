//! Spec section "Identity management", external identity provider:
//! `/organizations/{organizationID}/idp/open-id…`. Configuration, redirect URI, code
//! exchange and logout are the spec's; `authorize` and `callback` are ours
//! (docs/federation.md).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::igrant::error::{ErrorBody, IgrantError};
use crate::igrant::extract::{Caller, IgrantJson, IgrantQuery, MaybeCaller, SourceAddr};
use crate::igrant::wire::{no_store, User, UserAndToken};
use crate::services::federation::{CodeExchange, ProviderInput};
use crate::services::Services;
use accord_domain::federation::{ProviderSettings, MASKED_SECRET};

type Svc = State<Arc<Services>>;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(add_idp, update_idp, get_idp, delete_idp))
        .routes(routes!(redirect_uri))
        .routes(routes!(authorize))
        .routes(routes!(exchange))
        .routes(routes!(callback))
        .routes(routes!(logout))
}

/// The spec's provider body. Keys are matched case-insensitively. Beyond the spec:
/// `discoveryUrl` fills the endpoints left empty; `tokenEndpointAuthMethod`.
#[derive(Deserialize, ToSchema)]
pub struct IdpBody {
    authorizationurl: Option<String>,
    tokenurl: Option<String>,
    logouturl: Option<String>,
    clientid: Option<String>,
    #[schema(format = Password)]
    clientsecret: Option<String>,
    jwksurl: Option<String>,
    userinfourl: Option<String>,
    validatesignature: Option<bool>,
    disableuserinfo: Option<bool>,
    issuer: Option<String>,
    defaultscope: Option<String>,
    discoveryurl: Option<String>,
    tokenendpointauthmethod: Option<String>,
}

impl From<IdpBody> for ProviderInput {
    fn from(b: IdpBody) -> Self {
        ProviderInput {
            issuer: b.issuer,
            authorization_url: b.authorizationurl,
            token_url: b.tokenurl,
            logout_url: b.logouturl,
            client_id: b.clientid,
            client_secret: b.clientsecret,
            jwks_url: b.jwksurl,
            userinfo_url: b.userinfourl,
            validate_signature: b.validatesignature,
            disable_userinfo: b.disableuserinfo,
            default_scope: b.defaultscope,
            discovery_url: b.discoveryurl,
            token_endpoint_auth_method: b.tokenendpointauthmethod,
        }
    }
}

/// The configured provider as the spec shows it, except that `clientSecret` is always
/// masked: a stored secret is never sent back.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Idp {
    authorization_url: String,
    token_url: String,
    logout_url: String,
    client_id: String,
    client_secret: String,
    jwks_url: String,
    user_info_url: String,
    validate_signature: bool,
    disable_user_info: bool,
    issuer: String,
    default_scope: String,
    token_endpoint_auth_method: String,
}

impl From<ProviderSettings> for Idp {
    fn from(s: ProviderSettings) -> Self {
        Idp {
            authorization_url: s.authorization_url,
            token_url: s.token_url,
            logout_url: s.logout_url,
            client_id: s.client_id,
            client_secret: MASKED_SECRET.to_owned(),
            jwks_url: s.jwks_url,
            user_info_url: s.userinfo_url,
            validate_signature: s.validate_signature,
            disable_user_info: s.disable_userinfo,
            issuer: s.issuer,
            default_scope: s.default_scope,
            token_endpoint_auth_method: s.token_auth_method.as_str().to_owned(),
        }
    }
}

/// Add external IDP (Admin of the organisation)
#[utoipa::path(post, path = "/organizations/{organizationID}/idp/open-id", tag = "Identity management",
    request_body = IdpBody, params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 201, description = "Configured external identity provider for organisation", body = Idp),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "One is configured already", body = ErrorBody),
    ))]
async fn add_idp(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<IdpBody>,
) -> Result<(StatusCode, Json<Idp>), IgrantError> {
    let settings = s
        .put_identity_provider(&a, org.parse()?, b.into(), false)
        .await?;
    Ok((StatusCode::CREATED, Json(settings.into())))
}

/// Update external IDP (Admin); an absent or masked `clientSecret` keeps the stored one
#[utoipa::path(put, path = "/organizations/{organizationID}/idp/open-id", tag = "Identity management",
    request_body = IdpBody, params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "Updates configured external identity provider for organisation", body = Idp),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No organisation, or no provider configured", body = ErrorBody),
    ))]
async fn update_idp(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<IdpBody>,
) -> Result<Json<Idp>, IgrantError> {
    let settings = s
        .put_identity_provider(&a, org.parse()?, b.into(), true)
        .await?;
    Ok(Json(settings.into()))
}

/// Get external IDP (Admin); `clientSecret` is masked
#[utoipa::path(get, path = "/organizations/{organizationID}/idp/open-id", tag = "Identity management",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "Get configured external identity provider for organisation", body = Idp),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No organisation, or no provider configured", body = ErrorBody),
    ))]
async fn get_idp(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<Idp>, IgrantError> {
    Ok(Json(s.identity_provider(&a, org.parse()?).await?.into()))
}

/// Delete external IDP (Admin)
#[utoipa::path(delete, path = "/organizations/{organizationID}/idp/open-id", tag = "Identity management",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 204, description = "Removed configured external identity provider for organisation"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No organisation, or no provider configured", body = ErrorBody),
    ))]
async fn delete_idp(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<StatusCode, IgrantError> {
    s.delete_identity_provider(&a, org.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RedirectUriBody {
    #[serde(rename = "RedirectURI")]
    redirect_uri: String,
    /// Ours: the callback of a sign-in begun on Accord's own pages (register it too).
    #[serde(rename = "WebRedirectURI")]
    web_redirect_uri: String,
}

/// Get redirect_uri: the callback to register at the provider (Admin)
#[utoipa::path(get, path = "/organizations/{organizationID}/idp/open-id/redirect-uri", tag = "Identity management",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "Returns redirect URI", body = RedirectUriBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn redirect_uri(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<RedirectUriBody>, IgrantError> {
    let (redirect_uri, web_redirect_uri) = s.idp_redirect_uri(&a, org.parse()?).await?;
    Ok(Json(RedirectUriBody {
        redirect_uri,
        web_redirect_uri,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// Where the provider sends the browser back: the callback (`redirect-uri`) or a URI
    /// of the client's own registered at the provider.
    redirect_uri: String,
    /// Passed to the provider (which account to sign in with).
    login_hint: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorizeBody {
    /// The provider's authorization URL, with state, nonce and PKCE challenge.
    #[serde(rename = "AuthorizationURL")]
    authorization_url: String,
    /// Comes back with the code; pass it to `exchange`.
    #[serde(rename = "State")]
    state: String,
}

/// Start a federated login (beyond the spec): the provider's authorization URL. With a
/// bearer token the login belongs to the caller: its code links the provider's identity
/// to the caller's account (exchanged with the same token, or through the callback)
#[utoipa::path(get, path = "/organizations/{organizationID}/idp/open-id/authorize", tag = "Identity management",
    params(("organizationID" = String, Path), AuthorizeParams), security((), ("bearer" = [])),
    responses(
        (status = 200, body = AuthorizeBody),
        (status = 400, body = ErrorBody), (status = 404, description = "No organisation, or no provider configured", body = ErrorBody),
    ))]
async fn authorize(
    State(s): Svc,
    MaybeCaller(caller): MaybeCaller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<AuthorizeParams>,
) -> Result<Json<AuthorizeBody>, IgrantError> {
    let start = s
        .start_federated_login(
            &caller,
            org.parse()?,
            &q.redirect_uri,
            q.login_hint.as_deref(),
        )
        .await?;
    Ok(Json(AuthorizeBody {
        authorization_url: start.authorization_url,
        state: start.state,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeParams {
    /// The redirect URI the authorization request used.
    redirect_uri: String,
    /// Authorization code
    code: String,
    /// The state from `authorize`, when the login began there.
    state: Option<String>,
}

/// Exchange auth code: `{User, Token}` like a login. With a bearer token, links the
/// provider's identity to the caller's account: only with the state of a login the same
/// account started at `authorize` (403 otherwise).
#[utoipa::path(post, path = "/organizations/{organizationID}/idp/open-id/exchange", tag = "Identity management",
    params(("organizationID" = String, Path), ExchangeParams), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Returns token and user details", body = UserAndToken),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Code, ID token or state refused", body = ErrorBody),
        (status = 403, description = "A link asked for without a login this account started", body = ErrorBody),
        (status = 404, description = "No organisation, or no provider configured", body = ErrorBody),
        (status = 409, description = "An account has the address and is not linked to this identity: its holder links them", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 502, description = "The provider failed or could not be reached", body = ErrorBody),
    ))]
async fn exchange(
    State(s): Svc,
    MaybeCaller(caller): MaybeCaller,
    source: SourceAddr,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<ExchangeParams>,
) -> Result<Response, IgrantError> {
    let (profile, tokens) = s
        .exchange_federated_code(CodeExchange {
            org: org.parse()?,
            code: &q.code,
            redirect_uri: &q.redirect_uri,
            state: q.state.as_deref(),
            source: source.0,
            caller: &caller,
        })
        .await?;
    Ok(no_store(UserAndToken {
        user: User::from_profile(profile, &s.config.public_url),
        token: tokens.into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    /// Set by the provider instead of `code` when the login failed.
    error: Option<String>,
}

/// The callback registered at the provider (beyond the spec): completes a login begun at
/// `authorize` with this redirect URI and answers `{User, Token}`
#[utoipa::path(get, path = "/organizations/{organizationID}/idp/open-id/callback", tag = "Identity management",
    params(("organizationID" = String, Path), CallbackParams),
    responses(
        (status = 200, description = "Returns token and user details", body = UserAndToken),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn callback(
    State(s): Svc,
    source: SourceAddr,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<CallbackParams>,
) -> Result<Response, IgrantError> {
    if let Some(error) = q.error {
        // Only the error code, cut to its alphabet: it is the provider's text, shown to us.
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return Err(IgrantError::new(
            StatusCode::UNAUTHORIZED,
            format!("federated login refused: the provider answered {code}"),
        ));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(IgrantError::new(
            StatusCode::BAD_REQUEST,
            "code and state are required",
        ));
    };
    let org_id: accord_domain::OrganizationId = org.parse()?;
    let redirect_uri = s.federation_callback_uri(org_id);
    let (profile, tokens) = s
        .exchange_federated_code(CodeExchange {
            org: org_id,
            code: &code,
            redirect_uri: &redirect_uri,
            state: Some(&state),
            source: source.0,
            caller: &crate::services::Actor::Anonymous,
        })
        .await?;
    Ok(no_store(UserAndToken {
        user: User::from_profile(profile, &s.config.public_url),
        token: tokens.into(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutParams {
    /// Where the provider should send the browser after its own logout.
    post_logout_redirect_uri: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LogoutBody {
    /// Visit this URL in the browser to end the provider's own session.
    #[serde(rename = "LogoutURL")]
    logout_url: String,
}

/// Logout OpenID client: ends the caller's session; 200 with the provider's logout URL
/// when the session came through this provider and it has one, else 204
#[utoipa::path(post, path = "/organizations/{organizationID}/idp/open-id/logout", tag = "Identity management",
    params(("organizationID" = String, Path), LogoutParams), security(("bearer" = [])),
    responses(
        (status = 204, description = "Ended the session (no provider session to end)"),
        (status = 200, description = "Ended the session; the browser must visit LogoutURL to end the provider's", body = LogoutBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn logout(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<LogoutParams>,
) -> Result<Response, IgrantError> {
    let url = s
        .federated_logout(&a, org.parse()?, q.post_logout_redirect_uri.as_deref())
        .await?;
    Ok(match url {
        Some(logout_url) => Json(LogoutBody { logout_url }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
