//! Who is subscribed to which organisation, and the offers awaiting an answer.

use super::prelude::*;

#[async_trait]
impl SubscriptionsTx for Uow {
    async fn subscribe(
        &mut self,
        org: OrganizationId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.execute(sqlx::query(
            "INSERT INTO subscriptions (organization_id, user_id, subscribed_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(to_ms(at))).await.map(|n| n == 1)
    }

    async fn unsubscribe(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM subscriptions WHERE organization_id = $1 AND user_id = $2")
                .bind(org.to_string())
                .bind(user.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn insert_offer(&mut self, o: &Offer) -> Result<bool> {
        self.execute(sqlx::query(
            "INSERT INTO offers (id, organization_id, user_id, kind, offered_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, user_id, kind) DO NOTHING",
        )
        .bind(o.id.to_string())
        .bind(o.organization_id.to_string())
        .bind(o.user_id.to_string())
        .bind(o.kind.code())
        .bind(o.offered_by.to_string())
        .bind(to_ms(o.created_at))).await.map(|n| n > 0)
    }

    async fn offers_of(&mut self, user: UserId) -> Result<Vec<Offer>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT id, organization_id, user_id, kind, offered_by, created_at FROM offers \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.to_string())).await?;
        rows.iter().map(offer_from_row).collect()
    }

    async fn take_offer(&mut self, user: UserId, id: OfferId) -> Result<Option<Offer>> {
        let row = self
            .fetch_optional(
                sqlx::query(
                    "DELETE FROM offers WHERE id = $1 AND user_id = $2 \
             RETURNING id, organization_id, user_id, kind, offered_by, created_at",
                )
                .bind(id.to_string())
                .bind(user.to_string()),
            )
            .await?;
        row.as_ref().map(offer_from_row).transpose()
    }

    async fn accept_eula(
        &mut self,
        org: OrganizationId,
        user: UserId,
        url: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.execute(
            sqlx::query(
                "UPDATE subscriptions SET eula_accepted = $1, eula_accepted_at = $2 \
                 WHERE organization_id = $3 AND user_id = $4",
            )
            .bind(url)
            .bind(to_ms(at))
            .bind(org.to_string())
            .bind(user.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn withdraw_offers(&mut self, org: OrganizationId, user: UserId) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM offers WHERE organization_id = $1 AND user_id = $2")
                .bind(org.to_string())
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn subscribed_since(
        &mut self,
        org: OrganizationId,
        user: UserId,
    ) -> Result<Option<DateTime<Utc>>> {
        let row = self
            .fetch_optional(
                sqlx::query(
                    "SELECT subscribed_at FROM subscriptions \
                     WHERE organization_id = $1 AND user_id = $2",
                )
                .bind(org.to_string())
                .bind(user.to_string()),
            )
            .await?;
        row.as_ref().map(|r| r.time("subscribed_at")).transpose()
    }

    async fn is_subscribed(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        let row = self.fetch_optional(sqlx::query(
            "SELECT 1 AS one FROM subscriptions WHERE organization_id = $1 AND user_id = $2",
        )
        .bind(org.to_string())
        .bind(user.to_string())).await?;
        Ok(row.is_some())
    }

    async fn subscribers(
        &mut self,
        org: OrganizationId,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>> {
        // The (organization_id, user_id) primary key serves both the filter and the order.
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM subscriptions s JOIN users u ON u.id = s.user_id \
             WHERE s.organization_id = $1 AND s.user_id > $2 ORDER BY s.user_id LIMIT $3"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(org.to_string())
                    .bind(after.map(|a| a.to_string()).unwrap_or_default())
                    .bind(limit),
            )
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn subscriber_count(&mut self, org: OrganizationId) -> Result<i64> {
        let row = self
            .fetch_one(
                sqlx::query("SELECT COUNT(*) AS n FROM subscriptions WHERE organization_id = $1")
                    .bind(org.to_string()),
            )
            .await?;
        row.col("n")
    }

    async fn subscriptions_of(&mut self, user: UserId) -> Result<Vec<SubscribedOrg>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS}, COALESCE(t.name, '') AS type_name, \
             (o.eula_url <> '' AND s.eula_accepted IS NOT NULL AND s.eula_accepted = o.eula_url) \
             AS eula_accepted FROM subscriptions s \
             JOIN organizations o ON o.id = s.organization_id \
             LEFT JOIN organization_types t ON t.id = o.type_id \
             WHERE s.user_id = $1 ORDER BY s.subscribed_at, o.id"
        );
        let rows = self
            .fetch_all(sqlx::query(&sql).bind(user.to_string()))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SubscribedOrg {
                    organization: org_from_row(r)?,
                    type_name: r.col("type_name")?,
                    eula_accepted: r.col::<bool>("eula_accepted")?,
                })
            })
            .collect()
    }
}
