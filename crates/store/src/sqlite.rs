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
    inline: InlineReaders,
}

/// Connections for consent reads, the server's hottest path, used inline on the calling
/// thread. sqlx's SQLite driver gives each connection a thread of its own and hands every
/// statement over to it and back; under load those context switches cost more than the
/// statement itself (perf, BENCHMARKS.md). A consent read is one prepared statement over a
/// few B-tree pages SQLite caches — tens of microseconds, like serialising the answer — so
/// it runs where it is asked. As many connections stay open as threads ran reads at once.
struct InlineReaders {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

impl InlineReaders {
    /// Idle connections kept (more are opened when more threads read at once, then closed).
    const MAX_IDLE: usize = 8;

    fn with<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T> {
        let taken = self.idle.lock().expect("inline readers").pop();
        let conn = match taken {
            Some(c) => c,
            None => {
                use rusqlite::OpenFlags;
                let c = rusqlite::Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(inline_error)?;
                c.busy_timeout(Duration::from_secs(10))
                    .map_err(inline_error)?;
                c
            }
        };
        let out = f(&conn).map_err(inline_error);
        let mut idle = self.idle.lock().expect("inline readers");
        if idle.len() < Self::MAX_IDLE {
            idle.push(conn);
        }
        out
    }
}

fn inline_error(e: rusqlite::Error) -> accord_domain::Error {
    accord_domain::Error::internal(format!("sqlite: {e}"))
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
        let inline = InlineReaders {
            path: connect.get_filename().to_owned(),
            idle: Default::default(),
        };
        let readers = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await
            .map_err(db_error)?;
        Ok(Self {
            readers,
            writer,
            inline,
        })
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
        let row = self.inline.with(|conn| {
            use rusqlite::OptionalExtension as _;
            let mut statement = conn.prepare_cached(&consent_read_sql())?;
            let session = q.session.map(|s| s.to_string());
            let params: [(&str, &dyn rusqlite::ToSql); 6] = [
                ("$1", &q.caller.to_string()),
                ("$2", &session),
                ("$3", &q.organization.to_string()),
                ("$4", &q.user.to_string()),
                ("$5", &OrgRole::Admin.id()),
                ("$6", &OrgRole::Dpo.id()),
            ];
            statement
                .query_row(&params[..], |row| {
                    let session = match row.get::<_, Option<String>>("s_id")? {
                        None => None,
                        Some(sid) => Some((
                            sid,
                            row.get("s_user")?,
                            row.get("s_client")?,
                            row.get("s_created")?,
                            row.get("s_expires")?,
                            row.get("s_revoked")?,
                        )),
                    };
                    Ok(ConsentReadRow {
                        status: row.get("u_status")?,
                        platform_admin: row.get("u_platform")?,
                        key_revision: row.get("u_key_revision")?,
                        key_issued: row.get("u_key_issued")?,
                        session,
                        layout_version: row.get("o_version")?,
                        is_admin: row.get("is_admin")?,
                        is_dpo: row.get("is_dpo")?,
                        consent_id: row.get("c_id")?,
                        values_json: row.get("c_values")?,
                    })
                })
                .optional()
        })?;
        row.map(ConsentReadRow::into_read).transpose()
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
