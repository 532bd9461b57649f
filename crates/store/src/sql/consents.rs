//! Consent records, their hash-chained history and the lists read from them.

use super::prelude::*;

#[async_trait]
impl ConsentsTx for Uow {
    async fn delete_consent_record(&mut self, org: OrganizationId, user: UserId) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM consents WHERE organization_id = $1 AND user_id = $2")
                .bind(org.to_string())
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn ensure_consent(
        &mut self,
        org: OrganizationId,
        user: UserId,
        at: DateTime<Utc>,
    ) -> Result<String> {
        self.execute(sqlx::query(
            "INSERT INTO consents (id, organization_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(to_ms(at))).await?;
        self.consent_of(org, user)
            .await?
            .ok_or_else(|| accord_domain::Error::internal("consent record vanished"))
    }

    async fn consent_of(&mut self, org: OrganizationId, user: UserId) -> Result<Option<String>> {
        let row = self
            .fetch_optional(
                sqlx::query("SELECT id FROM consents WHERE organization_id = $1 AND user_id = $2")
                    .bind(org.to_string())
                    .bind(user.to_string()),
            )
            .await?;
        row.map(|r| r.col("id")).transpose()
    }

    async fn lock_chain_head(&mut self, org: OrganizationId) -> Result<(i64, String)> {
        self.execute(
            sqlx::query(
                "INSERT INTO consent_chain_heads (organization_id, seq, hash) VALUES ($1, 0, $2) \
             ON CONFLICT (organization_id) DO NOTHING",
            )
            .bind(org.to_string())
            .bind(accord_domain::consent::GENESIS),
        )
        .await?;
        let sql = format!(
            "SELECT seq, hash FROM consent_chain_heads WHERE organization_id = $1 {FOR_UPDATE}"
        );
        let row = self
            .fetch_one(sqlx::query(&sql).bind(org.to_string()))
            .await?;
        Ok((row.col("seq")?, row.col("hash")?))
    }

    async fn set_chain_head(&mut self, org: OrganizationId, seq: i64, hash: &str) -> Result<()> {
        self.execute(
            sqlx::query(SET_CHAIN_HEAD_SQL)
                .bind(seq)
                .bind(hash)
                .bind(org.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn insert_history(&mut self, e: &HistoryEntry) -> Result<()> {
        self.execute(
            sqlx::query(INSERT_HISTORY_SQL)
                .bind(&e.id)
                .bind(&e.organization_id)
                .bind(e.seq)
                .bind(&e.user_id)
                .bind(&e.consent_id)
                .bind(&e.purpose_id)
                .bind(&e.attribute_id)
                .bind(&e.actor_id)
                .bind(e.changed_by.as_str())
                .bind(e.old_value.map(ConsentValue::as_str))
                .bind(e.new_value.as_str())
                .bind(e.days)
                .bind(to_ms(e.at))
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .bind(e.wording.as_ref().map(|w| w.number))
                .bind(e.wording.as_ref().map(|w| w.hash.as_str())),
        )
        .await
        .map(|_| ())
    }

    async fn history(&mut self, f: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        let mut q = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {HISTORY_COLUMNS} FROM consent_history WHERE 1 = 1"
        ));
        if let Some(user) = f.user {
            q.push(" AND user_id = ").push_bind(user.to_string());
        }
        if let Some(org) = f.organization {
            q.push(" AND organization_id = ").push_bind(org.to_string());
        }
        if let Some(purpose) = f.purpose {
            q.push(" AND purpose_id = ").push_bind(purpose.to_string());
        }
        if let Some(from) = f.from {
            q.push(" AND at >= ").push_bind(to_ms(from));
        }
        if let Some(until) = f.until {
            q.push(" AND at <= ").push_bind(to_ms(until));
        }
        if let Some(before) = &f.before {
            q.push(" AND id < ").push_bind(before.clone());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
        let rows = self.fetch_all(q.build()).await?;
        rows.iter().map(history_from_row).collect()
    }

    async fn history_entry(&mut self, id: &str) -> Result<Option<HistoryEntry>> {
        let sql = format!("SELECT {HISTORY_COLUMNS} FROM consent_history WHERE id = $1");
        self.fetch_optional(sqlx::query(&sql).bind(id))
            .await?
            .as_ref()
            .map(history_from_row)
            .transpose()
    }

    async fn chain_page(
        &mut self,
        org: OrganizationId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<LedgerRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLUMNS} FROM consent_history WHERE organization_id = $1 AND seq > $2 ORDER BY seq, id LIMIT $3"
        );
        let rows = self
            .fetch_all(
                sqlx::query(&sql)
                    .bind(org.to_string())
                    .bind(after_seq)
                    .bind(limit),
            )
            .await?;
        // A row whose fields cannot be read is reported, not an error: it is what
        // verification looks for.
        rows.iter()
            .map(|row| match history_from_row(row) {
                Ok(e) => Ok(LedgerRow::Entry(Box::new(e))),
                Err(_) => Ok(LedgerRow::Unreadable {
                    seq: row.col("seq")?,
                }),
            })
            .collect()
    }

    async fn chain_end(
        &mut self,
        org: OrganizationId,
    ) -> Result<(Option<(i64, String)>, Option<i64>)> {
        let row = self.fetch_one(sqlx::query(
            "SELECT (SELECT seq FROM consent_chain_heads WHERE organization_id = $1) AS head_seq, \
             (SELECT hash FROM consent_chain_heads WHERE organization_id = $1) AS head_hash, \
             (SELECT MAX(seq) FROM consent_history WHERE organization_id = $1) AS highest",
        )
        .bind(org.to_string())).await?;
        let seq: Option<i64> = row.col("head_seq")?;
        let hash: Option<String> = row.col("head_hash")?;
        let highest: Option<i64> = row.col("highest")?;
        Ok((seq.zip(hash), highest))
    }

    async fn current_values_page(
        &mut self,
        org: OrganizationId,
        after: &(String, String, String),
        limit: i64,
    ) -> Result<Vec<CurrentValue>> {
        let rows = self.fetch_all(sqlx::query(
            "SELECT v.consent_id, v.purpose_id, v.attribute_id, v.value, v.days, v.changed_at, \
             v.purpose_version, h.seq AS h_seq, h.new_value AS h_value, h.days AS h_days, h.at AS h_at, \
             h.purpose_version AS h_version FROM \
             (SELECT cv.consent_id, cv.purpose_id, cv.attribute_id, cv.value, cv.days, cv.changed_at, \
              cv.purpose_version, \
              (SELECT MAX(x.seq) FROM consent_history x WHERE x.consent_id = cv.consent_id \
               AND x.purpose_id = cv.purpose_id AND x.attribute_id = cv.attribute_id \
               AND x.organization_id = cv.organization_id AND x.changed_by <> 'system') AS latest \
              FROM consent_values cv WHERE cv.organization_id = $1 \
              AND (cv.consent_id, cv.purpose_id, cv.attribute_id) > ($2, $3, $4) \
              ORDER BY cv.consent_id, cv.purpose_id, cv.attribute_id LIMIT $5) v \
             LEFT JOIN consent_history h ON h.organization_id = $1 AND h.seq = v.latest \
             ORDER BY v.consent_id, v.purpose_id, v.attribute_id",
        )
        .bind(org.to_string())
        .bind(&after.0)
        .bind(&after.1)
        .bind(&after.2)
        .bind(limit)).await?;
        rows.iter()
            .map(|row| {
                let h_seq: Option<i64> = row.col("h_seq")?;
                let recorded = match h_seq {
                    Some(seq) => Some(RecordedValue {
                        seq,
                        value: row.col("h_value")?,
                        days: row.col("h_days")?,
                        at: row.time("h_at")?,
                        version: row.col("h_version")?,
                    }),
                    None => None,
                };
                Ok(CurrentValue {
                    consent_id: row.col("consent_id")?,
                    purpose_id: row.col("purpose_id")?,
                    attribute_id: row.col("attribute_id")?,
                    value: row.col("value")?,
                    days: row.col("days")?,
                    changed_at: row.time("changed_at")?,
                    version: row.col("purpose_version")?,
                    recorded,
                })
            })
            .collect()
    }

    async fn consented_users(
        &mut self,
        org: OrganizationId,
        h: &HoldersQuery,
    ) -> Result<Vec<User>> {
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // Only live attributes that still serve the purpose count; the subscription must stand.
        // Those two are EXISTS probes rather than joins: the consent_values_by_purpose index
        // must drive, in user order, so that a page reads about `limit` rows. As joins,
        // SQLite 3.46 with ANALYZE statistics scanned every subscription and sorted: the
        // first page took 48 ms at 10k users and 25 s at 1M (BENCHMARKS.md).
        let mut q = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {cols} FROM users u JOIN (SELECT DISTINCT cv.user_id FROM consent_values cv \
             WHERE cv.organization_id = "
        ));
        q.push_bind(org.to_string())
            .push(" AND cv.purpose_id = ")
            .push_bind(h.purpose.to_string());
        if let Some(a) = h.attribute {
            q.push(" AND cv.attribute_id = ").push_bind(a.to_string());
        }
        push_holding(&mut q, h.holding);
        if let Some(version) = h.given_below {
            q.push(" AND cv.purpose_version < ").push_bind(version);
        }
        q.push(" AND cv.user_id > ")
            .push_bind(h.after.map(|a| a.to_string()).unwrap_or_default())
            .push(
                " AND EXISTS (SELECT 1 FROM subscriptions s \
                 WHERE s.organization_id = cv.organization_id AND s.user_id = cv.user_id) \
                 AND EXISTS (SELECT 1 FROM template_purposes tp JOIN templates t ON t.id = tp.template_id \
                 WHERE tp.template_id = cv.attribute_id AND tp.purpose_id = cv.purpose_id AND t.deleted_at IS NULL) \
                 ORDER BY cv.user_id LIMIT ",
            )
            .push_bind(h.limit)
            .push(") c ON c.user_id = u.id ORDER BY u.id");
        let rows = self.fetch_all(q.build()).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn ledger_entries(&mut self) -> Result<i64> {
        // One row per organisation; CAST: PostgreSQL sums BIGINT as NUMERIC.
        let row = self
            .fetch_one(sqlx::query(
                "SELECT CAST(COALESCE(SUM(seq), 0) AS BIGINT) AS entries FROM consent_chain_heads",
            ))
            .await?;
        row.col("entries")
    }

    async fn holder_counts(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        holding: Holding,
        version: i64,
    ) -> Result<(i64, i64)> {
        let mut q =
            sqlx::QueryBuilder::<DB>::new("SELECT COUNT(DISTINCT CASE WHEN cv.purpose_version >= ");
        q.push_bind(version)
            .push(" THEN cv.user_id END) AS current, COUNT(DISTINCT CASE WHEN cv.purpose_version < ")
            .push_bind(version)
            .push(" THEN cv.user_id END) AS outdated FROM consent_values cv WHERE cv.organization_id = ")
            .push_bind(org.to_string())
            .push(" AND cv.purpose_id = ")
            .push_bind(purpose.to_string());
        push_holding(&mut q, holding);
        q.push(
            " AND EXISTS (SELECT 1 FROM subscriptions s \
             WHERE s.organization_id = cv.organization_id AND s.user_id = cv.user_id) \
             AND EXISTS (SELECT 1 FROM template_purposes tp JOIN templates t ON t.id = tp.template_id \
             WHERE tp.template_id = cv.attribute_id AND tp.purpose_id = cv.purpose_id AND t.deleted_at IS NULL)",
        );
        let row = self.fetch_one(q.build()).await?;
        Ok((row.col("current")?, row.col("outdated")?))
    }

    async fn insert_reconsent_job(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        version: i64,
        mail: bool,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO reconsent_jobs (purpose_id, version, organization_id, mail, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purpose_id, version) DO NOTHING",
            )
            .bind(purpose.to_string())
            .bind(version)
            .bind(org.to_string())
            .bind(mail)
            .bind(to_ms(at)),
        )
        .await
        .map(|_| ())
    }

