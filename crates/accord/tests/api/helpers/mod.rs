//! The black-box harness: a real server on a loopback port, a fresh database per test on
//! each backend, a real SMTP server (aiosmtpd) catching mail.

mod customerid;
mod fixtures;
pub use customerid::*;
pub use fixtures::*;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use accord_domain::SystemClock;
use accord_server::services::passwords::PasswordHashParams;
use accord_server::{build_app, serve, Config};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend, each as its own `#[tokio::test]`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite).await)
                    .await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::helpers::TestDb::postgres_if_configured().await {
                    super::$name(db).await
                }
            }
        }
    };
}

/// A database of its own for one test: a SQLite file in a temporary directory, or a fresh
/// database on the PostgreSQL server `ACCORD_TEST_DATABASE_URL` names (dropped afterwards).
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempdir::Dir>,
    pg_admin: Option<(String, String)>,
}

mod tempdir {
    use std::path::PathBuf;

    pub struct Dir(pub PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("accord-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempdir::Dir::new();
                let url = format!("sqlite://{}", dir.0.join("accord.db").display());
                Self {
                    backend,
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
            Backend::Postgres => Self::postgres_if_configured()
                .await
                .expect("ACCORD_TEST_DATABASE_URL"),
        }
    }

    /// `None` (and a note) when no PostgreSQL is configured; under CI that is a failure,
    /// so a green CI always means both backends ran.
    pub async fn postgres_if_configured() -> Option<Self> {
        let Ok(admin) = std::env::var("ACCORD_TEST_DATABASE_URL") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must run the PostgreSQL tests: set ACCORD_TEST_DATABASE_URL (scripts/test does)"
            );
            eprintln!("PostgreSQL variant not run: ACCORD_TEST_DATABASE_URL is not set (scripts/test sets it)");
            return None;
        };
        let name = format!("accord_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = pg_connect(&admin).await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let url = with_database(&admin, &name);
        Some(Self {
            backend: Backend::Postgres,
            url,
            _dir: None,
            pg_admin: Some((admin, name)),
        })
    }

    /// A direct connection for test set-up that no endpoint offers yet.
    pub async fn execute(&self, sql: &str, binds: &[&str]) {
        match self.backend {
            Backend::Sqlite => {
                use sqlx::Connection as _;
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite");
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(&mut c).await.expect("set-up SQL");
            }
            Backend::Postgres => {
                let mut c = pg_connect(&self.url).await;
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(&mut c).await.expect("set-up SQL");
            }
        }
    }
}

impl TestDb {
    /// `SELECT COUNT(*) FROM <table>`, read directly.
    pub async fn count(&self, table: &str) -> i64 {
        use sqlx::Row as _;
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        match self.backend {
            Backend::Sqlite => {
                use sqlx::Connection as _;
                let mut c = sqlx::SqliteConnection::connect(&self.url)
                    .await
                    .expect("sqlite");
                sqlx::query(&sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
                    .get("n")
            }
            Backend::Postgres => {
                let mut c = pg_connect(&self.url).await;
                sqlx::query(&sql)
                    .fetch_one(&mut c)
                    .await
                    .expect("count")
                    .get("n")
            }
        }
    }
}

impl TestDb {
    /// The tables holding `needle` anywhere in any column (as text), read directly: what
    /// an erasure must have left is checked against the whole database, not the API.
    pub async fn tables_containing(&self, needle: &str) -> std::collections::BTreeSet<String> {
        use sqlx::Row as _;
        let mut found = std::collections::BTreeSet::new();
        macro_rules! scan {
            ($conn:expr, $columns_sql:expr, $find:expr) => {{
                let mut c = $conn;
                let rows = sqlx::query($columns_sql).fetch_all(&mut c).await.unwrap();
                let mut columns: std::collections::BTreeMap<String, Vec<String>> =
                    Default::default();
                for r in rows {
                    let (t, col): (String, String) = (r.get(0), r.get(1));
                    columns.entry(t).or_default().push(col);
                }
                for (table, cols) in columns {
                    let any = cols
                        .iter()
                        .map(|c| format!($find, format!("CAST(\"{c}\" AS TEXT)")))
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let sql = format!("SELECT COUNT(*) FROM \"{table}\" WHERE {any}");
                    let n: i64 = sqlx::query_scalar(&sql)
                        .bind(needle)
                        .fetch_one(&mut c)
                        .await
                        .unwrap();
                    if n > 0 {
                        found.insert(table);
                    }
                }
            }};
        }
        match self.backend {
            Backend::Sqlite => {
                use sqlx::Connection as _;
                scan!(
                    sqlx::SqliteConnection::connect(&self.url).await.unwrap(),
                    "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
                    "instr({}, $1) > 0"
                )
            }
            Backend::Postgres => scan!(
                pg_connect(&self.url).await,
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
                "strpos({}, $1) > 0"
            ),
        }
        found
    }
}

async fn pg_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect(url)
        .await
        .expect("connect to ACCORD_TEST_DATABASE_URL")
}

