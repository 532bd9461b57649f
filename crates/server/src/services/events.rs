//! What goes into the outbox: events written inside the unit of work of the change they
//! announce (the webhook workers deliver them, `webhooks.rs`). A leaf every area may use.

use accord_domain::consent::HistoryEntry;
use accord_domain::webhook::{EventType, OutboxEvent};
use accord_domain::{OrganizationId, OutboxEventId, Result};
use accord_store::Tx;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Writes an event into the outbox, inside the caller's unit of work.
pub(crate) async fn emit(
    tx: &mut dyn Tx,
    org: OrganizationId,
    event: EventType,
    data: Value,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.insert_outbox(&outbox_event(org, event, data, now)).await
}

/// An event for the outbox, for writes that queue their rows themselves (the consent
/// committer).
pub(crate) fn outbox_event(
    org: OrganizationId,
    event: EventType,
    data: Value,
    now: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent {
        id: OutboxEventId::new(),
        organization_id: org,
        event_type: event.as_str().to_owned(),
        data: data.to_string(),
        created_at: now,
    }
}

/// The event data of a recorded consent change.
pub(crate) fn consent_event_data(e: &HistoryEntry) -> Value {
    json!({
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
    })
}
