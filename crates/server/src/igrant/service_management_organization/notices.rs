//! The v2.1.2 document's notices: an organisation tells all its subscribers of a personal
//! data breach (GDPR Art. 34) or of an event (docs/webhooks.md, "Notices").

use super::*;
use crate::services::notices::BreachNotice;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(notify_data_breach))
        .routes(routes!(notify_events))
}

#[derive(Deserialize, ToSchema)]
pub struct BreachBody {
    headline: String,
    userscount: Option<i64>,
    dpoemail: String,
    consequence: String,
    measures: String,
}

#[derive(Serialize, ToSchema)]
pub struct NoticeReply {
    #[serde(rename = "Msg")]
    msg: &'static str,
    /// How many subscribers were told.
    #[serde(rename = "NotifiedUsers")]
    notified_users: usize,
}

/// Notifies all subscribers of a personal data breach: a notification, a mail to each proven
/// address, an `org.data_breach` event (Admin, Dpo)
#[utoipa::path(post, path = "/organizations/{orgID}/notify-data-breach", tag = "Service management (Organization)",
    params(("orgID" = String, Path)), request_body = BreachBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = NoticeReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn notify_data_breach(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<BreachBody>,
) -> Result<(StatusCode, Json<NoticeReply>), IgrantError> {
    let notice = BreachNotice {
        headline: &b.headline,
        users_count: b.userscount,
        dpo_email: &b.dpoemail,
        consequence: &b.consequence,
        measures: &b.measures,
    };
    let n = s.notify_data_breach(&a, org.parse()?, &notice).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(NoticeReply {
            msg: "Data breach notification sent to the subscribers",
            notified_users: n,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct EventBody {
    details: String,
}

/// Notifies all subscribers of an event: a notification, a mail to each proven address, an
/// `org.event` event (Admin, Dpo)
#[utoipa::path(post, path = "/organizations/{orgID}/notify-events", tag = "Service management (Organization)",
    params(("orgID" = String, Path)), request_body = EventBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = NoticeReply), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn notify_events(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<EventBody>,
) -> Result<(StatusCode, Json<NoticeReply>), IgrantError> {
    let n = s.notify_event(&a, org.parse()?, &b.details).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(NoticeReply {
            msg: "Event notification sent to the subscribers",
            notified_users: n,
        }),
    ))
}
