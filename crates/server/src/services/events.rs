//! What goes into the outbox: events written inside the unit of work of the change they
//! announce (the webhook workers deliver them, `webhooks.rs`). A leaf every area may use.

use accord_domain::webhook::{EventType, OutboxEvent};
use accord_domain::{OrganizationId, Result};
use accord_store::Tx;
use chrono::{DateTime, Utc};
use serde_json::Value;

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

/// An event for the outbox, for writes that queue their rows themselves.
pub(crate) fn outbox_event(
    org: OrganizationId,
    event: EventType,
    data: Value,
    now: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(org, event, &data, now)
}

pub(crate) use accord_domain::webhook::consent_event_data;
