//! The operator's maintenance of the database itself (docs/operations.md, "Backup,
//! restore, upgrade"): what a migration run would do, and a consistent copy of a SQLite
//! database while it serves.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::Connection as _;

use crate::migrations::{self, Embedded};
use crate::{Backend, OpenError};

/// What `accord migrate --check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationCheck {
    /// The newest migration this binary knows.
    pub known: i64,
    /// Migrations this binary would apply: (version, description), in order.
    pub pending: Vec<(i64, String)>,
    /// Migrations applied by a newer release, which this one runs beside.
    pub newer: Vec<i64>,
}

/// Which of this binary's migrations the database lacks, and which a newer release
/// applied, without applying any (nor creating anything).
pub async fn check_migrations(url: &str) -> Result<MigrationCheck, OpenError> {
    let backend = Backend::from_url(url)
        .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?;
    let (embedded, applied) = match backend {
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?
                .read_only(true);
            let file = options.get_filename().to_owned();
            if !file.exists() {
                // A database not created yet: everything would run (and create it).
                return compare(&migrations::SQLITE, &[]);
            }
            let mut c = sqlx::SqliteConnection::connect_with(&options)
                .await
                .map_err(|e| {
                    OpenError::Unreachable(format!(
                        "cannot open the SQLite database {}: {e}",
                        file.display()
                    ))
                })?;
            let exists: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
            )
            .fetch_one(&mut c)
            .await
            .map_err(other)?;
            let applied = if exists {
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(&mut c)
                .await
                .map_err(other)?
            } else {
                vec![]
            };
            (migrations::SQLITE, applied)
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.map_err(|e| {
                OpenError::Unreachable(format!("cannot connect to PostgreSQL: {e}"))
            })?;
            let exists: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(&mut c)
                    .await
                    .map_err(other)?;
            let applied = if exists {
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(&mut c)
                .await
                .map_err(other)?
            } else {
                vec![]
            };
            (migrations::POSTGRES, applied)
        }
    };
    compare(&embedded, &applied)
}

fn compare(embedded: &Embedded, applied: &[i64]) -> Result<MigrationCheck, OpenError> {
    let known = embedded.newest();
    Ok(MigrationCheck {
        known,
        newer: applied
            .iter()
            .copied()
            .filter(|v| !embedded.0.iter().any(|(k, _, _)| k == v))
            .collect(),
        pending: embedded
            .0
            .iter()
            .filter(|(v, _, _)| !applied.contains(v))
            .map(|(v, description, _)| (*v, (*description).to_owned()))
            .collect(),
    })
}

fn other(e: sqlx::Error) -> OpenError {
    OpenError::Other(crate::db_error(e))
}

/// `accord backup --to FILE`: a consistent copy of a SQLite database, taken while the
/// server serves and writes (`VACUUM INTO` reads in one transaction: the copy is the
/// database as of one commit, and WAL lets the writers go on meanwhile). The copy is
/// created readable by its owner only (it holds password hashes and sealed secrets) and
/// never overwrites a file. Answers its size in bytes. PostgreSQL is backed up with
/// `pg_dump` (documented).
pub async fn backup_sqlite(url: &str, to: &Path) -> Result<u64, OpenError> {
    let backend = Backend::from_url(url)
        .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?;
    if backend == Backend::Postgres {
        return Err(OpenError::Configuration(
            "a PostgreSQL database is backed up with pg_dump (docs/operations.md, \"Backup, restore, upgrade\")"
                .into(),
        ));
    }
    let source: PathBuf = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| OpenError::Configuration(format!("ACCORD_DATABASE_URL: {e}")))?
        .get_filename()
        .to_owned();
    if !source.is_file() {
        return Err(OpenError::Unreachable(format!(
            "no SQLite database at {}",
            source.display()
        )));
    }
    let target = to.to_owned();
    tokio::task::spawn_blocking(move || copy(&source, &target))
        .await
        .map_err(|e| OpenError::Other(accord_domain::Error::internal(e)))?
}

fn copy(source: &Path, target: &Path) -> Result<u64, OpenError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        OpenError::Other(accord_domain::Error::internal(format!(
            "{what} {}: {e}",
            target.display()
        )))
    };
    {
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        create.open(target).map_err(|e| {
            OpenError::Configuration(format!(
                "cannot create the backup {} (a backup never overwrites a file): {e}",
                target.display()
            ))
        })?;
    }
    let conn = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        OpenError::Unreachable(format!(
            "cannot open the SQLite database {}: {e}",
            source.display()
        ))
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| failed("backing up into", &e))?;
    let path = target.to_string_lossy().into_owned();
    if let Err(e) = conn.execute("VACUUM INTO ?1", [&path]) {
        let _ = std::fs::remove_file(target);
        return Err(failed("backing up into", &e));
    }
    std::fs::metadata(target)
        .map(|m| m.len())
        .map_err(|e| failed("reading", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_and_newer_migrations_are_told_apart() {
        let embedded = Embedded(&[(1, "one", ""), (2, "two", ""), (3, "three", "")]);
        let check = compare(&embedded, &[1]).unwrap();
        assert_eq!(check.known, 3);
        assert_eq!(check.pending, vec![(2, "two".into()), (3, "three".into())]);
        assert!(compare(&embedded, &[1, 2, 3]).unwrap().pending.is_empty());
        let ahead = compare(&embedded, &[1, 2, 3, 4]).unwrap();
        assert_eq!((ahead.pending.len(), ahead.newer), (0, vec![4]));
    }
}
