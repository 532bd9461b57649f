//! What iGrant.io's mobile SDKs call that the v2.1.6 text leaves out, as iGrant.io's
//! server answered it (docs/igrant.md, "iGrant.io's own clients"): the organisation with
//! the caller's consent record (their first call), and every consent at once.

use super::*;
use crate::services::consents::OrganizationConsents;
use crate::services::Credential;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(user_orgs_and_consents))
        .routes(routes!(users_orgs_and_consents))
        .routes(routes!(update_all_consents))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgQuery {
    /// The organisation.
    #[serde(rename = "orgID")]
    org_id: Option<String>,
}

impl OrgQuery {
    fn organization(&self) -> Result<OrganizationId, IgrantError> {
        let raw = self
            .org_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                IgrantError::new(
                    StatusCode::BAD_REQUEST,
                    "the query parameter orgID is required",
                )
            })?;
        Ok(raw.parse()?)
    }
}

/// The organisation as iGrant.io's SDKs decode it: `Type` is the type's name (a string;
/// their model classes fail on an object).
#[derive(Serialize, ToSchema)]
pub struct SdkOrganization {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    id: OrganizationId,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "CoverImageURL")]
    cover_image_url: String,
    #[serde(rename = "LogoImageURL")]
    logo_image_url: String,
    #[serde(rename = "Location")]
    location: String,
    #[serde(rename = "TypeID")]
    type_id: String,
    #[serde(rename = "Type")]
    type_name: String,
    #[serde(rename = "PolicyURL")]
    policy_url: String,
    #[serde(rename = "Description")]
    description: String,
    /// Whether the caller's record exists there: always `true` in an answer.
    #[serde(rename = "Subscribed")]
    subscribed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PurposeCount<'a> {
    #[serde(rename = "Purpose")]
    purpose: Purpose<'a>,
    #[serde(rename = "Count")]
    count: Count,
}

/// `GetUserOrgsAndConsents`: the organisation, the record's ID and each purpose's count.
#[derive(Serialize, ToSchema)]
pub struct OrgAndConsents<'a> {
    #[serde(rename = "Organization")]
    organization: SdkOrganization,
    #[serde(rename = "ConsentID")]
    #[schema(value_type = String)]
    consent_id: ConsentId,
    /// Every purpose, `[]` when there is none (the Java SDK reads the list unchecked).
    #[serde(rename = "PurposeConsents")]
    purpose_consents: Vec<PurposeCount<'a>>,
}

fn org_and_consents<'a>(
    found: &'a OrganizationConsents,
    public_url: &str,
) -> Json<OrgAndConsents<'a>> {
    let o = &found.organization;
    Json(OrgAndConsents {
        organization: SdkOrganization {
            id: o.id,
            name: o.name.clone(),
            cover_image_url: organization_image_url(public_url, o.id, o.cover_image_id),
            logo_image_url: organization_image_url(public_url, o.id, o.logo_image_id),
            location: o.location.clone(),
            type_id: o.type_id.map(|t| t.to_string()).unwrap_or_default(),
            type_name: found.type_name.clone(),
            policy_url: o.policy_url.clone(),
            description: o.description.clone(),
            subscribed: true,
        },
        consent_id: found.record.id,
        purpose_consents: found
            .record
            .purposes
            .iter()
            .map(|p| PurposeCount {
                purpose: Purpose::from(&*p.purpose),
                count: Count {
                    total: p.total,
                    consented: p.consented,
                },
            })
            .collect(),
    })
}

async fn read_org_and_consents(
    s: &Services,
    credential: &Credential,
    user: UserId,
    q: &OrgQuery,
) -> Result<Response, IgrantError> {
    let found = s
        .organization_consents(credential, q.organization()?, user)
        .await?;
    Ok(org_and_consents(&found, &s.config.public_url).into_response())
}

/// The caller's consents with an organisation, and the organisation (iGrant.io's SDKs' first call)
#[utoipa::path(get, path = "/GetUserOrgsAndConsents", tag = "Permissions and consents",
    params(OrgQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrgAndConsents), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_orgs_and_consents(
    State(s): Svc,
    Signed(a): Signed,
    IgrantQuery(q): IgrantQuery<OrgQuery>,
) -> Result<Response, IgrantError> {
    read_org_and_consents(&s, &a, a.user(), &q).await
}

/// A person's consents with an organisation, and the organisation (the individual; Admin and Dpo)
#[utoipa::path(get, path = "/users/{userID}/GetUserOrgsAndConsents", tag = "Permissions and consents",
    params(("userID" = String, Path), OrgQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = OrgAndConsents), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn users_orgs_and_consents(
    State(s): Svc,
    Signed(a): Signed,
    Path(user): Path<String>,
    IgrantQuery(q): IgrantQuery<OrgQuery>,
) -> Result<Response, IgrantError> {
    let user = user.parse().map_err(|_| consent_not_found())?;
    read_org_and_consents(&s, &a, user, &q).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllConsentsQuery {
    /// The organisation.
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    /// Allow, Disallow or AskMe (any case).
    consented: Option<String>,
}

/// Sets every attribute of every purpose of a record (no time limit); answers the record.
/// A body, if any, is ignored (iGrant.io's iOS SDK sends `{}`)
#[utoipa::path(post, path = "/UpdateAllConsents/{userID}", tag = "Permissions and consents",
    params(("userID" = String, Path), AllConsentsQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Consents), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update_all_consents(
    State(s): Svc,
    Signed(a): Signed,
    Path(user): Path<String>,
    IgrantQuery(q): IgrantQuery<AllConsentsQuery>,
) -> Result<Response, IgrantError> {
    let org = OrgQuery { org_id: q.org_id }.organization()?;
    let user = user.parse().map_err(|_| consent_not_found())?;
    let value = q.consented.as_deref().unwrap_or("");
    let record = s.set_all_consents(&a, org, user, value).await?;
    Ok(consents(&record))
}
