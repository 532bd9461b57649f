//! A real OpenID Provider for the federation tests: `oidc-provider` from npm, configured by
//! `tests/oidc-provider/provider.mjs` (its README tells how accounts and the
//! browserless login work). One per test process; each test registers its own client
//! through dynamic client registration. Also: a browser stand-in (a cookie jar that
//! follows redirects) and a man-in-the-middle for the token endpoint that tampers with
//! ID tokens.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

pub struct Provider {
    pub issuer: String,
    pub discovery: Value,
}

/// The provider, started on first use (needs `npm ci` in tests/oidc-provider: the test
/// command does it).
pub fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed in {}: run scripts/test, or `npm ci` there",
            dir.display()
        );
        let node = std::env::var("ACCORD_TEST_NODE").unwrap_or_else(|_| "node".into());
        let (tx, rx) = std::sync::mpsc::channel();
        // Spawned from a thread that lives as long as the test process, holding the
        // child's stdin: the provider exits when that pipe closes, i.e. with us.
        std::thread::spawn(move || {
            let child = Command::new(&node)
                .arg("provider.mjs")
                .current_dir(&dir)
                .env("PORT", "0")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn();
            let mut child = match child {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot start {node}: {e}")));
                    return;
                }
            };
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.map(|_| line).map_err(|e| e.to_string()));
            let _keep_stdin_open = child.stdin.take();
            loop {
                std::thread::park();
            }
        });
        let line = rx
            .recv()
            .expect("spawner thread")
            .unwrap_or_else(|e| panic!("OpenID provider: {e}"));
        let first: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("OpenID provider said {line:?}, not its issuer"));
        let issuer = first["issuer"].as_str().expect("issuer").to_owned();
        let discovery = std::thread::spawn({
            let url = format!("{issuer}/.well-known/openid-configuration");
            move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        reqwest::get(url)
                            .await
                            .unwrap()
                            .json::<Value>()
                            .await
                            .unwrap()
                    })
            }
        })
        .join()
        .expect("discovery");
        Provider { issuer, discovery }
    })
}

pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: String,
}

impl Provider {
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    pub fn endpoint(&self, name: &str) -> String {
        self.discovery[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in discovery"))
            .to_owned()
    }

    /// Registers a client (RFC 7591) for these redirect URIs.
    pub async fn register_client(
        &self,
        redirect_uris: &[&str],
        auth_method: &str,
    ) -> RegisteredClient {
        let r = reqwest::Client::new()
            .post(self.endpoint("registration_endpoint"))
            .json(&json!({
                "redirect_uris": redirect_uris,
                "post_logout_redirect_uris": ["http://127.0.0.1:9/signed-out"],
                "token_endpoint_auth_method": auth_method,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }))
            .send()
            .await
            .expect("registration");
        let status = r.status();
        let body: Value = r.json().await.expect("registration body");
        assert!(status.is_success(), "registration: {status} {body}");
        RegisteredClient {
            client_id: body["client_id"].as_str().unwrap().to_owned(),
            client_secret: body["client_secret"].as_str().unwrap().to_owned(),
        }
    }
}

/// A browser: a cookie jar that follows redirects itself, so it can stop at ours.
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Follows redirects from `url` until one points under `stop_at`, and returns it.
    pub async fn follow_until(&self, url: &str, stop_at: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..20 {
            if url.starts_with(stop_at) {
                return url;
            }
            let r = self.client.get(&url).send().await.expect("browser request");
            let status = r.status();
            let Some(location) = r.headers().get("location") else {
                let body = r.text().await.unwrap_or_default();
                panic!("{url} answered {status} without a redirect: {body:.600}");
            };
            let next = reqwest::Url::parse(&url)
                .unwrap()
                .join(location.to_str().unwrap())
                .unwrap();
            url = next.to_string();
        }
        panic!("more than 20 redirects");
    }

    /// Loads a URL and answers its status and body (the end of a redirect chain).
    pub async fn get(&self, url: &str) -> (StatusCode, String) {
        let r = self.client.get(url).send().await.expect("browser request");
        (r.status(), r.text().await.unwrap_or_default())
    }
}

/// The value of a query parameter of a URL.
pub fn param(url: &str, key: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// How the man in the middle changes the ID token.
#[derive(Clone, Copy, Debug)]
pub enum Tamper {
    /// One character of the signature changed.
    Signature,
    /// A claim of the payload replaced, the signature left as it was.
    Claim(&'static str, &'static str),
}

/// A token endpoint in the middle: forwards to the provider's and tampers with the ID
/// token of the answer.
pub struct TokenProxy {
    pub url: String,
    pub forwarded: Arc<Mutex<usize>>,
}

struct ProxyState {
    upstream: String,
    tamper: Tamper,
    forwarded: Arc<Mutex<usize>>,
}

impl TokenProxy {
    pub async fn start(upstream: &str, tamper: Tamper) -> Self {
        let forwarded = Arc::new(Mutex::new(0));
        let state = Arc::new(ProxyState {
            upstream: upstream.to_owned(),
            tamper,
            forwarded: forwarded.clone(),
        });
        let app = Router::new().route("/token", post(proxy)).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, forwarded }
    }
}

async fn proxy(
    State(s): State<Arc<ProxyState>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut req = reqwest::Client::new().post(&s.upstream).body(body);
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let mut answer: Value = r.json().await.unwrap();
    *s.forwarded.lock().unwrap() += 1;
    if let Some(id_token) = answer["id_token"].as_str() {
        answer["id_token"] = Value::String(tamper(id_token, s.tamper));
    }
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        answer.to_string(),
    )
}

fn tamper(jwt: &str, how: Tamper) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    match how {
        Tamper::Signature => {
            let sig = &mut parts[2];
            let i = sig.len() / 2;
            let c = sig.as_bytes()[i];
            let replacement = if c == b'A' { "B" } else { "A" };
            sig.replace_range(i..i + 1, replacement);
        }
        Tamper::Claim(name, value) => {
            let mut payload: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
            payload[name] = match value.parse::<i64>() {
                Ok(n) => json!(n),
                Err(_) => json!(value),
            };
            parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        }
    }
    parts.join(".")
}

/// A misbehaving "provider": its discovery document redirects to another origin (the real
/// provider) or is larger than Accord accepts. Answers its base URL.
pub async fn start_misbehaving_provider(redirect_to: &str) -> String {
    use axum::response::Redirect;
    use axum::routing::get;
    let target = redirect_to.to_owned();
    let app = Router::new()
        .route(
            "/moved/.well-known/openid-configuration",
            get(move || async move { Redirect::temporary(&target) }),
        )
        .route(
            "/huge/.well-known/openid-configuration",
            get(|| async { format!("{{\"issuer\":\"{}\"}}", "x".repeat(600 * 1024)) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
