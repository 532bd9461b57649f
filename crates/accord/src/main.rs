//! `accord`: the server's command line.

use std::io::{BufRead as _, IsTerminal as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

mod operator;

use std::path::PathBuf;

use accord_domain::SystemClock;
use accord_server::services::operator::SigningKeyState;
use accord_server::services::passwords::PasswordHashParams;
use accord_server::{build_app, serve, Config};
use anyhow::Context as _;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "accord",
    version,
    about = "Consent management and customer identity server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrating the database first).
    Serve(Box<ServeArgs>),
    /// Run the database migrations, then exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
        /// Apply nothing: list the migrations that would run (exit 1 if any would, 0 if
        /// none) and those a newer release applied.
        #[arg(long)]
        check: bool,
    },
    /// Copy a SQLite database, consistently, while the server runs and writes (PostgreSQL:
    /// pg_dump, docs/operations.md).
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The copy: a new file (never overwritten), readable by its owner only.
        #[arg(long)]
        to: PathBuf,
    },
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform administrator (or promote an existing user). Reads the password
    /// from standard input (not echoed at a terminal) or `--password-file`.
    AddPlatformAdmin {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from this file's first line.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// Create a CustomerID REST client (HTTP Basic). Reads the secret from standard input
    /// (not echoed at a terminal) or `--secret-file`.
    AddRestClient {
        #[command(flatten)]
        db: DbArgs,
        /// The client's name: its Basic user name.
        #[arg(long)]
        name: String,
        /// Bind the client to this organisation (and its sub-organisations).
        #[arg(long)]
        organization: Option<String>,
        /// Read the secret from this file's first line.
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Check an organisation's consent history hash chain. Exits 0 when intact, 1 when an
    /// entry was altered, removed or reordered (and names the first such entry).
    VerifyConsentLedger {
        #[command(flatten)]
        db: DbArgs,
        /// The organisation's ID.
        #[arg(long)]
        org: String,
        /// A file holding signed checkpoints or consent receipts kept outside the database,
        /// one per line: the ledger must extend each. Repeatable.
        #[arg(long = "checkpoints")]
        checkpoint_files: Vec<std::path::PathBuf>,
    },
    #[command(flatten)]
    Everyday(OperatorCommand),
}

/// The operator's everyday commands (`operator.rs`), each with `--json`.
#[derive(Subcommand)]
enum OperatorCommand {
    /// List the platform administrators.
    ListPlatformAdmins {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        json: bool,
    },
    /// Take the platform-administrator flag from an account (it stays an account).
    DemotePlatformAdmin {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// List the CustomerID REST clients.
    ListRestClients {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        json: bool,
    },
    /// Give a REST client a new secret (standard input or `--secret-file`). Every node
    /// refuses the old one within a minute.
    RotateRestClient {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
        #[arg(long)]
        secret_file: Option<PathBuf>,
    },
    /// Delete a REST client. Every node refuses it within a minute.
    RevokeRestClient {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        name: String,
    },
    /// Show the account at an address.
    FindUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: its every credential is refused from its next request on.
    DisableUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable an account again.
    EnableUser {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// List every organisation.
    ListOrganizations {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        json: bool,
    },
    /// List the token-signing keys and their states (signs, verifies, retired, compromised).
    ListSigningKeys {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        json: bool,
    },
    /// Make a new signing key: it signs on every node within a minute; the older keys go
    /// on admitting what they signed until retired.
    RotateSigningKey {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        json: bool,
    },
    /// Retire an older signing key once the access tokens it signed have expired: it
    /// admits no one (APIKeys it signed included: their holders fetch them again) and its
    /// private half is erased; its receipts still verify. `--compromised`: at once, and
    /// its receipts are no longer vouched for.
    RetireSigningKey {
        #[command(flatten)]
        db: DbArgs,
        /// The key's ID (`kid`), from list-signing-keys.
        #[arg(long)]
        kid: String,
        #[arg(long)]
        compromised: bool,
        /// The servers' access-token lifetime in seconds (as they were started).
        #[arg(long, env = "ACCORD_ACCESS_TOKEN_TTL", default_value_t = 21600)]
        access_token_ttl: u64,
    },
    /// Seal every stored secret again under `ACCORD_SECRET_KEY`, opening those sealed under
    /// `ACCORD_SECRET_KEY_PREVIOUS` (or the key kept in the database).
    RotateSecretKey {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, env = "ACCORD_SECRET_KEY", hide_env_values = true)]
        secret_key: String,
        #[arg(long, env = "ACCORD_SECRET_KEY_PREVIOUS", hide_env_values = true)]
        secret_key_previous: Option<String>,
    },
    /// Sign a checkpoint of an organisation's consent ledger as it stands: keep it outside
    /// the database, and give it to `verify-consent-ledger --checkpoints` later.
    LedgerCheckpoint {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
}

impl OperatorCommand {
    fn db(&self) -> &DbArgs {
        match self {
            Self::ListPlatformAdmins { db, .. }
            | Self::DemotePlatformAdmin { db, .. }
            | Self::ListRestClients { db, .. }
            | Self::RotateRestClient { db, .. }
            | Self::RevokeRestClient { db, .. }
            | Self::FindUser { db, .. }
            | Self::DisableUser { db, .. }
            | Self::EnableUser { db, .. }
            | Self::ListOrganizations { db, .. }
            | Self::ListSigningKeys { db, .. }
            | Self::RotateSigningKey { db, .. }
            | Self::RetireSigningKey { db, .. }
            | Self::RotateSecretKey { db, .. }
            | Self::LedgerCheckpoint { db, .. } => db,
        }
    }
}

#[derive(Args, Clone)]
struct DbArgs {
    /// sqlite://PATH (embedded; created if missing) or postgres://USER:PASSWORD@HOST/DB
    #[arg(
        long,
        env = "ACCORD_DATABASE_URL",
        default_value = "sqlite://accord.db"
    )]
    database_url: String,
    /// Logging filter (tracing's EnvFilter syntax), e.g. `info` or `accord=debug,info`.
    #[arg(long, env = "ACCORD_LOG", default_value = "info")]
    log: String,
    /// Write logs as JSON lines.
    #[arg(long, env = "ACCORD_LOG_JSON", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    log_json: bool,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "ACCORD_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Base of every absolute URL the server writes (links in mail, image URLs, paging).
    #[arg(
        long,
        env = "ACCORD_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_url: String,
    /// smtp://HOST:PORT (plain), smtp://HOST:PORT?tls=required (STARTTLS) or
    /// smtps://USER:PASSWORD@HOST:PORT. Without it, mail goes to the log, secrets redacted.
    #[arg(long, env = "ACCORD_SMTP_URL")]
    smtp_url: Option<String>,
    /// Sender of the server's mail.
    #[arg(
        long,
        env = "ACCORD_MAIL_FROM",
        default_value = "Accord <no-reply@accord.invalid>"
    )]
    mail_from: String,
    /// Link sent in password-reset mail; `{token}` is replaced by the reset token.
    /// Default: <public-url>/reset-password?token={token} (Accord's own page)
    #[arg(long, env = "ACCORD_PASSWORD_RESET_LINK")]
    password_reset_link: Option<String>,
    /// Link sent in address-verification mail; `{token}` is replaced by the token.
    /// Default: <public-url>/verify-email?token={token} (Accord's own page)
    #[arg(long, env = "ACCORD_EMAIL_VERIFICATION_LINK")]
    email_verification_link: Option<String>,
    /// Link sent in role-invitation mail; `{token}` is replaced by the invitation token.
    /// Default: <public-url>/accept-invitation?token={token} (Accord's own page)
    #[arg(long, env = "ACCORD_INVITATION_LINK")]
    invitation_link: Option<String>,
    /// How long an invitation link works, hours (1 to 8,784).
    #[arg(long, env = "ACCORD_INVITATION_TTL_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8784))]
    invitation_ttl_hours: u64,
    /// Access token lifetime, seconds.
    #[arg(long, env = "ACCORD_ACCESS_TOKEN_TTL", default_value_t = 21600)]
    access_token_ttl: u64,
    /// Session (refresh token) lifetime, seconds, counted from login.
    #[arg(long, env = "ACCORD_REFRESH_TOKEN_TTL", default_value_t = 36000)]
    refresh_token_ttl: u64,
    /// Largest JSON request body, bytes.
    #[arg(long, env = "ACCORD_JSON_BODY_LIMIT", default_value_t = 1024 * 1024)]
    json_body_limit: usize,
    /// A request that takes longer is answered 408.
    #[arg(long, env = "ACCORD_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Seconds a client may take to send a request's line and headers; slower
    /// connections are closed.
    #[arg(long, env = "ACCORD_HEADER_READ_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Open connections served at once; beyond them a connection is answered 503 and
    /// closed. Keep it below the process's file-descriptor limit.
    #[arg(long, env = "ACCORD_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open connections one client (an IPv4 address, an IPv6 /64) may hold; beyond them
    /// its next one is answered 503. Behind a reverse proxy every connection comes from
    /// the proxy: raise it to --max-connections there.
    #[arg(long, env = "ACCORD_CONNECTIONS_PER_ADDRESS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    connections_per_address: u64,
    /// Seconds a connection may stay open with no request in flight (HTTP/1 keep-alive
    /// and HTTP/2 alike) before it is closed.
    #[arg(long, env = "ACCORD_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// The most entries a CustomerID search (GET104, GET106, GET113) answers; a search
    /// matching more is refused with advice to narrow it or set `maxResults`.
    #[arg(long, env = "ACCORD_MAX_LIST", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    max_list: i64,
    /// Database connections (PostgreSQL) or reader connections (SQLite).
    #[arg(long, env = "ACCORD_MAX_DB_CONNECTIONS", default_value_t = 16)]
    max_db_connections: u32,
    /// Failed sign-ins (passwords, federated codes, REST client secrets) allowed per source
    /// address and 15 minutes (then 429).
    #[arg(long, env = "ACCORD_FAILURES_PER_ADDRESS", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    failures_per_address: u32,
    /// Registrations allowed per source address and 15 minutes (then 429).
    #[arg(long, env = "ACCORD_REGISTRATIONS_PER_ADDRESS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    registrations_per_address: u32,
    /// Behind a reverse proxy: take the client address from the last X-Forwarded-For entry.
    #[arg(long, env = "ACCORD_TRUST_FORWARDED_FOR", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    trust_forwarded_for: bool,
    /// Deliver webhooks to loopback and private network addresses. Off by default: a
    /// webhook URL must not reach into the server's own network (SSRF).
    #[arg(long, env = "ACCORD_WEBHOOK_ALLOW_PRIVATE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    webhook_allow_private: bool,
    /// Accept plain-http URLs for organisations' OpenID providers on any host (loopback
    /// is always accepted). Only for providers inside a network you trust.
    #[arg(long, env = "ACCORD_OIDC_ALLOW_HTTP", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    oidc_allow_http: bool,
    /// Let OpenID provider URLs reach loopback, private and other special-purpose
    /// addresses. Off by default: a provider URL must not reach into the server's own
    /// network (SSRF). Turn on only for a provider inside a network you trust.
    #[arg(long, env = "ACCORD_OIDC_ALLOW_PRIVATE", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    oidc_allow_private: bool,
    /// Key sealing stored secrets (OpenID client secrets): 32 bytes in base64
    /// (`openssl rand -base64 32`). Unset: a key generated on first start and kept in the
    /// database (docs/federation.md weighs the two).
    #[arg(long, env = "ACCORD_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// The key `--secret-key` replaced: it opens what it sealed, never seals, while
    /// `accord admin rotate-secret-key` re-seals (docs/operations.md, "Keys").
    #[arg(long, env = "ACCORD_SECRET_KEY_PREVIOUS", hide_env_values = true)]
    secret_key_previous: Option<String>,
    /// Days webhook deliveries are kept once delivered or given up (docs/operations.md).
    #[arg(long, env = "ACCORD_DELIVERY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    delivery_retention_days: u64,
    /// Days organisations' action logs are kept (docs/operations.md).
    #[arg(long, env = "ACCORD_LOG_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    log_retention_days: u64,
    /// Seconds between the background workers' looks for work left by other nodes
    /// (webhook retries, consent expiries).
    #[arg(long, env = "ACCORD_WORKER_INTERVAL", default_value_t = 1.0, value_parser = worker_interval)]
    worker_interval: f64,
    /// Seconds the server goes on serving after SIGTERM with `/readyz` answering 503, so a
    /// load balancer takes it out first (0 to 300; behind one, a few seconds more than its
    /// health-check interval).
    #[arg(long, env = "ACCORD_SHUTDOWN_DRAIN", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=300))]
    shutdown_drain: u64,
    /// The bearer token `/metrics` answers (at least 16 characters; `openssl rand -hex 32`).
    /// Unset: `/metrics` is not served (docs/operations.md, "Metrics").
    #[arg(long, env = "ACCORD_METRICS_TOKEN", hide_env_values = true, value_parser = metrics_token)]
    metrics_token: Option<String>,
    /// Base URL of an OTLP/HTTP trace receiver (`http://collector:4318`; spans go to its
    /// `/v1/traces`). Unset: no spans are exported and no trace context is passed on
    /// (docs/operations.md, "Traces").
    #[arg(long, env = "ACCORD_OTLP_ENDPOINT", value_parser = otlp_endpoint)]
    otlp_endpoint: Option<String>,
    /// The share of traces begun here that are exported (0 to 1); a request continuing a
    /// caller's trace follows the caller's decision.
    #[arg(long, env = "ACCORD_TRACE_SAMPLE_RATIO", default_value_t = 1.0, value_parser = sample_ratio)]
    trace_sample_ratio: f64,
    /// Test builds only: cheap password hashing. Absent from release builds.
    #[cfg(debug_assertions)]
    #[arg(long, env = "ACCORD_DANGER_TEST_PASSWORD_HASH", hide = true, action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    danger_test_password_hash: bool,
}

