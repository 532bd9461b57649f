//! SQLite: the embedded default. WAL mode; `synchronous=FULL`, so a committed write survives
//! power loss, not just a crash. One writer connection (SQLite has one write lock anyway:
//! queueing in-process is fairer and cheaper than spinning on SQLITE_BUSY), many readers.

use std::str::FromStr;
use std::time::Duration;

use accord_domain::session::{RefreshState, Rotation};
use accord_domain::Result;
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::{db_error, migrations, Backend, Mode, OpenOptions, Store, Tx};

pub(crate) type DB = sqlx::Sqlite;
/// SQLite has no row locks; a write unit of work holds the database's write lock instead.
pub(crate) const FOR_UPDATE: &str = "";
/// A write unit of work is alone on SQLite: there is nobody to skip.
pub(crate) const SKIP_LOCKED: &str = "";
/// A write unit of work holds the database's write lock already.
pub(crate) const LOCK_SIGNING_KEYS: &str = "";
/// The consent read's tables, each pinned to the unique index it is looked up by (the
/// tables' primary keys and `consents`' (organization, user)): SQLite costs a join from
/// the statistics `PRAGMA optimize` took, and statistics taken while `sessions` held one
/// row made every read scan all sessions: a read's cost grew with the number of people
/// (issue #27, BENCHMARKS.md). An index that stops existing fails the statement's preparation, and
/// `the_hot_statements_seek_whatever_the_statistics` with it.
pub(crate) const USER_BY_ID: &str = "INDEXED BY sqlite_autoindex_users_1";
pub(crate) const SESSION_BY_ID: &str = "INDEXED BY sqlite_autoindex_sessions_1";
pub(crate) const ORGANIZATION_BY_ID: &str = "INDEXED BY sqlite_autoindex_organizations_1";
pub(crate) const CONSENT_BY_PERSON: &str = "INDEXED BY sqlite_autoindex_consents_2";
/// A record's values as one JSON array of `[purpose, attribute, value, days, changed_at,
/// version]`
/// (one row per read: every row is a hand-off from SQLite's connection thread).
pub(crate) const RECORD_VALUES_JSON: &str =
    "(SELECT json_group_array(json_array(v.purpose_id, v.attribute_id, \
     v.value, v.days, v.changed_at, v.purpose_version)) FROM consent_values v WHERE v.consent_id = c.id)";

pub struct SqliteStore {
    readers: SqlitePool,
    writer: SqlitePool,
    inline: InlineReaders,
    /// SQLite's one write lock, taken in-process first by every unit of work that writes
    /// and by the consent committer, which has a connection of its own.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    committer: crate::group_commit::ConsentCommitter,
    /// Refresh-token rotations and read audits, batched ([`crate::sqlite_writer`]).
    small_writes: crate::sqlite_writer::BatchedWriter,
    metrics: crate::StoreMetrics,
    max_readers: u32,
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

/// How long our own writer connections wait on a lock SQLite reports busy.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A read-write connection of our own (the committer's, the checkpointer's), with the
/// durability of the pool's (`synchronous=FULL`: a committed batch survives power loss),
/// its checks, and no automatic checkpoints.
fn open_writer_connection(path: &std::path::Path) -> Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(inline_error)?;
    conn.busy_timeout(WRITER_BUSY_TIMEOUT)
        .map_err(inline_error)?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; \
         PRAGMA journal_size_limit = 67108864; PRAGMA analysis_limit = 1000;",
    )
    .map_err(inline_error)?;
    Ok(conn)
}

fn inline_error(e: rusqlite::Error) -> accord_domain::Error {
    accord_domain::Error::internal(format!("sqlite: {e}"))
}

