//! Webhooks: what an organisation subscribes to, and the delivery rules (retries with
//! exponential backoff, a bounded number of attempts).

use chrono::{DateTime, Duration, Utc};

use crate::consent::ConsentValue;
use crate::{
    AttributeId, DeliveryId, Error, NotificationId, OrganizationId, OutboxEventId, PurposeId,
    Result, WebhookId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    ConsentAllowed,
    ConsentDisallowed,
    ConsentAskMe,
    ConsentExpired,
    ConsentRequested,
    /// A new version of a purpose made a person's consent outdated: they are asked again.
    ConsentReconsentRequired,
    OrgSubscribed,
    OrgUnsubscribed,
    DataDownloadInitiated,
    DataDownloadCancelled,
    DataDownloadProcessed,
    DataDeleteInitiated,
    DataDeleteCancelled,
    DataDeleteProcessed,
    OrgDataBreach,
    OrgEvent,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        Self::ConsentAllowed,
        Self::ConsentDisallowed,
        Self::ConsentAskMe,
        Self::ConsentExpired,
        Self::ConsentRequested,
        Self::ConsentReconsentRequired,
        Self::OrgSubscribed,
        Self::OrgUnsubscribed,
        Self::DataDownloadInitiated,
        Self::DataDownloadCancelled,
        Self::DataDownloadProcessed,
        Self::DataDeleteInitiated,
        Self::DataDeleteCancelled,
        Self::DataDeleteProcessed,
        Self::OrgDataBreach,
        Self::OrgEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsentAllowed => "consent.allowed",
            Self::ConsentDisallowed => "consent.disallowed",
            Self::ConsentAskMe => "consent.askme",
            Self::ConsentExpired => "consent.expired",
            Self::ConsentRequested => "consent.requested",
            Self::ConsentReconsentRequired => "consent.reconsent_required",
            Self::OrgSubscribed => "org.subscribed",
            Self::OrgUnsubscribed => "org.unsubscribed",
            Self::DataDownloadInitiated => "data.download.initiated",
            Self::DataDownloadCancelled => "data.download.cancelled",
            Self::DataDownloadProcessed => "data.download.processed",
            Self::DataDeleteInitiated => "data.delete.initiated",
            Self::DataDeleteCancelled => "data.delete.cancelled",
            Self::DataDeleteProcessed => "data.delete.processed",
            Self::OrgDataBreach => "org.data_breach",
            Self::OrgEvent => "org.event",
        }
    }

    /// The event of a data request's step, when the step has one (an acknowledgement has
    /// none: only its opening, cancelling and answer are announced).
    pub fn for_data_request(
        kind: crate::data_request::DataRequestKind,
        state: crate::data_request::DataRequestState,
    ) -> Option<Self> {
        use crate::data_request::{DataRequestKind as K, DataRequestState as S};
        Some(match (kind, state) {
            (K::Download, S::Initiated) => Self::DataDownloadInitiated,
            (K::Download, S::CancelledByUser) => Self::DataDownloadCancelled,
            (K::Download, S::ProcessedWithAction | S::ProcessedWithoutAction) => {
                Self::DataDownloadProcessed
            }
            (K::Delete, S::Initiated) => Self::DataDeleteInitiated,
            (K::Delete, S::CancelledByUser) => Self::DataDeleteCancelled,
            (K::Delete, S::ProcessedWithAction | S::ProcessedWithoutAction) => {
                Self::DataDeleteProcessed
            }
            (_, S::Acknowledged) => return None,
        })
    }

    pub fn parse(raw: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == raw.trim())
            .ok_or_else(|| Error::invalid(format!("unknown event type {raw:?}")))
    }

    /// The event a consent change announces.
    pub fn for_consent(value: ConsentValue) -> Self {
        match value {
            ConsentValue::Allow => Self::ConsentAllowed,
            ConsentValue::Disallow => Self::ConsentDisallowed,
            ConsentValue::AskMe => Self::ConsentAskMe,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub organization_id: OrganizationId,
    pub payload_url: String,
    pub events: Vec<EventType>,
    pub content_type: String,
    /// The HMAC key of the signature header. Never logged.
    pub secret_key: String,
    pub disabled: bool,
    pub skip_ssl_verification: bool,
    pub created_at: DateTime<Utc>,
    /// Failed attempts in a row (any delivery); a success resets it.
    pub consecutive_failures: i64,
    /// An endpoint that keeps failing is left alone until then.
    pub backoff_until: Option<DateTime<Utc>>,
}

/// Failed attempts in a row after which a webhook is disabled; its Admin re-enables it.
pub const FAILURES_BEFORE_DISABLING: i64 = 25;
/// The longest an endpoint that keeps failing is left alone between attempts.
const MAX_ENDPOINT_BACKOFF_SECS: i64 = 300;

impl Webhook {
    /// After a failed attempt: the endpoint backs off (1, 2, 4 … seconds, up to 5 minutes)
    /// and is disabled at the [`FAILURES_BEFORE_DISABLING`]th failure in a row. True when
    /// this failure disabled it.
    pub fn attempt_failed(&mut self, now: DateTime<Utc>) -> bool {
        self.consecutive_failures += 1;
        let pause =
            (1i64 << (self.consecutive_failures - 1).min(16)).min(MAX_ENDPOINT_BACKOFF_SECS);
        self.backoff_until = Some(now + Duration::seconds(pause));
        let disabling = !self.disabled && self.consecutive_failures >= FAILURES_BEFORE_DISABLING;
        self.disabled |= disabling;
        disabling
    }

    pub fn attempt_succeeded(&mut self) {
        self.consecutive_failures = 0;
        self.backoff_until = None;
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("payload_url", &self.payload_url)
            .finish_non_exhaustive()
    }
}

/// An event written in the same transaction as the change it announces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: OutboxEventId,
    pub organization_id: OrganizationId,
    pub event_type: String,
    /// The event's `data`, JSON.
    pub data: String,
    pub created_at: DateTime<Utc>,
    /// The trace of the change it announces: its deliveries continue it.
    pub trace: Option<TraceParent>,
}

