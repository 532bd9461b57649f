//! `accord-bench`: seeds a database, starts `accord serve` itself, drives each scenario
//! from this (second) process over loopback, and prints requests/s, latency percentiles,
//! errors and the server's peak RSS, each beside its ratio to `healthz` from the same run.
//! Method and results: BENCHMARKS.md.

mod ceilings;
mod load;
mod seed;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use clap::Parser;
use load::{Outcome, Request};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Accord's benchmark (BENCHMARKS.md)")]
struct Args {
    /// sqlite (a fresh file in a temporary directory) or postgres (a fresh database on
    /// the server `--database-url` names; dropped afterwards).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// For postgres: a URL whose user may create databases.
    #[arg(long, env = "ACCORD_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Subscribed users to seed.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Seconds each measured run lasts (after its warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Connections of the closed-loop runs.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Comma-separated scenarios (default: all).
    #[arg(long)]
    scenarios: Option<String>,
    /// The server binary (default: `accord` beside this one).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Where the SQLite database goes (default: a temporary directory; the disk matters).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the database afterwards (for EXPLAIN and profiling); its location is printed.
    #[arg(long)]
    keep: bool,
}

const ALL: &[&str] = &[
    "healthz",
    "login",
    "token-refresh",
    "read-consents",
    "self-read-apikey",
    "self-read-bearer",
    "self-sdk-first-call",
    "update-attribute",
    "self-update-apikey",
    "self-mix",
    "self-mix-two-nodes",
    "consented-users-first",
    "consented-users-deep",
    "customerid-query-user",
    "mixed",
    "api-account",
    "page-account",
    "page-sign-in",
    "login-storm",
];

/// Items per page of the consented-users scenarios, and the deep page's number.
const PAGE_LIMIT: usize = 20;
const DEEP_PAGE: usize = 10_000;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn rss_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Resets the peak-RSS mark (Linux: 5 > clear_refs).
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `accord serve` on a free port; `public_url` is the deployment's (a second node shares
/// the first's), by default its own address.
async fn start_server(
    bin: &PathBuf,
    database_url: &str,
    public_url: Option<&str>,
) -> Result<Server> {
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(bin)
        .arg("serve")
        .env("ACCORD_DATABASE_URL", database_url)
        .env("ACCORD_LISTEN", format!("127.0.0.1:{port}"))
        .env("ACCORD_PUBLIC_URL", public_url.unwrap_or(&base))
        .env("ACCORD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = Server { child, base };
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not come up within 30 s")
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections.max(64))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Sends a request and says whether the status was the expected one (body read fully).
/// A seeded person's password login, as the setup of the session scenarios does it.
async fn log_in(http: &reqwest::Client, base: &str, email: &str) -> Result<serde_json::Value> {
    Ok(http
        .post(format!("{base}/v1/v1.1/users/login"))
        .json(&json!({"username": email, "password": seed::PASSWORD}))
        .send()
        .await?
        .json()
        .await?)
}

/// Every sampled person's own credentials, the way a client gets them: a password login
/// (its access token), then `POST /v1/user/apikey` with it. Four at a time: the server
/// hashes as many passwords at once per source as it lets one source sign in.
async fn own_credentials(
    http: &reqwest::Client,
    base: &str,
    users: &[(String, String, String)],
) -> Result<Vec<(String, String, String)>> {
    let started = std::time::Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(4));
    let mut issuing = tokio::task::JoinSet::new();
    for (user, email, _) in users.iter().cloned() {
        let (http, base, gate) = (http.clone(), base.to_owned(), gate.clone());
        issuing.spawn(async move {
            let _turn = gate.acquire().await?;
            let login = log_in(&http, &base, &email).await?;
            let token = login["Token"]["access_token"]
                .as_str()
                .context("an access token")?
                .to_owned();
            let bearer = format!("Bearer {token}");
            let key: serde_json::Value = http
                .post(format!("{base}/v1/user/apikey"))
                .header("Authorization", &bearer)
                .send()
                .await?
                .json()
                .await?;
            let key = key["APIKey"].as_str().context("an APIKey")?;
            anyhow::Ok((user, bearer, format!("ApiKey {key}")))
        });
    }
    let mut own = Vec::with_capacity(users.len());
    while let Some(issued) = issuing.join_next().await {
        own.push(issued??);
    }
    // In the sample's order, so runs pick the same people.
    let order: std::collections::HashMap<&str, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.0.as_str(), i))
        .collect();
    own.sort_by_key(|o| order[o.0.as_str()]);
    eprintln!(
        "issued {} people their credentials in {:.1} s",
        own.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(own)
}