impl SqliteStore {
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self, crate::OpenError> {
        use crate::OpenError;
        disable_memory_statistics();
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoints run on a thread of their own (`run_checkpointer`), not inside
            // the commit of whichever writer crossed the threshold.
            .pragma("wal_autocheckpoint", "0")
            // A log started over is cut back to 64 MiB on disk, not kept at its peak.
            .pragma("journal_size_limit", "67108864");
        // Readers, the committer and the checkpointer open the file by name: each would
        // get an empty database of its own.
        if connect.get_filename().as_os_str() == ":memory:" || url.contains("mode=memory") {
            return Err(OpenError::Configuration(
                "ACCORD_DATABASE_URL: an in-memory SQLite database cannot be shared by Accord's connections: use a file".into(),
            ));
        }
        let file = connect.get_filename().to_owned();
        let unreachable = |e: &dyn std::fmt::Display| {
            let missing = file
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
                .map(|d| format!(" (the directory {} does not exist)", d.display()))
                .unwrap_or_default();
            OpenError::Unreachable(format!(
                "cannot open the SQLite database {}{missing}: {e}",
                file.display()
            ))
        };
        // One process opens and migrates at a time. sqlx takes no lock on SQLite: two
        // processes starting together on a new file both ran migration 1 ("table users
        // already exists"), and the switch to WAL of one failed at once with "database is
        // locked" while another was opening (SQLite calls no busy handler there). An
        // flock of a file beside the database (`<file>-migrate.lock`), never of the
        // database itself: closing any descriptor of the database file would drop the
        // process's SQLite (fcntl) locks on it.
        let migrating = {
            let mut lock_path = file.as_os_str().to_owned();
            lock_path.push("-migrate.lock");
            tokio::task::spawn_blocking(move || {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)?;
                f.lock()?;
                Ok::<_, std::io::Error>(f)
            })
            .await
            .map_err(|e| OpenError::Other(accord_domain::Error::internal(e)))?
            .map_err(|e| unreachable(&e))?
        };
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await
            .map_err(|e| unreachable(&e))?;
        migrations::migrator(migrations::SQLITE)
            .await?
            .run(&writer)
            .await
            .map_err(|e| OpenError::Migration(e.to_string()))?;
        drop(migrating);
        let known = migrations::SQLITE.newest();
        let newer: Vec<i64> = sqlx::query_scalar(migrations::NEWER_SQL)
            .bind(known)
            .fetch_all(&writer)
            .await
            .map_err(|e| OpenError::Other(db_error(e)))?;
        migrations::warn_of_newer(&newer, known);
        let path = connect.get_filename().to_owned();
        let write_lock = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let thread = |name: &str, run: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(run)
                .map(|_| ())
                .map_err(|e| accord_domain::Error::internal(format!("{name} thread: {e}")))
        };
        let (committed, commits) = std::sync::mpsc::sync_channel(1);
        let checkpoints = open_writer_connection(&path)?;
        // Any descriptor of the file syncs its pages (the checkpointer's own sync).
        let database = std::fs::File::open(&path)
            .map_err(|e| accord_domain::Error::internal(format!("database file: {e}")))?;
        let lock = std::sync::Arc::clone(&write_lock);
        thread(
            "accord-checkpointer",
            Box::new(move || run_checkpointer(checkpoints, database, lock, commits)),
        )?;
        let metrics = crate::StoreMetrics::default();
        let small_writes = crate::sqlite_writer::BatchedWriter::start(
            open_writer_connection(&path)?,
            std::sync::Arc::clone(&write_lock),
            committed.clone(),
            metrics.clone(),
        )?;
        let committer = {
            let conn = open_writer_connection(&path)?;
            let (committer, queue) = crate::group_commit::ConsentCommitter::new();
            let lock = std::sync::Arc::clone(&write_lock);
            let metrics = metrics.clone();
            thread(
                "accord-consent-committer",
                Box::new(move || run_consent_committer(conn, lock, queue, committed, metrics)),
            )?;
            committer
        };
        let inline = InlineReaders {
            path,
            idle: Default::default(),
        };
        let max_readers = options.max_connections.max(1);
        let readers = SqlitePoolOptions::new()
            .max_connections(max_readers)
            .connect_with(connect.read_only(true))
            .await
            .map_err(db_error)?;
        Ok(Self {
            readers,
            writer,
            inline,
            write_lock,
            committer,
            small_writes,
            metrics,
            max_readers,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self, mode: Mode) -> Result<Box<dyn Tx>> {
        let asked = std::time::Instant::now();
        let write_lock = match mode {
            Mode::Read => None,
            Mode::Write => Some(std::sync::Arc::clone(&self.write_lock).lock_owned().await),
        };
        let tx = match mode {
            Mode::Read => self.readers.begin().await,
            Mode::Write => self.writer.begin_with("BEGIN IMMEDIATE").await,
        }
        .map_err(db_error)?;
        self.metrics.began(mode, asked.elapsed());
        Ok(Box::new(Uow { tx, write_lock }))
    }

    async fn consent_read(
        &self,
        q: &crate::ConsentReadQuery,
    ) -> Result<Option<crate::ConsentRead>> {
        let row = self.inline.with(|conn| consent_read_inline(conn, q))?;
        row.map(ConsentReadRow::into_read).transpose()
    }

    async fn change_consent(
        &self,
        job: crate::ConsentChangeJob,
    ) -> Result<crate::ConsentChangeOutcome> {
        self.committer.submit(job).await
    }

    async fn rotate_refresh_token(
        &self,
        presented: &str,
        successor: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Rotation> {
        let (presented, successor) = (presented.to_owned(), successor.to_owned());
        self.small_writes
            .write(move |conn| rotate_refresh_token_inline(conn, &presented, &successor, now))
            .await
    }

    async fn append_action_log(&self, log: &ActionLog) -> Result<()> {
        let l = log.clone();
        self.small_writes
            .write(move |conn| {
                conn.prepare_cached(INSERT_ACTION_LOG_SQL)
                    .and_then(|mut s| {
                        s.execute(rusqlite::params![
                            l.id,
                            l.organization_id.to_string(),
                            l.kind,
                            l.actor_id,
                            l.message,
                            to_ms(l.created_at),
                        ])
                    })
                    .map(|_| ())
                    .map_err(inline_error)
            })
            .await
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

    fn metrics(&self) -> &crate::StoreMetrics {
        &self.metrics
    }

    fn pool_use(&self) -> Vec<crate::PoolUse> {
        let of = |pool: &'static str, p: &SqlitePool, max: u32| crate::PoolUse {
            pool,
            open: p.size(),
            idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            max,
        };
        vec![
            of("readers", &self.readers, self.max_readers),
            of("writer", &self.writer, 1),
        ]
    }
}

/// The consent read's statement as this backend runs it ($1 caller, $2 session, $3
/// organisation, $4 person, $5 and $6 the Admin and Dpo role IDs), for tests that read
/// its plan.
pub fn consent_read_statement() -> &'static str {
    consent_read_sql()
}

