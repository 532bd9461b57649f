//! Sessions and the refresh tokens that extend them.

use super::prelude::*;

#[async_trait]
impl SessionsTx for Uow {
    async fn insert_session(&mut self, s: &Session) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO sessions (id, user_id, client_id, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.client_id)
        .bind(to_ms(s.created_at))
        .bind(to_ms(s.expires_at))
        .bind(s.revoked_at.map(to_ms))).await.map(|_| ())
    }

    async fn session_by_id(&mut self, id: SessionId) -> Result<Option<Session>> {
        self.fetch_optional(sqlx::query(
            "SELECT id, user_id, client_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())).await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn live_sessions_of(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Session>> {
        let rows = self
            .fetch_all(
                sqlx::query(
                    "SELECT id, user_id, client_id, created_at, expires_at, revoked_at FROM sessions \
                     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at DESC, id DESC LIMIT $3",
                )
                .bind(user.to_string())
                .bind(to_ms(now))
                .bind(limit),
            )
            .await?;
        rows.iter().map(session_from_row).collect()
    }

    async fn revoke_session(&mut self, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        self.execute(
            sqlx::query(REVOKE_SESSION_SQL)
                .bind(to_ms(at))
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: DateTime<Utc>,
        except: Option<SessionId>,
    ) -> Result<()> {
        let q = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        )
        .bind(to_ms(at))
        .bind(user.to_string())
        // An ID no session has when none is spared.
        .bind(except.map(|s| s.to_string()).unwrap_or_default());
        self.execute(q).await.map(|_| ())
    }

    async fn session_was_refreshed(&mut self, session: SessionId) -> Result<bool> {
        self.fetch_optional(sqlx::query(
            "SELECT 1 FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL LIMIT 1",
        )
        .bind(session.to_string())).await.map(|r| r.is_some())
    }

    async fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        self.execute(
            sqlx::query(INSERT_REFRESH_TOKEN_SQL)
                .bind(&t.token_hash)
                .bind(t.session_id.to_string())
                .bind(to_ms(t.expires_at))
                .bind(t.used_at.map(to_ms)),
        )
        .await
        .map(|_| ())
    }

    async fn refresh_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>> {
        let sql = format!(
            "SELECT token_hash, session_id, expires_at, used_at FROM refresh_tokens \
             WHERE token_hash = $1 {FOR_UPDATE}"
        );
        let Some(row) = self
            .fetch_optional(sqlx::query(&sql).bind(token_hash))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenRecord {
            token_hash: row.col("token_hash")?,
            session_id: row.id("session_id")?,
            expires_at: row.time("expires_at")?,
            used_at: row.opt_time("used_at")?,
        }))
    }

    async fn session_by_refresh_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, Session, User)>> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            let user_columns: Vec<String> = USER_COLUMNS
                .split(',')
                .map(|c| format!("u.{}", c.trim()))
                .collect();
            format!(
                "SELECT r.token_hash, r.session_id, r.expires_at AS token_expires_at, r.used_at, \
                 s.client_id, s.created_at AS session_created_at, \
                 s.expires_at AS session_expires_at, s.revoked_at, {} \
                 FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
                 JOIN users u ON u.id = s.user_id WHERE r.token_hash = $1",
                user_columns.join(", ")
            )
        });
        let Some(row) = self
            .fetch_optional(sqlx::query(&SQL).bind(token_hash))
            .await?
        else {
            return Ok(None);
        };
        let user = user_from_row(&row)?;
        let token = RefreshTokenRecord {
            token_hash: row.col("token_hash")?,
            session_id: row.id("session_id")?,
            expires_at: row.time("token_expires_at")?,
            used_at: row.opt_time("used_at")?,
        };
        let session = Session {
            id: token.session_id,
            user_id: user.id,
            client_id: row.col("client_id")?,
            created_at: row.time("session_created_at")?,
            expires_at: row.time("session_expires_at")?,
            revoked_at: row.opt_time("revoked_at")?,
        };
        Ok(Some((token, session, user)))
    }

    async fn mark_refresh_token_used(
        &mut self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.execute(
            sqlx::query(MARK_REFRESH_TOKEN_USED_SQL)
                .bind(to_ms(at))
                .bind(token_hash),
        )
        .await
        .map(|n| n == 1)
    }
}
