//! Health, readiness, keys, the OpenAPI document, logs without secrets, graceful shutdown.

use std::io::{Read as _, Write as _};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::Remote;
use crate::helpers::{
    bearer, email, join_all_spawned, Backend, Consenting, Fixture, TestApp, TestDb,
};
use crate::process::ServerProcess;

const PW: &str = "correct horse battery";

async fn health_and_readiness(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let r = app.get("/healthz", None).await;
    assert_eq!(
        (r.status, r.json.clone()),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let r = app.get("/readyz", None).await;
    assert_eq!(
        (r.status, r.json.clone()),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    assert!(
        r.headers.get("x-request-id").is_some(),
        "every response carries a request ID"
    );
    // A client's request ID is echoed only if it is short and plain.
    for (sent, echoed) in [("abc-123", true), ("x\" level=error msg=\"forged", false)] {
        let r = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let got = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(got == sent, echoed, "{sent:?} answered {got:?}");
    }
    if db.backend == Backend::Postgres {
        // The database goes away: not ready, but alive.
        let name = db.url.rsplit('/').next().unwrap().to_owned();
        let admin = std::env::var("ACCORD_TEST_DATABASE_URL").unwrap();
        use sqlx::Connection as _;
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut c)
            .await
            .unwrap();
        app.get("/readyz", None).await.assert_error(503);
        assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    }
}
both_backends!(health_and_readiness);

/// PostgreSQL closing every connection of the server (a restart, a proxy's idle timeout,
/// an operator's `pg_terminate_backend`) costs no request: a consent read runs again on
/// a new connection, and a pooled connection idle past a second is pinged before it is
/// handed out (hot ones are not: BENCHMARKS.md, issue #27).
async fn connections_the_database_closed_cost_no_request(db: TestDb) {
    // No background work: it would take (and so replace) closed connections unseen.
    let app = TestApp::spawn_with(&db, |c| c.worker_interval = Duration::from_secs(3600)).await;
    let c = Consenting::new(Fixture::on(app, &db).await).await;
    c.set(&c.f.individual, &c.marketing, &c.age, "allow", 0)
        .await;
    // Requests at once, so the server holds many connections: consent reads (their own
    // connections) and the person's account (a unit of work on the pool).
    let record = c.consents(&c.f.individual_id);
    let burst = |path: &str| {
        let client = c.f.app.client.clone();
        let url = c.f.app.url(path);
        let auth = c.f.individual.clone();
        join_all_spawned((0..32).map(move |_| {
            let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
            async move {
                let r = client.get(url).header("Authorization", auth).send().await;
                r.unwrap().status()
            }
        }))
    };
    for path in [record.as_str(), "/v1/user"] {
        assert!(burst(path).await.iter().all(|s| *s == StatusCode::OK));
    }
    if db.backend == Backend::Postgres {
        let name = db.url.rsplit('/').next().unwrap().to_owned();
        let admin = std::env::var("ACCORD_TEST_DATABASE_URL").unwrap();
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&admin).await.unwrap();
        let closed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(
            closed.len() > 4,
            "the server held {} connections",
            closed.len()
        );
        // sqlx's own clock measures the idleness: not one the test can move.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    for path in [record.as_str(), "/v1/user"] {
        let statuses = burst(path).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{path}: {statuses:?}"
        );
    }
    // The committer's connection too.
    for value in ["disallow", "allow"] {
        c.set(&c.f.individual, &c.marketing, &c.age, value, 0).await;
    }
    let record = c.record().await;
    assert_eq!(
        crate::helpers::attribute_in(crate::helpers::purpose_in(&record, &c.marketing), &c.age)
            ["Status"]["Consent"],
        "Allow"
    );
}
both_backends!(connections_the_database_closed_cost_no_request);

async fn access_tokens_verify_against_the_published_jwks(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    let id = app.register(&alice, PW).await;
    let login = app.login(&alice, PW).await;
    let token = login["Token"]["access_token"].as_str().unwrap();

    let jwks = app.get("/.well-known/jwks.json", None).await.json;
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("kid published");
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(key.get("d").is_none(), "no private part in the JWKS");
    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[&app.base]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("verifies")
        .claims;
    assert_eq!(claims["sub"], id.as_str());

    // A second node on the same database publishes and uses the same key.
    let other = TestApp::spawn_peer(&db, &app).await;
    assert_eq!(other.get("/.well-known/jwks.json", None).await.json, jwks);

    // A token whose signature was tampered with is refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let sig = parts[2].clone();
    parts[2] = format!(
        "{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    app.get("/v1/user", Some(&format!("Bearer {}", parts.join("."))))
        .await
        .assert_error(401);
}
both_backends!(access_tokens_verify_against_the_published_jwks);

/// Every operation the OpenAPI document lists is served (the document is generated from
/// the same place that registers routes; this catches a documented path that is not).
async fn openapi_document_matches_the_routes(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let doc = app.get("/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    // The whole document, as reviewed: a refactor that changes it shows the difference
    // (`cargo insta review` after an intended change).
    let mut snapshot = doc.json.clone();
    if let Some(servers) = snapshot.get_mut("servers") {
        *servers = json!("<the server's public URL>");
    }
    insta::assert_json_snapshot!("openapi", snapshot);
    let paths = doc.json["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.call(m, path, None, None).await;
            assert!(
                !(r.status == StatusCode::NOT_FOUND && r.json["Message"] == "no such endpoint")
                    && r.status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed: {} {}",
                r.status,
                r.body
            );
            operations += 1;
        }
    }
    for expected in [
        "/v1/v1.1/users/login",
        "/v1/users/login",
        "/v1/users/admin/login",
        "/v1/users/logout",
        "/v1/users/token",
        "/v1/users/register",
        "/v1/user",
        "/v1/user/apikey",
        "/v1/user/apikey/revoke",
        "/v1/user/password/reset",
        "/v1/user/password/forgot",
        "/v1/user/password/forgot/confirm",
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the OpenAPI document"
        );
    }
    assert!(operations >= 18, "{operations} operations documented");
}
both_backends!(openapi_document_matches_the_routes);