/// The same server URL with another database name.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_admin.take() {
            // Drop runs outside async: a small runtime of its own on a thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut c = pg_connect(&admin).await;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Test-only configuration: cheap password hashing, and registrations from loopback not
/// throttled (every test registers its people from 127.0.0.1; the throttle's own test sets
/// the shipped limit); everything else as shipped.
pub fn test_config(db: &TestDb) -> Config {
    let mut c = Config::new(&db.url);
    c.password_hash = PasswordHashParams::DANGER_TEST_MINIMUM;
    c.registrations_per_address = 1_000_000;
    c
}

/// A server running in this process on a loopback port.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// Dropping it shuts the server down.
    _shutdown: tokio::sync::oneshot::Sender<()>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// A second node of the same deployment: same database, same public URL (and so the
    /// same token issuer), its own port.
    pub async fn spawn_peer(db: &TestDb, first: &TestApp) -> Self {
        let public = first.base.clone();
        Self::spawn_with(db, move |c| *c = c.clone().with_public_url(&public)).await
    }

    /// A server whose clock moves only when the test says so.
    pub async fn spawn_with_clock(db: &TestDb, clock: accord_domain::FixedClock) -> Self {
        Self::spawn_full_with(db, |_| {}, Arc::new(clock)).await
    }

    pub async fn spawn_with(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full_with(db, tweak, Arc::new(SystemClock)).await
    }

    pub async fn spawn_full_with(
        db: &TestDb,
        tweak: impl FnOnce(&mut Config),
        clock: Arc<dyn accord_domain::Clock>,
    ) -> Self {
        // Errors always reach the test's captured output, shown only when it fails: an
        // unexpected 500's cause is then in the log of the run that saw it.
        let filter = std::env::var("ACCORD_TEST_LOG").unwrap_or_else(|_| "error".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut config = test_config(db).with_public_url(&base);
        // Webhook receivers and the OpenID provider in tests live on loopback.
        config.webhook_allow_private = true;
        config.oidc_allow_private = true;
        config.worker_interval = std::time::Duration::from_millis(100);
        tweak(&mut config);
        let app = build_app(config, clock).await.expect("app builds");
        app.services.start_workers();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(app, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            base,
            client: client(),
            _shutdown: tx,
            task: Some(task),
        }
    }

    /// A handle on a server running elsewhere (another process).
    pub fn remote(base: &str) -> Self {
        let (tx, _rx) = tokio::sync::oneshot::channel::<()>();
        Self {
            base: base.to_owned(),
            client: client(),
            _shutdown: tx,
            task: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional JSON body and `Authorization` header value.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::from(req.send().await.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Reply {
        self.call(Method::GET, path, auth, None).await
    }

    /// Registers a user and returns their ID.
    pub async fn register(&self, email: &str, password: &str) -> String {
        let r = self
            .post(
                "/v1/users/register",
                serde_json::json!({"username": email, "password": password, "name": "Test User"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "register: {}", r.body);
        r.json["ID"].as_str().expect("ID").to_owned()
    }

    /// Logs in (`/v1/v1.1/users/login`) and returns the `{User, Token}` body.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self
            .post(
                "/v1/v1.1/users/login",
                serde_json::json!({"username": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login: {}", r.body);
        r.json
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn bearer(login: &Value) -> String {
    format!(
        "Bearer {}",
        login["Token"]["access_token"]
            .as_str()
            .expect("access_token")
    )
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub json: Value,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.expect("body");
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
    }

    /// Asserts the iGrant error shape: JSON content type, `{"Code": status, "Message": "..."}`.
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.body);
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "content type {ct:?} for {}",
            self.body
        );
        assert_eq!(self.json["Code"], status, "Code in {}", self.body);
        let message = self.json["Message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "Message in {}", self.body);
    }
}

/// A unique email address for a test.
pub fn email(tag: &str) -> String {
    format!(
        "{tag}-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A real SMTP server (aiosmtpd) on loopback writing what it receives to a Maildir.
/// One per test process; mail is told apart by recipient.
pub struct Smtp {
    pub url: String,
    pub maildir: PathBuf,
}

pub fn smtp() -> &'static Smtp {
    static SMTP: OnceLock<Smtp> = OnceLock::new();
    SMTP.get_or_init(|| {
        let python = std::env::var("ACCORD_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let maildir = std::env::temp_dir().join(format!("accord-maildir-{}", uuid::Uuid::new_v4().simple()));
        let mut cmd = std::process::Command::new(python.clone());
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The SMTP server dies with the test process.
        #[cfg(target_os = "linux")]
        unsafe {
            use std::os::unix::process::CommandExt as _;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // PR_SET_PDEATHSIG fires when the spawning *thread* ends, so spawn from a thread
        // that lives as long as the test process.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(cmd.spawn().map(|_| ()));
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("spawner thread").unwrap_or_else(|e| {
            panic!("cannot start aiosmtpd with {python}: {e}. Run scripts/test, or `pip install aiosmtpd` and set ACCORD_TEST_PYTHON")
        });
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Smtp { url: format!("smtp://127.0.0.1:{port}"), maildir };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not start on port {port} (is it installed for {python}?)");
    })
}

impl Smtp {
    /// Waits (bounded: 10 s) for `count` mails to `to` whose subject is `subject`, and
    /// returns them (others, such as the address verification every registration sends,
    /// are left out).
    pub async fn wait_for_subject(&self, to: &str, subject: &str, count: usize) -> Vec<String> {
        let header = format!("Subject: {subject}");
        for _ in 0..200 {
            let found: Vec<String> = self
                .messages_to(to)
                .into_iter()
                .filter(|m| m.lines().any(|l| l.trim_end() == header))
                .collect();
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {count} mails {subject:?} to {to} within 10 s");
    }

    /// Messages to `to`, as a mail client shows them: the decoded `To` and `Subject`
    /// headers, then the text alternative, then the HTML one.
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        self.mails_to(to)
            .into_iter()
            .map(|m| {
                format!(
                    "To: {}\nSubject: {}\n\n{}\n{}",
                    m.to, m.subject, m.text, m.html
                )
            })
            .collect()
    }

    /// Mails to `to`, read by a MIME parser (`mail-parser`): encoded words, transfer
    /// encodings and the alternatives decoded.
    pub fn mails_to(&self, to: &str) -> Vec<ReadMail> {
        let mut out = vec![];
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(raw) = std::fs::read(e.path()) else {
                    continue;
                };
                let Some(m) = mail_parser::MessageParser::default().parse(&raw) else {
                    continue;
                };
                let recipient = m
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .unwrap_or_default()
                    .to_owned();
                if !recipient.contains(to) {
                    continue;
                }
                out.push(ReadMail {
                    to: recipient,
                    subject: m.subject().unwrap_or_default().to_owned(),
                    text: m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
                    html: m.body_html(0).map(|b| b.into_owned()).unwrap_or_default(),
                    html_parts: m.html_body_count(),
                });
            }
        }
        out
    }
}

/// A mail as a client reads it.
pub struct ReadMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The HTML alternative (a client may also make one from the text: see `html_parts`).
    pub html: String,
    /// How many HTML parts the mail really has.
    pub html_parts: usize,
}

/// The value of `key=` in the first URL in `text` carrying it.
pub fn query_param(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("{key}="))? + key.len() + 1;
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

/// Records a figure of the proof suite (writes acknowledged, cases tried, …): printed, and
/// appended to the file `ACCORD_PROOF_REPORT` names (scripts/test prints it at the end).
pub fn report(line: &str) {
    eprintln!("proof: {line}");
    if let Ok(path) = std::env::var("ACCORD_PROOF_REPORT") {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Runs futures concurrently on the test runtime (spawned: truly in parallel).
pub async fn join_all_spawned<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = vec![];
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
