//! What the v2.1.2 document and iGrant.io's mobile SDKs add to the user's section: the
//! caller's organisations, accepting an organisation's EULA, and the device that receives
//! push notifications (docs/igrant.md, "iGrant.io's own clients").

use serde::Deserialize;
use utoipa::IntoParams;

use super::*;
use crate::igrant::extract::IgrantQuery;
use crate::igrant::wire::Organization;
use crate::services::organizations::OrganizationView;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(my_organizations))
        .routes(routes!(users_organizations))
        .routes(routes!(accept_eula))
        .routes(routes!(register_ios))
        .routes(routes!(register_android))
}

#[derive(Serialize, ToSchema)]
pub struct UserOrganizations {
    /// Every organisation the caller subscribes to, as `GET /v1/organizations/{id}` answers it.
    #[serde(rename = "UserOrganizations")]
    organizations: Vec<Organization>,
}

fn organizations(s: &Services, views: Vec<OrganizationView>) -> Json<UserOrganizations> {
    Json(UserOrganizations {
        organizations: views
            .into_iter()
            .map(|v| Organization::new(v, &s.config.public_url))
            .collect(),
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TypeFilter {
    /// Only organisations of this type.
    #[serde(rename = "typeID")]
    type_id: Option<String>,
}

/// The organisations the caller subscribes to
#[utoipa::path(get, path = "/user/organizations", tag = "Service management (User)",
    params(TypeFilter), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserOrganizations), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn my_organizations(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    IgrantQuery(q): IgrantQuery<TypeFilter>,
) -> Result<Json<UserOrganizations>, IgrantError> {
    let me = a.user()?.user_id.to_string();
    let views = s.my_organizations(&a, &me, q.type_id.as_deref()).await?;
    Ok(organizations(&s, views))
}

/// The organisations the caller subscribes to (the caller only; anyone else: 404)
#[utoipa::path(get, path = "/users/{userID}/organizations", tag = "Service management (User)",
    params(("userID" = String, Path), TypeFilter), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserOrganizations), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_organizations(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    Path(user): Path<String>,
    IgrantQuery(q): IgrantQuery<TypeFilter>,
) -> Result<Json<UserOrganizations>, IgrantError> {
    let views = s.my_organizations(&a, &user, q.type_id.as_deref()).await?;
    Ok(organizations(&s, views))
}

/// Accepts an organisation's EULA as it reads now (its subscriber). A body, if any, is ignored
#[utoipa::path(post, path = "/user/organizations/{orgID}/eula", tag = "Service management (User)",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, description = "The organisation has no EULA", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn accept_eula(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let profile = s.accept_eula(&a, org.parse()?).await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &s.config.public_url),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct DeviceBody {
    /// The push token of the caller's device.
    devicetoken: String,
}

async fn register(
    s: &Services,
    a: &crate::services::Actor,
    b: DeviceBody,
    client_type: i64,
) -> Result<Json<UserEnvelope>, IgrantError> {
    let profile = s
        .register_push_client(a, &b.devicetoken, client_type)
        .await?;
    Ok(Json(UserEnvelope {
        user: User::from_profile(profile, &s.config.public_url),
    }))
}

/// Registers the caller's iOS device for push notifications (`Client.Type` 1)
#[utoipa::path(post, path = "/user/register/ios", tag = "Service management (User)", request_body = DeviceBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn register_ios(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    IgrantJson(b): IgrantJson<DeviceBody>,
) -> Result<Json<UserEnvelope>, IgrantError> {
    register(&s, &a, b, 1).await
}

/// Registers the caller's Android device for push notifications (`Client.Type` 2)
#[utoipa::path(post, path = "/user/register/android", tag = "Service management (User)", request_body = DeviceBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn register_android(
    State(s): State<Arc<Services>>,
    Caller(a): Caller,
    IgrantJson(b): IgrantJson<DeviceBody>,
) -> Result<Json<UserEnvelope>, IgrantError> {
    register(&s, &a, b, 2).await
}
