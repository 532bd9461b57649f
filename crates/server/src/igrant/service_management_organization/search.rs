//! `GET /v1/organizations/search` (the v2.1.2 document): a person looks for an
//! organisation to subscribe to by its name.

use super::*;
use accord_domain::organization::FoundOrganization;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new().routes(routes!(search_organizations))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Part of the organisation's name, any case.
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FoundOrganizationBody {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Location")]
    location: String,
    /// The organisation type's name.
    #[serde(rename = "Type")]
    type_name: String,
    /// Whether the caller subscribes to it.
    #[serde(rename = "Subscribed")]
    subscribed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SearchReply {
    #[serde(rename = "Organizations")]
    organizations: Vec<FoundOrganizationBody>,
}

impl From<FoundOrganization> for FoundOrganizationBody {
    fn from(f: FoundOrganization) -> Self {
        Self {
            id: f.organization.id.to_string(),
            name: f.organization.name,
            location: f.organization.location,
            type_name: f.type_name,
            subscribed: f.subscribed,
        }
    }
}

/// Search organisations open for subscriptions by name (any signed-in caller; at most 50, by name)
#[utoipa::path(get, path = "/organizations/search", tag = "Service management (Organization)",
    params(SearchParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = SearchReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn search_organizations(
    State(s): Svc,
    Caller(a): Caller,
    IgrantQuery(q): IgrantQuery<SearchParams>,
) -> Result<Json<SearchReply>, IgrantError> {
    let found = s
        .search_organizations(&a, q.name.as_deref().unwrap_or(""))
        .await?;
    Ok(Json(SearchReply {
        organizations: found.into_iter().map(Into::into).collect(),
    }))
}
