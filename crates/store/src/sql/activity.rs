//! What happened: a person's notifications and an organisation's action log.

use super::prelude::*;

#[async_trait]
impl ActivityTx for Uow {
    async fn insert_notification(&mut self, n: &Notification) -> Result<()> {
        let attrs = n
            .attribute_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        self.execute(sqlx::query(
            "INSERT INTO notifications (id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(n.id.to_string())
        .bind(n.user_id.to_string())
        .bind(n.organization_id.to_string())
        .bind(&n.kind)
        .bind(n.purpose_id.map(|p| p.to_string()).unwrap_or_default())
        .bind(attrs)
        .bind(&n.message)
        .bind(to_ms(n.created_at))
        .bind(n.read_at.map(to_ms))).await.map(|_| ())
    }

    async fn notifications_of(
        &mut self,
        user: UserId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at \
             FROM notifications WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(user.to_string())
        .bind(before.unwrap_or(""))
        .bind(limit)).await?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn mark_notification_read(
        &mut self,
        user: UserId,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.execute(sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
            .bind(to_ms(at))
            .bind(id.to_string())
            .bind(user.to_string())).await.map(|n| n > 0)
    }

    async fn notification_by_id(
        &mut self,
        user: UserId,
        id: NotificationId,
    ) -> Result<Option<Notification>> {
        self.fetch_optional(sqlx::query(
            "SELECT id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at \
             FROM notifications WHERE user_id = $1 AND id = $2",
        )
        .bind(user.to_string())
        .bind(id.to_string())).await?
        .as_ref()
        .map(notification_from_row)
        .transpose()
    }

    async fn insert_action_log(&mut self, l: &ActionLog) -> Result<()> {
        self.execute(
            sqlx::query(INSERT_ACTION_LOG_SQL)
                .bind(&l.id)
                .bind(l.organization_id.to_string())
                .bind(&l.kind)
                .bind(&l.actor_id)
                .bind(&l.message)
                .bind(to_ms(l.created_at)),
        )
        .await
        .map(|_| ())
    }

    async fn action_logs(
        &mut self,
        org: OrganizationId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActionLog>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT id, organization_id, kind, actor_id, message, created_at FROM organization_logs \
             WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(org.to_string())
        .bind(before.unwrap_or(""))
        .bind(limit)).await?;
        rows.iter()
            .map(|r| {
                Ok(ActionLog {
                    id: r.col("id")?,
                    organization_id: r.id("organization_id")?,
                    kind: r.col("kind")?,
                    actor_id: r.col("actor_id")?,
                    message: r.col("message")?,
                    created_at: r.time("created_at")?,
                })
            })
            .collect()
    }
}
