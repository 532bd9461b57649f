//! Spec section "Service management (User)": the individual's own account. The spec has
//! the password endpoints; registration, self-service (`/user`), APIKeys and the
//! forgot-password confirmation are ours (documented in docs/igrant.md).

mod clients;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, SourceAddr};
use super::wire::{Msg, User, UserEnvelope};
use crate::services::identity::{PasswordChange, Registration};
use crate::services::Services;
use accord_domain::organization::OfferKind;

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(get_me, update_me, delete_me))
        .routes(routes!(unregister))
        .routes(routes!(create_api_key, get_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(change_password, change_password_put))
        .routes(routes!(forgot_password))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(verify_email))
        .routes(routes!(list_offers))
        .routes(routes!(accept_offer))
        .routes(routes!(decline_offer))
        .routes(routes!(leave_roles))
        .routes(routes!(resend_email_verification))
        .routes(routes!(accept_invitation))
        .merge(clients::router())
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    /// The email address: the account's login name, unique case-insensitively.
    #[schema(format = Email)]
    username: String,
    /// At least 8 characters, at most 1024 bytes, not the email address.
    #[schema(format = Password, min_length = 8)]
    password: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeBody {
    name: Option<String>,
    phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyBody {
    #[serde(rename = "APIKey")]
    api_key: String,
}

/// `{"currentpassword","password"}`; the spec's `{"password"}` alone is accepted from a
/// session whose password login is at most 10 minutes old.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    currentpassword: Option<String>,
    /// The new password.
    #[schema(format = Password)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ForgotBody {
    #[serde(default)]
    username: String,
}

#[derive(Deserialize, ToSchema)]
pub struct ConfirmResetBody {
    /// The token from the reset mail.
    token: String,
    #[schema(format = Password)]
    password: String,
}

/// Register an individual
#[utoipa::path(post, path = "/users/register", tag = "Service management (User)", request_body = RegisterBody,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 400, description = "Invalid email, password, name or phone", body = ErrorBody),
        (status = 409, description = "An account with this username exists", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address", body = ErrorBody),
    ))]
async fn register(
    State(services): State<Arc<Services>>,
    source: SourceAddr,
    headers: axum::http::HeaderMap,
    IgrantJson(b): IgrantJson<RegisterBody>,
) -> Result<(StatusCode, Json<User>), IgrantError> {
    // The app's language, as its HTTP client says it: the person's mails are written in it.
    let language = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::i18n::accepted);
    let profile = services
        .register(Registration {
            username: &b.username,
            password: &b.password,
            name: &b.name,
            phone: &b.phone,
            source: Some(source.0),
            language,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(User::from_profile(profile, &services.config.public_url)),
    ))
}

/// The caller's own account, as `{"User": {…}}` (iGrant.io's server's shape, which its SDKs read)
#[utoipa::path(get, path = "/user", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 401, body = ErrorBody)))]
async fn get_me(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let profile = services.my_profile(&actor).await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &services.config.public_url),
    }))
}

/// Update the caller's name and/or phone
#[utoipa::path(patch, path = "/user", tag = "Service management (User)", request_body = UpdateMeBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn update_me(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
    IgrantJson(b): IgrantJson<UpdateMeBody>,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let profile = services
        .update_my_profile(&actor, b.name.as_deref(), b.phone.as_deref(), None)
        .await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &services.config.public_url),
    }))
}