// Compiled once per backend on purpose (docs/ARCHITECTURE.md, "The store").
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
use crate::{from_ms, to_ms};
use accord_domain::consent::ConsentValue;
use accord_domain::identity::{OrgRole, UserStatus};
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::webhook::ActionLog;
use accord_domain::{SessionId, UserId};
use sql::consent_read::*;
use sql::statements::*;
use sql::Uow;

/// The event types of an organisation's enabled webhooks (space-separated per webhook).
pub(crate) const WEBHOOK_EVENTS_SQL: &str =
    "SELECT subscribed_events FROM webhooks WHERE organization_id = $1 AND NOT disabled";

/// The group committer's chain head: created at genesis for an organisation that exists
/// and has none (a change naming an unknown organisation leaves nothing behind), then read.
/// $1 organisation, $2 the genesis hash. (PostgreSQL holds a batch's heads in one
/// statement: `postgres.rs`.)
pub(crate) const ENSURE_CHAIN_HEAD_SQL: &str =
    "INSERT INTO consent_chain_heads (organization_id, seq, hash) \
     SELECT $1, 0, $2 WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1) \
     ON CONFLICT (organization_id) DO NOTHING";

/// [`consent_read_sql`] on a rusqlite connection (the inline readers, the committer).
fn consent_read_inline(
    conn: &rusqlite::Connection,
    q: &crate::ConsentReadQuery,
) -> rusqlite::Result<Option<ConsentReadRow>> {
    use rusqlite::OptionalExtension as _;
    let mut statement = conn.prepare_cached(consent_read_sql())?;
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
}