/// A W3C `traceparent` (`00-{trace id}-{span id}-{flags}`): where in a distributed trace
/// something happened, kept so that work done later (a webhook delivery) continues the
/// trace of the request that caused it. Made by the server's tracing, never taken as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent(pub String);

impl OutboxEvent {
    /// An event for the outbox, written in the unit of work of the change it announces.
    pub fn new(
        org: OrganizationId,
        event: EventType,
        data: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: OutboxEventId::new(),
            organization_id: org,
            event_type: event.as_str().to_owned(),
            data: data.to_string(),
            created_at: now,
            trace: None,
        }
    }

    /// The same event, continuing the given trace.
    pub fn traced(self, trace: Option<TraceParent>) -> Self {
        Self { trace, ..self }
    }
}

/// The event data of a recorded consent change.
pub fn consent_event_data(e: &crate::consent::HistoryEntry) -> serde_json::Value {
    serde_json::json!({
        "historyID": e.id,
        "organisationID": e.organization_id,
        "userID": e.user_id,
        "consentID": e.consent_id,
        "purposeID": e.purpose_id,
        "attributeID": e.attribute_id,
        "consented": e.new_value.as_str(),
        "days": e.days,
        "changedBy": e.changed_by.as_str(),
        "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "purposeVersion": e.wording.as_ref().map(|w| w.number),
        "wordingHash": e.wording.as_ref().map(|w| w.hash.as_str()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub organization_id: OrganizationId,
    pub outbox_id: Option<OutboxEventId>,
    pub event_type: String,
    /// The exact bytes sent (the signed envelope).
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i64>,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The trace of what caused it (its outbox event's, or the request that asked for it).
    pub trace: Option<TraceParent>,
}

/// Attempts before a delivery is given up (about 8.5 minutes of retries).
pub const MAX_ATTEMPTS: i64 = 8;

impl Delivery {
    /// After a failed attempt: retry in 2, 4, 8 … seconds, or give up after `MAX_ATTEMPTS`.
    pub fn failed(&mut self, now: DateTime<Utc>, status_code: Option<i64>, error: String) {
        self.attempts += 1;
        self.last_status_code = status_code;
        self.last_error = error;
        if self.attempts >= MAX_ATTEMPTS {
            self.status = DeliveryStatus::Failed;
        } else {
            self.status = DeliveryStatus::Pending;
            self.next_attempt_at = now + Duration::seconds(1 << self.attempts.min(12));
        }
    }

    pub fn delivered(&mut self, now: DateTime<Utc>, status_code: i64) {
        self.attempts += 1;
        self.status = DeliveryStatus::Delivered;
        self.last_status_code = Some(status_code);
        self.last_error.clear();
        self.delivered_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()).unwrap(), e);
        }
        assert!(EventType::parse("consent.auto_expiry").is_err());
        assert_eq!(
            EventType::for_consent(ConsentValue::AskMe),
            EventType::ConsentAskMe
        );
    }

    #[test]
    fn an_endpoint_that_keeps_failing_backs_off_then_is_disabled() {
        let now = Utc::now();
        let mut w = Webhook {
            id: WebhookId::new(),
            organization_id: OrganizationId::new(),
            payload_url: "https://example.com/hook".into(),
            events: vec![],
            content_type: "application/json".into(),
            secret_key: "k".into(),
            disabled: false,
            skip_ssl_verification: false,
            created_at: now,
            consecutive_failures: 0,
            backoff_until: None,
        };
        let mut pauses = vec![];
        for _ in 0..FAILURES_BEFORE_DISABLING - 1 {
            assert!(!w.attempt_failed(now));
            pauses.push((w.backoff_until.unwrap() - now).num_seconds());
        }
        assert_eq!(&pauses[..10], &[1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert!(!w.disabled);
        assert!(
            w.attempt_failed(now),
            "the 25th failure in a row disables it"
        );
        assert!(w.disabled);
        assert!(!w.attempt_failed(now), "disabled once");
        w.attempt_succeeded();
        assert_eq!((w.consecutive_failures, w.backoff_until), (0, None));
    }

    #[test]
    fn retries_back_off_then_give_up() {
        let now = Utc::now();
        let mut d = Delivery {
            id: DeliveryId::new(),
            webhook_id: WebhookId::new(),
            organization_id: OrganizationId::new(),
            outbox_id: None,
            event_type: "consent.allowed".into(),
            body: "{}".into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            last_status_code: None,
            last_error: String::new(),
            created_at: now,
            delivered_at: None,
            trace: None,
        };
        let mut waits = vec![];
        while d.status == DeliveryStatus::Pending {
            d.failed(now, Some(500), "server error".into());
            if d.status == DeliveryStatus::Pending {
                waits.push((d.next_attempt_at - now).num_seconds());
            }
        }
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 64, 128]);
        assert_eq!(
            (d.status, d.attempts),
            (DeliveryStatus::Failed, MAX_ATTEMPTS)
        );
        d.delivered(now, 200);
        assert_eq!(
            (d.status, d.last_status_code, d.last_error.as_str()),
            (DeliveryStatus::Delivered, Some(200), "")
        );
    }
}

/// A message to an individual, e.g. an organisation asking for consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub user_id: crate::UserId,
    pub organization_id: OrganizationId,
    pub kind: String,
    /// The purpose a consent request is about; `None` for an organisation's offer.
    pub purpose_id: Option<PurposeId>,
    pub attribute_ids: Vec<AttributeId>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// A message to a person from an organisation, about no purpose in particular.
    pub fn message(
        user_id: crate::UserId,
        organization_id: OrganizationId,
        kind: impl Into<String>,
        message: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: NotificationId::new(),
            user_id,
            organization_id,
            kind: kind.into(),
            purpose_id: None,
            attribute_ids: vec![],
            message: message.into(),
            created_at: now,
            read_at: None,
        }
    }
}

/// An entry of an organisation's action log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionLog {
    pub id: String,
    pub organization_id: OrganizationId,
    /// `admin_login`, `configuration`, `consented_users`, `user_count`, `webhook_delivery`.
    pub kind: String,
    pub actor_id: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}
