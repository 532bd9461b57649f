//! Spec section "Service management (Organization)": organisations, their types, role
//! holders, subscription settings, subscribed users, purposes and data attributes.
//! Images are in `images.rs`. Endpoints the spec lacks (type writes, role-holder adds,
//! purposes and templates) follow iGrant.io's own server; see docs/igrant.md.

mod notices;
mod purposes;
pub(crate) use purposes::PurposeVersionBody;
mod search;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, IgrantQuery};
use super::wire::{
    Links, Msg, Organization, OrganizationEnvelope, OrganizationType, Purpose, Template, User,
    UserEnvelope,
};
use crate::services::organizations::{NewOrganization, OrganizationPatch, RoleChange};
use crate::services::purposes::{PurposeInput, TemplateInput};
use crate::services::subscribers::Subscription;
use crate::services::Services;
use accord_domain::identity::OrgRole;
use accord_domain::organization::{LawfulBasis, SubscribeMethod};

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(register_organization))
        .routes(routes!(org_roles))
        .routes(routes!(subscribe_methods))
        .routes(routes!(list_types, create_type))
        .routes(routes!(get_type, update_type, delete_type))
        .routes(routes!(get_organization, update_organization))
        .routes(routes!(set_eula_url, delete_eula_url))
        .routes(routes!(get_subscribe_key))
        .routes(routes!(renew_subscribe_key))
        .routes(routes!(get_subscribe_method, set_subscribe_method))
        .routes(routes!(get_subscription))
        .routes(routes!(enable_subscription))
        .routes(routes!(disable_subscription))
        .routes(routes!(list_admins, add_admin, remove_admin))
        .routes(routes!(list_users, add_user))
        .routes(routes!(count_users))
        .routes(routes!(remove_user))
        .routes(routes!(add_anonymous_user))
        .merge(purposes::router())
        .merge(notices::router())
        .merge(search::router())
}

type Svc = State<Arc<Services>>;
type Reply<T> = Result<Json<T>, IgrantError>;

fn envelope(
    services: &Services,
    view: crate::services::organizations::OrganizationView,
) -> OrganizationEnvelope {
    OrganizationEnvelope {
        organization: Organization::new(view, &services.config.public_url),
    }
}

// ---- reference data ----

#[derive(Serialize, ToSchema)]
pub struct Role {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Role")]
    role: &'static str,
}

/// Get org user roles
#[utoipa::path(get, path = "/organizations/roles", tag = "Service management (Organization)",
    responses((status = 200, body = [Role])))]
async fn org_roles() -> Json<Vec<Role>> {
    Json(
        OrgRole::ALL
            .into_iter()
            .map(|r| Role {
                id: r.id(),
                role: r.name(),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct Method {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Method")]
    method: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Methods {
    #[serde(rename = "Methods")]
    methods: Vec<Method>,
}

fn method(m: SubscribeMethod) -> Method {
    Method {
        id: m.id(),
        method: m.name(),
    }
}

/// Get subscription methods
#[utoipa::path(get, path = "/organizations/subscribe-methods", tag = "Service management (Organization)",
    responses((status = 200, body = Methods)))]
async fn subscribe_methods() -> Json<Methods> {
    Json(Methods {
        methods: SubscribeMethod::ALL.into_iter().map(method).collect(),
    })
}

// ---- organisation types ----

#[derive(Deserialize, ToSchema)]
pub struct TypeBody {
    #[serde(rename = "type")]
    r#type: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationTypes {
    #[serde(rename = "OrganizationTypes")]
    types: Vec<OrganizationType>,
}

/// List organisation types
#[utoipa::path(get, path = "/organizations/types", tag = "Service management (Organization)",
    responses((status = 200, body = OrganizationTypes)))]
async fn list_types(State(s): Svc) -> Reply<OrganizationTypes> {
    let types = s.organization_types().await?;
    Ok(Json(OrganizationTypes {
        types: types
            .into_iter()
            .map(|t| OrganizationType::new(t, &s.config.public_url))
            .collect(),
    }))
}

/// Create an organisation type (platform admins)
#[utoipa::path(post, path = "/organizations/types", tag = "Service management (Organization)", request_body = TypeBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 201, body = OrganizationType), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_type(
    State(s): Svc,
    Caller(a): Caller,
    IgrantJson(b): IgrantJson<TypeBody>,
) -> Result<(StatusCode, Json<OrganizationType>), IgrantError> {
    let t = s.create_organization_type(&a, &b.r#type).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrganizationType::new(t, &s.config.public_url)),
    ))
}

