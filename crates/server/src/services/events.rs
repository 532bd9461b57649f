//! What goes into the outbox: events written inside the unit of work of the change they
//! announce (the webhook workers deliver them, `webhooks.rs`). A leaf every area may use;
//! the event types and the consent events' data are the domain's (`accord_domain::webhook`).

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
    let event = OutboxEvent::new(org, event, &data, now).traced(crate::telemetry::current_trace());
    tx.insert_outbox(&event).await
}