async fn expect(req: reqwest::RequestBuilder, status: u16) -> bool {
    match req.send().await {
        Ok(r) => {
            let ok = r.status().as_u16() == status;
            r.bytes().await.is_ok() && ok
        }
        Err(_) => false,
    }
}

struct World {
    http: reqwest::Client,
    seeded: seed::Seeded,
    rest_client_auth: String,
    deep_start: String,
    refresh_tokens: Arc<Mutex<Vec<String>>>,
    /// One person's session, as the account page's cookie and as the API's bearer token.
    page_session: String,
    page_bearer: String,
    /// Each sampled person's own credentials, issued through the API: (user ID, their
    /// access token as a Bearer header, their APIKey as an ApiKey header).
    own: Vec<(String, String, String)>,
    /// Every node's base URL: this one's first, then a second node on the same database
    /// when a two-node scenario is wanted.
    nodes: Vec<String>,
    /// The mix's logins walk through the sample, so no one signs in often enough to meet
    /// the per-account throttle.
    mix_logins: AtomicUsize,
}

/// What request `i` of the self mix is: of every 100 (on average), one password login,
/// ten changes of one's own attribute (APIKey) and 89 reads of one's own record (45 by
/// APIKey, 44 by Bearer token).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MixKind {
    Login,
    Change,
    ReadApiKey,
    ReadBearer,
}

impl MixKind {
    const ALL: [MixKind; 4] = [
        MixKind::ReadApiKey,
        MixKind::ReadBearer,
        MixKind::Change,
        MixKind::Login,
    ];

    /// By a hash of `i` (SplitMix64's finaliser), not `i % 100` nor a multiplicative hash:
    /// the load generator's connection `k` sends requests `k`, `k + connections`, …, and
    /// either of those gives each connection a fixed pattern, so the requests queued behind
    /// a login on its connection were nearly all of one or two kinds (and those kinds' tails
    /// the logins').
    fn of(i: u64) -> Self {
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        match (z ^ (z >> 31)) % 100 {
            0 => MixKind::Login,
            1..=10 => MixKind::Change,
            11..=55 => MixKind::ReadApiKey,
            _ => MixKind::ReadBearer,
        }
    }

    fn label(self) -> &'static str {
        match self {
            MixKind::Login => "logins",
            MixKind::Change => "changes",
            MixKind::ReadApiKey => "reads (APIKey)",
            MixKind::ReadBearer => "reads (Bearer)",
        }
    }
}

