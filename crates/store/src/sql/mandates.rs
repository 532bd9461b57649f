//! Who may act for whom: mandates, delegations and role invitations.

use super::prelude::*;

#[async_trait]
impl MandatesTx for Uow {
    async fn insert_mandate(&mut self, m: &accord_domain::customer_id::Mandate) -> Result<()> {
        use accord_domain::customer_id::Party;
        let (mo, mu) = match &m.mandater {
            Party::Organization(o) => (Some(o.to_string()), None),
            Party::User(u) => (None, Some(u.to_string())),
            Party::Email(_) => {
                return Err(accord_domain::Error::invalid(
                    "a mandater cannot be an email address",
                ))
            }
        };
        let (eo, eu, ee) = match &m.mandatee {
            Party::Organization(o) => (Some(o.to_string()), None, None),
            Party::User(u) => (None, Some(u.to_string()), None),
            Party::Email(e) => (None, None, Some(e.clone())),
        };
        let ee = ee.or_else(|| m.assignee_email.clone());
        self.execute(sqlx::query(
            "INSERT INTO mandates (id, kind, mandater_organization_id, mandater_user_id, mandatee_organization_id, \
             mandatee_user_id, assignee_email, role_id, valid_from, valid_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(m.id.to_string())
        .bind(m.kind.as_str())
        .bind(mo)
        .bind(mu)
        .bind(eo)
        .bind(eu)
        .bind(ee)
        .bind(m.role_id.to_string())
        .bind(m.valid_from.map(to_ms))
        .bind(m.valid_until.map(to_ms))
        .bind(to_ms(m.created_at))).await.map(|_| ())
    }

    async fn delete_mandate(&mut self, id: MandateId) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM mandates WHERE id = $1").bind(id.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn mandates(&mut self) -> Result<Vec<accord_domain::customer_id::Mandate>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT id, kind, mandater_organization_id, mandater_user_id, mandatee_organization_id, mandatee_user_id, \
             assignee_email, role_id, valid_from, valid_until, created_at FROM mandates ORDER BY id",
        )).await?;
        rows.iter().map(mandate_from_row).collect()
    }

    async fn attach_mandates_to(&mut self, user: UserId, email_key: &str) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE mandates SET mandatee_user_id = $1 \
             WHERE mandatee_user_id IS NULL AND mandatee_organization_id IS NULL AND LOWER(assignee_email) = $2",
        )
            .bind(user.to_string())
            .bind(email_key)).await.map(|_| ())
    }

    async fn insert_delegation(
        &mut self,
        d: &accord_domain::customer_id::Delegation,
    ) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO delegations (id, mandate_id, delegator_user_id, delegate_user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(d.id.to_string())
        .bind(d.mandate_id.to_string())
        .bind(d.delegator.to_string())
        .bind(d.delegate.to_string())
        .bind(to_ms(d.created_at))).await.map(|_| ())
    }

    async fn delete_delegation(&mut self, id: DelegationId) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM delegations WHERE id = $1").bind(id.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn delegations(&mut self) -> Result<Vec<accord_domain::customer_id::Delegation>> {
        let rows = self.fetch_all(sqlx::query("SELECT id, mandate_id, delegator_user_id, delegate_user_id, created_at FROM delegations ORDER BY id")).await?;
        rows.iter()
            .map(|r| {
                Ok(accord_domain::customer_id::Delegation {
                    id: r.id("id")?,
                    mandate_id: r.id("mandate_id")?,
                    delegator: r.id("delegator_user_id")?,
                    delegate: r.id("delegate_user_id")?,
                    created_at: r.time("created_at")?,
                })
            })
            .collect()
    }

    async fn insert_role_invitation(
        &mut self,
        i: &accord_domain::customer_id::RoleInvitation,
        token_hash: &str,
    ) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO role_invitations (id, organization_id, role_id, user_id, email, token_hash, expires_at, accepted_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(i.id.to_string())
        .bind(i.organization_id.map(|o| o.to_string()))
        .bind(i.role_id.map(|r| r.to_string()))
        .bind(i.user_id.to_string())
        .bind(&i.email)
        .bind(token_hash)
        .bind(to_ms(i.expires_at))
        .bind(i.accepted_at.map(to_ms))
        .bind(to_ms(i.created_at))).await.map(|_| ())
    }

    async fn delete_role_invitation(&mut self, id: RoleInvitationId) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM role_invitations WHERE id = $1").bind(id.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn role_invitations(
        &mut self,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = self
            .fetch_all(sqlx::query(&format!(
                "SELECT {INVITATION_COLUMNS} FROM role_invitations ORDER BY id"
            )))
            .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn role_invitations_of(
        &mut self,
        user: UserId,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = self
            .fetch_all(
                sqlx::query(&format!(
            "SELECT {INVITATION_COLUMNS} FROM role_invitations WHERE user_id = $1 ORDER BY id"
        ))
                .bind(user.to_string()),
            )
            .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn user_of_invitation_token(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>> {
        let row = self.fetch_optional(sqlx::query(
            "SELECT user_id FROM role_invitations WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))).await?;
        row.map(|r| r.id::<UserId>("user_id")).transpose()
    }

    async fn renew_invitations(
        &mut self,
        user: UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        // Every unaccepted invitation (expired ones too) gets the new expiry; the token goes to the latest.
        self.execute(sqlx::query("UPDATE role_invitations SET token_hash = NULL, expires_at = $2 WHERE user_id = $1 AND accepted_at IS NULL")
            .bind(user.to_string())
            .bind(to_ms(expires_at))).await?;
        self.execute(
            sqlx::query(
                "UPDATE role_invitations SET token_hash = $2 WHERE id = \
             (SELECT MAX(id) FROM role_invitations WHERE user_id = $1 AND accepted_at IS NULL)",
            )
            .bind(user.to_string())
            .bind(token_hash),
        )
        .await
        .map(|_| ())
    }

    async fn accept_invitations(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = self.fetch_all(sqlx::query(&format!(
            "UPDATE role_invitations SET accepted_at = $2, token_hash = NULL \
             WHERE user_id = $1 AND accepted_at IS NULL AND expires_at > $2 RETURNING {INVITATION_COLUMNS}"
        ))
        .bind(user.to_string())
        .bind(to_ms(now))).await?;
        rows.iter().map(invitation_from_row).collect()
    }
}
