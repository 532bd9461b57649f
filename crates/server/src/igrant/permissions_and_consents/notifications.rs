//! Beyond the spec: an organisation asks for consent; an individual's notifications.

use super::*;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(request_consent))
        .routes(routes!(list_notifications))
        .routes(routes!(mark_notification_read))
}

#[derive(Deserialize, ToSchema)]
pub struct ConsentRequestBody {
    /// The attributes to ask about; none (or absent): every attribute of the purpose.
    #[serde(default)]
    attributeids: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentRequestReply {
    #[serde(rename = "Msg")]
    msg: &'static str,
    /// How many subscribers were asked (those for whom an attribute reads Disallow).
    #[serde(rename = "NotifiedUsers")]
    notified_users: usize,
}

/// Notify consent requests: every subscriber for whom one of the attributes reads Disallow
/// gets a notification (and a push); one `consent.requested` event (Admin)
#[utoipa::path(post, path = "/organizations/{orgID}/purposes/{purposeID}/attributes/consent", tag = "Permissions and consents",
    params(("orgID" = String, Path), ("purposeID" = String, Path)), request_body = ConsentRequestBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = ConsentRequestReply), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn request_consent(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, purpose)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<ConsentRequestBody>,
) -> Result<(StatusCode, Json<ConsentRequestReply>), IgrantError> {
    let n = s
        .request_consent(&a, org.parse()?, &purpose, &b.attributeids)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ConsentRequestReply {
            msg: "Consent requested",
            notified_users: n,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Notification {
    #[serde(rename = "ID")]
    id: String,
    /// `consent.requested`, or an organisation's offer: `org.subscription_offered`,
    /// `org.role_offered` (accepted or declined at `/v1/user/offers`)
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "PurposeID")]
    purpose_id: String,
    #[serde(rename = "AttributeIDs")]
    attribute_ids: Vec<String>,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
    #[serde(rename = "Read")]
    read: bool,
}

fn notification(n: accord_domain::webhook::Notification) -> Notification {
    Notification {
        id: n.id.to_string(),
        kind: n.kind,
        org_id: n.organization_id.to_string(),
        purpose_id: n.purpose_id.map(|p| p.to_string()).unwrap_or_default(),
        attribute_ids: n.attribute_ids.iter().map(ToString::to_string).collect(),
        message: n.message,
        timestamp: rfc3339(n.created_at),
        read: n.read_at.is_some(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Notifications {
    #[serde(rename = "Notifications")]
    notifications: Vec<Notification>,
    #[serde(rename = "Links")]
    links: Links,
}

/// The caller's notifications, newest first
#[utoipa::path(get, path = "/user/notifications", tag = "Permissions and consents", params(PageQuery),
    security(("bearer" = []), ("apikey" = [])), responses((status = 200, body = Notifications), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_notifications(
    State(s): Svc,
    Caller(a): Caller,
    IgrantQuery(q): IgrantQuery<PageQuery>,
) -> Result<Json<Notifications>, IgrantError> {
    let page = s
        .my_notifications(&a, q.limit, q.startid.as_deref())
        .await?;
    let base = format!(
        "{}/v1/user/notifications?limit={}",
        s.config.public_url,
        q.limit.unwrap_or(PAGE_DEFAULT)
    );
    let links = Links::keyset(&base, q.startid.as_deref(), page.next_start);
    Ok(Json(Notifications {
        notifications: page.notifications.into_iter().map(notification).collect(),
        links,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct MarkReadBody {
    /// Only `true` is meaningful: a notification once read stays read.
    #[serde(default = "yes")]
    #[allow(dead_code)]
    read: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, ToSchema)]
pub struct NotificationEnvelope {
    #[serde(rename = "Notification")]
    notification: Notification,
}

/// Mark one of the caller's notifications read
#[utoipa::path(patch, path = "/user/notifications/{notificationID}", tag = "Permissions and consents", params(("notificationID" = String, Path)),
    request_body = MarkReadBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = NotificationEnvelope), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn mark_notification_read(
    State(s): Svc,
    Caller(a): Caller,
    Path(id): Path<String>,
    IgrantJson(_b): IgrantJson<MarkReadBody>,
) -> Result<Json<NotificationEnvelope>, IgrantError> {
    Ok(Json(NotificationEnvelope {
        notification: notification(s.mark_notification_read(&a, id.parse()?).await?),
    }))
}