impl World {
    fn scenario(self: &Arc<Self>, name: &str) -> Request {
        let w = self.clone();
        match name {
            "healthz" => Arc::new(move |_| {
                let w = w.clone();
                Box::pin(
                    async move { expect(w.http.get(format!("{}/healthz", w.base())), 200).await },
                )
            }),
            "login" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move {
                    let u = &w.seeded.users[i as usize % w.seeded.users.len()];
                    let body = json!({"username": u.1, "password": seed::PASSWORD});
                    expect(
                        w.http
                            .post(format!("{}/v1/v1.1/users/login", w.base()))
                            .json(&body),
                        200,
                    )
                    .await
                })
            }),
            "token-refresh" => Arc::new(move |_| {
                let w = w.clone();
                Box::pin(async move {
                    let Some(token) = w.refresh_tokens.lock().unwrap().pop() else {
                        return false;
                    };
                    let r = w
                        .http
                        .post(format!("{}/v1/users/token", w.base()))
                        .json(&json!({"refreshtoken": token}))
                        .send()
                        .await;
                    let Ok(r) = r else { return false };
                    let ok = r.status().is_success();
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(t) = body["refresh_token"].as_str() {
                        w.refresh_tokens.lock().unwrap().insert(0, t.to_owned());
                    }
                    ok
                })
            }),
            "read-consents" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move { w.read_consents(i).await })
            }),
            "update-attribute" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move { w.update_attribute(i).await })
            }),
            "self-update-apikey" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move { w.update_own_attribute(w.base(), i).await })
            }),
            // Each person reads their own record with their own credential, as the SDKs
            // call it: the population of credentials is the population of people.
            "self-read-apikey" | "self-read-bearer" => {
                let apikey = name.ends_with("apikey");
                Arc::new(move |i| {
                    let w = w.clone();
                    Box::pin(async move { w.read_own(w.base(), i, apikey).await })
                })
            }
            // The traffic of many people at once, on one node or split between two.
            "self-mix" | "self-mix-two-nodes" => {
                let nodes = if name == "self-mix" { 1 } else { 2 };
                assert!(w.nodes.len() >= nodes, "the second node is started");
                Arc::new(move |i| {
                    let w = w.clone();
                    Box::pin(async move {
                        let base = &w.nodes[i as usize % nodes];
                        match MixKind::of(i) {
                            MixKind::Login => w.log_in_next(base).await,
                            MixKind::Change => w.update_own_attribute(base, i).await,
                            MixKind::ReadApiKey => w.read_own(base, i, true).await,
                            MixKind::ReadBearer => w.read_own(base, i, false).await,
                        }
                    })
                })
            }
            // What iGrant.io's mobile SDKs call first, each person with their own APIKey:
            // the organisation, the record's ID and each purpose's count.
            "self-sdk-first-call" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move {
                    let (_, _, key) = w.own_credentials_of(i);
                    let url = format!(
                        "{}/v1/GetUserOrgsAndConsents?orgID={}",
                        w.base(),
                        w.seeded.org
                    );
                    expect(w.http.get(url).header("Authorization", key), 200).await
                })
            }),
            "consented-users-first" | "consented-users-deep" => {
                let deep = name.ends_with("deep");
                Arc::new(move |_| {
                    let w = w.clone();
                    Box::pin(async move {
                        let (p, attrs) = &w.seeded.purposes[0];
                        let mut url = format!(
                            "{}/v1/organizations/{}/purposes/{p}/attributes/{}/consented/users?limit={PAGE_LIMIT}",
                            w.base(), w.seeded.org, attrs[0]
                        );
                        if deep {
                            url.push_str(&format!("&startid={}", w.deep_start));
                        }
                        expect(
                            w.http
                                .get(url)
                                .header("Authorization", &w.seeded.admin_bearer),
                            200,
                        )
                        .await
                    })
                })
            }
            "customerid-query-user" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move {
                    let u = &w.seeded.users[i as usize % w.seeded.users.len()];
                    let url = format!("{}/customerid-rest/services/2.1/users/{}", w.base(), u.0);
                    expect(
                        w.http.get(url).header("Authorization", &w.rest_client_auth),
                        200,
                    )
                    .await
                })
            }),
            "mixed" => Arc::new(move |i| {
                let w = w.clone();
                Box::pin(async move {
                    if i % 10 == 0 {
                        w.update_attribute(i).await
                    } else {
                        w.read_consents(i).await
                    }
                })
            }),
            // The web facade beside the API call it mirrors: the account page and
            // `GET /v1/user` for the same person and session; the sign-in page (a form).
            "api-account" => Arc::new(move |_| {
                let w = w.clone();
                Box::pin(async move {
                    let url = format!("{}/v1/user", w.base());
                    expect(w.http.get(url).header("Authorization", &w.page_bearer), 200).await
                })
            }),
            "page-account" => Arc::new(move |_| {
                let w = w.clone();
                Box::pin(async move {
                    let url = format!("{}/account", w.base());
                    let cookie = format!("accord-session={}", w.page_session);
                    expect(w.http.get(url).header("Cookie", cookie), 200).await
                })
            }),
            "page-sign-in" => Arc::new(move |_| {
                let w = w.clone();
                Box::pin(
                    async move { expect(w.http.get(format!("{}/sign-in", w.base())), 200).await },
                )
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    async fn read_consents(&self, i: u64) -> bool {
        let u = &self.seeded.users[(i as usize * 7919) % self.seeded.users.len()];
        let url = format!(
            "{}/v1/organizations/{}/users/{}/consents",
            self.base(),
            self.seeded.org,
            u.0
        );
        expect(
            self.http
                .get(url)
                .header("Authorization", &self.seeded.admin_bearer),
            200,
        )
        .await
    }

    async fn update_attribute(&self, i: u64) -> bool {
        let k = (i as usize * 104_729) % self.seeded.users.len();
        self.change_attribute(self.base(), i, k, &self.seeded.admin_bearer)
            .await
    }

    /// The first node's base URL (the one every single-node scenario calls).
    fn base(&self) -> &str {
        &self.nodes[0]
    }

    /// The person request `i` of a self-read acts as, and their (user, Bearer, APIKey).
    fn own_credentials_of(&self, i: u64) -> &(String, String, String) {
        &self.own[(i as usize * 7919) % self.own.len()]
    }

    /// The person reads their own record at the node `base`, with their own credential.
    async fn read_own(&self, base: &str, i: u64, apikey: bool) -> bool {
        let (user, bearer, key) = self.own_credentials_of(i);
        let url = format!(
            "{base}/v1/organizations/{}/users/{user}/consents",
            self.seeded.org
        );
        let auth = if apikey { key } else { bearer };
        expect(self.http.get(url).header("Authorization", auth), 200).await
    }

    /// The person changes their own attribute, with their own APIKey.
    async fn update_own_attribute(&self, base: &str, i: u64) -> bool {
        let k = (i as usize * 104_729) % self.own.len();
        self.change_attribute(base, i, k, &self.own[k].2).await
    }

    /// The next person of the sample signs in with their password at the node `base`.
    async fn log_in_next(&self, base: &str) -> bool {
        let k = self.mix_logins.fetch_add(1, Ordering::Relaxed) % self.seeded.users.len();
        let body = json!({"username": self.seeded.users[k].1, "password": seed::PASSWORD});
        expect(
            self.http
                .post(format!("{base}/v1/v1.1/users/login"))
                .json(&body),
            200,
        )
        .await
    }

    /// Request `i` changes an attribute of the `k`-th sampled person, as `auth`.
    async fn change_attribute(&self, base: &str, i: u64, k: usize, auth: &str) -> bool {
        let u = &self.seeded.users[k];
        let (p, attrs) = &self.seeded.purposes[i as usize % self.seeded.purposes.len()];
        let a = &attrs[(i as usize / 5) % attrs.len()];
        let value = if i.is_multiple_of(2) {
            "Allow"
        } else {
            "Disallow"
        };
        let url = format!(
            "{base}/v1/organizations/{}/users/{}/consents/{}/purposes/{p}/attributes/{a}",
            self.seeded.org, u.0, u.2
        );
        expect(
            self.http
                .patch(url)
                .header("Authorization", auth)
                .json(&json!({"Consented": value, "Days": 0})),
            200,
        )
        .await
    }
}

struct Row {
    name: String,
    throughput: Outcome,
    latency: Outcome,
    peak_rss_kib: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let bin = match &args.server {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("accord"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: cargo build --release --workspace first",
            bin.display()
        );
    }
    // Several nodes share a database on PostgreSQL (docs/deployment.md): the two-node
    // scenario is PostgreSQL's.
    let two_nodes = |s: &str| s.ends_with("two-nodes");
    let wanted: Vec<String> = match &args.scenarios {
        Some(s) => s.split(',').map(|s| s.trim().to_owned()).collect(),
        None => ALL
            .iter()
            .filter(|s| args.backend == "postgres" || !two_nodes(s))
            .map(|s| s.to_string())
            .collect(),
    };
    if args.backend != "postgres" && wanted.iter().any(|s| two_nodes(s)) {
        bail!("two nodes share one database on PostgreSQL only");
    }
    let duration = Duration::from_secs(args.duration);
    let warmup = Duration::from_secs(args.warmup);

    // --- the database ---------------------------------------------------------------
    let scratch = match &args.dir {
        Some(d) => d.join(format!("accord-bench-{}", uuid::Uuid::new_v4().simple())),
        None => {
            std::env::temp_dir().join(format!("accord-bench-{}", uuid::Uuid::new_v4().simple()))
        }
    };
    std::fs::create_dir_all(&scratch)?;
    let (database_url, pg_admin) = match args.backend.as_str() {
        "sqlite" => (
            format!("sqlite://{}", scratch.join("bench.db").display()),
            None,
        ),
        "postgres" => {
            let admin = args
                .database_url
                .clone()
                .context("--database-url for postgres")?;
            let name = format!("accord_bench_{}", uuid::Uuid::new_v4().simple());
            seed::Db::connect(&admin)
                .await?
                .execute(&format!("CREATE DATABASE {name}"))
                .await?;
            // The database's name replaced, a query (`?host=/run/postgresql`) kept.
            let (path, query) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
            let (base, _) = path.rsplit_once('/').context("database URL")?;
            let url = match query {
                "" => format!("{base}/{name}"),
                q => format!("{base}/{name}?{q}"),
            };
            (url, Some((admin, name)))
        }
        other => bail!("unknown backend {other}"),
    };

    // --- ceilings, on an idle machine ---------------------------------------------------
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    eprintln!("measuring ceilings…");
    let argon2_rate =
        tokio::task::spawn_blocking(|| ceilings::argon2_single_thread_rate(Duration::from_secs(3)))
            .await?;
    let argon2_parallel_rate = tokio::task::spawn_blocking(move || {
        ceilings::argon2_all_cores_rate(cores, Duration::from_secs(3))
    })
    .await?;
    let commit_rate = ceilings::durable_commit_rate(
        &database_url,
        (args.backend == "sqlite").then_some(scratch.as_path()),
        Duration::from_secs(3),
    )
    .await?;

    // --- the server and its data ------------------------------------------------------
    let server = start_server(&bin, &database_url, None).await?;
    let db = seed::Db::connect(&database_url).await?;
    eprintln!("seeding {} users…", args.users);
    let hash = ceilings::password_hash(seed::PASSWORD);
    let seeded = seed::seed(&db, &server.base, args.users, &hash).await?;
    eprintln!("seeded in {:.1} s", seeded.seconds);

    // A CustomerID REST client, made as an operator would.
    let secret = "bench-rest-secret-0123456789";
    let mut cli = Command::new(&bin)
        .args([
            "admin",
            "add-rest-client",
            "--name",
            "bench",
            "--database-url",
            &database_url,
        ])
        .env("ACCORD_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    writeln!(cli.stdin.take().context("stdin")?, "{secret}")?;
    if !cli.wait()?.success() {
        bail!("accord admin add-rest-client failed");
    }
    let rest_client_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench:{secret}"))
    );

    // The deep page starts after the (page × limit)-th consented user (or as deep as
    // the data goes).
    let (p, attrs) = &seeded.purposes[0];
    let consented = db
        .one_i64(&format!(
            "SELECT COUNT(*) FROM consent_values WHERE purpose_id = '{p}' AND attribute_id = '{}' AND value = 'Allow'",
            attrs[0]
        ))
        .await?;
    let offset =
        ((DEEP_PAGE - 1) * PAGE_LIMIT).min((consented as usize).saturating_sub(PAGE_LIMIT + 1));
    let deep_start = db
        .one_text(&format!(
            "SELECT user_id FROM consent_values WHERE purpose_id = '{p}' AND attribute_id = '{}' AND value = 'Allow' ORDER BY user_id LIMIT 1 OFFSET {offset}",
            attrs[0]
        ))
        .await?
        .context("deep page start")?;
    let deep_page = offset / PAGE_LIMIT + 1;

    let http = client(args.connections);
    // Sessions for token refresh (each refresh rotates its token).
    let mut tokens = Vec::new();
    if wanted.iter().any(|w| w == "token-refresh") {
        for u in seeded.users.iter().take(256) {
            let r = log_in(&http, &server.base, &u.1).await?;
            if let Some(t) = r["Token"]["refresh_token"].as_str() {
                tokens.push(t.to_owned());
            }
        }
    }
    // One session for the page scenarios: the page's cookie carries its refresh token.
    let (mut page_session, mut page_bearer) = (String::new(), String::new());
    if wanted
        .iter()
        .any(|w| w == "page-account" || w == "api-account")
    {
        let r = log_in(&http, &server.base, &seeded.users[0].1).await?;
        page_session = r["Token"]["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        page_bearer = format!(
            "Bearer {}",
            r["Token"]["access_token"].as_str().unwrap_or_default()
        );
    }
    let own = if wanted.iter().any(|w| w.starts_with("self-")) {
        eprintln!(
            "issuing {} people their own credentials…",
            seeded.users.len()
        );
        own_credentials(&http, &server.base, &seeded.users).await?
    } else {
        Vec::new()
    };
    // A second node of the same deployment, for the two-node scenarios.
    let second = if wanted.iter().any(|w| two_nodes(w)) {
        Some(start_server(&bin, &database_url, Some(&server.base)).await?)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss_kib("VmRSS");
    let world = Arc::new(World {
        http,
        seeded,
        rest_client_auth,
        deep_start,
        refresh_tokens: Arc::new(Mutex::new(tokens)),
        page_session,
        page_bearer,
        own,
        nodes: std::iter::once(&server)
            .chain(second.as_ref())
            .map(|n| n.base.clone())
            .collect(),
        mix_logins: AtomicUsize::new(0),
    });

    // --- the scenarios ------------------------------------------------------------------
    let mut rows: Vec<Row> = Vec::new();
    let mut storm: Option<(Outcome, Outcome, u64)> = None;
    for name in &wanted {
        if name == "login-storm" {
            storm = Some(login_storm(&world, &server, &rows, warmup, duration).await);
            continue;
        }
        let request = world.scenario(name);
        // Logins are hashes: more connections only queue behind the core-count cap.
        let connections = if name == "login" {
            (cores * 4).max(4)
        } else {
            args.connections
        };
        server.reset_peak();
        eprintln!("{name}: closed loop, {connections} connections…");
        let throughput = load::closed_loop(&request, connections, warmup, duration).await;
        let rate = (throughput.per_second() * 0.7).max(1.0);
        eprintln!("{name}: open loop at {rate:.0}/s…");
        let latency = load::open_loop(&request, rate, connections, warmup, duration).await;
        let peak = server.rss_kib("VmHWM");
        rows.push(Row {
            name: name.clone(),
            throughput,
            latency,
            peak_rss_kib: peak,
        });
    }

    // Last, as it ends the sample's credentials: how soon the other node refuses them.
    let revocation = if second.is_some() && !world.own.is_empty() {
        Some(cross_node_revocation(&world).await?)
    } else {
        None
    };

    // The server releases its argon2 buffers after 30 s without hashing.
    eprintln!("waiting 35 s of quiet for the idle figure…");
    tokio::time::sleep(Duration::from_secs(35)).await;
    let quiet_rss = server.rss_kib("VmRSS");

    // --- the report ------------------------------------------------------------------------
    let healthz = rows
        .iter()
        .find(|r| r.name == "healthz")
        .map(|r| r.throughput.per_second());
    println!();
    println!(
        "accord-bench: backend {}, {} users, {} cores, {} s runs after {} s warm-up, {} connections (login {})",
        args.backend, args.users, cores, args.duration, args.warmup, args.connections, (cores * 4).max(4)
    );
    println!("ceilings: argon2id single thread {argon2_rate:.1} hashes/s ({:.1}/s on {cores} cores; {argon2_parallel_rate:.1}/s measured with {cores} threads at once); durable single-row commits {commit_rate:.0}/s", argon2_rate * cores as f64);
    println!(
        "server RSS idle: {:.1} MiB after seeding, {:.1} MiB after 35 s of quiet; deep page = page {deep_page} of {PAGE_LIMIT}",
        idle_rss as f64 / 1024.0,
        quiet_rss as f64 / 1024.0
    );
    println!();
    println!("| scenario | req/s | × healthz | p50 ms | p99 ms | p99.9 ms | errors | open-loop rate | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let ratio = healthz
            .map(|h| format!("{:.3}", r.throughput.per_second() / h))
            .unwrap_or_else(|| "-".into());
        println!(
            "| {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {} | {:.0}/s | {:.1} |",
            r.name,
            r.throughput.per_second(),
            ratio,
            r.latency.percentile_ms(50.0),
            r.latency.percentile_ms(99.0),
            r.latency.percentile_ms(99.9),
            r.throughput.errors + r.latency.errors,
            r.latency.per_second(),
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    let get = |n: &str| rows.iter().find(|r| r.name == n);
    println!();
    if let Some(l) = get("login") {
        println!(
            "login / (cores × argon2 rate) = {:.2}; login / argon2 rate of {cores} threads at once = {:.2}",
            l.throughput.per_second() / (argon2_rate * cores as f64),
            l.throughput.per_second() / argon2_parallel_rate
        );
    }
    if let Some(u) = get("update-attribute") {
        println!(
            "update-attribute / durable commit rate = {:.2}",
            u.throughput.per_second() / commit_rate
        );
    }
    if let Some(t) = get("token-refresh") {
        println!(
            "token-refresh per core = {:.0}/s",
            t.throughput.per_second() / cores as f64
        );
    }
    if let (Some(f), Some(d)) = (get("consented-users-first"), get("consented-users-deep")) {
        println!(
            "consented-users deep / first: p50 {:.2}, p99 {:.2}",
            d.latency.percentile_ms(50.0) / f.latency.percentile_ms(50.0),
            d.latency.percentile_ms(99.0) / f.latency.percentile_ms(99.0)
        );
    }
    for r in rows.iter().filter(|r| r.name.starts_with("self-mix")) {
        println!(
            "{} by kind, open loop at {:.0}/s:",
            r.name,
            r.latency.per_second()
        );
        for kind in MixKind::ALL {
            let of = r.latency.of_requests(|i| MixKind::of(i) == kind);
            println!(
                "  {}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, errors {}",
                kind.label(),
                of.per_second(),
                of.percentile_ms(50.0),
                of.percentile_ms(99.0),
                of.percentile_ms(99.9),
                of.errors
            );
        }
    }
    if let (Some(one), Some(two)) = (get("self-mix"), get("self-mix-two-nodes")) {
        println!(
            "self-mix on two nodes / on one: {:.3} (closed loop); both nodes share {cores} cores with the load generator and the database",
            two.throughput.per_second() / one.throughput.per_second()
        );
    }
    if let Some(r) = &revocation {
        println!("{r}");
    }
    if let Some((logins, reads, peak)) = &storm {
        println!(
            "login storm: {:.0} logins/s with read-consents at {:.0}/s alongside: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, errors {}; peak RSS {:.1} MiB",
            logins.per_second(),
            reads.per_second(),
            reads.percentile_ms(50.0),
            reads.percentile_ms(99.0),
            reads.percentile_ms(99.9),
            logins.errors + reads.errors,
            *peak as f64 / 1024.0
        );
    }

    drop(second);
    drop(server);
    drop(db);
    if args.keep {
        eprintln!("kept: {database_url}");
        return Ok(());
    }
    if let Some((admin, name)) = pg_admin {
        seed::Db::connect(&admin)
            .await?
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Logins at saturation and, at the same time, `read-consents` on an open loop at half
/// its measured throughput (or 200/s): how much the reads suffer, and the peak RSS.
async fn login_storm(
    world: &Arc<World>,
    server: &Server,
    rows: &[Row],
    warmup: Duration,
    duration: Duration,
) -> (Outcome, Outcome, u64) {
    let read_rate = rows
        .iter()
        .find(|r| r.name == "read-consents")
        .map(|r| r.throughput.per_second() * 0.5)
        .unwrap_or(200.0);
    let login = world.scenario("login");
    let read = world.scenario("read-consents");
    server.reset_peak();
    eprintln!("login-storm: 64 login connections + read-consents at {read_rate:.0}/s…");
    let storm = tokio::spawn(async move { load::closed_loop(&login, 64, warmup, duration).await });
    let reads = load::open_loop(&read, read_rate, 32, warmup, duration).await;
    let logins = storm.await.expect("storm");
    (logins, reads, server.rss_kib("VmHWM"))
}

/// Revokes people's credentials on the first node and asks the second, at once and then
/// until it refuses, with each: their APIKey (revoked), then their session's access token
/// (signed out). Says how many were refused at the first ask and how long after the
/// revocation's answer the refusal came.
async fn cross_node_revocation(world: &World) -> Result<String> {
    const PEOPLE: usize = 100;
    let (first, second) = (&world.nodes[0], &world.nodes[1]);
    let mut report = Vec::new();
    for what in ["APIKey", "access token"] {
        let (mut delays, mut at_once, mut attempts_max) = (Vec::new(), 0, 0);
        for (user, bearer, key) in world.own.iter().rev().take(PEOPLE) {
            let revoking = if what == "APIKey" {
                world.http.delete(format!("{first}/v1/user/apikey/revoke"))
            } else {
                world
                    .http
                    .post(format!("{first}/v1/users/logout"))
                    .json(&json!({}))
            };
            let r = revoking.header("Authorization", bearer).send().await?;
            if r.status().as_u16() != 204 {
                bail!("revoking the {what} answered {}", r.status());
            }
            let answered = std::time::Instant::now();
            let revoked = if what == "APIKey" { key } else { bearer };
            let url = format!(
                "{second}/v1/organizations/{}/users/{user}/consents",
                world.seeded.org
            );
            let mut attempts = 0;
            loop {
                attempts += 1;
                let r = world
                    .http
                    .get(&url)
                    .header("Authorization", revoked)
                    .send()
                    .await?;
                if r.status().as_u16() == 401 {
                    break;
                }
                if answered.elapsed() > Duration::from_secs(120) {
                    bail!("the second node still accepts a revoked {what} after 120 s");
                }
            }
            delays.push(answered.elapsed().as_micros() as u64);
            at_once += usize::from(attempts == 1);
            attempts_max = attempts_max.max(attempts);
        }
        delays.sort_unstable();
        report.push(format!(
            "{what} revoked on node 1, refused by node 2 at the first request in {at_once} of {}; from the revocation's answer to the refusal: p50 {:.2} ms, max {:.2} ms (at most {attempts_max} requests)",
            delays.len(),
            delays[delays.len() / 2] as f64 / 1000.0,
            delays[delays.len() - 1] as f64 / 1000.0
        ));
    }
    Ok(format!("cross-node revocation: {}", report.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::MixKind;

    /// The mix's shares, overall and among the requests that follow a login on the same
    /// connection (stride 32, the closed loop's connections): equal within a few points,
    /// so no kind's latency carries the logins' queue more than another's.
    #[test]
    fn the_mix_gives_every_kind_its_share_behind_a_login_too() {
        let share = |kinds: &[MixKind], k: MixKind| {
            kinds.iter().filter(|&&x| x == k).count() as f64 / kinds.len() as f64
        };
        let all: Vec<MixKind> = (0..200_000).map(MixKind::of).collect();
        let behind_logins: Vec<MixKind> = (0..200_000u64)
            .filter(|&i| MixKind::of(i) == MixKind::Login)
            .flat_map(|i| (1..=3).map(move |n| MixKind::of(i + 32 * n)))
            .collect();
        for (kind, expected) in [
            (MixKind::Login, 0.01),
            (MixKind::Change, 0.10),
            (MixKind::ReadApiKey, 0.45),
            (MixKind::ReadBearer, 0.44),
        ] {
            let overall = share(&all, kind);
            assert!((overall - expected).abs() < 0.01, "{kind:?}: {overall}");
            let behind = share(&behind_logins, kind);
            assert!(
                (behind - expected).abs() < 0.03,
                "{kind:?} behind a login: {behind}"
            );
        }
    }
}