/// [`Store::rotate_refresh_token`] on the batched writer's connection: the token, its
/// session and the account's status, then the writes the rule decides. Three lookups by
/// primary key, not one join: SQLite plans a single-table lookup by a unique key without
/// statistics, while a join is costed from them, and statistics taken while `sessions`
/// and `refresh_tokens` were nearly empty made it scan both (found by the benchmark, whose
/// seeding runs ANALYZE).
fn rotate_refresh_token_inline(
    conn: &rusqlite::Connection,
    presented: &str,
    successor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Rotation> {
    use rusqlite::{params, OptionalExtension as _};
    let id = |raw: String| {
        uuid::Uuid::parse_str(&raw).map_err(|e| {
            accord_domain::Error::internal(format!("bad uuid in a refresh token's session: {e}"))
        })
    };
    let record = conn
        .prepare_cached(
            "SELECT session_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .and_then(|mut s| {
            s.query_row(params![presented], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .optional()
        })
        .map_err(inline_error)?;
    let state = match record {
        None => None,
        Some((session_id, expires_at, used_at)) => {
            let session = conn
                .prepare_cached(
                    "SELECT user_id, client_id, created_at, expires_at, revoked_at \
                     FROM sessions WHERE id = $1",
                )
                .and_then(|mut s| {
                    s.query_row(params![session_id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get::<_, Option<i64>>(4)?,
                        ))
                    })
                    .optional()
                })
                .map_err(inline_error)?;
            let session_id = SessionId(id(session_id)?);
            let session = match session {
                None => None,
                Some((user, client_id, created, expires, revoked)) => Some(Session {
                    id: session_id,
                    user_id: UserId(id(user)?),
                    client_id,
                    created_at: from_ms(created),
                    expires_at: from_ms(expires),
                    revoked_at: revoked.map(from_ms),
                }),
            };
            let user_status = match &session {
                None => None,
                Some(s) => conn
                    .prepare_cached("SELECT status FROM users WHERE id = $1")
                    .and_then(|mut st| {
                        st.query_row(params![s.user_id.to_string()], |r| r.get::<_, i64>(0))
                            .optional()
                    })
                    .map_err(inline_error)?
                    .and_then(UserStatus::from_code),
            };
            Some(RefreshState {
                record: RefreshTokenRecord {
                    token_hash: presented.to_owned(),
                    session_id,
                    expires_at: from_ms(expires_at),
                    used_at: used_at.map(from_ms),
                },
                session,
                user_status,
            })
        }
    };
    let rotation = Rotation::judge(state.as_ref(), now);
    let execute = |sql: &str, p: &[&dyn rusqlite::ToSql]| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute(p))
            .map_err(inline_error)
    };
    match &rotation {
        Rotation::Refused => {}
        Rotation::Reused { session_id } => {
            execute(
                REVOKE_SESSION_SQL,
                params![to_ms(now), session_id.to_string()],
            )?;
        }
        Rotation::Rotated { session } => {
            // The write lock is held since the token was read: it is still unspent.
            execute(MARK_REFRESH_TOKEN_USED_SQL, params![to_ms(now), presented])?;
            let t = crate::successor_of(session, successor);
            execute(
                INSERT_REFRESH_TOKEN_SQL,
                params![
                    t.token_hash,
                    t.session_id.to_string(),
                    to_ms(t.expires_at),
                    t.used_at.map(to_ms)
                ],
            )?;
            execute(
                SET_LAST_VISIT_SQL,
                params![to_ms(now), session.user_id.to_string()],
            )?;
        }
    }
    Ok(rotation)
}

/// Sets one value of a record. $1 consent, $2 organisation, $3 user, $4 purpose,
/// $5 attribute, $6 value, $7 days, $8 changed at, $9 expires at, $10 purpose version.
const PUT_CONSENT_VALUE_SQL: &str =
    "INSERT INTO consent_values (consent_id, organization_id, user_id, purpose_id, \
     attribute_id, value, days, changed_at, expires_at, purpose_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (consent_id, purpose_id, attribute_id) DO UPDATE SET value = excluded.value, \
     days = excluded.days, changed_at = excluded.changed_at, expires_at = excluded.expires_at, \
     purpose_version = excluded.purpose_version, expiry_recorded_at = NULL";

