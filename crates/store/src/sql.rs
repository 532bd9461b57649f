// The unit of work, written once and compiled into both `sqlite` and `postgres` (each
// includes this file after defining `DB` and `FOR_UPDATE`). Only SQL that both backends
// accept belongs here: `$n` placeholders, BIGINT millisecond times, TEXT IDs.

use accord_domain::identity::{Email, OrgRole, RoleGrant, User, UserStatus};
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::throttle::ThrottleState;
use accord_domain::{OrganizationId, SessionId, UserId};
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{from_ms, to_ms, SigningKeyRecord};

pub struct Uow {
    tx: sqlx::Transaction<'static, DB>,
}

type DbRow = <DB as sqlx::Database>::Row;

const USER_COLUMNS: &str = "id, email, name, phone, password_hash, status, is_platform_admin, \
     image_id, last_visit, apikey_revision, apikey_issued_at, client_token, client_type, created_at";

fn uuid_col(row: &DbRow, col: &str) -> Result<uuid::Uuid> {
    let s: String = row.try_get(col).map_err(db_error)?;
    uuid::Uuid::parse_str(&s).map_err(|e| accord_domain::Error::internal(format!("bad uuid in {col}: {e}")))
}

fn user_from_row(row: &DbRow) -> Result<User> {
    let email: Option<String> = row.try_get("email").map_err(db_error)?;
    let status: i64 = row.try_get("status").map_err(db_error)?;
    Ok(User {
        id: UserId(uuid_col(row, "id")?),
        // Stored emails were validated on the way in; one that no longer parses (a
        // stricter rule since) is kept rather than lost.
        email: email.map(|e| Email::parse(&e).unwrap_or_else(|_| Email::unchecked(e))),
        name: row.try_get("name").map_err(db_error)?,
        phone: row.try_get("phone").map_err(db_error)?,
        password_hash: row.try_get("password_hash").map_err(db_error)?,
        status: UserStatus::from_code(status).unwrap_or(UserStatus::Disabled),
        is_platform_admin: row.try_get("is_platform_admin").map_err(db_error)?,
        image_id: row.try_get("image_id").map_err(db_error)?,
        last_visit: row.try_get::<Option<i64>, _>("last_visit").map_err(db_error)?.map(from_ms),
        apikey_revision: row.try_get("apikey_revision").map_err(db_error)?,
        apikey_issued_at: row
            .try_get::<Option<i64>, _>("apikey_issued_at")
            .map_err(db_error)?
            .map(from_ms),
        client_token: row.try_get("client_token").map_err(db_error)?,
        client_type: row.try_get("client_type").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
    })
}

fn session_from_row(row: &DbRow) -> Result<Session> {
    Ok(Session {
        id: SessionId(uuid_col(row, "id")?),
        user_id: UserId(uuid_col(row, "user_id")?),
        client_id: row.try_get("client_id").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        expires_at: from_ms(row.try_get("expires_at").map_err(db_error)?),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at").map_err(db_error)?.map(from_ms),
    })
}

