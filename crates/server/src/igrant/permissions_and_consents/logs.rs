//! Beyond the spec: an organisation's action log.

use super::*;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new().routes(routes!(organization_logs))
}

#[derive(Serialize, ToSchema)]
pub struct ActionLog {
    #[serde(rename = "ID")]
    id: String,
    /// `admin_login`, `configuration`, `consented_users`, `user_count` or `webhook_delivery`.
    #[serde(rename = "Type")]
    kind: String,
    /// Who did it (empty for Accord itself).
    #[serde(rename = "ActorID")]
    actor_id: String,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActionLogs {
    #[serde(rename = "Logs")]
    logs: Vec<ActionLog>,
    #[serde(rename = "Links")]
    links: Links,
}

/// The organisation's action log, newest first (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/logs", tag = "Permissions and consents", params(("orgID" = String, Path), PageQuery),
    security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ActionLogs), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_logs(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<ActionLogs>, IgrantError> {
    let page = s
        .organization_logs(&a, org.parse()?, q.limit, q.startid.as_deref())
        .await?;
    let base = format!(
        "{}/v1/organizations/{org}/logs?limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    let logs = page
        .logs
        .into_iter()
        .map(|l| ActionLog {
            id: l.id,
            kind: l.kind,
            actor_id: l.actor_id,
            message: l.message,
            timestamp: rfc3339(l.created_at),
        })
        .collect();
    Ok(Json(ActionLogs { logs, links }))
}