/// Gets organization type
#[utoipa::path(get, path = "/organizations/types/{typeID}", tag = "Service management (Organization)",
    params(("typeID" = String, Path)), responses((status = 200, body = OrganizationType), (status = 404, body = ErrorBody)))]
async fn get_type(State(s): Svc, Path(id): Path<String>) -> Reply<OrganizationType> {
    Ok(Json(OrganizationType::new(
        s.organization_type(id.parse()?).await?,
        &s.config.public_url,
    )))
}

/// Rename an organisation type (platform admins)
#[utoipa::path(patch, path = "/organizations/types/{typeID}", tag = "Service management (Organization)", request_body = TypeBody,
    params(("typeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationType), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_type(
    State(s): Svc,
    Caller(a): Caller,
    Path(id): Path<String>,
    IgrantJson(b): IgrantJson<TypeBody>,
) -> Reply<OrganizationType> {
    Ok(Json(OrganizationType::new(
        s.rename_organization_type(&a, id.parse()?, &b.r#type)
            .await?,
        &s.config.public_url,
    )))
}

/// Delete an organisation type no organisation uses (platform admins)
#[utoipa::path(delete, path = "/organizations/types/{typeID}", tag = "Service management (Organization)",
    params(("typeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "In use", body = ErrorBody)))]
async fn delete_type(
    State(s): Svc,
    Caller(a): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, IgrantError> {
    s.delete_organization_type(&a, id.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- organisations ----

#[derive(Deserialize, ToSchema)]
pub struct NewOrganizationBody {
    name: String,
    #[serde(default)]
    location: String,
    typeid: String,
    #[serde(default)]
    description: String,
    eulaurl: Option<String>,
    #[serde(default)]
    hlcsupport: bool,
}

/// Register an organisation; the caller becomes its Admin
#[utoipa::path(post, path = "/organizations", tag = "Service management (Organization)", request_body = NewOrganizationBody,
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 201, description = "Returns created organisation", body = Organization), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn register_organization(
    State(s): Svc,
    Caller(a): Caller,
    IgrantJson(b): IgrantJson<NewOrganizationBody>,
) -> Result<(StatusCode, Json<Organization>), IgrantError> {
    let input = NewOrganization {
        name: &b.name,
        location: &b.location,
        type_id: &b.typeid,
        description: &b.description,
        eula_url: b.eulaurl.as_deref(),
        hlc_support: b.hlcsupport,
    };
    let view = s.create_organization(&a, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(Organization::new(view, &s.config.public_url)),
    ))
}

/// Get organization
#[utoipa::path(get, path = "/organizations/{organizationID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_organization(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<OrganizationEnvelope> {
    let view = s.organization(&a, org.parse()?).await?;
    Ok(Json(envelope(&s, view)))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateOrganizationBody {
    name: Option<String>,
    location: Option<String>,
    description: Option<String>,
    policyurl: Option<String>,
    /// Beyond the spec: `{"RetentionPeriod": <seconds>, "Enabled": <bool>}`.
    dataretention: Option<RetentionBody>,
    /// Beyond the spec: `{"ReleaseAtOnce": <bool>}` (docs/data-rights.md).
    dataexport: Option<DataExportBody>,
}

#[derive(Deserialize, ToSchema)]
pub struct DataExportBody {
    releaseatonce: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct RetentionBody {
    retentionperiod: i64,
    enabled: bool,
}

/// Updates an organization (Admin)
#[utoipa::path(patch, path = "/organizations/{organizationID}", tag = "Service management (Organization)", request_body = UpdateOrganizationBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = OrganizationEnvelope), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_organization(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<UpdateOrganizationBody>,
) -> Result<(StatusCode, Json<OrganizationEnvelope>), IgrantError> {
    let patch = OrganizationPatch {
        name: b.name.as_deref(),
        location: b.location.as_deref(),
        description: b.description.as_deref(),
        policy_url: b.policyurl.as_deref(),
        data_retention: b.dataretention.map(|r| (r.retentionperiod, r.enabled)),
        data_export_at_once: b.dataexport.map(|d| d.releaseatonce),
    };
    let view = s.update_organization(&a, org.parse()?, patch).await?;
    Ok((StatusCode::ACCEPTED, Json(envelope(&s, view))))
}

#[derive(Deserialize, ToSchema)]
pub struct EulaBody {
    eulaurl: String,
}

/// Update EULA URL (Admin; http(s) only)
#[utoipa::path(post, path = "/organizations/{organizationID}/eulaURL", tag = "Service management (Organization)", request_body = EulaBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = OrganizationEnvelope), (status = 400, description = "Invalid EULA URL provided", body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_eula_url(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<EulaBody>,
) -> Result<(StatusCode, Json<OrganizationEnvelope>), IgrantError> {
    let view = s.set_eula_url(&a, org.parse()?, Some(&b.eulaurl)).await?;
    Ok((StatusCode::ACCEPTED, Json(envelope(&s, view))))
}

/// Delete an organization EULA url (Admin)
#[utoipa::path(delete, path = "/organizations/{organizationID}/eulaURL", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = OrganizationEnvelope), (status = 403, body = ErrorBody)))]
async fn delete_eula_url(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<(StatusCode, Json<OrganizationEnvelope>), IgrantError> {
    let view = s.set_eula_url(&a, org.parse()?, None).await?;
    Ok((StatusCode::ACCEPTED, Json(envelope(&s, view))))
}

// ---- subscription settings ----

#[derive(Serialize, ToSchema)]
pub struct SubscribeKey {
    #[serde(rename = "SubscribeKey")]
    key: String,
    #[serde(rename = "SubscribeMethod")]
    method: &'static str,
}

/// Get subscription key (Admin, Developer)
#[utoipa::path(get, path = "/organizations/{organizationID}/subscribe-key", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = SubscribeKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_subscribe_key(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<SubscribeKey> {
    let (key, m) = s.subscribe_key(&a, org.parse()?).await?;
    Ok(Json(SubscribeKey {
        key,
        method: m.name(),
    }))
}

/// Renew the subscription key (Admin; 400 unless key-based)
#[utoipa::path(post, path = "/organizations/{organizationID}/subscribe-key/renew", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = SubscribeKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn renew_subscribe_key(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<SubscribeKey> {
    let (key, m) = s.renew_subscribe_key(&a, org.parse()?).await?;
    Ok(Json(SubscribeKey {
        key,
        method: m.name(),
    }))
}

/// Get subscription method
#[utoipa::path(get, path = "/organizations/{organizationID}/subscribe-method", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Method), (status = 403, body = ErrorBody)))]
async fn get_subscribe_method(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<Method> {
    Ok(Json(method(s.subscribe_method(&a, org.parse()?).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct SubscribeMethodBody {
    subscribemethodid: i64,
}

/// Set subscription method (Admin): key-based creates a key, the others clear it
#[utoipa::path(post, path = "/organizations/{organizationID}/subscribe-method", tag = "Service management (Organization)", request_body = SubscribeMethodBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set_subscribe_method(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<SubscribeMethodBody>,
) -> Result<StatusCode, IgrantError> {
    s.set_subscribe_method(&a, org.parse()?, b.subscribemethodid)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionStatus {
    #[serde(rename = "Enabled")]
    enabled: bool,
}

/// Get subscription status
#[utoipa::path(get, path = "/organizations/{organizationID}/subscription", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = SubscriptionStatus), (status = 403, body = ErrorBody)))]
async fn get_subscription(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<SubscriptionStatus> {
    Ok(Json(SubscriptionStatus {
        enabled: s.subscription_enabled(&a, org.parse()?).await?,
    }))
}

/// Enable organization for subscription (Admin or platform admin)
#[utoipa::path(post, path = "/organizations/{organizationID}/subscription/enable", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 403, body = ErrorBody)))]
async fn enable_subscription(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<OrganizationEnvelope> {
    let view = s.set_subscription_enabled(&a, org.parse()?, true).await?;
    Ok(Json(envelope(&s, view)))
}

/// Disable organization for subscription (Admin or platform admin)
#[utoipa::path(post, path = "/organizations/{organizationID}/subscription/disable", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 403, body = ErrorBody)))]
async fn disable_subscription(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<OrganizationEnvelope> {
    let view = s.set_subscription_enabled(&a, org.parse()?, false).await?;
    Ok(Json(envelope(&s, view)))
}

// ---- role holders ----

#[derive(Serialize, ToSchema)]
pub struct Admins {
    #[serde(rename = "Admins")]
    admins: Vec<super::wire::Admin>,
}

/// List the role holders (Admin, Dpo, Developer)
#[utoipa::path(get, path = "/organizations/{organizationID}/admins", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Admins), (status = 403, body = ErrorBody)))]
async fn list_admins(State(s): Svc, Caller(a): Caller, Path(org): Path<String>) -> Reply<Admins> {
    let holders = s.organization_admins(&a, org.parse()?).await?;
    Ok(Json(Admins {
        admins: holders
            .into_iter()
            .map(|(u, r)| super::wire::Admin {
                user_id: u.to_string(),
                role_id: r.id(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct AddAdminBody {
    userid: String,
    roleid: i64,
}

/// Add a role holder (Admin). The organisation's own people (homed in it) and the caller
/// get the role at once (200); anyone else is offered it and holds it once they accept
/// (202, the organisation as it stands; `/v1/user/offers`)
#[utoipa::path(post, path = "/organizations/{organizationID}/admins", tag = "Service management (Organization)", request_body = AddAdminBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, description = "The role is held", body = OrganizationEnvelope),
        (status = 202, description = "The person was offered the role (or no one has the ID)", body = OrganizationEnvelope),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_admin(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<AddAdminBody>,
) -> Result<(StatusCode, Json<OrganizationEnvelope>), IgrantError> {
    Ok(
        match s
            .add_organization_admin(&a, org.parse()?, &b.userid, b.roleid)
            .await?
        {
            RoleChange::Granted(view) => (StatusCode::OK, Json(envelope(&s, view))),
            RoleChange::Offered(view) => (StatusCode::ACCEPTED, Json(envelope(&s, view))),
        },
    )
}

#[derive(Deserialize, ToSchema)]
pub struct RemoveAdminBody {
    userid: String,
}

/// Delete admin user: removes every role of the user (Admin; never the last Admin)
#[utoipa::path(delete, path = "/organizations/{organizationID}/admins", tag = "Service management (Organization)", request_body = RemoveAdminBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrganizationEnvelope), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn remove_admin(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<RemoveAdminBody>,
) -> Reply<OrganizationEnvelope> {
    let view = s
        .remove_organization_admin(&a, org.parse()?, &b.userid)
        .await?;
    Ok(Json(envelope(&s, view)))
}

// ---- subscribed users ----

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size: default 50, at most 500.
    limit: Option<i64>,
    /// The last user ID of the previous page (users are listed in ascending ID order).
    startid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrgUser {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Phone")]
    phone: String,
    #[serde(rename = "Email")]
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrgUsers {
    #[serde(rename = "Users")]
    users: Vec<OrgUser>,
    #[serde(rename = "Links")]
    links: Links,
}

/// Get subscribed users (Admin, Dpo), keyset-paginated
#[utoipa::path(get, path = "/organizations/{organizationID}/users", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), PageQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrgUsers), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Reply<OrgUsers> {
    let page = s
        .organization_users(&a, org.parse()?, q.limit, q.startid.as_deref())
        .await?;
    let limit = q.limit.unwrap_or(crate::services::paging::PAGE_DEFAULT);
    let base = format!(
        "{}/v1/organizations/{org}/users?limit={limit}",
        s.config.public_url
    );
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    let users = page
        .users
        .into_iter()
        .map(|u| OrgUser {
            id: u.id.to_string(),
            name: u.name,
            phone: u.phone,
            email: u.email.map(|e| e.as_str().to_owned()).unwrap_or_default(),
        })
        .collect();
    Ok(Json(OrgUsers { users, links }))
}

#[derive(Deserialize, ToSchema)]
pub struct AddUserBody {
    /// The user to subscribe; the caller when absent.
    userid: Option<String>,
    /// Needed by individuals subscribing to a key-based organisation.
    subscribekey: Option<String>,
}

/// Add user to organization: an individual subscribes, or an Admin adds a user. The
/// organisation's own people (anonymous users it created, users homed in it) are subscribed
/// at once (200); anyone else is offered the subscription (202 `{"Msg"}`, telling nothing
/// about the person, also when no one has the ID)
#[utoipa::path(post, path = "/organizations/{organizationID}/users", tag = "Service management (Organization)", request_body = AddUserBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses(
        (status = 200, body = UserEnvelope),
        (status = 202, description = "The person was offered the subscription", body = Msg),
        (status = 400, description = "Invalid subscription key, malformed user ID, or subscriptions closed", body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn add_user(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<AddUserBody>,
) -> Result<Response, IgrantError> {
    Ok(
        match s
            .subscribe_user(
                &a,
                org.parse()?,
                b.userid.as_deref(),
                b.subscribekey.as_deref(),
            )
            .await?
        {
            Subscription::Subscribed(profile) => Json(UserEnvelope {
                user: User::from_profile(*profile, &s.config.public_url),
            })
            .into_response(),
            Subscription::Offered => (
                StatusCode::ACCEPTED,
                Json(Msg::new(
                    "the person is asked to subscribe; they are subscribed once they accept",
                )),
            )
                .into_response(),
        },
    )
}

#[derive(Serialize, ToSchema)]
pub struct UserCount {
    #[serde(rename = "SubscribeUserCount")]
    count: i64,
}

/// Get total subscribed users (Admin, Dpo, Developer)
#[utoipa::path(get, path = "/organizations/{organizationID}/users/count", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = UserCount), (status = 403, body = ErrorBody)))]
async fn count_users(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<UserCount> {
    Ok(Json(UserCount {
        count: s.organization_user_count(&a, org.parse()?).await?,
    }))
}

/// Unsubscribe a user: the user themselves, or an Admin
#[utoipa::path(delete, path = "/organizations/{organizationID}/users/{userID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("userID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove_user(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, user)): Path<(String, String)>,
) -> Result<StatusCode, IgrantError> {
    s.unsubscribe_user(&a, org.parse()?, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add anonymous user (Admin): no email, no password; its APIKey is in the answer
#[utoipa::path(post, path = "/organizations/{organizationID}/users/anonymous", tag = "Service management (User)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 201, body = User), (status = 403, body = ErrorBody)))]
async fn add_anonymous_user(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<(StatusCode, Json<User>), IgrantError> {
    let profile = s.create_anonymous_user(&a, org.parse()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(User::from_profile(profile, &s.config.public_url)),
    ))
}