#[async_trait]
impl Tx for Uow {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.map_err(db_error)
    }

    async fn insert_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, email, email_key, name, phone, password_hash, status, \
             is_platform_admin, image_id, last_visit, apikey_revision, apikey_issued_at, \
             client_token, client_type, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(u.id.to_string())
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.email.as_ref().map(Email::key))
        .bind(&u.name)
        .bind(&u.phone)
        .bind(&u.password_hash)
        .bind(u.status.code())
        .bind(u.is_platform_admin)
        .bind(&u.image_id)
        .bind(u.last_visit.map(to_ms))
        .bind(u.apikey_revision)
        .bind(u.apikey_issued_at.map(to_ms))
        .bind(&u.client_token)
        .bind(u.client_type)
        .bind(to_ms(u.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_email_key(&mut self, email_key: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        sqlx::query(&sql)
            .bind(email_key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn update_user_profile(&mut self, id: UserId, name: &str, phone: &str) -> Result<()> {
        sqlx::query("UPDATE users SET name = $1, phone = $2 WHERE id = $3")
            .bind(name)
            .bind(phone)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_last_visit(&mut self, id: UserId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE users SET last_visit = $1 WHERE id = $2")
            .bind(to_ms(at))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_apikey(&mut self, id: UserId, revision: i64, issued_at: Option<DateTime<Utc>>) -> Result<()> {
        sqlx::query("UPDATE users SET apikey_revision = $1, apikey_issued_at = $2 WHERE id = $3")
            .bind(revision)
            .bind(issued_at.map(to_ms))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_platform_admin(&mut self, id: UserId, is_admin: bool) -> Result<()> {
        sqlx::query("UPDATE users SET is_platform_admin = $1 WHERE id = $2")
            .bind(is_admin)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn delete_user(&mut self, id: UserId) -> Result<bool> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn role_grants_of(&mut self, id: UserId) -> Result<Vec<RoleGrant>> {
        let rows = sqlx::query(
            "SELECT organization_id, role_id FROM organization_roles WHERE user_id = $1 \
             ORDER BY organization_id, role_id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            let role_id: i64 = row.try_get("role_id").map_err(db_error)?;
            if let Some(role) = OrgRole::from_id(role_id) {
                grants.push(RoleGrant { organization_id: OrganizationId(uuid_col(row, "organization_id")?), role });
            }
        }
        Ok(grants)
    }

    async fn insert_session(&mut self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, client_id, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.client_id)
        .bind(to_ms(s.created_at))
        .bind(to_ms(s.expires_at))
        .bind(s.revoked_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn session_by_id(&mut self, id: SessionId) -> Result<Option<Session>> {
        sqlx::query(
            "SELECT id, user_id, client_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn revoke_session(&mut self, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_ms(at))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn revoke_sessions_of_user(&mut self, user: UserId, at: DateTime<Utc>, except: Option<SessionId>) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        )
            .bind(to_ms(at))
            .bind(user.to_string())
            // An ID no session has when none is spared.
            .bind(except.map(|s| s.to_string()).unwrap_or_default())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, used_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&t.token_hash)
        .bind(t.session_id.to_string())
        .bind(to_ms(t.expires_at))
        .bind(t.used_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn refresh_token_by_hash(&mut self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        let sql = format!(
            "SELECT token_hash, session_id, expires_at, used_at FROM refresh_tokens \
             WHERE token_hash = $1 {FOR_UPDATE}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenRecord {
            token_hash: row.try_get("token_hash").map_err(db_error)?,
            session_id: SessionId(uuid_col(&row, "session_id")?),
            expires_at: from_ms(row.try_get("expires_at").map_err(db_error)?),
            used_at: row.try_get::<Option<i64>, _>("used_at").map_err(db_error)?.map(from_ms),
        }))
    }

    async fn mark_refresh_token_used(&mut self, token_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
            .bind(to_ms(at))
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_error)
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, algorithm, private_key, public_key, created_at FROM signing_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    id: row.try_get("id").map_err(db_error)?,
                    algorithm: row.try_get("algorithm").map_err(db_error)?,
                    private_key: row.try_get("private_key").map_err(db_error)?,
                    public_key: row.try_get("public_key").map_err(db_error)?,
                    created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
                })
            })
            .collect()
    }

    async fn insert_signing_key(&mut self, k: &SigningKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.id)
        .bind(&k.algorithm)
        .bind(&k.private_key)
        .bind(&k.public_key)
        .bind(to_ms(k.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn insert_password_reset(&mut self, token_hash: &str, user: UserId, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(to_ms(expires_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn consume_password_reset(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
        // One statement: two confirmations racing for one token cannot both win.
        let row = sqlx::query(
            "UPDATE password_reset_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(to_ms(now))
        .bind(token_hash)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| uuid_col(&r, "user_id").map(UserId)).transpose()
    }

    async fn throttle_state(&mut self, key: &str, fresh: &ThrottleState) -> Result<ThrottleState> {
        // Insert first, then lock: on PostgreSQL a concurrent first attempt waits on the
        // insert instead of both reading "no row" and one count being lost.
        sqlx::query(
            "INSERT INTO login_throttle (key, attempts, window_start, locked_until, lockouts) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(i64::from(fresh.attempts))
        .bind(to_ms(fresh.window_start))
        .bind(fresh.locked_until.map(to_ms))
        .bind(i64::from(fresh.lockouts))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let sql = format!(
            "SELECT attempts, window_start, locked_until, lockouts FROM login_throttle \
             WHERE key = $1 {FOR_UPDATE}"
        );
        let row = sqlx::query(&sql).bind(key).fetch_one(&mut *self.tx).await.map_err(db_error)?;
        Ok(ThrottleState {
            attempts: row.try_get::<i64, _>("attempts").map_err(db_error)?.clamp(0, u32::MAX as i64) as u32,
            window_start: from_ms(row.try_get("window_start").map_err(db_error)?),
            locked_until: row.try_get::<Option<i64>, _>("locked_until").map_err(db_error)?.map(from_ms),
            lockouts: row.try_get::<i64, _>("lockouts").map_err(db_error)?.clamp(0, u32::MAX as i64) as u32,
        })
    }

    async fn put_throttle_state(&mut self, key: &str, s: &ThrottleState) -> Result<()> {
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
        .bind(i64::from(s.lockouts))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }
}
