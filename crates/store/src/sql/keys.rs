//! The server's own keys: token-signing keys and sealing secrets.

use super::prelude::*;

#[async_trait]
impl KeysTx for Uow {
    async fn lock_signing_keys(&mut self) -> Result<()> {
        if LOCK_SIGNING_KEYS.is_empty() {
            return Ok(());
        }
        self.execute(sqlx::query(LOCK_SIGNING_KEYS))
            .await
            .map(|_| ())
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>> {
        let rows = self
            .fetch_all(sqlx::query(
                "SELECT id, algorithm, private_key, public_key, created_at, retired_at, compromised FROM signing_keys \
             ORDER BY created_at, id",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    id: row.col("id")?,
                    algorithm: row.col("algorithm")?,
                    private_key: row.col("private_key")?,
                    public_key: row.col("public_key")?,
                    created_at: row.time("created_at")?,
                    retired_at: row.opt_time("retired_at")?,
                    compromised: row.col("compromised")?,
                })
            })
            .collect()
    }

    async fn insert_signing_key(&mut self, k: &SigningKeyRecord) -> Result<()> {
        self.execute(
            sqlx::query(
                "INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&k.id)
            .bind(&k.algorithm)
            .bind(&k.private_key)
            .bind(&k.public_key)
            .bind(to_ms(k.created_at)),
        )
        .await
        .map(|_| ())
    }

    async fn retire_signing_key(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        compromised: bool,
    ) -> Result<bool> {
        self.execute(
            sqlx::query(
                "UPDATE signing_keys SET retired_at = COALESCE(retired_at, $1), \
                 compromised = (compromised OR $2), private_key = $3 WHERE id = $4",
            )
            .bind(to_ms(now))
            .bind(compromised)
            .bind(Vec::<u8>::new())
            .bind(id),
        )
        .await
        .map(|n| n > 0)
    }

    async fn server_secret(&mut self, name: &str) -> Result<Option<String>> {
        let q = sqlx::query("SELECT value FROM server_secrets WHERE name = $1").bind(name);
        let row = self.fetch_optional(q).await?;
        row.map(|r| r.col("value")).transpose()
    }

    async fn insert_server_secret_if_absent(
        &mut self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .bind(to_ms(now))).await.map(|_| ())
    }
}
