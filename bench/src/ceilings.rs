//! The machine's ceilings, measured in the same run as the scenarios so that every figure
//! can be given as a ratio: one thread's argon2id rate at the server's parameters, and
//! the rate of single-row durable commits on the same disk (or the same PostgreSQL).

use std::time::{Duration, Instant};

use anyhow::Result;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The server's production parameters (OWASP: m = 19 MiB, t = 2, p = 1).
pub fn hasher() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("argon2 parameters"),
    )
}

pub fn password_hash(password: &str) -> String {
    let salt = SaltString::encode_b64(b"accord-bench-salt").expect("salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

/// Hashes per second on one thread (the process is otherwise idle).
pub fn argon2_single_thread_rate(for_how_long: Duration) -> f64 {
    let h = hasher();
    let salt = SaltString::encode_b64(b"accord-bench-salt").expect("salt");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < for_how_long {
        let _ = h.hash_password(b"correct horse battery", &salt);
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Hashes per second with one thread per core hashing at once: what the machine really
/// delivers in parallel. On a VM whose vCPUs share physical cores (or memory bandwidth)
/// this is below cores × the single-thread rate, which the login target is stated in.
pub fn argon2_all_cores_rate(cores: usize, for_how_long: Duration) -> f64 {
    let start = Instant::now();
    let hashed: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let h = hasher();
                    let salt = SaltString::encode_b64(b"accord-bench-salt").expect("salt");
                    let mut n = 0u64;
                    while start.elapsed() < for_how_long {
                        let _ = h.hash_password(b"correct horse battery", &salt);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("hash thread"))
            .sum()
    });
    hashed as f64 / start.elapsed().as_secs_f64()
}

/// Single-row commits per second, one connection, each committed durably: SQLite in WAL
/// with `synchronous=FULL` (the server's settings) in the database's directory, or a
/// table of its own in the PostgreSQL database.
pub async fn durable_commit_rate(
    database_url: &str,
    sqlite_dir: Option<&std::path::Path>,
    for_how_long: Duration,
) -> Result<f64> {
    let mut n = 0u64;
    let start;
    match sqlite_dir {
        Some(dir) => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
            use sqlx::ConnectOptions as _;
            let path = dir.join("commit-ceiling.db");
            let mut c = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .connect()
                .await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
                .execute(&mut c)
                .await?;
            start = Instant::now();
            while start.elapsed() < for_how_long {
                sqlx::query("INSERT INTO t (v) VALUES ($1)")
                    .bind("x")
                    .execute(&mut c)
                    .await?;
                n += 1;
            }
            drop(c);
            let _ = std::fs::remove_file(&path);
        }
        None => {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(database_url).await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS bench_commit_ceiling (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)")
                .execute(&mut c)
                .await?;
            start = Instant::now();
            while start.elapsed() < for_how_long {
                sqlx::query("INSERT INTO bench_commit_ceiling (v) VALUES ($1)")
                    .bind("x")
                    .execute(&mut c)
                    .await?;
                n += 1;
            }
            sqlx::query("DROP TABLE bench_commit_ceiling")
                .execute(&mut c)
                .await?;
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