    async fn claim_reconsent_job(&mut self) -> Result<Option<ReconsentJob>> {
        let sql = format!(
            "SELECT purpose_id, version, organization_id, after_user, mail FROM reconsent_jobs \
             ORDER BY created_at, purpose_id LIMIT 1 {SKIP_LOCKED}"
        );
        let Some(row) = self.fetch_optional(sqlx::query(&sql)).await? else {
            return Ok(None);
        };
        let after: String = row.col("after_user")?;
        Ok(Some(ReconsentJob {
            organization_id: row.id("organization_id")?,
            purpose_id: row.id("purpose_id")?,
            version: row.col("version")?,
            after_user: after.parse().ok(),
            mail: row.col("mail")?,
        }))
    }

    async fn advance_reconsent_job(
        &mut self,
        purpose: PurposeId,
        version: i64,
        after: Option<UserId>,
    ) -> Result<()> {
        let q = match after {
            Some(user) => sqlx::query(
                "UPDATE reconsent_jobs SET after_user = $1 WHERE purpose_id = $2 AND version = $3",
            )
            .bind(user.to_string()),
            None => {
                sqlx::query("DELETE FROM reconsent_jobs WHERE purpose_id = $1 AND version = $2")
            }
        };
        self.execute(q.bind(purpose.to_string()).bind(version))
            .await
            .map(|_| ())
    }

