//! PostgreSQL: for many stateless nodes on one database. Read committed; rows that a unit
//! of work reads in order to change them are locked (`FOR UPDATE`).

use std::str::FromStr;
use std::time::Duration;

use accord_domain::Result;
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::{db_error, migrations, Backend, Mode, OpenOptions, Store, Tx};

type DB = sqlx::Postgres;
const FOR_UPDATE: &str = "FOR UPDATE";
/// Nodes claiming work take different rows instead of queueing on the same ones.
const SKIP_LOCKED: &str = "FOR UPDATE SKIP LOCKED";
/// A record's values as one JSON array of `[purpose, attribute, value, days, changed_at]`.
const RECORD_VALUES_JSON: &str =
    "(SELECT COALESCE(json_agg(json_build_array(v.purpose_id, v.attribute_id, \
     v.value, v.days, v.changed_at)), '[]')::text FROM consent_values v WHERE v.consent_id = c.id)";

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| accord_domain::Error::invalid(format!("database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        // The migrator takes an advisory lock: nodes starting together migrate once.
        migrations::migrator(migrations::POSTGRES)
            .await?
            .run(&pool)
            .await
            .map_err(|e| accord_domain::Error::internal(format!("migrations: {e}")))?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn begin(&self, _mode: Mode) -> Result<Box<dyn Tx>> {
        let tx = self.pool.begin().await.map_err(db_error)?;
        Ok(Box::new(Uow { tx }))
    }

    async fn consent_read(
        &self,
        q: &crate::ConsentReadQuery,
    ) -> Result<Option<crate::ConsentRead>> {
        consent_read_with(&self.pool, q).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}

include!("sql.rs");