/// The consent committer ([`crate::group_commit`]): a thread of its own with a
/// read-write connection, every statement inline. It shares SQLite's one write lock with
/// the units of work through `write_lock`, so neither ever waits on SQLITE_BUSY.
fn run_consent_committer(
    conn: rusqlite::Connection,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    mut queue: tokio::sync::mpsc::Receiver<crate::group_commit::Pending>,
    committed: std::sync::mpsc::SyncSender<()>,
    metrics: crate::StoreMetrics,
) {
    use crate::group_commit::{next_batch_blocking, Batch};
    while let Some(pending) = next_batch_blocking(&mut queue) {
        let changes = pending.len();
        let mut batch = Batch::new(pending);
        let write = write_lock.blocking_lock();
        let started = std::time::Instant::now();
        let recorded = record_batch(&conn, &mut batch);
        metrics.batch_committed(crate::metrics::Writer::consents, changes, started.elapsed());
        if recorded.is_err() && !conn.is_autocommit() {
            if let Err(e) = conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back a consent batch failed");
            }
        }
        drop(write);
        batch.answer(recorded);
        // Full: the checkpointer has been told already.
        let _ = committed.try_send(());
    }
}

/// SQLite's upkeep beside the writers: planner statistics hourly, and the write-ahead log
/// copied into the database once a second (sooner after a quiet spell) by a PASSIVE
/// checkpoint beside the writers, whose automatic checkpoints are off. Past
/// `RESTART_FRAMES` a round catches up, then copies the last frames holding the write lock
/// so the log starts over; past `ESCALATE_FRAMES` that locked copy is a RESTART checkpoint,
/// waiting at most `RESTART_WAIT` for readers still in the log. The file is synced before
/// the lock is taken, so the locked sync is short. Why each step, measured: BENCHMARKS.md
/// ("The write-ahead log, bounded" and "a log that never started over").
fn run_checkpointer(
    conn: rusqlite::Connection,
    database: std::fs::File,
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    commits: std::sync::mpsc::Receiver<()>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    /// 64 MiB of 4 KiB pages.
    const RESTART_FRAMES: i64 = 16_384;
    /// A log this long was not started over by the plain rounds: readers never left it.
    const ESCALATE_FRAMES: i64 = 2 * RESTART_FRAMES;
    /// How long writers are held off for readers to leave the log.
    const RESTART_WAIT: Duration = Duration::from_millis(50);
    /// Few enough to copy under the write lock in a millisecond or two.
    const CATCH_UP_FRAMES: i64 = 256;
    const OPTIMIZE_EVERY: Duration = Duration::from_secs(3600);
    // (frames in the log, frames copied), or why not.
    let checkpoint = || {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .map_err(|e| tracing::warn!(error = %e, "WAL checkpoint failed; retrying"))
        .ok()
    };
    // SQLite plans joins from the statistics ANALYZE keeps: refresh them at start and
    // hourly, as SQLite advises for long-lived connections, where tables grew or shrank
    // tenfold since (statistics taken on a nearly empty table made joins scan it).
    // ANALYZE writes, so it holds the write lock; `analysis_limit` keeps it short.
    let optimize = |mask: &str| {
        let _write = write_lock.blocking_lock();
        if let Err(e) = conn.execute_batch(&format!("PRAGMA optimize{mask}")) {
            tracing::warn!(error = %e, "PRAGMA optimize failed");
        }
    };
    optimize("=0x10002");
    let mut optimized = std::time::Instant::now();
    loop {
        if optimized.elapsed() >= OPTIMIZE_EVERY {
            optimize("");
            optimized = std::time::Instant::now();
        }
        match commits.recv_timeout(Duration::from_secs(1)) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if let Some((frames, _)) = checkpoint() {
            if frames > RESTART_FRAMES {
                // Copy what writers added meanwhile beside them until little is left
                // (each pass is shorter than the last), so the pause is short.
                for _ in 0..4 {
                    match checkpoint() {
                        Some((frames, copied)) if frames - copied > CATCH_UP_FRAMES => {}
                        _ => break,
                    }
                }
                if let Err(e) = database.sync_data() {
                    tracing::warn!(error = %e, "syncing the database file failed");
                }
                let _write = write_lock.blocking_lock();
                if frames > ESCALATE_FRAMES {
                    restart_log(&conn, RESTART_WAIT);
                } else {
                    checkpoint();
                }
            }
        }
        // Let the log gather frames: a page changed again and again is copied once.
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The locked end of a checkpoint round (the caller holds the write lock): copies the
/// last frames and waits up to `wait` for readers to leave the log, so that the
/// next writer starts it over. Whether it did.
fn restart_log(conn: &rusqlite::Connection, wait: Duration) -> bool {
    let busy = conn
        .busy_timeout(wait)
        .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)))
        .map_err(|e| tracing::warn!(error = %e, "WAL restart checkpoint failed; retrying"));
    if let Err(e) = conn.busy_timeout(WRITER_BUSY_TIMEOUT) {
        tracing::warn!(error = %e, "restoring the checkpointer's busy timeout failed");
    }
    match busy {
        Ok(0) => true,
        Ok(_) => {
            tracing::debug!("WAL restart waited out a reader; next round");
            false
        }
        Err(()) => false,
    }
}