    async fn expiring_consents(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ExpiringConsent>> {
        let sql = "SELECT consent_id, organization_id, user_id, purpose_id, attribute_id, value, days, changed_at, \
             purpose_version \
             FROM consent_values WHERE expires_at IS NOT NULL AND expiry_recorded_at IS NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2";
        let rows = self
            .fetch_all(sqlx::query(sql).bind(to_ms(now)).bind(limit))
            .await?;
        rows.iter()
            .map(|r| {
                let value: String = r.col("value")?;
                Ok(ExpiringConsent {
                    consent_id: r.col("consent_id")?,
                    organization_id: r.id("organization_id")?,
                    user_id: r.id("user_id")?,
                    purpose_id: r.id("purpose_id")?,
                    attribute_id: r.id("attribute_id")?,
                    stored: StoredConsent {
                        value: consent_value(&value)?,
                        days: r.col("days")?,
                        changed_at: r.time("changed_at")?,
                        version: r.col("purpose_version")?,
                    },
                })
            })
            .collect()
    }

    async fn mark_expiry_recorded(
        &mut self,
        c: &ExpiringConsent,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.execute(sqlx::query(
            "UPDATE consent_values SET expiry_recorded_at = $1 WHERE consent_id = $2 AND purpose_id = $3 \
             AND attribute_id = $4 AND expiry_recorded_at IS NULL AND expires_at <= $1 AND changed_at = $5",
        )
        .bind(to_ms(now))
        .bind(&c.consent_id)
        .bind(c.purpose_id.to_string())
        .bind(c.attribute_id.to_string())
        .bind(to_ms(c.stored.changed_at))).await.map(|n| n == 1)
    }

    async fn users_lacking_consent(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
        attributes: &[AttributeId],
        holding: Holding,
    ) -> Result<Vec<User>> {
        let cols = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {cols} FROM subscriptions s JOIN users u ON u.id = s.user_id WHERE s.organization_id = "
        ));
        q.push_bind(org.to_string()).push(" AND (1 = 0");
        for a in attributes {
            q.push(" OR NOT EXISTS (SELECT 1 FROM consent_values cv WHERE cv.organization_id = s.organization_id \
                     AND cv.user_id = s.user_id AND cv.purpose_id = ")
                .push_bind(purpose.to_string())
                .push(" AND cv.attribute_id = ")
                .push_bind(a.to_string());
            push_holding(&mut q, holding);
            q.push(")");
        }
        q.push(") ORDER BY s.user_id");
        let rows = self.fetch_all(q.build()).await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// The conditions of a held consent ([`Holding`]) on `consent_values cv`. A lapsed one was
/// given under a version whose successor was published before the grace began.
fn push_holding(q: &mut sqlx::QueryBuilder<'_, DB>, h: Holding) {
    q.push(" AND cv.value IN ('Allow', 'AskMe') AND (cv.expires_at IS NULL OR cv.expires_at > ")
        .push_bind(to_ms(h.now))
        .push(")");
    if let Some(cut) = h.lapsed_before {
        q.push(
            " AND NOT EXISTS (SELECT 1 FROM purpose_versions pv WHERE pv.purpose_id = cv.purpose_id \
             AND pv.number = cv.purpose_version + 1 AND pv.created_at <= ",
        )
        .push_bind(to_ms(cut))
        .push(")");
    }
}
