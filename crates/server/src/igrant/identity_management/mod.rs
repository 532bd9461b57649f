//! Spec section "Identity management": logins, logout, token refresh; the external
//! OpenID provider endpoints of the section are in [`open_id`].

pub mod open_id;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{IgrantJson, MaybeCaller, SourceAddr};
use super::wire::{no_store, Token, User, UserAndToken};
use crate::services::identity::LoginKind;
use crate::services::Services;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(login_old))
        .routes(routes!(admin_login))
        .routes(routes!(logout))
        .routes(routes!(refresh_token))
        .routes(routes!(refresh_token_at_user))
        .merge(open_id::router())
}

/// What is served at the host's root rather than under `/v1`: the login iGrant.io's
/// server and its SDKs have at `/v1.1/users/login` (the spec's samples nest it under `/v1`).
pub fn root_router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new().routes(routes!(login_at_root))
}

/// Login credentials. Keys are matched case-insensitively.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    username: String,
    #[schema(format = Password)]
    password: String,
}

/// `{refreshtoken, clientid}`; `clientid` is accepted and not used.
#[derive(Deserialize, ToSchema)]
pub struct RefreshBody {
    refreshtoken: String,
    #[allow(dead_code)]
    clientid: Option<String>,
}

/// `{refreshtoken, clientid}`: the session to end. Without `refreshtoken`, the session of
/// the bearer access token is ended.
#[derive(Deserialize, ToSchema)]
pub struct LogoutBody {
    refreshtoken: Option<String>,
    #[allow(dead_code)]
    clientid: Option<String>,
}

async fn login_with(
    services: &Services,
    body: LoginBody,
    source: SourceAddr,
    kind: LoginKind,
) -> Result<UserAndToken, IgrantError> {
    let (profile, tokens) = services
        .login(&body.username, &body.password, source.0, kind)
        .await?;
    Ok(UserAndToken {
        user: User::from_profile(profile, &services.config.public_url),
        token: tokens.into(),
    })
}

/// Login as user
#[utoipa::path(post, path = "/v1.1/users/login", tag = "Identity management", request_body = LoginBody,
    responses(
        (status = 200, description = "Returns token and user details", body = UserAndToken),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid user credentials", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(services): State<Arc<Services>>,
    source: SourceAddr,
    IgrantJson(body): IgrantJson<LoginBody>,
) -> Result<Response, IgrantError> {
    login_with(&services, body, source, LoginKind::User)
        .await
        .map(no_store)
}

/// Login as user, at the path iGrant.io's server and SDKs use (the same as `/v1/v1.1/users/login`)
#[utoipa::path(post, path = "/v1.1/users/login", tag = "Identity management", request_body = LoginBody,
    responses(
        (status = 200, description = "Returns token and user details", body = UserAndToken),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid user credentials", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login_at_root(
    state: State<Arc<Services>>,
    source: SourceAddr,
    body: IgrantJson<LoginBody>,
) -> Result<Response, IgrantError> {
    login(state, source, body).await
}

/// Login as user (old): the token only
#[utoipa::path(post, path = "/users/login", tag = "Identity management", request_body = LoginBody,
    responses(
        (status = 200, description = "Returns token", body = Token),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid user credentials", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn login_old(
    State(services): State<Arc<Services>>,
    source: SourceAddr,
    IgrantJson(body): IgrantJson<LoginBody>,
) -> Result<Response, IgrantError> {
    login_with(&services, body, source, LoginKind::User)
        .await
        .map(|r| no_store(r.token))
}

/// Login as organisation admin: only for holders of an organisation role and platform admins
#[utoipa::path(post, path = "/users/admin/login", tag = "Identity management", request_body = LoginBody,
    responses(
        (status = 200, description = "Returns token and user details", body = UserAndToken),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid credentials, or not an organisation administrator", body = ErrorBody),
        (status = 429, description = "Too many attempts; see Retry-After", body = ErrorBody),
    ))]
async fn admin_login(
    State(services): State<Arc<Services>>,
    source: SourceAddr,
    IgrantJson(body): IgrantJson<LoginBody>,
) -> Result<Response, IgrantError> {
    login_with(&services, body, source, LoginKind::OrganisationAdmin)
        .await
        .map(no_store)
}

/// Logout user: ends the session, its refresh token and its access tokens, on every node
#[utoipa::path(post, path = "/users/logout", tag = "Identity management", request_body = LogoutBody,
    security((), ("bearer" = []), ("apikey" = [])),
    responses(
        (status = 204, description = "Logout successful"),
        (status = 400, description = "Bad request", body = ErrorBody),
    ))]
async fn logout(
    State(services): State<Arc<Services>>,
    MaybeCaller(actor): MaybeCaller,
    IgrantJson(body): IgrantJson<LogoutBody>,
) -> Result<StatusCode, IgrantError> {
    services
        .logout(&actor, body.refreshtoken.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Refresh access token: rotates the refresh token (reusing a rotated one revokes the session)
#[utoipa::path(post, path = "/users/token", tag = "Identity management", request_body = RefreshBody,
    responses(
        (status = 200, description = "Returns refreshed token", body = Token),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
    ))]
async fn refresh_token(
    State(services): State<Arc<Services>>,
    IgrantJson(body): IgrantJson<RefreshBody>,
) -> Result<Response, IgrantError> {
    let token: Token = services.refresh(&body.refreshtoken).await?.into();
    Ok(no_store(token))
}

/// Refresh access token, at the path iGrant.io's SDKs use (the same as `/v1/users/token`)
#[utoipa::path(post, path = "/user/token", tag = "Identity management", request_body = RefreshBody,
    responses(
        (status = 200, description = "Returns refreshed token", body = Token),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Invalid, expired or reused refresh token", body = ErrorBody),
    ))]
async fn refresh_token_at_user(
    state: State<Arc<Services>>,
    body: IgrantJson<RefreshBody>,
) -> Result<Response, IgrantError> {
    refresh_token(state, body).await
}