/// Why the command failed, and its exit code (docs/operations.md, "When it does not
/// start"): 2 a bad setting, 3 the database unreachable, 5 a migration failed, 6 the
/// address cannot be listened on, 1 anything else.
struct Failure {
    code: u8,
    message: String,
}

impl From<accord_store::OpenError> for Failure {
    fn from(e: accord_store::OpenError) -> Self {
        Self {
            code: u8::try_from(e.exit_code()).unwrap_or(1),
            message: e.to_string(),
        }
    }
}

impl From<accord_domain::Error> for Failure {
    fn from(e: accord_domain::Error) -> Self {
        accord_store::OpenError::Other(e).into()
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

fn init_logging(db: &DbArgs) -> Result<(), Failure> {
    init_logging_and_traces(db, None).map(|_| ())
}

/// The log on standard error, filtered by `--log`; and, when a receiver is named, the
/// spans exported to it (docs/operations.md, "Traces"), filtered apart from the log: a
/// quiet log does not silence the traces.
fn init_logging_and_traces(
    db: &DbArgs,
    traces: Option<(&str, f64)>,
) -> Result<Option<accord_server::telemetry::TraceExport>, Failure> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    // A mistyped filter is an error, not silently `info`: the operator asked for
    // something they would not get.
    let filter = EnvFilter::try_new(&db.log).map_err(|e| Failure {
        code: 2,
        message: format!(
            "--log / ACCORD_LOG: {:?} is not a logging filter: {e}",
            db.log
        ),
    })?;
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = if db.log_json {
        log.json().with_filter(filter).boxed()
    } else {
        log.with_filter(filter).boxed()
    };
    let (spans, export) = match traces {
        Some((endpoint, ratio)) => {
            let (layer, export) = accord_server::telemetry::export_layer(
                endpoint,
                ratio,
                tokio::runtime::Handle::current(),
            )
            .map_err(|e| Failure {
                code: 2,
                message: format!("--otlp-endpoint / ACCORD_OTLP_ENDPOINT: {e}"),
            })?;
            // Accord's own spans (requests, deliveries) and the events within them.
            let ours = tracing_subscriber::filter::Targets::new()
                .with_target("accord_server", tracing::Level::INFO)
                .with_target("tower_http", tracing::Level::INFO);
            (Some(layer.with_filter(ours)), Some(export))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(log).with(spans).init();
    Ok(export)
}

fn main() -> std::process::ExitCode {
    // Before any thread exists: the runtime's threads start below.
    let done = secrets_from_files().and_then(|()| {
        let cli = Cli::parse();
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure {
                code: 1,
                message: format!("cannot start the runtime: {e}"),
            })?
            .block_on(run(cli))
    });
    match done {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(failure) => {
            // The same words in the log (for whoever reads it) and on standard error.
            tracing::error!(exit_code = failure.code, "{}", failure.message);
            eprintln!("Error: {}", failure.message);
            std::process::ExitCode::from(failure.code)
        }
    }
}

/// The settings that hold secrets. Container platforms hand secrets over as files:
/// `<NAME>_FILE` names a file whose contents (a final newline dropped) are `<NAME>`.
const SECRET_SETTINGS: [&str; 5] = [
    "ACCORD_DATABASE_URL",
    "ACCORD_SMTP_URL",
    "ACCORD_SECRET_KEY",
    "ACCORD_SECRET_KEY_PREVIOUS",
    "ACCORD_METRICS_TOKEN",
];

fn secrets_from_files() -> Result<(), Failure> {
    for name in SECRET_SETTINGS {
        let file_setting = format!("{name}_FILE");
        let Some(path) = std::env::var_os(&file_setting) else {
            continue;
        };
        let bad = |message: String| Failure { code: 2, message };
        if std::env::var_os(name).is_some() {
            return Err(bad(format!(
                "{name} and {file_setting} are both set: set one"
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bad(format!(
                "{file_setting}: cannot read {}: {e}",
                std::path::Path::new(&path).display()
            ))
        })?;
        // Only the main thread runs yet: nothing reads the environment meanwhile.
        std::env::set_var(name, text.trim_end_matches(['\r', '\n']));
    }
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve(args) => run_server(*args).await,
        Command::Migrate { db, check: false } => {
            init_logging(&db)?;
            accord_store::migrate(&db.database_url).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Migrate { db, check: true } => {
            init_logging(&db)?;
            let check = accord_store::check_migrations(&db.database_url).await?;
            for version in &check.newer {
                println!("applied by a newer release: {version} (this release runs beside it)");
            }
            if check.pending.is_empty() {
                println!("up to date: migrations 1 to {}", check.known);
                return Ok(());
            }
            for (version, description) in &check.pending {
                println!("would apply {version}: {description}");
            }
            std::process::exit(1);
        }
        Command::Backup { db, to } => {
            init_logging(&db)?;
            let bytes = accord_store::backup_sqlite(&db.database_url, &to).await?;
            println!("backed up to {} ({bytes} bytes)", to.display());
            Ok(())
        }
        Command::Admin(AdminCommand::AddPlatformAdmin {
            db,
            email,
            name,
            password_file,
        }) => {
            init_logging(&db)?;
            let password = read_secret("Password", password_file.as_deref())?;
            let config = Config::new(&db.database_url);
            let app = build_app(config, Arc::new(SystemClock)).await?;
            let (id, created) = app
                .services
                .add_platform_admin(&email, &name, &password)
                .await?;
            println!(
                "{} platform admin {id}",
                if created {
                    "created"
                } else {
                    "promoted existing user to"
                }
            );
            Ok(())
        }
        Command::Admin(AdminCommand::AddRestClient {
            db,
            name,
            organization,
            secret_file,
        }) => {
            init_logging(&db)?;
            let secret = read_secret("Secret", secret_file.as_deref())?;
            let app = build_app(Config::new(&db.database_url), Arc::new(SystemClock)).await?;
            let id = app
                .services
                .add_rest_client(&name, &secret, organization.as_deref())
                .await?;
            println!("created REST client {name} ({id})");
            Ok(())
        }
        Command::Admin(AdminCommand::Everyday(command)) => operate(command).await,
        Command::Admin(AdminCommand::VerifyConsentLedger {
            db,
            org,
            checkpoint_files,
        }) => {
            init_logging(&db)?;
            let mut checkpoints = vec![];
            for file in &checkpoint_files {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                checkpoints.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned),
                );
            }
            let app = build_app(Config::new(&db.database_url), Arc::new(SystemClock)).await?;
            let report = app
                .services
                .verify_consent_ledger_unchecked(&org, &checkpoints)
                .await?;
            match report.problem {
                None if report.checkpoints == 0 => {
                    println!("intact: {} entries", report.entries);
                    Ok(())
                }
                None => {
                    println!(
                        "intact: {} entries, extending all {} checkpoints",
                        report.entries, report.checkpoints
                    );
                    Ok(())
                }
                Some(p) => {
                    println!(
                        "BROKEN ({}) at position {}: {} ({} entries verified before it)",
                        p.kind.as_str(),
                        p.seq,
                        p.detail,
                        report.entries
                    );
                    std::process::exit(1);
                }
            }
        }
    }
}

/// The operator's everyday commands: each opens the database, does one thing, prints.
async fn operate(command: OperatorCommand) -> Result<(), Failure> {
    let db = command.db().clone();
    init_logging(&db)?;
    // Read before the database opens: a prompt should not wait on a migration.
    let secret = match &command {
        OperatorCommand::RotateRestClient { secret_file, .. } => {
            Some(read_secret("New secret", secret_file.as_deref())?)
        }
        _ => None,
    };
    let mut config = Config::new(&db.database_url);
    if let OperatorCommand::RotateSecretKey {
        secret_key,
        secret_key_previous,
        ..
    } = &command
    {
        config.secret_key = Some(secret_key.clone());
        config.secret_key_previous = secret_key_previous.clone();
    }
    let app = build_app(config, Arc::new(SystemClock)).await?;
    let s = &app.services;
    let (shown, as_json) = match command {
        OperatorCommand::ListPlatformAdmins { json, .. } => (
            operator::users("PlatformAdmins", &s.platform_admins().await?),
            json,
        ),
        OperatorCommand::DemotePlatformAdmin { email, json, .. } => (
            operator::user(&s.demote_platform_admin(&email).await?),
            json,
        ),
        OperatorCommand::ListRestClients { json, .. } => {
            (operator::rest_clients(&s.rest_clients().await?), json)
        }
        OperatorCommand::RotateRestClient { name, .. } => {
            s.rotate_rest_client(&name, secret.as_deref().unwrap_or_default())
                .await?;
            println!("rotated the secret of REST client {name}");
            return Ok(());
        }
        OperatorCommand::RevokeRestClient { name, .. } => {
            s.revoke_rest_client(&name).await?;
            println!("revoked REST client {name}");
            return Ok(());
        }
        OperatorCommand::FindUser { email, json, .. } => {
            (operator::user(&s.find_user(&email).await?), json)
        }
        OperatorCommand::DisableUser { email, json, .. } => (
            operator::user(&s.set_user_enabled(&email, false).await?),
            json,
        ),
        OperatorCommand::EnableUser { email, json, .. } => (
            operator::user(&s.set_user_enabled(&email, true).await?),
            json,
        ),
        OperatorCommand::ListOrganizations { json, .. } => {
            (operator::organizations(&s.all_organizations().await?), json)
        }
        OperatorCommand::LedgerCheckpoint { org, json, .. } => {
            (operator::checkpoint(s, &org).await?, json)
        }
        OperatorCommand::ListSigningKeys { json, .. } => {
            (operator::signing_keys(&s.signing_keys().await?), json)
        }
        OperatorCommand::RotateSigningKey { json, .. } => {
            let key = s.rotate_signing_key().await?;
            let shown = operator::signing_keys(&[(key, SigningKeyState::Signs)]);
            (shown, json)
        }
        OperatorCommand::RetireSigningKey {
            kid,
            compromised,
            access_token_ttl,
            ..
        } => {
            s.retire_signing_key(&kid, compromised, Duration::from_secs(access_token_ttl))
                .await?;
            println!("retired signing key {kid}");
            return Ok(());
        }
        OperatorCommand::RotateSecretKey { .. } => {
            let done = s.reseal_secrets().await?;
            println!(
                "sealed {} secrets again under the new key ({} were under it already)",
                done.resealed, done.current
            );
            return Ok(());
        }
    };
    shown.print(as_json);
    Ok(())
}

/// `--worker-interval`: seconds, from 0.05 to 3600.
fn worker_interval(raw: &str) -> Result<f64, String> {
    let secs: f64 = raw.parse().map_err(|e| format!("{e}"))?;
    if (0.05..=3600.0).contains(&secs) {
        Ok(secs)
    } else {
        Err(format!("{secs} is not from 0.05 to 3600 seconds"))
    }
}

/// `--otlp-endpoint`: an http(s) base URL.
fn otlp_endpoint(raw: &str) -> Result<String, String> {
    accord_server::telemetry::traces_url(raw).map(|_| raw.to_owned())
}

/// `--trace-sample-ratio`: 0 to 1.
fn sample_ratio(raw: &str) -> Result<f64, String> {
    let ratio: f64 = raw.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(format!("{ratio} is not from 0 to 1"))
    }
}

/// `--metrics-token`: 16 to 256 visible ASCII characters (it travels in a header).
fn metrics_token(raw: &str) -> Result<String, String> {
    let visible = raw.bytes().all(|b| b.is_ascii_graphic());
    if (16..=256).contains(&raw.len()) && visible {
        Ok(raw.to_owned())
    } else {
        Err("a metrics token is 16 to 256 visible ASCII characters, without spaces".into())
    }
}

/// A password or secret: the first line of `file`, or of standard input (prompting, and
/// not echoing, when it is a terminal).
fn read_secret(what: &str, file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let line = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("{what}: ")).context("reading from the terminal")?
        }
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading from standard input")?;
            line
        }
    };
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn run_server(args: ServeArgs) -> Result<(), Failure> {
    let traces = init_logging_and_traces(
        &args.db,
        args.otlp_endpoint
            .as_deref()
            .map(|endpoint| (endpoint, args.trace_sample_ratio)),
    )?;
    let mut config = Config::new(&args.db.database_url).with_public_url(&args.public_url);
    config.listen = args.listen;
    config.smtp_url = args.smtp_url;
    config.mail_from = args.mail_from;
    if let Some(link) = args.password_reset_link {
        config.password_reset_link = link;
    }
    if let Some(link) = args.email_verification_link {
        config.email_verification_link = link;
    }
    if let Some(link) = args.invitation_link {
        config.invitation_link = link;
    }
    config.invitation_ttl = Duration::from_secs(args.invitation_ttl_hours * 3600);
    config.access_token_ttl = Duration::from_secs(args.access_token_ttl);
    config.refresh_token_ttl = Duration::from_secs(args.refresh_token_ttl);
    config.json_body_limit = args.json_body_limit;
    config.request_timeout = Duration::from_secs(args.request_timeout);
    config.header_read_timeout = Duration::from_secs(args.header_read_timeout);
    config.max_connections = usize::try_from(args.max_connections).unwrap_or(usize::MAX);
    config.connections_per_address =
        usize::try_from(args.connections_per_address).unwrap_or(usize::MAX);
    config.idle_timeout = Duration::from_secs(args.idle_timeout);
    config.max_list = args.max_list;
    config.max_db_connections = args.max_db_connections;
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.registrations_per_address = args.registrations_per_address;
    config.failures_per_address = args.failures_per_address;
    config.webhook_allow_private = args.webhook_allow_private;
    config.oidc_allow_http = args.oidc_allow_http;
    config.oidc_allow_private = args.oidc_allow_private;
    config.secret_key = args.secret_key;
    config.secret_key_previous = args.secret_key_previous;
    config.worker_interval = Duration::from_secs_f64(args.worker_interval);
    config.delivery_retention = Duration::from_secs(args.delivery_retention_days * 24 * 3600);
    config.log_retention = Duration::from_secs(args.log_retention_days * 24 * 3600);
    config.shutdown_drain = Duration::from_secs(args.shutdown_drain);
    config.metrics_token = args.metrics_token;
    #[cfg(debug_assertions)]
    if args.danger_test_password_hash {
        tracing::warn!("cheap password hashing for tests: never use this build in production");
        config.password_hash = PasswordHashParams::DANGER_TEST_MINIMUM;
    }
    #[cfg(not(debug_assertions))]
    let _ = PasswordHashParams::OWASP;
    tracing::info!(config = ?config, "starting");

    let listen = config.listen;
    let app = build_app(config, Arc::new(SystemClock)).await?;
    let workers = app.services.start_workers();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure {
            code: 6,
            message: format!("cannot listen on {listen} (--listen / ACCORD_LISTEN): {e}"),
        })?;
    tracing::info!(address = %listen, "listening");
    serve(app, listener, shutdown_signal())
        .await
        .map_err(anyhow::Error::from)?;
    // The workers were told to stop when the stop began; each ends after its round (a
    // round's units of work commit whole or not at all), bounded like a request.
    if tokio::time::timeout(Duration::from_secs(30), workers)
        .await
        .is_err()
    {
        tracing::warn!("background workers still busy after 30 s; stopping without them");
    }
    if let Some(traces) = traces {
        // The last spans go out before the process ends (the exporter's thread blocks).
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM or Ctrl-C: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
