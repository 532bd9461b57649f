//! An organisation's layout: purposes and templates (data attributes); deleted ones are kept, not listed.

use super::prelude::*;
use accord_domain::purpose_version::PurposeVersion;

#[async_trait]
impl PurposesTx for Uow {
    async fn insert_purpose(&mut self, p: &Purpose, at: DateTime<Utc>) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO purposes (id, organization_id, name, description, lawful_basis, policy_url, \
             attribute_type, jurisdiction, disclosure, industry_scope, restriction, shared_3pp, created_at, \
             version, outdated_consent, reconsent_grace_days) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(p.id.to_string())
        .bind(p.organization_id.to_string())
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.lawful_basis.id())
        .bind(&p.policy_url)
        .bind(p.attribute_type)
        .bind(&p.jurisdiction)
        .bind(&p.disclosure)
        .bind(&p.industry_scope)
        .bind(&p.restriction)
        .bind(p.shared_3pp)
        .bind(to_ms(at))
        .bind(p.version)
        .bind(p.outdated_consent.as_str())
        .bind(p.outdated_consent.grace_days())).await?;
        self.bump_layout(p.organization_id).await
    }

    async fn layout_version(&mut self, org: OrganizationId) -> Result<Option<i64>> {
        let row = self
            .fetch_optional(
                sqlx::query("SELECT layout_version FROM organizations WHERE id = $1")
                    .bind(org.to_string()),
            )
            .await?;
        row.map(|r| r.col("layout_version")).transpose()
    }

    async fn lock_layout(&mut self, org: OrganizationId) -> Result<()> {
        let sql = format!("SELECT layout_version FROM organizations WHERE id = $1 {FOR_UPDATE}");
        self.fetch_optional(sqlx::query(&sql).bind(org.to_string()))
            .await
            .map(|_| ())
    }

    async fn purposes_of(&mut self, org: OrganizationId) -> Result<Vec<Purpose>> {
        let sql = format!(
            "SELECT {PURPOSE_COLUMNS} FROM purposes WHERE organization_id = $1 AND deleted_at IS NULL \
             ORDER BY id"
        );
        let rows = self
            .fetch_all(sqlx::query(&sql).bind(org.to_string()))
            .await?;
        rows.iter().map(purpose_from_row).collect()
    }

    async fn update_purpose(&mut self, p: &Purpose) -> Result<()> {
        self.execute(sqlx::query(
            "UPDATE purposes SET name = $1, description = $2, lawful_basis = $3, policy_url = $4, \
             attribute_type = $5, jurisdiction = $6, disclosure = $7, industry_scope = $8, \
             restriction = $9, shared_3pp = $10, version = $11, outdated_consent = $12, \
             reconsent_grace_days = $13 WHERE id = $14 AND organization_id = $15",
        )
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.lawful_basis.id())
        .bind(&p.policy_url)
        .bind(p.attribute_type)
        .bind(&p.jurisdiction)
        .bind(&p.disclosure)
        .bind(&p.industry_scope)
        .bind(&p.restriction)
        .bind(p.shared_3pp)
        .bind(p.version)
        .bind(p.outdated_consent.as_str())
        .bind(p.outdated_consent.grace_days())
        .bind(p.id.to_string())
        .bind(p.organization_id.to_string())).await?;
        self.bump_layout(p.organization_id).await
    }

    async fn insert_purpose_version(&mut self, v: &PurposeVersion) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO purpose_versions (purpose_id, number, wording, hash, created_at, author) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (purpose_id, number) DO NOTHING",
            )
            .bind(v.purpose_id.to_string())
            .bind(v.number)
            .bind(&v.wording)
            .bind(&v.hash)
            .bind(v.created_at.map(to_ms))
            .bind(v.author.map(|a| a.to_string())),
        )
        .await
        .map(|_| ())
    }

    async fn purpose_versions(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
    ) -> Result<Vec<PurposeVersion>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT v.purpose_id, v.number, v.wording, v.hash, v.created_at, v.author \
                     FROM purpose_versions v JOIN purposes p ON p.id = v.purpose_id \
                     WHERE v.purpose_id = $1 AND p.organization_id = $2 ORDER BY v.number",
                )
                .bind(purpose.to_string())
                .bind(org.to_string()),
            )
            .await?;
        rows.iter()
            .map(|row| {
                let author: Option<String> = row.col("author")?;
                Ok(PurposeVersion {
                    purpose_id: row.id("purpose_id")?,
                    number: row.col("number")?,
                    wording: row.col("wording")?,
                    hash: row.col("hash")?,
                    created_at: row.opt_time("created_at")?,
                    author: author.and_then(|a| a.parse().ok()),
                })
            })
            .collect()
    }

    async fn version_times_of(
        &mut self,
        org: OrganizationId,
    ) -> Result<Vec<(PurposeId, i64, DateTime<Utc>)>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT v.purpose_id, v.number, v.created_at FROM purpose_versions v \
                     JOIN purposes p ON p.id = v.purpose_id \
                     WHERE p.organization_id = $1 AND p.deleted_at IS NULL AND v.number > 1 \
                     AND v.created_at IS NOT NULL",
                )
                .bind(org.to_string()),
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.id("purpose_id")?,
                    row.col("number")?,
                    row.time("created_at")?,
                ))
            })
            .collect()
    }

    async fn delete_purpose(
        &mut self,
        org: OrganizationId,
        id: PurposeId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let r = self.execute(sqlx::query(
            "UPDATE purposes SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(id.to_string())
        .bind(org.to_string())).await?;
        self.bump_layout(org).await?;
        Ok(r > 0)
    }

    async fn insert_template(&mut self, t: &Template, at: DateTime<Utc>) -> Result<()> {
        self.execute(sqlx::query("INSERT INTO templates (id, organization_id, consent, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(t.organization_id.to_string())
            .bind(&t.consent)
            .bind(to_ms(at))).await?;
        self.set_template_purposes(t).await
    }

    async fn templates_of(&mut self, org: OrganizationId) -> Result<Vec<Template>> {
        // One statement for the templates and their live purposes (a query per template
        // made a consent read 29 statements: BENCHMARKS.md).
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT t.id, t.consent, p.id AS purpose_id FROM templates t \
             LEFT JOIN template_purposes tp ON tp.template_id = t.id \
             LEFT JOIN purposes p ON p.id = tp.purpose_id AND p.deleted_at IS NULL \
             WHERE t.organization_id = $1 AND t.deleted_at IS NULL ORDER BY t.id, tp.position",
                )
                .bind(org.to_string()),
            )
            .await?;
        let mut out: Vec<Template> = Vec::new();
        for row in &rows {
            let id = row.id("id")?;
            if out.last().is_none_or(|t| t.id != id) {
                out.push(Template {
                    id,
                    organization_id: org,
                    consent: row.col("consent")?,
                    purpose_ids: vec![],
                });
            }
            let purpose: Option<String> = row.col("purpose_id")?;
            if let (Some(p), Some(t)) = (purpose, out.last_mut()) {
                let p = uuid::Uuid::parse_str(&p).map_err(|e| {
                    accord_domain::Error::internal(format!("bad uuid in purpose_id: {e}"))
                })?;
                t.purpose_ids.push(PurposeId(p));
            }
        }
        Ok(out)
    }

    async fn update_template(&mut self, t: &Template) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE templates SET consent = $1 WHERE id = $2 AND organization_id = $3")
                .bind(&t.consent)
                .bind(t.id.to_string())
                .bind(t.organization_id.to_string()),
        )
        .await?;
        self.set_template_purposes(t).await
    }

    async fn delete_template(
        &mut self,
        org: OrganizationId,
        id: AttributeId,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let r = self.execute(sqlx::query(
            "UPDATE templates SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(id.to_string())
        .bind(org.to_string())).await?;
        self.bump_layout(org).await?;
        Ok(r > 0)
    }
}

impl Uow {
    async fn set_template_purposes(&mut self, t: &Template) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM template_purposes WHERE template_id = $1")
                .bind(t.id.to_string()),
        )
        .await?;
        for (position, purpose) in t.purpose_ids.iter().enumerate() {
            self.execute(sqlx::query("INSERT INTO template_purposes (template_id, purpose_id, position) VALUES ($1, $2, $3)")
                .bind(t.id.to_string())
                .bind(purpose.to_string())
                .bind(position as i64)).await?;
        }
        self.bump_layout(t.organization_id).await
    }
}