fn record_batch(conn: &rusqlite::Connection, batch: &mut crate::group_commit::Batch) -> Result<()> {
    use rusqlite::{params, OptionalExtension as _};
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(inline_error)?;
    for org in batch.organizations() {
        let org_id = org.to_string();
        conn.prepare_cached(ENSURE_CHAIN_HEAD_SQL)
            .and_then(|mut s| s.execute(params![org_id, accord_domain::consent::GENESIS]))
            .map_err(inline_error)?;
        let head = conn
            .prepare_cached("SELECT seq, hash FROM consent_chain_heads WHERE organization_id = $1")
            .and_then(|mut s| {
                s.query_row(params![org_id], |r| {
                    Ok(crate::ChainHead {
                        seq: r.get(0)?,
                        hash: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(inline_error)?;
        let listened = conn
            .prepare_cached(WEBHOOK_EVENTS_SQL)
            .and_then(|mut s| {
                s.query_map(params![org_id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(inline_error)?;
        batch.hold_organization(org, head, listened);
    }
    for q in batch.queries() {
        let read = consent_read_inline(conn, &q)
            .map_err(inline_error)?
            .map(ConsentReadRow::into_read)
            .transpose()?;
        batch.decide_next(read);
    }
    let mut put = conn
        .prepare_cached(PUT_CONSENT_VALUE_SQL)
        .map_err(inline_error)?;
    for v in &batch.values {
        put.execute(params![
            v.consent_id.to_string(),
            v.organization_id.to_string(),
            v.user_id.to_string(),
            v.purpose_id.to_string(),
            v.attribute_id.to_string(),
            v.stored.value.as_str(),
            v.stored.days,
            to_ms(v.stored.changed_at),
            v.stored.expires_at().map(to_ms),
            v.stored.version,
        ])
        .map_err(inline_error)?;
    }
    let mut insert = conn
        .prepare_cached(INSERT_HISTORY_SQL)
        .map_err(inline_error)?;
    for e in &batch.history {
        insert
            .execute(params![
                e.id,
                e.organization_id,
                e.seq,
                e.user_id,
                e.consent_id,
                e.purpose_id,
                e.attribute_id,
                e.actor_id,
                e.changed_by.as_str(),
                e.old_value.map(ConsentValue::as_str),
                e.new_value.as_str(),
                e.days,
                to_ms(e.at),
                e.prev_hash,
                e.hash,
                e.wording.as_ref().map(|w| w.number),
                e.wording.as_ref().map(|w| w.hash.as_str()),
            ])
            .map_err(inline_error)?;
    }
    let mut outbox = conn
        .prepare_cached(INSERT_OUTBOX_SQL)
        .map_err(inline_error)?;
    for o in &batch.outbox {
        outbox
            .execute(params![
                o.id.to_string(),
                o.organization_id.to_string(),
                o.event_type,
                o.data,
                to_ms(o.created_at),
                o.trace.as_ref().map(|t| t.0.as_str()),
            ])
            .map_err(inline_error)?;
    }
    let mut set_head = conn
        .prepare_cached(SET_CHAIN_HEAD_SQL)
        .map_err(inline_error)?;
    for (org, head) in batch.moved_heads() {
        set_head
            .execute(params![head.seq, head.hash, org.to_string()])
            .map_err(inline_error)?;
    }
    conn.execute_batch("COMMIT").map_err(inline_error)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The consent read (the read path's statement, and the committer's per change)
    /// seeks every table it joins, even under the statistics a start on an almost empty
    /// database leaves: one session, one organisation, one record, analysed. Without the
    /// pins (`SESSION_BY_ID`, …) SQLite scanned `sessions` and `organizations` here.
    #[tokio::test]
    async fn the_hot_statements_seek_whatever_the_statistics() {
        let dir = std::env::temp_dir().join(format!("accord-plans-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plans.db");
        let url = format!("sqlite://{}", path.display());
        let store = SqliteStore::open(&url, &OpenOptions { max_connections: 1 })
            .await
            .unwrap();
        drop(store);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO users (id, status, created_at) VALUES ('u', 1, 0); \
             INSERT INTO sessions (id, user_id, client_id, created_at, expires_at) VALUES ('s', 'u', '', 0, 0); \
             INSERT INTO organizations (id, name, created_at) VALUES ('o', 'O', 0); \
             INSERT INTO consents (id, organization_id, user_id, created_at) VALUES ('c', 'o', 'u', 0); \
             ANALYZE;",
        )
        .unwrap();
        let mut plan = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", consent_read_sql()))
            .unwrap();
        let params: [(&str, &dyn rusqlite::ToSql); 6] = [
            ("$1", &"u"),
            ("$2", &"s"),
            ("$3", &"o"),
            ("$4", &"u"),
            ("$5", &1),
            ("$6", &2),
        ];
        let steps: Vec<String> = plan
            .query_map(params.as_slice(), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let scans: Vec<&String> = steps.iter().filter(|s| s.starts_with("SCAN")).collect();
        assert!(scans.is_empty(), "the consent read scans: {steps:#?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Frames in the write-ahead log (since it last started over).
    fn log_frames(conn: &rusqlite::Connection) -> i64 {
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    }

    /// A database in a scratch directory with 50 frames in its log, and a second
    /// connection reading from the log (its read transaction open):
    /// (directory, writer, reader).
    fn database_with_reader_in_log(
        name: &str,
    ) -> (
        std::path::PathBuf,
        rusqlite::Connection,
        rusqlite::Connection,
    ) {
        let dir = std::env::temp_dir().join(format!("accord-{name}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);",
            )
            .unwrap();
        let conn = open_writer_connection(&path).unwrap();
        for _ in 0..50 {
            conn.execute("INSERT INTO t (v) VALUES ('x')", []).unwrap();
        }
        let reader = open_writer_connection(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        (dir, conn, reader)
    }

    /// A reader still in the log when the round ends: the restart waits for it to leave,
    /// so the next write starts the log over instead of appending to it (a PASSIVE
    /// checkpoint would return at once, and the write would append while it reads).
    #[test]
    fn the_locked_round_waits_for_readers_so_the_log_starts_over() {
        let (dir, conn, reader) = database_with_reader_in_log("restart");
        let before = log_frames(&conn);
        assert!(before >= 50, "the log holds the inserts: {before} frames");

        let round = std::thread::spawn(move || {
            // Generous, so a slow machine cannot make it lapse before the reader ends.
            let restarted = restart_log(&conn, Duration::from_secs(10));
            conn.execute("INSERT INTO t (v) VALUES ('after')", [])
                .unwrap();
            (restarted, log_frames(&conn))
        });
        // The reader finishes its query while the round waits for it.
        std::thread::sleep(Duration::from_millis(10));
        reader.execute_batch("COMMIT").unwrap();
        let (restarted, after) = round.join().unwrap();
        assert!(restarted);
        assert!(
            after < 5,
            "the write started the log over: {after} frames (was {before})"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A reader that stays longer than the bounded wait: the round gives up (writers are
    /// held off for no more than that), and the log goes on until the next round.
    #[test]
    fn a_reader_longer_than_the_wait_costs_only_that_rounds_restart() {
        let (dir, conn, reader) = database_with_reader_in_log("restart-busy");
        let before = log_frames(&conn);
        assert!(!restart_log(&conn, Duration::from_millis(20)));
        conn.execute("INSERT INTO t (v) VALUES ('after')", [])
            .unwrap();
        assert!(log_frames(&conn) > before, "the log was appended to");
        reader.execute_batch("COMMIT").unwrap();
        assert!(restart_log(&conn, Duration::from_millis(20)));
        conn.execute("INSERT INTO t (v) VALUES ('later')", [])
            .unwrap();
        assert!(log_frames(&conn) < 5, "the next round's restart took");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
