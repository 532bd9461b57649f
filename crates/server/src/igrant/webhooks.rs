//! Webhooks (beyond the spec; iGrant.io's own server had them): an organisation's
//! subscriptions to events, their deliveries, pings and redeliveries. docs/webhooks.md.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ErrorBody, IgrantError};
use super::extract::{Caller, IgrantJson, IgrantQuery};
use super::wire::rfc3339;
use crate::services::webhooks::WebhookInput;
use crate::services::Services;
use accord_domain::webhook::{Delivery as DomainDelivery, EventType, Webhook as DomainWebhook};

pub fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(event_types))
        .routes(routes!(payload_content_types))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, replace_webhook, delete_webhook))
        .routes(routes!(ping_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

type Svc = State<Arc<Services>>;

#[derive(Serialize, ToSchema)]
pub struct Webhook {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "PayloadURL")]
    payload_url: String,
    #[serde(rename = "SubscribedEvents")]
    subscribed_events: Vec<&'static str>,
    #[serde(rename = "ContentType")]
    content_type: String,
    #[serde(rename = "Disabled")]
    disabled: bool,
    /// Shown only when the webhook is created (or given a new key); empty otherwise.
    #[serde(rename = "SecretKey")]
    secret_key: String,
    #[serde(rename = "SkipSSLVerification")]
    skip_ssl_verification: bool,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

fn webhook(w: DomainWebhook, show_secret: bool) -> Webhook {
    Webhook {
        id: w.id.to_string(),
        org_id: w.organization_id.to_string(),
        payload_url: w.payload_url,
        subscribed_events: w.events.iter().map(|e| e.as_str()).collect(),
        content_type: w.content_type,
        disabled: w.disabled,
        secret_key: if show_secret {
            w.secret_key
        } else {
            String::new()
        },
        skip_ssl_verification: w.skip_ssl_verification,
        timestamp: rfc3339(w.created_at),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookBody {
    payloadurl: String,
    subscribedevents: Vec<String>,
    #[serde(default)]
    contenttype: String,
    /// The HMAC key for `X-Accord-Signature`; generated when absent.
    secretkey: Option<String>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    skipsslverification: bool,
}

impl From<WebhookBody> for WebhookInput {
    fn from(b: WebhookBody) -> Self {
        WebhookInput {
            payload_url: b.payloadurl,
            events: b.subscribedevents,
            content_type: b.contenttype,
            secret_key: b.secretkey,
            disabled: b.disabled,
            skip_ssl_verification: b.skipsslverification,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventTypes {
    #[serde(rename = "EventTypes")]
    event_types: Vec<&'static str>,
}

/// The event types a webhook may subscribe to
#[utoipa::path(get, path = "/organizations/webhooks/event-types", tag = "Webhooks", responses((status = 200, body = EventTypes)))]
async fn event_types() -> Json<EventTypes> {
    Json(EventTypes {
        event_types: EventType::ALL.iter().map(|e| e.as_str()).collect(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct ContentTypes {
    #[serde(rename = "ContentTypes")]
    content_types: [&'static str; 1],
}

/// The payload content types a webhook may have: JSON only (the body Accord signs and sends)
#[utoipa::path(get, path = "/organizations/webhooks/payload/content-types", tag = "Webhooks", responses((status = 200, body = ContentTypes)))]
async fn payload_content_types() -> Json<ContentTypes> {
    Json(ContentTypes {
        content_types: ["application/json"],
    })
}

#[derive(Serialize, ToSchema)]
pub struct Webhooks {
    #[serde(rename = "Webhooks")]
    webhooks: Vec<Webhook>,
}

/// List the organisation's webhooks (Admin)
#[utoipa::path(get, path = "/organizations/{orgID}/webhooks", tag = "Webhooks", params(("orgID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])), responses((status = 200, body = Webhooks), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_webhooks(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<Webhooks>, IgrantError> {
    Ok(Json(Webhooks {
        webhooks: s
            .webhooks(&a, org.parse()?)
            .await?
            .into_iter()
            .map(|w| webhook(w, false))
            .collect(),
    }))
}

/// Create a webhook (Admin); the answer carries its secret key, this once
#[utoipa::path(post, path = "/organizations/{orgID}/webhooks", tag = "Webhooks", params(("orgID" = String, Path)), request_body = WebhookBody,
    security(("bearer" = []), ("apikey" = [])), responses((status = 201, body = Webhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_webhook(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<WebhookBody>,
) -> Result<(StatusCode, Json<Webhook>), IgrantError> {
    Ok((
        StatusCode::CREATED,
        Json(webhook(
            s.create_webhook(&a, org.parse()?, b.into()).await?,
            true,
        )),
    ))
}

/// Get a webhook (Admin)
#[utoipa::path(get, path = "/organizations/{orgID}/webhooks/{webhookID}", tag = "Webhooks", params(("orgID" = String, Path), ("webhookID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])), responses((status = 200, body = Webhook), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_webhook(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<Webhook>, IgrantError> {
    Ok(Json(webhook(
        s.webhook(&a, org.parse()?, id.parse()?).await?,
        false,
    )))
}

/// Replace a webhook's settings (Admin); without SecretKey the key stays
#[utoipa::path(put, path = "/organizations/{orgID}/webhooks/{webhookID}", tag = "Webhooks", params(("orgID" = String, Path), ("webhookID" = String, Path)),
    request_body = WebhookBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replace_webhook(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<WebhookBody>,
) -> Result<Json<Webhook>, IgrantError> {
    let new_key = b.secretkey.as_deref().is_some_and(|k| !k.is_empty());
    Ok(Json(webhook(
        s.replace_webhook(&a, org.parse()?, id.parse()?, b.into())
            .await?,
        new_key,
    )))
}

/// Delete a webhook and its deliveries (Admin)
#[utoipa::path(delete, path = "/organizations/{orgID}/webhooks/{webhookID}", tag = "Webhooks", params(("orgID" = String, Path), ("webhookID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, IgrantError> {
    s.delete_webhook(&a, org.parse()?, id.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "WebhookID")]
    webhook_id: String,
    #[serde(rename = "EventType")]
    event_type: String,
    /// `pending`, `delivered` or `failed` (given up after 8 attempts).
    #[serde(rename = "Status")]
    status: &'static str,
    #[serde(rename = "Attempts")]
    attempts: i64,
    #[serde(rename = "LastStatusCode")]
    last_status_code: Option<i64>,
    #[serde(rename = "LastError")]
    last_error: String,
    #[serde(rename = "NextAttemptAt")]
    next_attempt_at: String,
    #[serde(rename = "CreatedAt")]
    created_at: String,
    #[serde(rename = "DeliveredAt")]
    delivered_at: String,
    /// The exact body sent: `{"webhookID","timestamp","data","type"}`.
    #[serde(rename = "Payload")]
    payload: String,
}

fn delivery(d: DomainDelivery) -> Delivery {
    Delivery {
        id: d.id.to_string(),
        webhook_id: d.webhook_id.to_string(),
        event_type: d.event_type,
        status: d.status.as_str(),
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        next_attempt_at: rfc3339(d.next_attempt_at),
        created_at: rfc3339(d.created_at),
        delivered_at: d.delivered_at.map(rfc3339).unwrap_or_default(),
        payload: d.body,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryEnvelope {
    #[serde(rename = "Delivery")]
    delivery: Delivery,
}

/// Send a ping event now (Admin); answers the attempt's outcome
#[utoipa::path(post, path = "/organizations/{orgID}/webhooks/{webhookID}/ping", tag = "Webhooks", params(("orgID" = String, Path), ("webhookID" = String, Path)),
    security(("bearer" = []), ("apikey" = [])), responses((status = 200, body = DeliveryEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn ping_webhook(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<DeliveryEnvelope>, IgrantError> {
    Ok(Json(DeliveryEnvelope {
        delivery: delivery(s.ping_webhook(&a, org.parse()?, id.parse()?).await?),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    limit: Option<i64>,
    /// The last delivery ID of the previous page (newest first).
    startid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Deliveries {
    #[serde(rename = "Deliveries")]
    deliveries: Vec<Delivery>,
}

/// A webhook's deliveries, newest first (Admin)
#[utoipa::path(get, path = "/organizations/{orgID}/webhooks/{webhookID}/delivery", tag = "Webhooks",
    params(("orgID" = String, Path), ("webhookID" = String, Path), DeliveryQuery), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Deliveries), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_deliveries(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantQuery(q): IgrantQuery<DeliveryQuery>,
) -> Result<Json<Deliveries>, IgrantError> {
    let list = s
        .webhook_deliveries(&a, org.parse()?, id.parse()?, q.limit, q.startid.as_deref())
        .await?;
    Ok(Json(Deliveries {
        deliveries: list.into_iter().map(delivery).collect(),
    }))
}

/// One delivery (Admin)
#[utoipa::path(get, path = "/organizations/{orgID}/webhooks/{webhookID}/delivery/{deliveryID}", tag = "Webhooks",
    params(("orgID" = String, Path), ("webhookID" = String, Path), ("deliveryID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = DeliveryEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_delivery(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id, d)): Path<(String, String, String)>,
) -> Result<Json<DeliveryEnvelope>, IgrantError> {
    Ok(Json(DeliveryEnvelope {
        delivery: delivery(
            s.webhook_delivery(&a, org.parse()?, id.parse()?, d.parse()?)
                .await?,
        ),
    }))
}

/// Deliver again, now (Admin)
#[utoipa::path(post, path = "/organizations/{orgID}/webhooks/{webhookID}/delivery/{deliveryID}/redeliver", tag = "Webhooks",
    params(("orgID" = String, Path), ("webhookID" = String, Path), ("deliveryID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 202, body = DeliveryEnvelope), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn redeliver(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id, d)): Path<(String, String, String)>,
) -> Result<(StatusCode, Json<DeliveryEnvelope>), IgrantError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(DeliveryEnvelope {
            delivery: delivery(
                s.redeliver(&a, org.parse()?, id.parse()?, d.parse()?)
                    .await?,
            ),
        }),
    ))
}