/// Delete the caller's account and personal data (right to erasure); ends every session
#[utoipa::path(delete, path = "/user", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody)))]
async fn delete_me(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<StatusCode, IgrantError> {
    services.delete_my_account(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unregister: the v2.1.2 OpenAPI's name for deleting the caller's account (as `DELETE /v1/user`)
#[utoipa::path(post, path = "/users/unregister", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Msg, description = "User removed"), (status = 401, body = ErrorBody)))]
async fn unregister(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<Msg>, IgrantError> {
    services.delete_my_account(&actor).await?;
    Ok(Json(Msg::new("User removed successfully")))
}

/// Create or rotate the caller's APIKey (the previous one stops working at once)
#[utoipa::path(post, path = "/user/apikey", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ApiKeyBody), (status = 401, body = ErrorBody)))]
async fn create_api_key(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<ApiKeyBody>, IgrantError> {
    Ok(Json(ApiKeyBody {
        api_key: services.rotate_my_api_key(&actor).await?,
    }))
}

/// Show the caller's APIKey
#[utoipa::path(get, path = "/user/apikey", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ApiKeyBody), (status = 401, body = ErrorBody), (status = 404, description = "No APIKey", body = ErrorBody)))]
async fn get_api_key(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<ApiKeyBody>, IgrantError> {
    Ok(Json(ApiKeyBody {
        api_key: services.my_api_key(&actor).await?,
    }))
}

/// Revoke the caller's APIKey
#[utoipa::path(delete, path = "/user/apikey/revoke", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody)))]
async fn revoke_api_key(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<StatusCode, IgrantError> {
    services.revoke_my_api_key(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reset user password (change it, with the current one). Also accepted with PUT.
#[utoipa::path(post, path = "/user/password/reset", tag = "Service management (User)", request_body = ChangePasswordBody,
    security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "User password resetted successfully", body = Msg),
        (status = 400, description = "Bad request (new password breaks the policy, or currentpassword missing)", body = ErrorBody),
        (status = 401, description = "Unauthorized, or the current password is wrong", body = ErrorBody),
    ))]
async fn change_password(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
    IgrantJson(b): IgrantJson<ChangePasswordBody>,
) -> Result<Json<Msg>, IgrantError> {
    let change = PasswordChange {
        current_password: b.currentpassword.as_deref(),
        new_password: &b.password,
    };
    services.change_my_password(&actor, change).await?;
    Ok(Json(Msg::new(
        "password changed; other sessions have been ended",
    )))
}

/// Reset user password, as iGrant.io's own server took it (PUT); the same as POST
#[utoipa::path(put, path = "/user/password/reset", tag = "Service management (User)", request_body = ChangePasswordBody,
    security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "User password resetted successfully", body = Msg),
        (status = 400, description = "Bad request", body = ErrorBody),
        (status = 401, description = "Unauthorized, or the current password is wrong", body = ErrorBody),
    ))]
async fn change_password_put(
    services: State<Arc<Services>>,
    caller: Caller,
    body: IgrantJson<ChangePasswordBody>,
) -> Result<Json<Msg>, IgrantError> {
    change_password(services, caller, body).await
}

/// Forgot user password: mails a single-use reset link if the account exists. Always 200.
#[utoipa::path(put, path = "/user/password/forgot", tag = "Service management (User)", request_body = ForgotBody,
    responses((status = 200, description = "User forgot password action handled successfully", body = Msg), (status = 400, body = ErrorBody)))]
async fn forgot_password(
    State(services): State<Arc<Services>>,
    IgrantJson(b): IgrantJson<ForgotBody>,
) -> Result<Json<Msg>, IgrantError> {
    services.forgot_password(&b.username);
    Ok(Json(Msg::new(
        "if an account with this username exists, a reset link has been sent to it",
    )))
}

/// Set a new password with the token from the reset mail (once); ends every session
#[utoipa::path(post, path = "/user/password/forgot/confirm", tag = "Service management (User)", request_body = ConfirmResetBody,
    responses(
        (status = 200, description = "Password set", body = Msg),
        (status = 400, description = "Invalid, used or expired token, or a password that breaks the policy", body = ErrorBody),
    ))]
async fn confirm_password_reset(
    State(services): State<Arc<Services>>,
    IgrantJson(b): IgrantJson<ConfirmResetBody>,
) -> Result<Json<Msg>, IgrantError> {
    services
        .confirm_password_reset(&b.token, &b.password)
        .await?;
    Ok(Json(Msg::new("password set; log in with the new password")))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailBody {
    /// The token from the verification mail.
    token: String,
}

/// Prove the account's address with the token from the verification mail (once). Ours:
/// see docs/security.md, "Trust model"
#[utoipa::path(post, path = "/user/email/verify", tag = "Service management (User)", request_body = VerifyEmailBody,
    responses(
        (status = 200, description = "Address verified", body = Msg),
        (status = 400, description = "Invalid, used or expired token, or one mailed to an address the account no longer has", body = ErrorBody),
    ))]
async fn verify_email(
    State(services): State<Arc<Services>>,
    IgrantJson(b): IgrantJson<VerifyEmailBody>,
) -> Result<Json<Msg>, IgrantError> {
    services.verify_email(&b.token).await?;
    Ok(Json(Msg::new("email address verified")))
}

/// Mail a new verification link to the caller's address (ours; throttled per address)
#[utoipa::path(post, path = "/user/email/verify/resend", tag = "Service management (User)",
    security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "A verification link is on its way", body = Msg),
        (status = 400, description = "The account has no address", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 409, description = "The address is verified already", body = ErrorBody),
    ))]
