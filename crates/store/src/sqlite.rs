//! SQLite: the embedded default. WAL mode; `synchronous=FULL`, so a committed write survives
//! power loss, not just a crash. One writer connection (SQLite has one write lock anyway:
//! queueing in-process is fairer and cheaper than spinning on SQLITE_BUSY), many readers.

use std::str::FromStr;
use std::time::Duration;

use accord_domain::Result;
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::{db_error, migrations, Backend, Mode, OpenOptions, Store, Tx};

type DB = sqlx::Sqlite;
/// SQLite has no row locks; a write unit of work holds the database's write lock instead.
const FOR_UPDATE: &str = "";
/// A write unit of work is alone on SQLite: there is nobody to skip.
const SKIP_LOCKED: &str = "";
/// A record's values as one JSON array of `[purpose, attribute, value, days, changed_at]`
/// (one row per read: every row is a hand-off from SQLite's connection thread).
const RECORD_VALUES_JSON: &str =
    "(SELECT json_group_array(json_array(v.purpose_id, v.attribute_id, \
     v.value, v.days, v.changed_at)) FROM consent_values v WHERE v.consent_id = c.id)";

pub struct SqliteStore {
    readers: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self> {
        disable_memory_statistics();
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| accord_domain::Error::invalid(format!("database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(db_error)?;
        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&writer)
            .await
            .map_err(|e| accord_domain::Error::internal(format!("migrations: {e}")))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(db_error)?;
        Ok(Self { readers, writer })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self, mode: Mode) -> Result<Box<dyn Tx>> {
        let tx = match mode {
            Mode::Read => self.readers.begin().await,
            Mode::Write => self.writer.begin_with("BEGIN IMMEDIATE").await,
        }
        .map_err(db_error)?;
        Ok(Box::new(Uow { tx }))
    }

    async fn consent_read(
        &self,
        q: &crate::ConsentReadQuery,
    ) -> Result<Option<crate::ConsentRead>> {
        consent_read_with(&self.readers, q).await
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

include!("sql.rs");

/// SQLite keeps allocation statistics by default, behind one process-wide mutex taken on
/// every allocation: with a pool of reader threads that mutex was the hottest lock of a
/// consent read (perf, BENCHMARKS.md). Accord never reads those statistics. This must run
/// before SQLite initialises; afterwards SQLite refuses it (SQLITE_MISUSE) and nothing
/// changes, which is harmless.
fn disable_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is called once, before any connection of this process
        // is opened by us, with the documented argument type (an int) for MEMSTATUS.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if rc != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialised already; memory statistics stay on"
            );
        }
    });
}