/// The server's log once it holds `text` (bounded: 5 s), or as it is then.
async fn log_once_it_says(server: &ServerProcess, text: &str) -> String {
    let mut log = String::new();
    for _ in 0..100 {
        log = server.log_text();
        if log.contains(text) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    log
}

/// Passwords, tokens, keys and reset tokens never reach the log, even at debug level.
async fn logs_carry_no_secrets(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-log-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = ServerProcess::start(&db.url, dir.join("server.log"), &[]);
    let app = Remote(server.base.clone());
    let alice = email("alice");
    let password = "Sup3r-Secret-Passphrase";
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": alice, "password": password}),
        )
        .await;
    assert_eq!(r.0, 201);
    let login = app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": alice, "password": password}),
        )
        .await
        .1;
    let refreshed = app
        .post(
            "/v1/users/token",
            json!({"refreshtoken": login["Token"]["refresh_token"]}),
        )
        .await
        .1;
    let client = reqwest::Client::new();
    let key = client
        .post(format!("{}/v1/user/apikey", server.base))
        .header("authorization", bearer(&login))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["APIKey"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put("/v1/user/password/forgot", json!({"username": alice}))
        .await;
    app.post(
        "/v1/users/login",
        json!({"username": alice, "password": "Wrong-Secret-Guess"}),
    )
    .await;
    // A request ID made to forge a log line.
    reqwest::Client::new()
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "x\" level=error msg=\"forged")
        .send()
        .await
        .unwrap();
    // An invitation's token travels in the path.
    let invitation_token = "Invitation-Token-In-The-Path-0123456789";
    app.post(
        &format!("/v1/invitations/{invitation_token}/accept"),
        json!({"password": password}),
    )
    .await;

    // Wait (bounded) for the background reset mail to be logged.
    let log = log_once_it_says(&server, "mail not sent").await;
    assert!(log.contains("mail not sent"), "reset mail logged:\n{log}");
    assert!(log.contains("<redacted>"), "reset token redacted:\n{log}");
    assert!(
        log.contains("/v1/users/token"),
        "requests are logged with their path:\n{log}"
    );
    let secrets = [
        password.to_owned(),
        "Wrong-Secret-Guess".to_owned(),
        login["Token"]["access_token"].as_str().unwrap().to_owned(),
        login["Token"]["refresh_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        key,
        alice.clone(),
        invitation_token.to_owned(),
    ];
    for s in &secrets {
        assert!(
            !log.contains(s.as_str()),
            "secret {s:.12}… in the log:\n{log}"
        );
    }
    assert!(!log.contains("token="), "a reset link in the log:\n{log}");
    assert!(
        !log.contains("msg=\"forged"),
        "a client's text forged a log field:\n{log}"
    );
    // Every line is a log record: no text (a mail's lines, a client's newline) starts one.
    for line in log.lines() {
        assert!(
            line.starts_with(|c: char| c.is_ascii_digit()),
            "a line that is no log record: {line:?}"
        );
    }
    // The same in the JSON format: every line is one JSON object.
    let json_server =
        ServerProcess::start(&db.url, dir.join("json.log"), &[("ACCORD_LOG_JSON", "1")]);
    let json_app = Remote(json_server.base.clone());
    json_app
        .put("/v1/user/password/forgot", json!({"username": alice}))
        .await;
    reqwest::Client::new()
        .get(format!("{}/healthz", json_server.base))
        .header("x-request-id", "x\"}{\"level\":\"ERROR\"")
        .send()
        .await
        .unwrap();
    let log = log_once_it_says(&json_server, "mail not sent").await;
    assert!(log.contains("mail not sent"), "{log}");
    for line in log.lines() {
        let record: Result<Value, _> = serde_json::from_str(line);
        assert!(
            record.is_ok_and(|r| r.is_object()),
            "not one JSON record: {line:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(logs_carry_no_secrets);

/// SIGTERM lets a request that is already in flight finish, then the process exits cleanly.
async fn sigterm_finishes_in_flight_requests(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-term-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = ServerProcess::start(&db.url, dir.join("server.log"), &[]);
    let alice = email("alice");
    let body = json!({"username": alice, "password": PW}).to_string();
    let addr = server.base.trim_start_matches("http://").to_owned();

    let handle = std::thread::spawn({
        let body = body.clone();
        move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let head = format!(
                "POST /v1/users/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            let (first, rest) = body.split_at(10);
            s.write_all(first.as_bytes()).unwrap();
            s.flush().unwrap();
            // The request is in flight; the server is told to stop meanwhile.
            std::thread::sleep(Duration::from_millis(300));
            s.write_all(rest.as_bytes()).unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            answer
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    server.sigterm();
    let answer = handle.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "in-flight request finished: {answer:?}"
    );
    let status = server.child.wait().unwrap();
    assert!(
        status.success(),
        "clean exit: {status}\n{}",
        server.log_text()
    );
    assert!(server.log_text().contains("shutting down"));
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(sigterm_finishes_in_flight_requests);

/// Asked to stop with a drain time, the server turns readiness off at once and goes on
/// serving for that time (a load balancer takes it out meanwhile), then stops accepting,
/// finishes and exits cleanly, its workers ended after their round.
async fn a_stop_turns_readiness_off_first_and_serves_the_drain_time(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-drain-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = ServerProcess::start(
        &db.url,
        dir.join("server.log"),
        &[("ACCORD_SHUTDOWN_DRAIN", "2")],
    );
    let app = TestApp::remote(&server.base);
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    let asked = std::time::Instant::now();
    server.sigterm();
    let mut refused = None;
    for _ in 0..40 {
        let r = app.get("/readyz", None).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let refused = refused.expect("readiness off within a second of SIGTERM");
    assert_eq!(refused.json["Message"], "shutting down", "{}", refused.body);
    // Still serving, on new connections too, while the drain lasts.
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    let alice = email("drain");
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": alice, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait().unwrap();
        (status, server.log_text())
    })
    .await
    .unwrap();
    let took = asked.elapsed();
    assert!(status.0.success(), "clean exit: {}\n{}", status.0, status.1);
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "served the drain time, then stopped: {took:?}"
    );
    assert!(
        status.1.contains("background workers stopped"),
        "{}",
        status.1
    );
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(a_stop_turns_readiness_off_first_and_serves_the_drain_time);

/// `accord migrate` prepares an empty database and exits; running it again is a no-op;
/// a server then starts on it.
async fn migrate_runs_the_migrations_alone(db: TestDb) {
    for _ in 0..2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .arg("migrate")
            .env("ACCORD_DATABASE_URL", &db.url)
            .env("ACCORD_LOG", "warn")
            .output()
            .expect("accord migrate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let applied: Vec<i64> = match db.backend {
        Backend::Sqlite => {
            use sqlx::Connection as _;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
    };
    // Every migration file of the backend, in order, each applied once.
    let dir = match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let files = std::fs::read_dir(format!(
        "{}/../store/migrations/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .count() as i64;
    assert!(files >= 2);
    assert_eq!(applied, (1..=files).collect::<Vec<_>>());
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
}
both_backends!(migrate_runs_the_migrations_alone);

/// `accord` run as its own process with `env`: its exit code and standard error.
fn accord(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
    cmd.args(args).env_remove("ACCORD_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("accord runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every start-up failure names what failed and where, with its own exit code
/// (docs/operations.md, "When it does not start"): a database that cannot be reached (its
/// host and port, never the password), a SQLite file in a directory that does not exist,
/// a database a newer release migrated, a mistyped logging filter, a taken address.
async fn start_up_failures_name_their_cause(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-{}", uuid::Uuid::new_v4()));
    // Nothing listens on a port we just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("postgres://accord:s3cret-pw@127.0.0.1:{port}/accord");
    let (code, err) = accord(&["migrate"], &[("ACCORD_DATABASE_URL", &unreachable)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("PostgreSQL"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pw"), "the password stays out: {err}");

    let nowhere = dir.join("no/such/dir/accord.db");
    let url = format!("sqlite://{}", nowhere.display());
    let (code, err) = accord(&["migrate"], &[("ACCORD_DATABASE_URL", &url)]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("does not exist") && err.contains("no/such/dir"),
        "{err}"
    );

    let (code, err) = accord(&["migrate"], &[("ACCORD_DATABASE_URL", "mysql://x")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ACCORD_DATABASE_URL"), "{err}");

    let (code, err) = accord(
        &["migrate"],
        &[
            ("ACCORD_DATABASE_URL", &db.url),
            ("ACCORD_LOG", "info,accord=loud"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ACCORD_LOG"), "{err}");

    // A newer release's migration in the database: this release runs beside it (the
    // expand-then-contract policy), and says so, in `migrate --check` and at start.
    let (code, _, err) = admin_run(&db, &["migrate"], None);
    assert_eq!(code, 0, "{err}");
    let checksum = match db.backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    };
    db.execute(
        &format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, {checksum}, 0)"
        ),
        &[],
    )
    .await;
    let (code, out, err) = admin_run(&db, &["migrate", "--check"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("applied by a newer release: 9999"), "{out}");
    let (code, err) = accord(
        &["migrate"],
        &[("ACCORD_DATABASE_URL", &db.url), ("ACCORD_LOG", "warn")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("newer release") && err.contains("9999"),
        "the start says so: {err}"
    );

    // Secrets from files, as container platforms hand them over.
    std::fs::create_dir_all(&dir).unwrap();
    let url_file = dir.join("database-url");
    std::fs::write(&url_file, format!("{}\n", db.url)).unwrap();
    let url_file = url_file.display().to_string();
    let (code, err) = accord(&["migrate"], &[("ACCORD_DATABASE_URL_FILE", &url_file)]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = accord(
        &["migrate"],
        &[
            ("ACCORD_DATABASE_URL_FILE", &url_file),
            ("ACCORD_DATABASE_URL", &db.url),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("both set"), "{err}");
    let (code, err) = accord(
        &["migrate"],
        &[("ACCORD_SECRET_KEY_FILE", "/nonexistent/accord-key")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ACCORD_SECRET_KEY_FILE"), "{err}");
    // A value out of its range is refused, not quietly clamped.
    for (setting, flag) in [
        ("ACCORD_MAX_CONNECTIONS", "--max-connections"),
        ("ACCORD_WORKER_INTERVAL", "--worker-interval"),
        ("ACCORD_INVITATION_TTL_HOURS", "--invitation-ttl-hours"),
    ] {
        let (code, err) = accord(&["serve"], &[(setting, "0")]);
        assert_eq!(code, 2, "{setting}: {err}");
        assert!(err.contains(flag), "{err}");
    }
    for (setting, value, flag) in [
        ("ACCORD_OTLP_ENDPOINT", "collector:4318", "--otlp-endpoint"),
        (
            "ACCORD_OTLP_ENDPOINT",
            "http://collector:4318/?k=v",
            "--otlp-endpoint",
        ),
        ("ACCORD_TRACE_SAMPLE_RATIO", "1.5", "--trace-sample-ratio"),
    ] {
        let (code, err) = accord(&["serve"], &[(setting, value)]);
        assert_eq!(code, 2, "{setting}={value}: {err}");
        assert!(err.contains(flag), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // The listening address taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = accord(
        &["serve"],
        &[
            ("ACCORD_DATABASE_URL", &db.url),
            ("ACCORD_LISTEN", &addr),
            ("ACCORD_WORKER_INTERVAL", "3600"),
        ],
    );
    assert_eq!(code, 6, "{err}");
    assert!(
        err.contains(&addr) && err.contains("ACCORD_LISTEN"),
        "{err}"
    );
}
both_backends!(start_up_failures_name_their_cause);

/// `accord admin <args> --json` on the test database: its JSON answer (exit 0 asserted).
fn admin_json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, out, err) = admin_run(db, &all, None);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// `accord <args>` on the test database with `stdin`: exit code, standard output and error.
fn admin_run(db: &TestDb, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .env("ACCORD_DATABASE_URL", &db.url)
        .env("ACCORD_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The operator's everyday work from the command line, each effective on the running
/// server: REST clients listed, rotated and revoked; platform admins listed and demoted;
/// a person found, disabled and enabled; organisations listed; a ledger checkpoint
/// signed and verified against.
async fn the_operator_works_from_the_command_line(db: TestDb) {
    let f = Fixture::new(&db).await;
    let basic = |app: &TestApp, name: &'static str, secret: &'static str| {
        let req = app
            .client
            .get(app.url(&format!("{}/organizations/", crate::helpers::BASE)))
            .basic_auth(name, Some(secret));
        async move { req.send().await.unwrap().status() }
    };
    let dir = std::env::temp_dir().join(format!("accord-op-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, "first-long-secret\n").unwrap();
    let secret_path = secret_file.display().to_string();
    let (code, _, err) = admin_run(
        &db,
        &[
            "admin",
            "add-rest-client",
            "--name",
            "backend",
            "--secret-file",
            &secret_path,
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        basic(&f.app, "backend", "first-long-secret").await,
        StatusCode::OK
    );
    let listed = admin_json(&db, &["list-rest-clients"]);
    assert_eq!(listed["RestClients"][0]["Name"], "backend", "{listed}");
    assert!(
        !listed.to_string().contains("argon2"),
        "no secret hash shown"
    );

    // Rotated through standard input: the new secret works at once; a node that never
    // verified the old one refuses it at once (one that did, within a minute).
    let (code, _, err) = admin_run(
        &db,
        &["admin", "rotate-rest-client", "--name", "backend"],
        Some("second-long-secret\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        basic(&f.app, "backend", "second-long-secret").await,
        StatusCode::OK
    );
    let fresh = TestApp::spawn_peer(&db, &f.app).await;
    assert_eq!(
        basic(&fresh, "backend", "first-long-secret").await,
        StatusCode::UNAUTHORIZED
    );
    let (code, _, err) = admin_run(
        &db,
        &["admin", "revoke-rest-client", "--name", "backend"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let later = TestApp::spawn_peer(&db, &f.app).await;
    assert_eq!(
        basic(&later, "backend", "second-long-secret").await,
        StatusCode::UNAUTHORIZED
    );
    let (code, _, err) = admin_run(
        &db,
        &["admin", "revoke-rest-client", "--name", "backend"],
        None,
    );
    assert_eq!(code, 1, "no such client: {err}");
    assert!(err.contains("no REST client"), "{err}");

    // Platform admins: listed, then one demoted can no longer act as one.
    let admins = admin_json(&db, &["list-platform-admins"]);
    let platform_email = admins["PlatformAdmins"][0]["Email"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        admins["PlatformAdmins"].as_array().unwrap().len(),
        1,
        "{admins}"
    );
    let types = "/v1/organizations/types";
    let create_type = |auth: String| {
        let app = &f.app;
        async move {
            app.call(
                Method::POST,
                types,
                Some(&auth),
                Some(json!({"Type": format!("T {}", uuid::Uuid::new_v4())})),
            )
            .await
            .status
        }
    };
    assert_eq!(create_type(f.platform.clone()).await, StatusCode::CREATED);
    let demoted = admin_json(&db, &["demote-platform-admin", "--email", &platform_email]);
    assert_eq!(demoted["User"]["PlatformAdmin"], false);
    assert_eq!(create_type(f.platform.clone()).await, StatusCode::FORBIDDEN);
    assert_eq!(
        admin_json(&db, &["list-platform-admins"])["PlatformAdmins"],
        json!([])
    );

    // A person found, disabled (every credential refused at once), enabled again.
    let me = f.app.get("/v1/user", Some(&f.individual)).await;
    let address = me.json["User"]["Email"].as_str().unwrap().to_owned();
    let found = admin_json(&db, &["find-user", "--email", &address]);
    assert_eq!(found["User"]["ID"], f.individual_id.as_str());
    let off = admin_json(&db, &["disable-user", "--email", &address]);
    assert_eq!(off["User"]["Status"], "Disabled");
    f.app
        .get("/v1/user", Some(&f.individual))
        .await
        .assert_error(401);
    admin_json(&db, &["enable-user", "--email", &address]);
    assert_eq!(
        f.app.get("/v1/user", Some(&f.individual)).await.status,
        StatusCode::OK
    );
    let (code, _, err) = admin_run(
        &db,
        &["admin", "find-user", "--email", "nobody@example.com"],
        None,
    );
    assert_eq!(code, 1, "{err}");

    // Organisations, and a checkpoint kept outside that the ledger then extends.
    let orgs = admin_json(&db, &["list-organizations"]);
    let ids: Vec<&str> = orgs["Organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["ID"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&f.org.as_str()) && ids.contains(&f.other_org.as_str()));
    let (code, token, err) = admin_run(&db, &["admin", "ledger-checkpoint", "--org", &f.org], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(token.trim().split('.').count(), 3, "a JWS: {token}");
    let kept = dir.join("checkpoint");
    std::fs::write(&kept, &token).unwrap();
    let (code, out, err) = verify_with_checkpoints(&db, &f.org, &kept);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("extending all 1 checkpoints"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(the_operator_works_from_the_command_line);

/// `accord admin verify-consent-ledger --org ORG --checkpoints FILE`.
fn verify_with_checkpoints(
    db: &TestDb,
    org: &str,
    checkpoints: &std::path::Path,
) -> (i32, String, String) {
    let file = checkpoints.display().to_string();
    admin_run(
        db,
        &[
            "admin",
            "verify-consent-ledger",
            "--org",
            org,
            "--checkpoints",
            &file,
        ],
        None,
    )
}

/// A backup taken while consents are being written restores whole: the restored ledger
/// verifies, and extends every receipt given before the backup began. SQLite through
/// `accord backup` (restoring is starting on the copy), PostgreSQL through `pg_dump` and
/// `pg_restore` into a new database (docs/operations.md, "Backup, restore, upgrade").
async fn a_backup_taken_under_write_load_restores_whole(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    let dir = std::env::temp_dir().join(format!("accord-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // A writer flips consents until told to stop, keeping each change's receipt.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let receipts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let writer = {
        let (stop, receipts) = (stop.clone(), receipts.clone());
        let url = f.app.url(&c.attribute(&c.marketing, &c.age));
        let (client, auth) = (f.app.client.clone(), f.individual.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let value = if n.is_multiple_of(2) {
                    "Allow"
                } else {
                    "Disallow"
                };
                let r = client
                    .patch(&url)
                    .header("Authorization", &auth)
                    .json(&json!({"consented": value, "days": 0}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let body: Value = r.json().await.unwrap();
                receipts
                    .lock()
                    .unwrap()
                    .push(body["Receipt"].as_str().unwrap().to_owned());
                n += 1;
            }
            n
        })
    };
    while receipts.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before: Vec<String> = receipts.lock().unwrap().clone();
    let kept = dir.join("receipts");
    std::fs::write(&kept, before.join("\n")).unwrap();

    // The PostgreSQL copy's database lives (and is dropped) with the test.
    let mut restored_db: Option<TestDb> = None;
    let restored_url = match db.backend {
        Backend::Sqlite => {
            let copy = dir.join("copy.db");
            let (code, out, err) =
                admin_run(&db, &["backup", "--to", &copy.display().to_string()], None);
            assert_eq!(code, 0, "{out}{err}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
            }
            let (code, _, err) =
                admin_run(&db, &["backup", "--to", &copy.display().to_string()], None);
            assert_eq!(code, 2, "never overwritten: {err}");
            format!("sqlite://{}", copy.display())
        }
        Backend::Postgres => {
            let dump = dir.join("accord.dump");
            let (code, _, err) =
                admin_run(&db, &["backup", "--to", &dump.display().to_string()], None);
            assert_eq!(code, 2, "PostgreSQL is pg_dump's: {err}");
            assert!(err.contains("pg_dump"), "{err}");
            let out = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--file"])
                .arg(&dump)
                .arg(&db.url)
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let target = TestDb::postgres_if_configured().await.unwrap();
            let out = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--dbname", &target.url])
                .arg(&dump)
                .output()
                .expect("pg_restore");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let url = target.url.clone();
            restored_db = Some(target);
            url
        }
    };
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(
        written as usize > before.len(),
        "writes went on during the backup"
    );

    // The restored ledger verifies and extends every receipt given before the backup.
    let (code, out, err) = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "admin",
            "verify-consent-ledger",
            "--org",
            &f.org,
            "--checkpoints",
        ])
        .arg(&kept)
        .env("ACCORD_DATABASE_URL", &restored_url)
        .env("ACCORD_LOG", "warn")
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("extending all {} checkpoints", before.len())),
        "{out}"
    );
    let check = accord_store::check_migrations(&restored_url).await.unwrap();
    assert!(check.pending.is_empty(), "{check:?}");
    drop(restored_db);
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(a_backup_taken_under_write_load_restores_whole);

/// `accord migrate --check` lists what would run and applies nothing; up to date, it says
/// so; a database of a newer release is exit 4.
async fn migrate_check_applies_nothing(db: TestDb) {
    let dir = match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let newest = std::fs::read_dir(format!(
        "{}/../store/migrations/{dir}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .count();
    let (code, out, err) = admin_run(&db, &["migrate", "--check"], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("would apply 1:") && out.contains(&format!("would apply {newest}:")),
        "{out}"
    );
    let (code, out, _) = admin_run(&db, &["migrate", "--check"], None);
    assert_eq!(code, 1, "still nothing applied: {out}");
    let (code, _, err) = admin_run(&db, &["migrate"], None);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = admin_run(&db, &["migrate", "--check"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("up to date"), "{out}");
}
both_backends!(migrate_check_applies_nothing);

/// Nodes starting together on an empty database end with one signing key between them:
/// every node publishes the same key set, and a token one node signed is accepted by all.
async fn nodes_starting_together_make_one_signing_key(db: TestDb) {
    let db = std::sync::Arc::new(db);
    let starts = (0..6).map(|_| {
        let db = std::sync::Arc::clone(&db);
        // One deployment: the nodes share their public URL, the tokens' issuer.
        async move {
            TestApp::spawn_with(&db, |c| {
                *c = c.clone().with_public_url("http://accord.test")
            })
            .await
        }
    });
    let nodes = crate::helpers::join_all_spawned(starts).await;
    let mut kids = std::collections::BTreeSet::new();
    for node in &nodes {
        let jwks = node.get("/.well-known/jwks.json", None).await.json;
        for k in jwks["keys"].as_array().unwrap() {
            kids.insert(k["kid"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(kids.len(), 1, "one key among all nodes: {kids:?}");
    let alice = email("alice");
    nodes[0].register(&alice, PW).await;
    let token = bearer(&nodes[0].login(&alice, PW).await);
    for node in &nodes {
        assert_eq!(
            node.get("/v1/user", Some(&token)).await.status,
            StatusCode::OK
        );
    }
}
both_backends!(nodes_starting_together_make_one_signing_key);

/// A client that trickles its request head (here 10 bytes a second, never finishing it)
/// is cut off after the header timeout, while others are served meanwhile.
async fn slow_clients_are_cut_off(db: TestDb) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(&db, |c| {
        c.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let head = format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: {}",
            "a".repeat(200)
        );
        for b in head.bytes() {
            if writer.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // Others are served while the slow client holds its connection.
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    // The server ends the slow connection: the read finishes (end of stream or reset)
    // long before the 20 s the trickle would take.
    let mut buf = [0u8; 256];
    let ended = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await;
    assert!(ended.is_ok(), "the slow connection was not cut off");
    trickle.abort();
}
both_backends!(slow_clients_are_cut_off);

/// Beyond the configured number of open connections, a new one is answered 503 (in the
/// JSON error shape) and closed; once a slot frees, connections are served again.
async fn connections_beyond_the_limit_get_503(db: TestDb) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(&db, |c| c.max_connections = 3).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = vec![];
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        held.push(s); // kept open (keep-alive): it holds its slot
    }
    let mut extra = tokio::net::TcpStream::connect(&addr).await.unwrap();
    extra.write_all(request).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), extra.read_to_string(&mut answer))
        .await
        .expect("answered and closed")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""Code":503"#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    // Closing one held connection frees its slot (bounded wait for the server to notice).
    drop(held.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).await.unwrap_or(0);
        if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a freed slot is used again");
}
both_backends!(connections_beyond_the_limit_get_503);

/// Reads until the server closes the connection (end of stream or reset); `Err` if it is
/// still open after `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> Result<(), ()> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .map_err(|_| ())
}

/// Silent sockets, half-sent HTTP/2 prefaces and idle keep-alive connections from one
/// address neither hold their slots for ever nor lock another client out: one source gets
/// only its share of the slots, the first request head must arrive within the header
/// timeout (protocol detection included), and idle connections are closed.
async fn idle_and_half_open_connections_lock_no_one_out(db: TestDb) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(&db, |c| {
        c.max_connections = 12;
        c.connections_per_address = 6;
        c.header_read_timeout = Duration::from_secs(1);
        c.idle_timeout = Duration::from_secs(2);
    })
    .await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let connect_from = |source: [u8; 4]| async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind((source, 0).into()).unwrap();
        socket.connect(addr).await.unwrap()
    };
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let served = |mut s: tokio::net::TcpStream| async move {
        s.write_all(request).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("answered")
            .unwrap_or(0);
        (String::from_utf8_lossy(&buf[..n]).into_owned(), s)
    };

    // One address opens silent sockets and half HTTP/2 prefaces, more than its share.
    let opened = std::time::Instant::now();
    let mut held = vec![];
    for i in 0..14 {
        let mut s = connect_from([127, 0, 0, 1]).await;
        if i % 2 == 1 {
            s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        }
        held.push(s);
    }
    // Another client is served at once, although the first holds or asked for 14 slots of 12.
    let (answer, _) = served(connect_from([127, 0, 0, 2]).await).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The first address's seventh and later were refused (its share is 6).
    let mut refused = 0;
    let mut kept = vec![];
    for mut s in held {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(n)) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503") => {
                refused += 1
            }
            _ => kept.push(s),
        }
    }
    assert_eq!((refused, kept.len()), (8, 6));
    // Those it kept are closed once the header timeout (1 s) passes without a request head.
    for s in &mut kept {
        assert!(
            closed_within(s, Duration::from_secs(5)).await.is_ok(),
            "a silent or half-open connection was not closed"
        );
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(900),
        "closed too early"
    );

    // An idle HTTP/1 keep-alive connection is closed when no next request head has come
    // within the header timeout (hyper's timer runs while it waits for one).
    let (answer, mut keep_alive) = served(connect_from([127, 0, 0, 3]).await).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let idle_since = std::time::Instant::now();
    assert!(closed_within(&mut keep_alive, Duration::from_secs(8))
        .await
        .is_ok());
    assert!(
        idle_since.elapsed() >= Duration::from_millis(800),
        "closed too early"
    );

    // An HTTP/2 connection that makes a request (HEADERS: GET / over http, HPACK
    // static-table entries) and then sends nothing stays past the header timeout and is
    // closed after the idle timeout (2 s).
    let mut h2 = connect_from([127, 0, 0, 4]).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    h2.write_all(b"\0\0\x03\x01\x05\0\0\0\x01\x82\x86\x84")
        .await
        .unwrap();
    let idle_since = std::time::Instant::now();
    assert!(closed_within(&mut h2, Duration::from_secs(8)).await.is_ok());
    assert!(
        idle_since.elapsed() >= Duration::from_millis(1800),
        "closed too early"
    );

    // The freed slots serve the first address again.
    let (answer, _) = served(connect_from([127, 0, 0, 1]).await).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
both_backends!(idle_and_half_open_connections_lock_no_one_out);

/// Waits (bounded: 10 s) until `table` holds `rows`; the count it last saw.
async fn rows_settle(db: &TestDb, table: &str, rows: i64) -> i64 {
    let mut n = db.count(table).await;
    for _ in 0..100 {
        if n == rows {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        n = db.count(table).await;
    }
    n
}

/// A spray of failed logins for made-up usernames from many addresses leaves throttle rows
/// bounded in count (an address's limit stops it creating more) and in time (swept once
/// their window and two quiet ones have passed).
async fn a_spray_of_failed_logins_leaves_bounded_rows(db: TestDb) {
    let clock = accord_domain::FixedClock::new(chrono::Utc::now());
    let app = TestApp::spawn_full_with(
        &db,
        |c| {
            c.trust_forwarded_for = true;
            c.failures_per_address = 20;
        },
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    // 30 addresses, 40 made-up usernames each.
    for source in 0..30 {
        for i in 0..40 {
            let r = app
                .client
                .post(app.url("/v1/users/login"))
                .header("X-Forwarded-For", format!("198.51.100.{source}"))
                .json(&json!({"username": format!("ghost{source}-{i}@example.com"), "password": "guess"}))
                .send()
                .await
                .unwrap();
            assert!([401, 429].contains(&r.status().as_u16()));
        }
    }
    // At most 20 accounts per address were counted, and one row per address.
    let during = db.count("login_throttle").await;
    assert!(during <= 30 * 21, "{during} throttle rows");
    // Past the window (15 min) but within two quiet ones: kept (the lockouts still count).
    clock.advance(chrono::Duration::minutes(20));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(db.count("login_throttle").await, during);
    // Past the address lockout (15 min from its last attempt) and two quiet windows.
    clock.advance(chrono::Duration::minutes(30));
    let after = rows_settle(&db, "login_throttle", 0).await;
    crate::helpers::report(&format!(
        "throttle rows after a spray of 1,200 failed logins from 30 addresses: {during} during, {after} once the window passed"
    ));
    assert_eq!(after, 0);
}
both_backends!(a_spray_of_failed_logins_leaves_bounded_rows);

/// A year of use leaves only what the rules keep: sessions, refresh tokens, reset tokens,
/// address verifications, outbox rows, webhook deliveries and action logs go; the consent
/// ledger stays whole.
async fn a_year_of_use_leaves_only_what_the_rules_keep(db: TestDb) {
    let clock = accord_domain::FixedClock::new(chrono::Utc::now());
    let f = crate::helpers::Fixture::with_clock(&db, clock.clone()).await;
    let receiver = crate::receiver::Receiver::start().await;
    crate::helpers::make_webhook(
        &f,
        &receiver.url,
        &["consent.allowed", "consent.disallowed"],
    )
    .await;
    let c = crate::helpers::Consenting::new(f).await;
    for value in ["Allow", "Disallow", "Allow", "Disallow"] {
        c.set(&c.f.individual, &c.marketing, &c.age, value, 0).await;
    }
    receiver.wait_for("consent.disallowed", 2).await;
    // Sessions refreshed and ended, a reset asked for.
    let who = email("yearly");
    c.f.app.register(&who, PW).await;
    let login = c.f.app.login(&who, PW).await;
    let r =
        c.f.app
            .post(
                "/v1/users/token",
                json!({"refreshtoken": login["Token"]["refresh_token"]}),
            )
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    c.f.app
        .call(
            Method::PUT,
            "/v1/user/password/forgot",
            None,
            Some(json!({"username": who})),
        )
        .await;
    let entries = db.count("consent_history").await;
    for table in [
        "sessions",
        "refresh_tokens",
        "password_reset_tokens",
        "email_verifications",
        "outbox",
        "webhook_deliveries",
        "organization_logs",
    ] {
        // Some rows are written in the background (the reset link with its mail): wait.
        let mut rows = db.count(table).await;
        for _ in 0..100 {
            if rows > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            rows = db.count(table).await;
        }
        assert!(rows > 0, "{table} was used");
    }
    clock.advance(chrono::Duration::days(400));
    for table in [
        "sessions",
        "refresh_tokens",
        "password_reset_tokens",
        "email_verifications",
        "outbox",
        "webhook_deliveries",
        "organization_logs",
        "login_throttle",
    ] {
        assert_eq!(rows_settle(&db, table, 0).await, 0, "{table} after a year");
    }
    assert_eq!(
        db.count("consent_history").await,
        entries,
        "the ledger is never swept"
    );
    let r =
        c.f.call(
            Method::GET,
            &c.f.org_path("/consenthistory/verify"),
            &c.f.dpo,
            None,
        )
        .await;
    // The Dpo's session ended with the year; the ledger is checked from the CLI instead.
    r.assert_error(401);
    let out = crate::helpers::ledger_cli(&db, &c.f.org, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
both_backends!(a_year_of_use_leaves_only_what_the_rules_keep);

/// Errors no handler writes come in the facade's own format: a request that times out
/// (its body never finishes) is a 408 in iGrant's JSON, and under the CustomerID prefix a
/// 408 error document in XML (or JSON on request). Before, both came with an empty body.
async fn timeouts_answer_in_the_facades_format(db: TestDb) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = TestApp::spawn_with(&db, |c| c.request_timeout = Duration::from_millis(300)).await;
    crate::helpers::add_rest_client(&db, "slow", "a-long-client-secret", None);
    let addr = app.base.trim_start_matches("http://").to_owned();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("slow:a-long-client-secret");
    for (path, extra, expect) in [
        ("/v1/users/register", "Content-Type: application/json\r\n".to_owned(), r#""Code":408"#),
        (
            "/customerid-rest/services/2.1/users",
            format!("Content-Type: application/x-www-form-urlencoded\r\nAuthorization: Basic {basic}\r\n"),
            "<error><code>",
        ),
        (
            "/customerid-rest/services/2.1/users",
            format!("Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nAuthorization: Basic {basic}\r\n"),
            r#""code""#,
        ),
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: 100\r\n\r\n{{\"a\"");
        s.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![];
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains(expect), "{path}: {answer}");
    }
}
both_backends!(timeouts_answer_in_the_facades_format);

/// A body with every UUID replaced by `[id N]`, numbered by first appearance, and the
/// fixtures' random address parts by `[random]`: the answer's shape and which IDs repeat,
/// without what changes from run to run.
fn with_ids_numbered(body: &str) -> String {
    fn is_uuid(s: &[u8]) -> bool {
        s.len() == 36
            && s.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    }
    let bytes = body.as_bytes();
    let (mut out, mut seen, mut i) = (String::new(), Vec::<&str>::new(), 0);
    // The fixtures' addresses end in 12 random hex digits (`helpers::email`).
    let random_mail = |s: &[u8]| {
        s.len() == 14 && s[0] == b'-' && s[13] == b'@' && s[1..13].iter().all(u8::is_ascii_hexdigit)
    };
    while i < bytes.len() {
        if i + 14 <= bytes.len() && random_mail(&bytes[i..i + 14]) {
            out.push_str("-[random]@");
            i += 14;
        } else if i + 36 <= bytes.len() && is_uuid(&bytes[i..i + 36]) {
            let id = &body[i..i + 36];
            let n = seen.iter().position(|s| *s == id).unwrap_or_else(|| {
                seen.push(id);
                seen.len() - 1
            });
            out.push_str(&format!("[id {n}]"));
            i += 36;
        } else {
            let c = body[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// One representative answer per facade and format, as reviewed (`cargo insta review` after
/// an intended change): the iGrant consent record (JSON), and a CustomerID user in XML and
/// in JSON. A new record and a user carry no times, so only the IDs are numbered.
async fn answers_keep_their_reviewed_shape(db: TestDb) {
    let f = crate::helpers::Fixture::new(&db).await;
    let individual = f.individual_id.clone();
    let c = crate::helpers::Consenting::new(f).await;
    let record = c.record().await;
    insta::assert_snapshot!(
        "igrant_consent_record_json",
        with_ids_numbered(&serde_json::to_string_pretty(&record).unwrap())
    );
    crate::helpers::add_rest_client(&db, "snapshots", "a-long-client-secret", None);
    let auth = Some(("snapshots", "a-long-client-secret"));
    let path = format!("/users/{individual}");
    let xml = crate::helpers::get(&c.f, &path, auth, None, false).await;
    assert_eq!(xml.status, StatusCode::OK, "{}", xml.body);
    insta::assert_snapshot!("customerid_user_xml", with_ids_numbered(&xml.body));
    let json = crate::helpers::get(&c.f, &path, auth, None, true).await;
    assert_eq!(json.status, StatusCode::OK, "{}", json.body);
    insta::assert_snapshot!(
        "customerid_user_json",
        with_ids_numbered(&serde_json::to_string_pretty(&json.json).unwrap())
    );
}
both_backends!(answers_keep_their_reviewed_shape);

/// The value of one series in a scrape (`name{labels}` exactly as written), if present.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// `/metrics` (docs/operations.md, "Metrics"): not served without a token, only to its
/// bearer with one; requests by route template (never a path's IDs), failed sign-ins,
/// throttles, the consent committer's batches, webhook attempts by outcome and the queue
/// with its oldest age, the ledger's size; and `promtool check metrics` passes it.
async fn metrics_show_the_server_to_the_token_bearer_alone(db: TestDb) {
    const TOKEN: &str = "metrics-t0ken-0123456789abcdef";

    let clock = accord_domain::FixedClock::new(chrono::Utc::now());
    let app = TestApp::spawn_full_with(
        &db,
        |c| c.metrics_token = Some(TOKEN.into()),
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let f = Fixture::on(app, &db).await;
    let scrape = |auth: Option<String>| {
        let mut req = f.app.client.get(f.app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move {
            let r = req.send().await.unwrap();
            let kind = r.headers().get("content-type").cloned();
            (r.status(), kind, r.text().await.unwrap())
        }
    };
    for wrong in [
        None,
        Some("Bearer metrics-t0ken-0123456789abcdeX".to_owned()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {TOKEN}x")),
    ] {
        let (status, _, body) = scrape(wrong.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}: {body}");
        assert!(!body.contains("accord_"), "{body}");
    }

    // What there is to count: a wrong password, a consent given (through the committer,
    // into the ledger), its webhook delivery answered 500 (so it waits for its retry),
    // a path no route matches, a method no one uses.
    let receiver = crate::receiver::Receiver::start().await;
    crate::helpers::make_webhook(&f, &receiver.url, &["consent.allowed"]).await;
    receiver.answer_to("consent.allowed", &[500]);
    let r = f
        .app
        .post(
            "/v1/users/login",
            json!({"username": email("nobody"), "password": "not the password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    crate::webhooks::consent_once(&f, "Allow", 0).await;
    receiver.wait_for("consent.allowed", 1).await;
    assert_eq!(
        f.app.get("/v1/no/such/thing", None).await.status,
        StatusCode::NOT_FOUND
    );
    let odd = f
        .app
        .client
        .request(Method::from_bytes(b"BREW").unwrap(), f.app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), StatusCode::METHOD_NOT_ALLOWED);
    clock.advance(chrono::Duration::milliseconds(1500));

    // The attempt's outcome is written after the receiver answered: wait for it.
    let mut text = String::new();
    for _ in 0..100 {
        let (status, kind, body) = scrape(Some(format!("Bearer {TOKEN}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(kind.unwrap(), "text/plain; version=0.0.4; charset=utf-8");
        text = body;
        if series(
            &text,
            "accord_webhook_delivery_attempts_total{outcome=\"rejected\"}",
        )
        .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_least = |name: &str, floor: f64| {
        let v = series(&text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"));
        assert!(v >= floor, "{name} = {v}, expected at least {floor}");
    };
    at_least(
        "accord_http_requests_total{method=\"POST\",route=\"/v1/users/login\",status=\"401\"}",
        1.0,
    );
    at_least(
        "accord_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}",
        1.0,
    );
    at_least(
        "accord_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"}",
        1.0,
    );
    at_least(
        "accord_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/users/login\"}",
        1.0,
    );
    at_least("accord_sign_in_failures_total{kind=\"password\"}", 1.0);
    at_least("accord_db_batch_changes_count{writer=\"consents\"}", 1.0);
    at_least(
        "accord_webhook_delivery_attempts_total{outcome=\"rejected\"}",
        1.0,
    );
    at_least("accord_webhook_queue_length{queue=\"deliveries\"}", 1.0);
    at_least(
        "accord_webhook_queue_oldest_age_seconds{queue=\"deliveries\"}",
        1.5,
    );
    at_least("accord_consent_ledger_entries", 1.0);
    at_least("accord_db_begin_wait_seconds_count{mode=\"write\"}", 1.0);
    assert!(
        text.contains("accord_db_pool_connections_max{pool="),
        "{text}"
    );
    assert!(text.contains("accord_password_hashes_waiting "), "{text}");
    // Route templates, never the paths: no organisation's or person's ID is a label.
    assert!(text.contains("route=\"/v1/organizations/{"), "{text}");
    for id in [&f.org, &f.individual_id, &f.admin_id] {
        assert!(!text.contains(id.as_str()), "{id} leaked into a label");
    }

    let promtool = std::env::var("ACCORD_TEST_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{promtool}: {e} (scripts/test installs it)"));
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Without a token, no /metrics. (Started last: its workers would take the delivery
    // above from the server under test.)
    let plain = TestApp::spawn(&db).await;
    assert_eq!(
        plain.get("/metrics", None).await.status,
        StatusCode::NOT_FOUND
    );
}
both_backends!(metrics_show_the_server_to_the_token_bearer_alone);

/// The `kid` a compact JWS names.
fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let token = token
        .trim_start_matches("Bearer ")
        .trim_start_matches("ApiKey ");
    let head = token.split('.').next().unwrap();
    let head = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head)
        .unwrap();
    serde_json::from_slice::<Value>(&head).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Signing keys rotate without downtime (docs/operations.md, "Keys"): a new key signs on
/// a node that starts after it, and on a running node once a token names it (or within
/// the periodic reload); tokens and APIKeys of the older key keep working until it is
/// retired, which is refused while it signs or while its access tokens may live, and then
/// ends them on every node within the reload while its checkpoints still verify; a
/// compromised key's checkpoints do not.
async fn signing_keys_rotate_and_retire_without_downtime(db: TestDb) {
    let clock = accord_domain::FixedClock::new(chrono::Utc::now());
    let f = Fixture::on(TestApp::spawn_with_clock(&db, clock.clone()).await, &db).await;
    let a = &f.app;
    let who = email("rotating");
    a.register(&who, PW).await;
    let t1 = bearer(&a.login(&who, PW).await);
    let ak1 = format!(
        "ApiKey {}",
        a.call(Method::POST, "/v1/user/apikey", Some(&t1), None)
            .await
            .json["APIKey"]
            .as_str()
            .unwrap()
    );
    let k1 = kid_of(&t1);
    assert_eq!(kid_of(&ak1), k1);
    let dir = std::env::temp_dir().join(format!("accord-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (code, checkpoint, err) =
        admin_run(&db, &["admin", "ledger-checkpoint", "--org", &f.org], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kid_of(&checkpoint), k1);
    let kept = dir.join("checkpoint");
    std::fs::write(&kept, &checkpoint).unwrap();
    let verify = || verify_with_checkpoints(&db, &f.org, &kept);

    let rotated = admin_json(&db, &["rotate-signing-key"]);
    let k2 = rotated["SigningKeys"][0]["ID"].as_str().unwrap().to_owned();
    assert_ne!(k1, k2);
    let listed = admin_json(&db, &["list-signing-keys"]);
    let states: Vec<(&str, &str)> = listed["SigningKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["ID"].as_str().unwrap(), k["State"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [(k1.as_str(), "verifies"), (k2.as_str(), "signs")]);
    // Neither the key that signs nor one whose access tokens may live is retired.
    for (kid, why) in [(&k2, "the key that signs"), (&k1, "may be live until")] {
        let (code, out, err) = admin_run(&db, &["admin", "retire-signing-key", "--kid", kid], None);
        assert_ne!(code, 0, "{out}");
        assert!(err.contains(why), "{err}");
    }

    // A node started now signs with the new key; the running one has not read it yet,
    // and learns it from the first token that names it.
    let c = TestApp::spawn_full_with(
        &db,
        {
            let public = a.base.clone();
            move |cfg| *cfg = cfg.clone().with_public_url(&public)
        },
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let t2 = bearer(&c.login(&who, PW).await);
    assert_eq!(kid_of(&t2), k2);
    assert!(!jwks_kids(&a.get("/.well-known/jwks.json", None).await.json).contains(&k2));
    // Tokens naming keys a node does not know cost anyone nothing to make: within 5 s of
    // its last read of the keys, such a token makes the node read nothing (refused here,
    // the node having read them at its start).
    assert_eq!(
        a.get("/v1/user", Some(&t2)).await.status,
        StatusCode::UNAUTHORIZED
    );
    clock.advance(chrono::Duration::seconds(6));
    assert_eq!(a.get("/v1/user", Some(&t2)).await.status, StatusCode::OK);
    let published = jwks_kids(&a.get("/.well-known/jwks.json", None).await.json);
    assert!(
        published.contains(&k1) && published.contains(&k2),
        "{published:?}"
    );
    assert_eq!(
        kid_of(&bearer(&a.login(&who, PW).await)),
        k2,
        "the new key signs"
    );
    for old in [&t1, &ak1] {
        assert_eq!(a.get("/v1/user", Some(old)).await.status, StatusCode::OK);
        assert_eq!(c.get("/v1/user", Some(old)).await.status, StatusCode::OK);
    }

    // Hours later (moved back in the database), the old key is retired: it admits no one
    // on either node once they read the keys again; its checkpoint still verifies.
    let hours = |h: i64| h * 3_600_000;
    for (kid, back) in [(&k1, hours(8)), (&k2, hours(7))] {
        db.execute(
            &format!("UPDATE signing_keys SET created_at = created_at - {back} WHERE id = $1"),
            &[kid],
        )
        .await;
    }
    let (code, out, err) = admin_run(&db, &["admin", "retire-signing-key", "--kid", &k1], None);
    assert_eq!(code, 0, "{out}{err}");
    clock.advance(chrono::Duration::seconds(61));
    for node in [a, &c] {
        let mut refused = false;
        for _ in 0..100 {
            if node.get("/v1/user", Some(&t1)).await.status == StatusCode::UNAUTHORIZED {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            refused,
            "a retired key's token is refused within the reload"
        );
        assert_eq!(
            node.get("/v1/user", Some(&ak1)).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(node.get("/v1/user", Some(&t2)).await.status, StatusCode::OK);
    }
    // The APIKey is shown again under the key that signs now, and works.
    let ak2 = format!(
        "ApiKey {}",
        a.get("/v1/user/apikey", Some(&t2)).await.json["APIKey"]
            .as_str()
            .unwrap()
    );
    assert_eq!(kid_of(&ak2), k2);
    assert_eq!(c.get("/v1/user", Some(&ak2)).await.status, StatusCode::OK);
    assert!(jwks_kids(&a.get("/.well-known/jwks.json", None).await.json).contains(&k1));
    let (code, out, err) = verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("extending all 1 checkpoints"), "{out}");

    // Compromised: not published, and what it signed is vouched for no more.
    let (code, out, err) = admin_run(
        &db,
        &["admin", "retire-signing-key", "--kid", &k1, "--compromised"],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    clock.advance(chrono::Duration::seconds(61));
    let (code, out, _) = verify();
    assert_ne!(code, 0, "{out}");
    let mut gone = false;
    for _ in 0..100 {
        if !jwks_kids(&a.get("/.well-known/jwks.json", None).await.json).contains(&k1) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "a compromised key leaves the JWKS");
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(signing_keys_rotate_and_retire_without_downtime);

/// `accord admin rotate-secret-key` (docs/operations.md, "Keys"): a secret sealed under
/// the old key is sealed again under the new one, which alone then opens it (a second
/// rotation from it succeeds); with a wrong previous key nothing is written and the
/// organisation is named.
async fn rotate_secret_key_seals_every_secret_again(db: TestDb) {
    use base64::Engine as _;
    let key = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let (old, new, newer) = (key(1), key(2), key(3));
    let app = TestApp::spawn_with(&db, {
        let old = old.clone();
        move |c| c.secret_key = Some(old)
    })
    .await;
    let f = Fixture::on(app, &db).await;
    let p = crate::oidc::provider();
    let r = f
        .call(
            Method::POST,
            &f.org_path("/idp/open-id"),
            &f.admin,
            Some(json!({
                "issuer": p.issuer, "authorizationUrl": p.endpoint("authorization_endpoint"),
                "tokenUrl": p.endpoint("token_endpoint"), "jwksUrl": p.endpoint("jwks_uri"),
                "userInfoUrl": p.endpoint("userinfo_endpoint"), "logoutUrl": "",
                "clientId": "c", "clientSecret": "the-client-secret",
                "validateSignature": true, "disableUserInfo": false, "defaultScope": "openid"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let rotate = |current: &str, previous: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(["admin", "rotate-secret-key"])
            .env("ACCORD_DATABASE_URL", &db.url)
            .env("ACCORD_LOG", "warn")
            .env("ACCORD_SECRET_KEY", current)
            .env("ACCORD_SECRET_KEY_PREVIOUS", previous)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // A wrong previous key: the secret does not open, nothing is written.
    let (code, out) = rotate(&newer, &new);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(&f.org), "{out}");
    let (code, out) = rotate(&new, &old);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sealed 1 secrets again"), "{out}");
    // Only the new key opens it now.
    let (code, out) = rotate(&newer, &old);
    assert_ne!(code, 0, "{out}");
    let (code, out) = rotate(&newer, &new);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sealed 1 secrets again"), "{out}");
    let (code, out) = rotate(&newer, &new);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("sealed 0 secrets again under the new key (1 were under it already)"),
        "{out}"
    );
}
both_backends!(rotate_secret_key_seals_every_secret_again);
