//! Accounts: users, the proof of their addresses, password resets and sign-in throttling.

use super::prelude::*;

#[async_trait]
impl AccountsTx for Uow {
    async fn insert_user(&mut self, u: &User) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO users (id, email, email_key, name, phone, password_hash, status, \
             is_platform_admin, image_id, last_visit, apikey_revision, apikey_issued_at, \
             client_token, client_type, created_at, first_name, surname, home_organization_id, \
             email_verified_at, language) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(u.id.to_string())
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.email.as_ref().map(Email::key))
        .bind(&u.name)
        .bind(&u.phone)
        .bind(&u.password_hash)
        .bind(u.status.code())
        .bind(u.is_platform_admin)
        .bind(u.image_id.map(|i| i.to_string()))
        .bind(u.last_visit.map(to_ms))
        .bind(u.apikey_revision)
        .bind(u.apikey_issued_at.map(to_ms))
        .bind(&u.client_token)
        .bind(u.client_type)
        .bind(to_ms(u.created_at))
        .bind(&u.first_name)
        .bind(&u.surname)
        .bind(u.home_organization_id.map(|o| o.to_string()))
        .bind(u.email_verified_at.map(to_ms))
        .bind(u.language.map(Language::code))).await.map(|_| ())
    }

    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        self.fetch_optional(sqlx::query(&sql).bind(id.to_string()))
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_email_key(&mut self, email_key: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        self.fetch_optional(sqlx::query(&sql).bind(email_key))
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn update_user_profile(&mut self, id: UserId, name: &str, phone: &str) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET name = $1, phone = $2 WHERE id = $3")
                .bind(name)
                .bind(phone)
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_user_language(&mut self, id: UserId, language: Language) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
                .bind(language.code())
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_push_client(&mut self, id: UserId, token: &str, client_type: i64) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET client_token = $1, client_type = $2 WHERE id = $3")
                .bind(token)
                .bind(client_type)
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_last_visit(&mut self, id: UserId, at: DateTime<Utc>) -> Result<()> {
        self.execute(
            sqlx::query(SET_LAST_VISIT_SQL)
                .bind(to_ms(at))
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_apikey(
        &mut self,
        id: UserId,
        revision: i64,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.execute(
            sqlx::query(
                "UPDATE users SET apikey_revision = $1, apikey_issued_at = $2 WHERE id = $3",
            )
            .bind(revision)
            .bind(issued_at.map(to_ms))
            .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn revoke_apikey(&mut self, id: UserId) -> Result<()> {
        self.execute(
            sqlx::query(
                "UPDATE users SET apikey_revision = apikey_revision + 1, apikey_issued_at = NULL \
             WHERE id = $1 AND apikey_issued_at IS NOT NULL",
            )
            .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn set_platform_admin(&mut self, id: UserId, is_admin: bool) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET is_platform_admin = $1 WHERE id = $2")
                .bind(is_admin)
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn platform_admins(&mut self) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE is_platform_admin ORDER BY email_key, id"
        );
        let rows = self.fetch_all(sqlx::query(&sql)).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_user_status(&mut self, id: UserId, status: UserStatus) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET status = $1 WHERE id = $2")
                .bind(status as i64)
                .bind(id.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn delete_user(&mut self, id: UserId) -> Result<bool> {
        self.execute(sqlx::query("DELETE FROM users WHERE id = $1").bind(id.to_string()))
            .await
            .map(|n| n > 0)
    }

    async fn insert_password_reset(
        &mut self,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(to_ms(expires_at))).await.map(|_| ())
    }

    async fn set_email_verified(&mut self, user: UserId, at: Option<DateTime<Utc>>) -> Result<()> {
        self.execute(
            sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
                .bind(at.map(to_ms))
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn insert_email_verification(
        &mut self,
        token_hash: &str,
        user: UserId,
        email_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(sqlx::query(
            "INSERT INTO email_verifications (token_hash, user_id, email_key, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(email_key)
        .bind(to_ms(expires_at))).await.map(|_| ())
    }

    async fn take_email_verification(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>> {
        // One statement: two uses racing for one token cannot both win.
        let row = self
            .fetch_optional(
                sqlx::query(
                    "DELETE FROM email_verifications WHERE token_hash = $1 AND expires_at > $2 \
                     AND new_email IS NULL RETURNING user_id, email_key",
                )
                .bind(token_hash)
                .bind(to_ms(now)),
            )
            .await?;
        row.map(|r| Ok((r.id("user_id")?, r.col("email_key")?)))
            .transpose()
    }

    async fn insert_email_change(
        &mut self,
        token_hash: &str,
        user: UserId,
        new_email: &str,
        new_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO email_verifications (token_hash, user_id, email_key, expires_at, new_email) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user.to_string())
            .bind(new_key)
            .bind(to_ms(expires_at))
            .bind(new_email),
        )
        .await
        .map(|_| ())
    }

    async fn take_email_change(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>> {
        let row = self
            .fetch_optional(
                sqlx::query(
                    "DELETE FROM email_verifications WHERE token_hash = $1 AND expires_at > $2 \
                     AND new_email IS NOT NULL RETURNING user_id, new_email",
                )
                .bind(token_hash)
                .bind(to_ms(now)),
            )
            .await?;
        row.map(|r| Ok((r.id("user_id")?, r.col("new_email")?)))
            .transpose()
    }

    async fn void_email_verifications(&mut self, user: UserId) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM email_verifications WHERE user_id = $1")
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn void_password_resets(&mut self, user: UserId) -> Result<()> {
        self.execute(
            sqlx::query("DELETE FROM password_reset_tokens WHERE user_id = $1")
                .bind(user.to_string()),
        )
        .await
        .map(|_| ())
    }

    async fn consume_password_reset(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>> {
        // One statement: two confirmations racing for one token cannot both win.
        let row = self
            .fetch_optional(
                sqlx::query(
                    "UPDATE password_reset_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
                )
                .bind(to_ms(now))
                .bind(token_hash),
            )
            .await?;
        row.map(|r| r.id::<UserId>("user_id")).transpose()
    }

    async fn throttle_state(&mut self, key: &str, fresh: &ThrottleState) -> Result<ThrottleState> {
        // Insert first, then lock: on PostgreSQL a concurrent first attempt waits on the
        // insert instead of both reading "no row" and one count being lost.
        self.execute(
            sqlx::query(
                "INSERT INTO login_throttle (key, attempts, window_start, locked_until, lockouts) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(i64::from(fresh.attempts))
            .bind(to_ms(fresh.window_start))
            .bind(fresh.locked_until.map(to_ms))
            .bind(i64::from(fresh.lockouts)),
        )
        .await?;
        let sql = format!(
            "SELECT attempts, window_start, locked_until, lockouts FROM login_throttle \
             WHERE key = $1 {FOR_UPDATE}"
        );
        let row = self.fetch_one(sqlx::query(&sql).bind(key)).await?;
        Ok(ThrottleState {
            attempts: row.col::<i64>("attempts")?.clamp(0, u32::MAX as i64) as u32,
            window_start: row.time("window_start")?,
            locked_until: row.opt_time("locked_until")?,
            lockouts: row.col::<i64>("lockouts")?.clamp(0, u32::MAX as i64) as u32,
        })
    }

    async fn put_throttle_state(&mut self, key: &str, s: &ThrottleState) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO login_throttle (key, attempts, window_start, locked_until, lockouts) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, \
             window_start = excluded.window_start, locked_until = excluded.locked_until, \
             lockouts = excluded.lockouts",
            )
            .bind(key)
            .bind(i64::from(s.attempts))
            .bind(to_ms(s.window_start))
            .bind(s.locked_until.map(to_ms))
            .bind(i64::from(s.lockouts)),
        )
        .await
        .map(|_| ())
    }
}