async fn resend_email_verification(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<Msg>, IgrantError> {
    services.resend_email_verification(&actor).await?;
    Ok(Json(Msg::new(
        "a verification link has been sent to the account's address",
    )))
}

#[derive(Serialize, ToSchema)]
pub struct OfferBody {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "OrgName")]
    org_name: String,
    /// `subscription` or `role`
    #[serde(rename = "Type")]
    kind: String,
    /// The role offered (1 Admin, 2 Dpo, 3 Developer); 0 for a subscription.
    #[serde(rename = "RoleID")]
    role_id: i64,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

#[derive(Serialize, ToSchema)]
pub struct OffersBody {
    #[serde(rename = "Offers")]
    offers: Vec<OfferBody>,
}

/// The caller's open offers: subscriptions and roles organisations asked them to take
/// (ours; docs/security.md, trust model)
#[utoipa::path(get, path = "/user/offers", tag = "Service management (User)", security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OffersBody), (status = 401, body = ErrorBody)))]
async fn list_offers(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
) -> Result<Json<OffersBody>, IgrantError> {
    let offers = services
        .my_offers(&actor)
        .await?
        .into_iter()
        .map(|v| OfferBody {
            id: v.offer.id.to_string(),
            org_id: v.offer.organization_id.to_string(),
            org_name: v.organization_name,
            kind: match v.offer.kind {
                OfferKind::Subscription => "subscription".into(),
                OfferKind::Role(_) => "role".into(),
            },
            role_id: match v.offer.kind {
                OfferKind::Subscription => 0,
                OfferKind::Role(r) => r.id(),
            },
            timestamp: super::wire::rfc3339(v.offer.created_at),
        })
        .collect();
    Ok(Json(OffersBody { offers }))
}

/// Accept an offer: the subscription or the role is the caller's (ours)
#[utoipa::path(post, path = "/user/offers/{offerID}/accept", tag = "Service management (User)",
    params(("offerID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 204, description = "Accepted"),
        (status = 400, description = "The organisation takes no subscriptions now", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, description = "No such offer of the caller's", body = ErrorBody),
    ))]
async fn accept_offer(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, IgrantError> {
    services.accept_offer(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Decline an offer: nothing changes (ours)
#[utoipa::path(delete, path = "/user/offers/{offerID}", tag = "Service management (User)",
    params(("offerID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204, description = "Declined"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn decline_offer(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, IgrantError> {
    services.decline_offer(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave every role the caller holds in an organisation, the last Admin's included (ours)
#[utoipa::path(delete, path = "/user/roles/{organizationID}", tag = "Service management (User)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204, description = "The roles are given up"), (status = 401, body = ErrorBody), (status = 404, description = "No role held there", body = ErrorBody)))]
async fn leave_roles(
    State(services): State<Arc<Services>>,
    Caller(actor): Caller,
    Path(org): Path<String>,
) -> Result<StatusCode, IgrantError> {
    services.leave_roles(&actor, org.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptInvitationBody {
    /// A new account's password (the policy applies), or an existing account's current one.
    #[schema(format = Password)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptedInvitation {
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "Email")]
    email: String,
    /// The roles granted, as CustomerID role IDs.
    #[serde(rename = "Roles")]
    roles: Vec<String>,
}

/// Accept a role invitation with the token from its mail (once): a new account chooses its
/// password and is enabled; an existing account confirms with its password. Every open
/// invitation of the account is accepted and its roles granted.
#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "Service management (User)", request_body = AcceptInvitationBody,
    params(("token" = String, Path, description = "The code from the invitation mail")),
    responses(
        (status = 200, description = "Invitation accepted", body = AcceptedInvitation),
        (status = 400, description = "Invalid, used or expired token, or a password that breaks the policy", body = ErrorBody),
        (status = 401, description = "Wrong password of an existing account", body = ErrorBody),
    ))]
async fn accept_invitation(
    State(services): State<Arc<Services>>,
    Path(token): Path<String>,
    IgrantJson(b): IgrantJson<AcceptInvitationBody>,
) -> Result<Json<AcceptedInvitation>, IgrantError> {
    let a = services.accept_invitation(&token, &b.password).await?;
    Ok(Json(AcceptedInvitation {
        user_id: a.user_id.to_string(),
        email: a.email,
        roles: a.roles.iter().map(ToString::to_string).collect(),
    }))
}
