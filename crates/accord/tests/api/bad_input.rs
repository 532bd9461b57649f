//! What a client sends can be wrong in every way; the answer is always a clear 4xx in the
//! facade's JSON error format, never a 500 or a dropped connection. One test per kind of
//! bad input, each on a server of its own.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{email, Reply, TestApp, TestDb};

const LOGIN: &str = "/v1/users/login";
const JSON: Option<&str> = Some("application/json");

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut req = app.client.request(method, app.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    Reply::from(req.send().await.expect("answered, not dropped")).await
}

/// Malformed JSON, the wrong JSON, wrong types, missing fields, a body that is not an
/// object, nesting deep enough to overflow a naive parser's stack: 400 each.
async fn malformed_json_bodies_get_400(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    for body in [
        &b"{"[..],
        b"not json",
        b"",
        b"[1,2]",
        b"null",
        b"\xff\xfe",
        br#"{"username":"a@b.co"}"#,
        br#"{"username": 42, "password": "x"}"#,
        br#"{"username": ["a"], "password": {"x": 1}}"#,
        br#"{"username":"a@b.co","Username":"c@d.co","password":"x"}"#,
    ] {
        raw(&app, Method::POST, LOGIN, JSON, body.to_vec())
            .await
            .assert_error(400);
    }
    // A body must be an object: serde would read a struct from an array by position (found
    // by schemathesis: `[null, null]` changed a profile).
    let who = email("array");
    app.register(&who, "correct horse battery").await;
    let token = crate::helpers::bearer(&app.login(&who, "correct horse battery").await);
    for body in ["[null, null]", "[\"name\"]", "\"name\"", "7"] {
        let r = app
            .client
            .patch(app.url("/v1/user"))
            .header("authorization", &token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        Reply::from(r).await.assert_error(400);
    }
    // Deeply nested JSON: refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    raw(&app, Method::POST, LOGIN, JSON, deep.into_bytes())
        .await
        .assert_error(400);
}
both_backends!(malformed_json_bodies_get_400);

/// A body that is not declared JSON is 415; `+json` media types and parameters are fine.
async fn a_body_not_declared_json_gets_415(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    raw(
        &app,
        Method::POST,
        LOGIN,
        Some("text/plain"),
        br#"{"username":"a","password":"b"}"#.to_vec(),
    )
    .await
    .assert_error(415);
    raw(
        &app,
        Method::POST,
        LOGIN,
        None,
        br#"{"username":"a","password":"b"}"#.to_vec(),
    )
    .await
    .assert_error(415);
    raw(
        &app,
        Method::POST,
        LOGIN,
        Some("application/x-www-form-urlencoded"),
        b"username=a&password=b".to_vec(),
    )
    .await
    .assert_error(415);
    // +json media types and parameters are fine.
    let r = raw(
        &app,
        Method::POST,
        LOGIN,
        Some("application/vnd.api+json; charset=utf-8"),
        br#"{"username":"a@b.co","password":"b"}"#.to_vec(),
    )
    .await;
    r.assert_error(401);
}
both_backends!(a_body_not_declared_json_gets_415);

/// Over the 1 MiB limit: 413, whether declared up front or streamed; far over it the
/// client still reads the answer; the server stays healthy.
async fn an_oversize_body_gets_413_and_the_server_stays_healthy(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let big = format!(
        r#"{{"username":"a@b.co","password":"{}"}}"#,
        "x".repeat(1024 * 1024 + 1)
    );
    raw(
        &app,
        Method::POST,
        "/v1/users/register",
        JSON,
        big.clone().into_bytes(),
    )
    .await
    .assert_error(413);
    let stream = futures_stream(big.into_bytes());
    let r = app
        .client
        .post(app.url("/v1/users/register"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("answered");
    Reply::from(r).await.assert_error(413);

    // Far over it: the client still reads the answer (the body is drained, not cut off).
    let huge = vec![b' '; 10 * 1024 * 1024];
    raw(&app, Method::POST, "/v1/users/register", JSON, huge)
        .await
        .assert_error(413);
    // Still healthy after all that.
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
}
both_backends!(an_oversize_body_gets_413_and_the_server_stays_healthy);

/// Unknown routes are 404, a known route with the wrong method 405.
async fn unknown_routes_get_404_and_wrong_methods_405(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    app.get("/v1/no/such/thing", None).await.assert_error(404);
    app.get("/nothing-here", None).await.assert_error(404);
    app.call(Method::DELETE, LOGIN, None, None)
        .await
        .assert_error(405);
    app.call(Method::GET, "/v1/users/register", None, None)
        .await
        .assert_error(405);
}
both_backends!(unknown_routes_get_404_and_wrong_methods_405);

/// Credentials that are not credentials, and a token signed by someone else: 401 with a
/// `WWW-Authenticate` challenge.
async fn credentials_that_are_not_credentials_get_401(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    for auth in [
        "Basic YTpi",
        "Bearer",
        "Bearer not.a.jwt",
        "ApiKey garbage",
        "Token abc",
        "Bearer \u{1}",
    ] {
        let r = app
            .client
            .get(app.url("/v1/user"))
            .header("authorization", auth)
            .send()
            .await;
        let Ok(r) = r else { continue }; // reqwest itself refuses some header values
        let r = Reply::from(r).await;
        r.assert_error(401);
        assert!(r.headers.get("www-authenticate").is_some(), "{auth}");
    }
    // A token signed by someone else.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "x", "sid": "y", "exp": 4_000_000_000u64, "iss": app.base, "typ": "access"}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    app.get("/v1/user", Some(&format!("Bearer {forged}")))
        .await
        .assert_error(401);
}
both_backends!(credentials_that_are_not_credentials_get_401);

/// Hostile strings are stored and returned as data; an oversize password is refused
/// before any hashing.
async fn hostile_strings_are_kept_as_data(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let who = email("hostile");
    let name = "<script>alert(1)</script>'; DROP TABLE users; -- ☃ \u{202e}";
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": who, "password": "correct horse", "name": name}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json["Name"], name);
    // An oversize password is refused before any hashing.
    let r = app
        .post(
            LOGIN,
            json!({"username": who, "password": "x".repeat(5000)}),
        )
        .await;
    r.assert_error(401);
}
both_backends!(hostile_strings_are_kept_as_data);

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(std::vec::IntoIter<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next().map(Ok))
        }
    }
    Chunks(
        bytes
            .chunks(64 * 1024)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// Every list caps its size: the iGrant lists page (`limit` 1 to 500, anything else 400);
/// the CustomerID searches, which do not page, refuse an answer larger than the server's
/// cap (`ACCORD_MAX_LIST`, 1 here) and a `maxResults` above it.
async fn every_list_caps_its_size(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| c.max_list = 1).await;
    let c = crate::helpers::Consenting::new(crate::helpers::Fixture::on(app, &db).await).await;
    let f = &c.f;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/webhooks"),
            &f.admin,
            Some(json!({"PayloadURL": "https://example.com/hook", "SubscribedEvents": ["org.subscribed"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let webhook = r.json["ID"].as_str().unwrap().to_owned();
    let me = f
        .call(Method::GET, "/v1/user", &f.individual, None)
        .await
        .json["User"]["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let lists: [(String, &String); 8] = [
        (f.org_path("/users"), &f.admin),
        (f.org_path("/consenthistory"), &f.admin),
        (f.org_path("/logs"), &f.admin),
        (
            f.org_path(&format!("/purposes/{}/consented/users", c.marketing)),
            &f.admin,
        ),
        (
            f.org_path(&format!(
                "/purposes/{}/attributes/{}/consented/users",
                c.marketing, c.age
            )),
            &f.admin,
        ),
        (
            f.org_path(&format!("/webhooks/{webhook}/delivery")),
            &f.admin,
        ),
        (format!("/v1/users/{me}/consenthistory"), &f.individual),
        ("/v1/user/notifications".to_owned(), &f.individual),
    ];
    for (path, auth) in &lists {
        for limit in ["0", "-1", "501", "1000000", "99999999999999999999", "many"] {
            f.call(Method::GET, &format!("{path}?limit={limit}"), auth, None)
                .await
                .assert_error(400);
        }
        for limit in ["1", "500"] {
            let r = f
                .call(Method::GET, &format!("{path}?limit={limit}"), auth, None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{path}?limit={limit}: {}", r.body);
        }
    }

    // The CustomerID searches: seven users and two organisations, a cap of one.
    crate::helpers::add_rest_client(&db, "capped", "a-long-client-secret", None);
    let auth = Some(("capped", "a-long-client-secret"));
    let get = |path: String| async move { crate::helpers::get(f, &path, auth, None, false).await };
    let (parent, _, _) = crate::helpers::seed(&db, f).await;
    for path in [
        "/users".to_owned(),
        "/organizations".to_owned(),
        format!("/organizations/{parent}/users?recursive=true"),
    ] {
        let r = get(path.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert!(r.body.contains("narrow it"), "{path}: {}", r.body);
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = get(format!("{path}{sep}maxResults=1")).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(crate::helpers::ids(&r).len(), 1, "{path}: {}", r.body);
        let r = get(format!("{path}{sep}maxResults=2")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
    }
    // A search the cap does not reach answers as before.
    let r = get(format!("/users?id={}", f.admin_id)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(crate::helpers::ids(&r), std::slice::from_ref(&f.admin_id));
}
both_backends!(every_list_caps_its_size);
