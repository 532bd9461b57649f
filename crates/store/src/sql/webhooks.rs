//! Webhooks, the outbox of events and their deliveries.

use super::prelude::*;

#[async_trait]
impl WebhooksTx for Uow {
    async fn delivery_queue(&mut self) -> Result<DeliveryQueue> {
        // Both counts are read from their pending-work indexes (`outbox_pending`,
        // `webhook_deliveries_due`); the oldest is found among the pending rows alone.
        let row = self
            .fetch_one(sqlx::query(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE processed_at IS NULL) AS events, \
                 (SELECT MIN(created_at) FROM outbox WHERE processed_at IS NULL) AS oldest_event, \
                 (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending') AS deliveries, \
                 (SELECT MIN(created_at) FROM webhook_deliveries WHERE status = 'pending') AS oldest_delivery",
            ))
            .await?;
        Ok(DeliveryQueue {
            events: row.col("events")?,
            oldest_event: row.opt_time("oldest_event")?,
            deliveries: row.col("deliveries")?,
            oldest_delivery: row.opt_time("oldest_delivery")?,
        })
    }

    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO webhooks (id, organization_id, payload_url, subscribed_events, content_type, secret_key, \
             disabled, skip_ssl_verification, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(w.id.to_string())
        .bind(w.organization_id.to_string())
        .bind(&w.payload_url)
        .bind(events_text(&w.events))
        .bind(&w.content_type)
        .bind(&w.secret_key)
        .bind(w.disabled)
        .bind(w.skip_ssl_verification)
        .bind(to_ms(w.created_at))).await.map(|_| ())
    }

    async fn webhooks_of(&mut self, org: OrganizationId) -> Result<Vec<Webhook>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE organization_id = $1 ORDER BY id"
        );
        let rows = self
            .fetch_all(sqlx::query(&sql).bind(org.to_string()))
            .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn update_webhook(&mut self, w: &Webhook) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE webhooks SET payload_url = $1, subscribed_events = $2, content_type = $3, secret_key = $4, \
             disabled = $5, skip_ssl_verification = $6, consecutive_failures = $9, backoff_until = $10 \
             WHERE id = $7 AND organization_id = $8",
        )
        .bind(&w.payload_url)
        .bind(events_text(&w.events))
        .bind(&w.content_type)
        .bind(&w.secret_key)
        .bind(w.disabled)
        .bind(w.skip_ssl_verification)
        .bind(w.id.to_string())
        .bind(w.organization_id.to_string())
        .bind(w.consecutive_failures)
        .bind(w.backoff_until.map(to_ms))).await.map(|_| ())
    }

    async fn delete_webhook(&mut self, org: OrganizationId, id: WebhookId) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM webhooks WHERE id = $1 AND organization_id = $2")
                .bind(id.to_string())
                .bind(org.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn insert_outbox(&mut self, e: &OutboxEvent) -> Result<()> {
        self.execute(
            sqlx::query(INSERT_OUTBOX_SQL)
                .bind(e.id.to_string())
                .bind(e.organization_id.to_string())
                .bind(&e.event_type)
                .bind(&e.data)
                .bind(to_ms(e.created_at))
                .bind(e.trace.as_ref().map(|t| &t.0)),
        )
        .await
        .map(|_| ())
    }

    async fn claim_outbox(&mut self, limit: i64) -> Result<Vec<OutboxEvent>> {
        let sql = format!(
            "SELECT id, organization_id, event_type, data, created_at, trace_parent FROM outbox WHERE processed_at IS NULL \
             ORDER BY id LIMIT $1 {SKIP_LOCKED}"
        );
        let rows = self.fetch_all(sqlx::query(&sql).bind(limit)).await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEvent {
                    id: r.id("id")?,
                    organization_id: r.id("organization_id")?,
                    event_type: r.col("event_type")?,
                    data: r.col("data")?,
                    created_at: r.time("created_at")?,
                    trace: r
                        .col::<Option<String>>("trace_parent")?
                        .map(accord_domain::webhook::TraceParent),
                })
            })
            .collect()
    }

    async fn mark_outbox_processed(
        &mut self,
        ids: &[OutboxEventId],
        at: DateTime<Utc>,
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<DB>::new("UPDATE outbox SET processed_at = ");
        q.push_bind(to_ms(at)).push(" WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        q.push(")");
        self.execute(q.build()).await.map(|_| ())
    }

    async fn insert_delivery(&mut self, d: &Delivery) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, organization_id, outbox_id, event_type, body, status, \
             attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at, trace_parent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
        )
        .bind(d.id.to_string())
        .bind(d.webhook_id.to_string())
        .bind(d.organization_id.to_string())
        .bind(d.outbox_id.map(|o| o.to_string()))
        .bind(&d.event_type)
        .bind(&d.body)
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(to_ms(d.next_attempt_at))
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(to_ms(d.created_at))
        .bind(d.delivered_at.map(to_ms))
        .bind(d.trace.as_ref().map(|t| &t.0))).await.map(|_| ())
    }

    async fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_organization: i64,
    ) -> Result<Vec<Delivery>> {
        // Each organisation's oldest due deliveries, as many as its free places in flight;
        // then claimed one by one, each only if still free (another node may have won it).
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM (SELECT {DELIVERY_COLUMNS}, \
             ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY next_attempt_at, id) AS place \
             FROM webhook_deliveries d WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.backoff_until > $1)) due \
             WHERE place + (SELECT COUNT(*) FROM webhook_deliveries busy WHERE busy.organization_id = due.organization_id \
             AND busy.status = 'pending' AND busy.lease_until IS NOT NULL AND busy.lease_until >= $1) <= $3 \
             ORDER BY next_attempt_at, id LIMIT $2"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(to_ms(now))
                    .bind(limit)
                    .bind(per_organization),
            )
            .await?;
        let mut claimed = vec![];
        for d in rows.iter().map(delivery_from_row) {
            let d = d?;
            let won = self.execute(sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(to_ms(lease_until))
            .bind(d.id.to_string())
            .bind(to_ms(now))).await?;
            if won == 1 {
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    async fn renew_delivery_lease(
        &mut self,
        id: DeliveryId,
        lease_until: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(to_ms(lease_until))
        .bind(id.to_string())).await.map(|_| ())
    }

    async fn lock_webhook(&mut self, id: WebhookId) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 {FOR_UPDATE}");
        let row = self
            .fetch_optional(sqlx::query(&sql).bind(id.to_string()))
            .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn save_webhook_health(&mut self, w: &Webhook) -> Result<()> {
        self.execute(sqlx::query("UPDATE webhooks SET disabled = $1, consecutive_failures = $2, backoff_until = $3 WHERE id = $4")
            .bind(w.disabled)
            .bind(w.consecutive_failures)
            .bind(w.backoff_until.map(to_ms))
            .bind(w.id.to_string())).await.map(|_| ())
    }

    async fn save_delivery(&mut self, d: &Delivery) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4, \
             last_error = $5, delivered_at = $6, lease_until = NULL WHERE id = $7",
        )
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(to_ms(d.next_attempt_at))
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(d.delivered_at.map(to_ms))
        .bind(d.id.to_string())).await.map(|_| ())
    }

    async fn deliveries_of(
        &mut self,
        webhook: WebhookId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(webhook.to_string())
                    .bind(before.unwrap_or(""))
                    .bind(limit),
            )
            .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn delivery_by_id(
        &mut self,
        webhook: WebhookId,
        id: DeliveryId,
    ) -> Result<Option<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2"
        );
        self.fetch_optional(
            sqlx::query(&sql)
                .bind(webhook.to_string())
                .bind(id.to_string()),
        )
        .await?
        .as_ref()
        .map(delivery_from_row)
        .transpose()
    }
}
