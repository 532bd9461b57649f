//! Webhooks, the outbox of events and their deliveries.

use super::prelude::*;

/// [`WebhooksTx::delivery_queue`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryQueue {
    pub events: i64,
    pub oldest_event: Option<DateTime<Utc>>,
    pub deliveries: i64,
    pub oldest_delivery: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait WebhooksTx: Send {
    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()>;
    async fn webhooks_of(&mut self, org: OrganizationId) -> Result<Vec<Webhook>>;
    async fn update_webhook(&mut self, w: &Webhook) -> Result<()>;
    async fn delete_webhook(&mut self, org: OrganizationId, id: WebhookId) -> Result<bool>;
    async fn insert_outbox(&mut self, e: &OutboxEvent) -> Result<()>;
    /// Unprocessed events, oldest first; rows other nodes hold are skipped.
    async fn claim_outbox(&mut self, limit: i64) -> Result<Vec<OutboxEvent>>;
    async fn mark_outbox_processed(
        &mut self,
        ids: &[OutboxEventId],
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Idempotent per (outbox event, webhook).
    async fn insert_delivery(&mut self, d: &Delivery) -> Result<()>;
    /// Takes a lease on due deliveries (pending, due, not leased by a live node, their
    /// endpoint not backing off), oldest first, with at most `per_organization` in flight
    /// (leased) per organisation counting those already leased.
    async fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_organization: i64,
    ) -> Result<Vec<Delivery>>;
    /// Extends the lease of a delivery still in flight.
    async fn renew_delivery_lease(
        &mut self,
        id: DeliveryId,
        lease_until: DateTime<Utc>,
    ) -> Result<()>;
    /// The webhook, locked until the unit of work ends (its health is read and written).
    async fn lock_webhook(&mut self, id: WebhookId) -> Result<Option<Webhook>>;
    /// Writes a webhook's health: failures in a row, back-off, and whether it is disabled.
    async fn save_webhook_health(&mut self, w: &Webhook) -> Result<()>;
    /// Writes the outcome of an attempt and drops the lease.
    async fn save_delivery(&mut self, d: &Delivery) -> Result<()>;
    async fn deliveries_of(
        &mut self,
        webhook: WebhookId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// Webhook work not yet done, for `/metrics`: events not yet fanned out and
    /// deliveries still pending, and when the oldest of each was created.
    async fn delivery_queue(&mut self) -> Result<DeliveryQueue>;
    async fn delivery_by_id(
        &mut self,
        webhook: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>>;
}
