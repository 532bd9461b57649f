//! Sign-in through an organisation's OpenID provider: providers, logins in progress, linked identities.

use super::prelude::*;

#[async_trait]
impl FederationTx for Uow {
    async fn sealed_client_secrets(&mut self) -> Result<Vec<(OrganizationId, String)>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT organization_id, client_secret_sealed FROM identity_providers \
                 ORDER BY organization_id",
            ))
            .await?;
        rows.iter()
            .map(|r| Ok((r.id("organization_id")?, r.col("client_secret_sealed")?)))
            .collect()
    }

    async fn set_sealed_client_secret(&mut self, org: OrganizationId, sealed: &str) -> Result<()> {
        self.execute(
            sqlx::query(
                "UPDATE identity_providers SET client_secret_sealed = $1 WHERE organization_id = $2",
            )
            .bind(sealed)
            .bind(org.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn identity_provider(&mut self, org: OrganizationId) -> Result<Option<IdentityProvider>> {
        let row = self
            .fetch_optional(
                sqlx::query(&format!(
                    "SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE organization_id = $1"
                ))
                .bind(org.to_string()),
            )
            .await?;
        row.as_ref().map(provider_from_row).transpose()
    }

    async fn insert_identity_provider(&mut self, p: &IdentityProvider) -> Result<()> {
        let sql = format!(
            "INSERT INTO identity_providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        );
        let q = bind_provider(sqlx::query(&sql), p);
        self.execute(q).await.map(|_| ())
    }

    async fn update_identity_provider(&mut self, p: &IdentityProvider) -> Result<bool> {
        let q = bind_provider(sqlx::query(
            "UPDATE identity_providers SET issuer = $2, authorization_url = $3, token_url = $4, logout_url = $5, \
             client_id = $6, client_secret_sealed = $7, jwks_url = $8, userinfo_url = $9, validate_signature = $10, \
             disable_userinfo = $11, default_scope = $12, token_auth_method = $13, created_at = $14, updated_at = $15 \
             WHERE organization_id = $1",
        ), p);
        self.execute(q).await.map(|n| n > 0)
    }

    async fn delete_identity_provider(&mut self, org: OrganizationId) -> Result<bool> {
        self.execute(
            sqlx::query("DELETE FROM identity_providers WHERE organization_id = $1")
                .bind(org.to_string()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn insert_login_state(&mut self, st: &LoginState, now: DateTime<Utc>) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM federated_login_states WHERE expires_at < $1")
                .bind(to_ms(now)),
        )
        .await?;
        self.execute(sqlx::query(
            "INSERT INTO federated_login_states (state_hash, organization_id, nonce, pkce_verifier, redirect_uri, expires_at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&st.state_hash)
        .bind(st.organization_id.to_string())
        .bind(&st.nonce)
        .bind(&st.pkce_verifier)
        .bind(&st.redirect_uri)
        .bind(to_ms(st.expires_at))
        .bind(st.started_by.map(|u| u.to_string()))).await.map(|_| ())
    }

    async fn take_login_state(&mut self, state_hash: &str) -> Result<Option<LoginState>> {
        let row = self.fetch_optional(sqlx::query(
            "DELETE FROM federated_login_states WHERE state_hash = $1 \
             RETURNING state_hash, organization_id, nonce, pkce_verifier, redirect_uri, expires_at, user_id",
        )
        .bind(state_hash)).await?;
        row.map(|r| {
            Ok(LoginState {
                state_hash: r.col("state_hash")?,
                organization_id: r.id("organization_id")?,
                nonce: r.col("nonce")?,
                pkce_verifier: r.col("pkce_verifier")?,
                redirect_uri: r.col("redirect_uri")?,
                expires_at: r.time("expires_at")?,
                started_by: r
                    .col::<Option<String>>("user_id")?
                    .map(|s| s.parse::<UserId>())
                    .transpose()
                    .map_err(|_| accord_domain::Error::internal("bad uuid in user_id"))?,
            })
        })
        .transpose()
    }

    async fn delete_external_identities_of(&mut self, user: UserId) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM external_identities WHERE user_id = $1")
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn external_identity_user(
        &mut self,
        org: OrganizationId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>> {
        let row = self.fetch_optional(sqlx::query(
            "SELECT user_id FROM external_identities WHERE organization_id = $1 AND issuer = $2 AND subject = $3",
        )
        .bind(org.to_string())
        .bind(issuer)
        .bind(subject)).await?;
        row.map(|r| r.id::<UserId>("user_id")).transpose()
    }

    async fn insert_external_identity(&mut self, e: &ExternalIdentity) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO external_identities (organization_id, issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.organization_id.to_string())
        .bind(&e.issuer)
        .bind(&e.subject)
        .bind(e.user_id.to_string())
        .bind(to_ms(e.created_at))).await.map(|_| ())
    }
}

fn bind_provider<'q>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    p: &'q IdentityProvider,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>> {
    let s = &p.settings;
    q.bind(p.organization_id.to_string())
        .bind(&s.issuer)
        .bind(&s.authorization_url)
        .bind(&s.token_url)
        .bind(&s.logout_url)
        .bind(&s.client_id)
        .bind(&p.client_secret_sealed)
        .bind(&s.jwks_url)
        .bind(&s.userinfo_url)
        .bind(s.validate_signature)
        .bind(s.disable_userinfo)
        .bind(&s.default_scope)
        .bind(s.token_auth_method.as_str())
        .bind(to_ms(p.created_at))
        .bind(to_ms(p.updated_at))
}
