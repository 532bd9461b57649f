//! Organisations, their types and the roles people hold in them.

use super::prelude::*;

#[async_trait]
impl OrganizationsTx for Uow {
    async fn role_grants_of(&mut self, id: UserId) -> Result<Vec<RoleGrant>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT organization_id, role_id FROM organization_roles WHERE user_id = $1 \
             ORDER BY organization_id, role_id",
                )
                .bind(id.to_string()),
            )
            .await?;
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            let role_id: i64 = row.col("role_id")?;
            if let Some(role) = OrgRole::from_id(role_id) {
                grants.push(RoleGrant {
                    organization_id: row.id("organization_id")?,
                    role,
                });
            }
        }
        Ok(grants)
    }

    async fn insert_org_type(&mut self, t: &OrganizationType, at: DateTime<Utc>) -> Result<()> {
        self.execute(sqlx::query("INSERT INTO organization_types (id, name, image_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(&t.name)
            .bind(t.image_id.map(|i| i.to_string()))
            .bind(to_ms(at))).await.map(|_| ())
    }

    async fn org_type_by_id(&mut self, id: OrganizationTypeId) -> Result<Option<OrganizationType>> {
        self.fetch_optional(
            sqlx::query("SELECT id, name, image_id FROM organization_types WHERE id = $1")
                .bind(id.to_string()),
        )
        .await?
        .as_ref()
        .map(org_type_from_row)
        .transpose()
    }

    async fn org_types(&mut self) -> Result<Vec<OrganizationType>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, name, image_id FROM organization_types ORDER BY id",
            ))
            .await?;
        rows.iter().map(org_type_from_row).collect()
    }

    async fn update_org_type(&mut self, t: &OrganizationType) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE organization_types SET name = $1, image_id = $2 WHERE id = $3")
                .bind(&t.name)
                .bind(t.image_id.map(|i| i.to_string()))
                .bind(t.id.to_string()),
        )
        .await?;
        // The type's name is part of each of its organisations' layouts (cached per node).
        self.execute(
            sqlx::query(
                "UPDATE organizations SET layout_version = layout_version + 1 WHERE type_id = $1",
            )
            .bind(t.id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn delete_org_type(&mut self, id: OrganizationTypeId) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM organization_types WHERE id = $1").bind(id.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn org_type_in_use(&mut self, id: OrganizationTypeId) -> Result<bool> {
        let row = self
            .fetch_optional(
                sqlx::query("SELECT 1 AS one FROM organizations WHERE type_id = $1 LIMIT 1")
                    .bind(id.to_string()),
            )
            .await?;
        Ok(row.is_some())
    }

    async fn insert_organization(&mut self, o: &Organization) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO organizations (id, name, location, description, type_id, enabled, policy_url, \
             eula_url, cover_image_id, logo_image_id, hlc_support, subscribe_method, subscribe_key, \
             retention_period, retention_enabled, created_at, technical_name, parent_id, data_export_at_once) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(o.id.to_string())
        .bind(&o.name)
        .bind(&o.location)
        .bind(&o.description)
        .bind(o.type_id.map(|t| t.to_string()))
        .bind(o.enabled)
        .bind(&o.policy_url)
        .bind(&o.eula_url)
        .bind(o.cover_image_id.map(|i| i.to_string()))
        .bind(o.logo_image_id.map(|i| i.to_string()))
        .bind(o.hlc_support)
        .bind(o.subscribe_method.id())
        .bind(&o.subscribe_key)
        .bind(o.retention_period_secs)
        .bind(o.retention_enabled)
        .bind(to_ms(o.created_at))
        .bind(&o.technical_name)
        .bind(o.parent_id.map(|p| p.to_string()))
        .bind(o.data_export_at_once)).await.map(|_| ())
    }

    async fn organization_by_id(&mut self, id: OrganizationId) -> Result<Option<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1");
        self.fetch_optional(sqlx::query(&sql).bind(id.to_string()))
            .await?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn organizations_page(
        &mut self,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id > $1 ORDER BY o.id LIMIT $2"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(after.map(|a| a.to_string()).unwrap_or_default())
                    .bind(limit),
            )
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    async fn update_organization(&mut self, o: &Organization) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE organizations SET name = $1, location = $2, description = $3, type_id = $4, \
             enabled = $5, policy_url = $6, eula_url = $7, cover_image_id = $8, logo_image_id = $9, \
             hlc_support = $10, subscribe_method = $11, subscribe_key = $12, retention_period = $13, \
             retention_enabled = $14, technical_name = $16, parent_id = $17, data_export_at_once = $18, \
             layout_version = layout_version + 1 WHERE id = $15",
        )
        .bind(&o.name)
        .bind(&o.location)
        .bind(&o.description)
        .bind(o.type_id.map(|t| t.to_string()))
        .bind(o.enabled)
        .bind(&o.policy_url)
        .bind(&o.eula_url)
        .bind(o.cover_image_id.map(|i| i.to_string()))
        .bind(o.logo_image_id.map(|i| i.to_string()))
        .bind(o.hlc_support)
        .bind(o.subscribe_method.id())
        .bind(&o.subscribe_key)
        .bind(o.retention_period_secs)
        .bind(o.retention_enabled)
        .bind(o.id.to_string())
        .bind(&o.technical_name)
        .bind(o.parent_id.map(|p| p.to_string()))
        .bind(o.data_export_at_once)).await.map(|_| ())
    }

    async fn grant_role(&mut self, org: OrganizationId, user: UserId, role: OrgRole) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO organization_roles (organization_id, user_id, role_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.id())).await.map(|_| ())
    }

    async fn revoke_roles(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        self.execute(
            sqlx::query(
                "DELETE FROM organization_roles WHERE organization_id = $1 AND user_id = $2",
            )
            .bind(org.to_string())
            .bind(user.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn role_holders(&mut self, org: OrganizationId) -> Result<Vec<(UserId, OrgRole)>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT user_id, role_id FROM organization_roles WHERE organization_id = $1 ORDER BY user_id, role_id",
        )
        .bind(org.to_string())).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(role) = OrgRole::from_id(row.col("role_id")?) {
                out.push((row.id("user_id")?, role));
            }
        }
        Ok(out)
    }

    async fn delete_organization(&mut self, org: OrganizationId) -> Result<bool> {
        self.execute(
            sqlx::query(
                "UPDATE users SET home_organization_id = NULL WHERE home_organization_id = $1",
            )
            .bind(org.to_string()),
        )
        .await?;
        self.execute(sqlx::query("DELETE FROM organizations WHERE id = $1").bind(org.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn org_type_by_name(&mut self, name: &str) -> Result<Option<OrganizationType>> {
        self.fetch_optional(sqlx::query("SELECT id, name, image_id FROM organization_types WHERE LOWER(name) = LOWER($1) ORDER BY id LIMIT 1")
            .bind(name)).await?
            .as_ref()
            .map(org_type_from_row)
            .transpose()
    }

    async fn revoke_role(
        &mut self,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
    ) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM organization_roles WHERE organization_id = $1 AND user_id = $2 AND role_id = $3")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.id())).await.map(|n| n > 0)
    }

    async fn organizations_named_like(
        &mut self,
        fragment: &str,
        caller: UserId,
        limit: i64,
    ) -> Result<Vec<FoundOrganization>> {
        let escaped = fragment
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        // A name fragment cannot use an index; organisations are few beside people.
        let sql = format!(
            "SELECT {ORG_COLUMNS}, COALESCE(t.name, '') AS type_name, \
             EXISTS (SELECT 1 FROM subscriptions s WHERE s.organization_id = o.id AND s.user_id = $2) \
             AS subscribed FROM organizations o LEFT JOIN organization_types t ON t.id = o.type_id \
             WHERE o.enabled AND LOWER(o.name) LIKE $1 ESCAPE '\\' ORDER BY o.name, o.id LIMIT $3"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(format!("%{escaped}%"))
                    .bind(caller.to_string())
                    .bind(limit),
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(FoundOrganization {
                    organization: org_from_row(r)?,
                    type_name: r.col("type_name")?,
                    subscribed: r.col::<bool>("subscribed")?,
                })
            })
            .collect()
    }

    async fn put_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO qr_codes (organization_id, purpose_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (organization_id, purpose_id) DO UPDATE SET created_at = excluded.created_at",
            )
            .bind(org.to_string())
            .bind(purpose.map(|p| p.to_string()).unwrap_or_default())
            .bind(to_ms(at)),
        )
        .await
        .map(|_| ())
    }

    async fn has_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<bool> {
        let row = self
            .fetch_optional(
                sqlx::query(
                    "SELECT 1 AS one FROM qr_codes WHERE organization_id = $1 AND purpose_id = $2",
                )
                .bind(org.to_string())
                .bind(purpose.map(|p| p.to_string()).unwrap_or_default()),
            )
            .await?;
        Ok(row.is_some())
    }

    async fn delete_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM qr_codes WHERE organization_id = $1 AND purpose_id = $2")
                .bind(org.to_string())
                .bind(purpose.map(|p| p.to_string()).unwrap_or_default()),
        )
        .await
        .map(|n| n > 0)
    }
}
