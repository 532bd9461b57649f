//! Federated login against a real OpenID Provider (`oidc-provider` from npm, see oidc.rs):
//! configuration and who may do it, the whole flow (authorize, sign in at the provider,
//! exchange or callback, use the session, log out), forged and replayed tokens, the
//! account-linking rules, and secrets kept out of responses and logs.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, email, Reply, TestApp, TestDb};
use crate::helpers::{Fixture, PW};
use crate::oidc::{param, provider, Browser, Tamper, TokenProxy};

/// Where the tests' "application" receives the provider's redirect (nothing listens:
/// the browser stand-in stops before it).
const APP_CALLBACK: &str = "http://127.0.0.1:9/app/callback";

/// A request with query parameters encoded properly and no body.
async fn with_query(
    app: &TestApp,
    method: Method,
    path: &str,
    params: &[(&str, &str)],
    auth: Option<&str>,
) -> Reply {
    let url = reqwest::Url::parse_with_params(&app.url(path), params).unwrap();
    let mut req = app.client.request(method, url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    Reply::from(req.send().await.unwrap()).await
}

pub(crate) struct Federation<'a> {
    f: &'a Fixture,
    pub(crate) base: String,
    callback_uri: String,
    pub(crate) browser: Browser,
}

impl<'a> Federation<'a> {
    pub(crate) async fn new(f: &'a Fixture) -> Self {
        // New users join through the provider only if the organisation takes subscribers.
        let r = f
            .call(
                Method::POST,
                &f.org_path("/subscription/enable"),
                &f.admin,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let base = f.org_path("/idp/open-id");
        let r = f
            .app
            .get(&format!("{base}/redirect-uri"), Some(&f.admin))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let callback_uri = r.json["RedirectURI"].as_str().unwrap().to_owned();
        assert_eq!(
            callback_uri,
            format!(
                "{}/v1/organizations/{}/idp/open-id/callback",
                f.app.base, f.org
            )
        );
        Self {
            f,
            base,
            callback_uri,
            browser: Browser::new(),
        }
    }

    /// Registers a client for `redirect_uris` at the provider and configures it by
    /// discovery (201).
    pub(crate) async fn configure_discovered(
        &self,
        redirect_uris: &[&str],
    ) -> crate::oidc::RegisteredClient {
        let client = provider()
            .register_client(redirect_uris, "client_secret_basic")
            .await;
        let r = self
            .configure(
                Method::POST,
                discovery_body(&client.client_id, &client.client_secret),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        client
    }

    async fn configure(&self, method: Method, body: Value) -> Reply {
        self.f
            .call(method, &self.base, &self.f.admin, Some(body))
            .await
    }

    pub(crate) async fn authorize(&self, redirect_uri: &str, who: &str) -> (String, String) {
        self.authorize_as(redirect_uri, who, None).await
    }

    /// `authorize` with the caller's credential: the login then belongs to that account.
    async fn authorize_as(
        &self,
        redirect_uri: &str,
        who: &str,
        auth: Option<&str>,
    ) -> (String, String) {
        let r = with_query(
            &self.f.app,
            Method::GET,
            &format!("{}/authorize", self.base),
            &[("redirect_uri", redirect_uri), ("login_hint", who)],
            auth,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "authorize: {}", r.body);
        (
            r.json["AuthorizationURL"].as_str().unwrap().to_owned(),
            r.json["State"].as_str().unwrap().to_owned(),
        )
    }

    /// Signs `who` in at the provider through the browser; answers (code, state) as they
    /// arrive at `redirect_uri`.
    async fn code_for(&self, who: &str, redirect_uri: &str) -> (String, String) {
        self.code_for_as(who, redirect_uri, None).await
    }

    async fn code_for_as(
        &self,
        who: &str,
        redirect_uri: &str,
        auth: Option<&str>,
    ) -> (String, String) {
        let (url, state) = self.authorize_as(redirect_uri, who, auth).await;
        let landing = self.browser.follow_until(&url, redirect_uri).await;
        assert_eq!(param(&landing, "state").as_deref(), Some(state.as_str()));
        let code = param(&landing, "code").unwrap_or_else(|| panic!("no code in {landing}"));
        (code, state)
    }

    async fn exchange(&self, code: &str, state: Option<&str>, auth: Option<&str>) -> Reply {
        let mut params = vec![("redirect_uri", APP_CALLBACK), ("code", code)];
        if let Some(s) = state {
            params.push(("state", s));
        }
        with_query(
            &self.f.app,
            Method::POST,
            &format!("{}/exchange", self.base),
            &params,
            auth,
        )
        .await
    }

    /// The whole login for `who` to the application's redirect URI; with `auth`, started
    /// and exchanged with that account's credential (linking `who` to it).
    async fn login(&self, who: &str, auth: Option<&str>) -> Reply {
        let (code, state) = self.code_for_as(who, APP_CALLBACK, auth).await;
        self.exchange(&code, Some(&state), auth).await
    }
}

fn discovery_body(client_id: &str, secret: &str) -> Value {
    json!({"discoveryUrl": provider().discovery_url(), "clientId": client_id, "clientSecret": secret})
}

/// Configuration belongs to the organisation's Admin: by discovery, which fills the
/// endpoints; the secret masked in every answer; once (409 the second time).
async fn only_the_admin_configures_a_provider_by_discovery(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let client = p
        .register_client(&[APP_CALLBACK, &fed.callback_uri], "client_secret_basic")
        .await;
    let body = discovery_body(&client.client_id, &client.client_secret);

    f.app.get(&fed.base, Some(&f.admin)).await.assert_error(404);
    f.app
        .call(Method::POST, &fed.base, None, Some(body.clone()))
        .await
        .assert_error(401);
    for who in [
        &f.individual,
        &f.dpo,
        &f.developer,
        &f.outsider,
        &f.platform,
    ] {
        f.call(Method::POST, &fed.base, who, Some(body.clone()))
            .await
            .assert_error(403);
        f.app.get(&fed.base, Some(who)).await.assert_error(403);
        f.app
            .get(&format!("{}/redirect-uri", fed.base), Some(who))
            .await
            .assert_error(403);
    }
    let r = fed.configure(Method::POST, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Discovery filled the endpoints; the secret is masked.
    assert_eq!(r.json["issuer"], p.issuer);
    assert_eq!(
        r.json["authorizationUrl"],
        p.endpoint("authorization_endpoint")
    );
    assert_eq!(r.json["tokenUrl"], p.endpoint("token_endpoint"));
    assert_eq!(r.json["jwksUrl"], p.endpoint("jwks_uri"));
    assert_eq!(r.json["userInfoUrl"], p.endpoint("userinfo_endpoint"));
    assert_eq!(r.json["logoutUrl"], p.endpoint("end_session_endpoint"));
    assert_eq!(r.json["clientId"], client.client_id);
    assert_eq!(r.json["clientSecret"], "********");
    assert_eq!(r.json["validateSignature"], true);
    assert_eq!(r.json["disableUserInfo"], false);
    assert_eq!(r.json["defaultScope"], "openid email profile");
    assert_eq!(r.json["tokenEndpointAuthMethod"], "client_secret_basic");
    assert!(!r.body.contains(&client.client_secret));
    fed.configure(Method::POST, body.clone())
        .await
        .assert_error(409);
    let got = f.app.get(&fed.base, Some(&f.admin)).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json, r.json);
    assert!(!got.body.contains(&client.client_secret));
}
both_backends!(only_the_admin_configures_a_provider_by_discovery);

/// authorize (state, PKCE, nonce, the client and its scope) → the provider → the
/// application's redirect URI → exchange: a new account, subscribed, signed in, with no
/// password; the state and the code are spent.
async fn a_federated_login_makes_a_passwordless_account_once_per_code(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let client = fed
        .configure_discovered(&[APP_CALLBACK, &fed.callback_uri])
        .await;
    let who = email("fed");
    let (url, state) = fed.authorize(APP_CALLBACK, &who).await;
    assert!(
        url.starts_with(&p.endpoint("authorization_endpoint")),
        "{url}"
    );
    assert_eq!(param(&url, "state").as_deref(), Some(state.as_str()));
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(param(&url, "code_challenge").is_some_and(|c| c.len() >= 43));
    assert!(param(&url, "nonce").is_some_and(|n| n.len() >= 32));
    assert_eq!(
        param(&url, "client_id").as_deref(),
        Some(client.client_id.as_str())
    );
    assert_eq!(
        param(&url, "scope").as_deref(),
        Some("openid email profile")
    );
    let landing = fed.browser.follow_until(&url, APP_CALLBACK).await;
    let code = param(&landing, "code").unwrap();
    let r = fed.exchange(&code, Some(&state), None).await;
    assert_eq!(r.status, StatusCode::OK, "exchange: {}", r.body);
    let user_id = r.json["User"]["ID"].as_str().unwrap().to_owned();
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.json["User"]["Email"], who.as_str());
    let local = who.split('@').next().unwrap();
    assert_eq!(r.json["User"]["Name"], format!("Test {local}"));
    assert!(r.json["User"]["Orgs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["OrgID"] == f.org.as_str()));
    assert_eq!(r.json["Token"]["token_type"], "bearer");
    let session = bearer(&r.json);
    let me = f.app.get("/v1/user", Some(&session)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json["User"]["ID"], user_id.as_str());
    // The account has no password: a password login cannot reach it.
    f.app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": who, "password": PW}),
        )
        .await
        .assert_error(401);

    // Replays: the state is spent, and the provider refuses a used code.
    fed.exchange(&code, Some(&state), None)
        .await
        .assert_error(401);
    fed.exchange(&code, None, None).await.assert_error(401);
}
both_backends!(a_federated_login_makes_a_passwordless_account_once_per_code);

/// The callback: the provider sends the browser to Accord, which answers the session of
/// the same linked account, once. Logout ends the session and answers the provider's
/// logout URL to visit; a password session has none (204); without a session, 401.
async fn the_callback_answers_a_session_once_and_logout_ends_it(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let client = fed
        .configure_discovered(&[APP_CALLBACK, &fed.callback_uri])
        .await;
    let who = email("fed");
    let first = fed.login(&who, None).await;
    let user_id = first.json["User"]["ID"].as_str().unwrap().to_owned();
    let session = bearer(&first.json);

    let (url, _) = fed.authorize(&fed.callback_uri, &who).await;
    let landing = fed.browser.follow_until(&url, &fed.callback_uri).await;
    let (status, text) = fed.browser.get(&landing).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        again["User"]["ID"],
        user_id.as_str(),
        "the same linked account"
    );
    let (status, text) = fed.browser.get(&landing).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a reloaded callback: {text}"
    );

    // Logout: the session ends; the provider's logout URL comes back to be visited.
    let r = with_query(
        &f.app,
        Method::POST,
        &format!("{}/logout", fed.base),
        &[("post_logout_redirect_uri", "http://127.0.0.1:9/signed-out")],
        Some(&session),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let logout_url = r.json["LogoutURL"].as_str().unwrap();
    assert!(
        logout_url.starts_with(&p.endpoint("end_session_endpoint")),
        "{logout_url}"
    );
    assert_eq!(
        param(logout_url, "client_id").as_deref(),
        Some(client.client_id.as_str())
    );
    assert_eq!(
        param(logout_url, "post_logout_redirect_uri").as_deref(),
        Some("http://127.0.0.1:9/signed-out")
    );
    f.app
        .get("/v1/user", Some(&session))
        .await
        .assert_error(401);
    let (status, page) = fed.browser.get(logout_url).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the provider's logout page: {page:.300}"
    );
    // A password session has no provider session: plain 204.
    let r = f
        .call(
            Method::POST,
            &format!("{}/logout", fed.base),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    f.app
        .get("/v1/user", Some(&f.individual))
        .await
        .assert_error(401);
    f.app
        .call(Method::POST, &format!("{}/logout", fed.base), None, None)
        .await
        .assert_error(401);
}
both_backends!(the_callback_answers_a_session_once_and_logout_ends_it);

/// PUT: the masked secret keeps the stored one (the next login proves it works). DELETE:
/// gone, and so is the login. The action log records the configuration and the logins,
/// never the secret.
async fn a_provider_is_replaced_keeping_its_secret_and_deleted(db: TestDb) {
    let f = Fixture::new(&db).await;
    let fed = Federation::new(&f).await;
    let client = fed
        .configure_discovered(&[APP_CALLBACK, &fed.callback_uri])
        .await;
    let body = discovery_body(&client.client_id, &client.client_secret);
    let who = email("fed");
    let first = fed.login(&who, None).await;
    let user_id = first.json["User"]["ID"].as_str().unwrap().to_owned();
    let got = f.app.get(&fed.base, Some(&f.admin)).await;

    let mut changed = got.json.clone();
    changed["defaultScope"] = json!("email openid");
    let r = fed.configure(Method::PUT, changed).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["defaultScope"], "openid email");
    let r = fed.login(&who, None).await;
    assert_eq!(r.status, StatusCode::OK, "after PUT: {}", r.body);
    assert_eq!(r.json["User"]["ID"], user_id.as_str());

    // DELETE: gone, and so is the login.
    let r = f.call(Method::DELETE, &fed.base, &f.admin, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    f.app.get(&fed.base, Some(&f.admin)).await.assert_error(404);
    f.call(Method::PUT, &fed.base, &f.admin, Some(body))
        .await
        .assert_error(404);
    f.call(Method::DELETE, &fed.base, &f.admin, None)
        .await
        .assert_error(404);
    with_query(
        &f.app,
        Method::GET,
        &format!("{}/authorize", fed.base),
        &[("redirect_uri", APP_CALLBACK)],
        None,
    )
    .await
    .assert_error(404);

    // The organisation's action log records the configuration and the logins.
    let logs = f.app.get(&f.org_path("/logs"), Some(&f.admin)).await;
    assert!(
        logs.body.contains("identity provider added"),
        "{}",
        logs.body
    );
    assert!(logs
        .body
        .contains("signed in through the organisation's identity provider"));
    assert!(!logs.body.contains(&client.client_secret));
}
both_backends!(a_provider_is_replaced_keeping_its_secret_and_deleted);

async fn bad_configurations_are_refused(db: TestDb) {
    let f = Fixture::new(&db).await;
    let fed = Federation::new(&f).await;
    let p = provider();
    let good = json!({
        "issuer": p.issuer, "authorizationUrl": p.endpoint("authorization_endpoint"),
        "tokenUrl": p.endpoint("token_endpoint"), "jwksUrl": p.endpoint("jwks_uri"),
        "userInfoUrl": p.endpoint("userinfo_endpoint"), "logoutUrl": "",
        "clientId": "c", "clientSecret": "s", "validateSignature": true, "disableUserInfo": false,
        "defaultScope": "openid"
    });
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (body, why) in [
        (
            with("tokenUrl", json!("http://idp.example.com/token")),
            "plain http off loopback",
        ),
        (with("tokenUrl", json!("/token")), "relative URL"),
        (with("issuer", json!("")), "no issuer"),
        (with("clientSecret", json!("")), "no secret"),
        (with("clientId", json!(" ")), "no client ID"),
        (
            with("jwksUrl", json!("")),
            "signatures checked without a key set",
        ),
        (
            with("tokenEndpointAuthMethod", json!("private_key_jwt")),
            "unsupported method",
        ),
        (with("defaultScope", json!("openid \"x\"")), "bad scope"),
        (with("validateSignature", json!("yes")), "wrong type"),
        (
            json!({"discoveryUrl": "http://127.0.0.1:1/.well-known/openid-configuration", "clientId": "c", "clientSecret": "s"}),
            "unreachable discovery",
        ),
        (
            json!({"discoveryUrl": format!("{}/elsewhere", p.issuer), "clientId": "c", "clientSecret": "s"}),
            "not a discovery URL",
        ),
    ] {
        let r = fed.configure(Method::POST, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
        r.assert_error(400);
    }
    // Calls to a provider follow no redirect to another origin and read no huge answer
    // (why is the log's: provider_http.rs tests the two refusals themselves).
    let rogue = crate::oidc::start_misbehaving_provider(&p.discovery_url()).await;
    for path in ["moved", "huge"] {
        let body = json!({"discoveryUrl": format!("{rogue}/{path}/.well-known/openid-configuration"), "clientId": "c", "clientSecret": "s"});
        let r = fed.configure(Method::POST, body).await;
        r.assert_error(400);
    }
    f.app.get(&fed.base, Some(&f.admin)).await.assert_error(404);
    // Not JSON at all.
    let r = f
        .app
        .client
        .post(f.app.url(&fed.base))
        .header("Authorization", &f.admin)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    Reply::from(r).await.assert_error(400);
    // An unknown organisation, and an organisation without a provider.
    let nobody = "/v1/organizations/00000000-0000-7000-8000-000000000000/idp/open-id";
    f.call(Method::POST, nobody, &f.admin, Some(good.clone()))
        .await
        .assert_error(404);
    with_query(
        &f.app,
        Method::POST,
        &format!("{nobody}/exchange"),
        &[("redirect_uri", APP_CALLBACK), ("code", "x")],
        None,
    )
    .await
    .assert_error(404);
    with_query(
        &f.app,
        Method::POST,
        &format!("{}/exchange", fed.base),
        &[("redirect_uri", APP_CALLBACK), ("code", "x")],
        None,
    )
    .await
    .assert_error(404);
    // Without the query parameters the spec requires.
    let r = fed.configure(Method::POST, good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    with_query(
        &f.app,
        Method::POST,
        &format!("{}/exchange", fed.base),
        &[("code", "x")],
        None,
    )
    .await
    .assert_error(400);
    with_query(
        &f.app,
        Method::POST,
        &format!("{}/exchange", fed.base),
        &[("redirect_uri", "not a url"), ("code", "x")],
        None,
    )
    .await
    .assert_error(400);
    with_query(
        &f.app,
        Method::GET,
        &format!("{}/authorize", fed.base),
        &[("redirect_uri", "javascript:alert(1)")],
        None,
    )
    .await
    .assert_error(400);
    let r = with_query(
        &f.app,
        Method::GET,
        &format!("{}/callback", fed.base),
        &[("error", "access_denied<script>")],
        None,
    )
    .await;
    r.assert_error(401);
    assert!(!r.body.contains("<script>"), "{}", r.body);
}
both_backends!(bad_configurations_are_refused);

/// Configures a client for the application's redirect URI by discovery (201); answers the
/// settings with the secret in them: moving an endpoint takes the secret again (trust
/// model), so a template to PUT variations of carries it.
async fn settings_with_secret(fed: &Federation<'_>) -> Value {
    let client = provider()
        .register_client(&[APP_CALLBACK], "client_secret_basic")
        .await;
    let r = fed
        .configure(
            Method::POST,
            discovery_body(&client.client_id, &client.client_secret),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut settings = r.json;
    settings["clientSecret"] = json!(client.client_secret);
    settings
}

/// Refused exchanges create nothing: the address is still free to register.
pub(crate) async fn nothing_created(app: &TestApp, who: &str) {
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": who, "password": PW}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "an account was created: {}",
        r.body
    );
    app.call(
        Method::DELETE,
        "/v1/user",
        Some(&bearer(&app.login(who, PW).await)),
        None,
    )
    .await;
}

/// A code that was never issued, a state that was never issued, a state older than ten
/// minutes: refused.
async fn codes_and_states_never_issued_or_stale_are_refused(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let f = Fixture::with_clock(&db, clock.clone()).await;
    let fed = Federation::new(&f).await;
    settings_with_secret(&fed).await;
    let who = email("forged");
    fed.exchange("not-a-code", None, None)
        .await
        .assert_error(401);
    let (code, _) = fed.code_for(&who, APP_CALLBACK).await;
    fed.exchange(&code, Some("never-issued"), None)
        .await
        .assert_error(401);
    // A state older than ten minutes is refused.
    let (code, state) = fed.code_for(&who, APP_CALLBACK).await;
    clock.advance(chrono::Duration::minutes(11));
    fed.exchange(&code, Some(&state), None)
        .await
        .assert_error(401);
}
both_backends!(codes_and_states_never_issued_or_stale_are_refused);

/// An ID token with its signature tampered with on the way, from another issuer than the
/// one configured, or (signature checks off) with a forged nonce, audience or expiry is
/// refused and creates nothing; untampered, the same settings work.
async fn a_tampered_or_foreign_id_token_is_refused_and_creates_nothing(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let settings = settings_with_secret(&fed).await;
    let who = email("forged");

    // The ID token's signature tampered with on its way from the token endpoint.
    let proxy = TokenProxy::start(&p.endpoint("token_endpoint"), Tamper::Signature).await;
    let mut through_proxy = settings.clone();
    through_proxy["tokenUrl"] = json!(proxy.url);
    assert_eq!(
        fed.configure(Method::PUT, through_proxy.clone())
            .await
            .status,
        StatusCode::OK
    );
    let r = fed.login(&who, None).await;
    r.assert_error(401);
    assert!(
        r.json["Message"].as_str().unwrap().contains("ID token"),
        "{}",
        r.body
    );
    assert_eq!(
        *proxy.forwarded.lock().unwrap(),
        1,
        "the provider was asked"
    );
    nothing_created(&f.app, &who).await;

    // A token from another issuer than the one configured.
    let mut other_issuer = settings.clone();
    other_issuer["issuer"] = json!("https://login.example.com/not-this-one");
    assert_eq!(
        fed.configure(Method::PUT, other_issuer).await.status,
        StatusCode::OK
    );
    let r = fed.login(&who, None).await;
    r.assert_error(401);
    assert!(
        r.json["Message"].as_str().unwrap().contains("ID token"),
        "{}",
        r.body
    );
    nothing_created(&f.app, &who).await;

    // Without signature checks (the spec's validateSignature: false) the claims are still
    // checked: nonce, audience, expiry.
    for claim in [
        Tamper::Claim("nonce", "forged"),
        Tamper::Claim("aud", "someone-else"),
        Tamper::Claim("exp", "1000"),
    ] {
        let proxy = TokenProxy::start(&p.endpoint("token_endpoint"), claim).await;
        let mut unsigned = settings.clone();
        unsigned["tokenUrl"] = json!(proxy.url);
        unsigned["validateSignature"] = json!(false);
        assert_eq!(
            fed.configure(Method::PUT, unsigned).await.status,
            StatusCode::OK
        );
        let r = fed.login(&who, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{claim:?}: {}", r.body);
        assert!(
            r.json["Message"].as_str().unwrap().contains("ID token"),
            "{claim:?}: {}",
            r.body
        );
        nothing_created(&f.app, &who).await;
    }
    // Untampered, the same settings work: the refusals above were the tampering's doing.
    assert_eq!(
        fed.configure(Method::PUT, settings.clone()).await.status,
        StatusCode::OK
    );
    let r = fed.login(&email("fine"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(a_tampered_or_foreign_id_token_is_refused_and_creates_nothing);

/// An ID token past its expiry by our clock (the code itself is fresh) is refused and
/// creates nothing. The spec's flow: the client makes its own authorization request
/// (here: ours without PKCE).
async fn an_id_token_past_its_expiry_is_refused(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let f = Fixture::with_clock(&db, clock.clone()).await;
    let fed = Federation::new(&f).await;
    settings_with_secret(&fed).await;
    let who = email("forged");
    let (url, _) = fed.authorize(APP_CALLBACK, &who).await;
    let mut own = reqwest::Url::parse(&url).unwrap();
    let kept: Vec<(String, String)> = own
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    own.query_pairs_mut().clear().extend_pairs(kept);
    let landing = fed.browser.follow_until(own.as_str(), APP_CALLBACK).await;
    let code = param(&landing, "code").unwrap();
    clock.advance(chrono::Duration::hours(3));
    let r = fed.exchange(&code, None, None).await;
    r.assert_error(401);
    assert!(
        r.json["Message"].as_str().unwrap().contains("ID token"),
        "{}",
        r.body
    );
    nothing_created(&f.app, &who).await;
}
both_backends!(an_id_token_past_its_expiry_is_refused);

async fn accounts_are_linked_by_the_rules(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    // A client that authenticates in the form body, chosen explicitly.
    let client = p
        .register_client(&[APP_CALLBACK], "client_secret_post")
        .await;
    let mut body = discovery_body(&client.client_id, &client.client_secret);
    body["tokenEndpointAuthMethod"] = json!("client_secret_post");
    let r = fed.configure(Method::POST, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json["tokenEndpointAuthMethod"], "client_secret_post");

    // A subscriber with a password, and an address the provider verifies: the address
    // alone links nothing, however the account is tied to the organisation (trust model).
    let member = email("member");
    let member_id = f.app.register(&member, PW).await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &f.admin,
            Some(json!({"userid": member_id})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = fed.login(&member, None).await;
    r.assert_error(409);
    assert!(
        r.json["Message"]
            .as_str()
            .unwrap()
            .contains("its holder links them"),
        "{}",
        r.body
    );
    assert!(r.json.get("Token").is_none(), "{}", r.body);
    // The holder links it: signed in with the password, they start the login and exchange.
    let member_session = bearer(&f.app.login(&member, PW).await);
    let r = fed.login(&member, Some(&member_session)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["ID"], member_id.as_str());
    let r = fed.login(&member, None).await;
    assert_eq!(r.status, StatusCode::OK, "linked: {}", r.body);
    assert_eq!(r.json["User"]["ID"], member_id.as_str());
    // The password still works too.
    f.app.login(&member, PW).await;

    // Someone else's user, not this organisation's: the same.
    let stranger = email("stranger");
    let stranger_id = f.app.register(&stranger, PW).await;
    let r = fed.login(&stranger, None).await;
    r.assert_error(409);
    let own = bearer(&f.app.login(&stranger, PW).await);
    let r = fed.login(&stranger, Some(&own)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["ID"], stranger_id.as_str());
    let r = fed.login(&stranger, None).await;
    assert_eq!(r.status, StatusCode::OK, "linked: {}", r.body);
    assert_eq!(r.json["User"]["ID"], stranger_id.as_str());
    // A linked identity cannot be moved to another account.
    fed.login(&stranger, Some(&f.individual))
        .await
        .assert_error(409);

    // An unverified address never takes over an account either.
    let unverified = email("x+unverified");
    f.app.register(&unverified, PW).await;
    fed.login(&unverified, None).await.assert_error(409);

    // A new address, verified or not, is a new account, subscribed to the organisation.
    let newcomer = email("new+unverified");
    let r = fed.login(&newcomer, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new_id = r.json["User"]["ID"].as_str().unwrap().to_owned();
    let users = f.app.get(&f.org_path("/users"), Some(&f.admin)).await;
    assert!(users.body.contains(&new_id), "{}", users.body);
    // ...and the address stays its own: registering it again is a conflict.
    f.app
        .post(
            "/v1/users/register",
            json!({"username": newcomer, "password": PW}),
        )
        .await
        .assert_error(409);

    // A deleted account takes its links with it: the identity then starts afresh.
    let r = f.call(Method::DELETE, "/v1/user", &own, None).await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = fed.login(&stranger, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_ne!(r.json["User"]["ID"], stranger_id.as_str());
}
both_backends!(accounts_are_linked_by_the_rules);

/// The real binary with debug logs: no client secret, code, state or token in them.
async fn federation_logs_carry_no_secrets(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-fedlog-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = crate::process::ServerProcess::start(&db.url, dir.join("server.log"), &[]);
    let f = Fixture::on(TestApp::remote(&server.base), &db).await;
    let fed = Federation::new(&f).await;
    let client = fed.configure_discovered(&[APP_CALLBACK]).await;
    let who = email("logged");
    let (code, state) = fed.code_for(&who, APP_CALLBACK).await;
    let r = fed.exchange(&code, Some(&state), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A refused one too: errors are logged.
    fed.exchange(&code, Some(&state), None)
        .await
        .assert_error(401);
    let log = server.log_text();
    assert!(
        log.contains("/idp/open-id/exchange"),
        "requests are logged:\n{log}"
    );
    for s in [
        client.client_secret.as_str(),
        code.as_str(),
        state.as_str(),
        r.json["Token"]["access_token"].as_str().unwrap(),
        r.json["Token"]["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!log.contains(s), "secret {s:.12}… in the log:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(federation_logs_carry_no_secrets);

/// Chain 1 of the trust model: an Admin subscribed a victim, configured a provider that
/// claims the victim's address (verified), and signed in as the victim.
async fn a_provider_claiming_an_address_takes_no_account(db: TestDb) {
    let f = Fixture::new(&db).await;
    let fed = Federation::new(&f).await;
    fed.configure_discovered(&[APP_CALLBACK]).await;
    let victim = email("victim");
    let victim_id = f.app.register(&victim, PW).await;
    f.call(
        Method::POST,
        &f.org_path("/users"),
        &f.admin,
        Some(json!({"userid": victim_id})),
    )
    .await;

    // The provider says the address is the victim's, and verified: no session, no link.
    let r = fed.login(&victim, None).await;
    r.assert_error(409);
    assert!(r.json.get("Token").is_none(), "{}", r.body);
    let r = fed.login(&victim, None).await;
    r.assert_error(409);
    // The victim's account is as it was.
    let own = bearer(&f.app.login(&victim, PW).await);
    let me = f.app.get("/v1/user", Some(&own)).await;
    assert_eq!(me.json["User"]["ID"], victim_id.as_str());

    // A federated session (the Admin's own identity through their provider) cannot set a
    // password without the current one.
    let r = fed.login(&email("attacker"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let federated = bearer(&r.json);
    f.call(
        Method::PUT,
        "/v1/user/password/reset",
        &federated,
        Some(json!({"password": "an attacker's passphrase"})),
    )
    .await
    .assert_error(400);
}
both_backends!(a_provider_claiming_an_address_takes_no_account);

/// Chain 10: an attacker kept a code (and state) for their own outside identity; the
/// victim's client exchanged it with the victim's token and linked the attacker's identity
/// to the victim's account.
async fn a_code_started_by_someone_else_links_nothing(db: TestDb) {
    let f = Fixture::new(&db).await;
    let fed = Federation::new(&f).await;
    fed.configure_discovered(&[APP_CALLBACK, &fed.callback_uri])
        .await;
    let victim = f.individual.clone();
    let attacker_identity = email("attacker-outside");

    // Started anonymously by the attacker, exchanged with the victim's token.
    let (code, state) = fed.code_for(&attacker_identity, APP_CALLBACK).await;
    fed.exchange(&code, Some(&state), Some(&victim))
        .await
        .assert_error(403);
    // A code with no state at all.
    let (code, _) = fed.code_for(&attacker_identity, APP_CALLBACK).await;
    fed.exchange(&code, None, Some(&victim))
        .await
        .assert_error(403);
    // Started by the attacker's own account.
    let attacker = bearer(&f.app.login(&email_of(&f, &f.outsider).await, PW).await);
    let (code, state) = fed
        .code_for_as(&attacker_identity, APP_CALLBACK, Some(&attacker))
        .await;
    fed.exchange(&code, Some(&state), Some(&victim))
        .await
        .assert_error(403);

    // Nothing was linked: the attacker's identity signs in to an account of its own.
    let victim_id = f.individual_id.clone();
    let r = fed.login(&attacker_identity, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_ne!(r.json["User"]["ID"], victim_id.as_str());

    // The callback completes a login the account started: that links to it, and only it.
    let holder = email("holder");
    let holder_id = f.app.register(&holder, PW).await;
    let session = bearer(&f.app.login(&holder, PW).await);
    let (url, _) = fed
        .authorize_as(&fed.callback_uri, &holder, Some(&session))
        .await;
    let landing = fed.browser.follow_until(&url, &fed.callback_uri).await;
    let r = crate::helpers::Reply::from(f.app.client.get(&landing).send().await.expect("callback"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["ID"], holder_id.as_str());
    let r = fed.login(&holder, None).await;
    assert_eq!(r.json["User"]["ID"], holder_id.as_str(), "{}", r.body);
}
both_backends!(a_code_started_by_someone_else_links_nothing);

/// The address of the account an access token belongs to.
async fn email_of(f: &Fixture, auth: &str) -> String {
    let me = f.app.get("/v1/user", Some(auth)).await;
    me.json["User"]["Email"].as_str().expect("Email").to_owned()
}

/// Chain 5: a new token URL without the secret kept the stored secret, and the next
/// exchange sent it to the new URL.
async fn moving_the_provider_needs_the_secret_again(db: TestDb) {
    let f = Fixture::new(&db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let client = p
        .register_client(&[APP_CALLBACK], "client_secret_basic")
        .await;
    let body = discovery_body(&client.client_id, &client.client_secret);
    let r = fed.configure(Method::POST, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for secret in [None, Some("********"), Some("")] {
        let mut moved = json!({
            "discoveryUrl": p.discovery_url(),
            "clientId": client.client_id,
            "tokenUrl": "https://evil.example.com/token",
        });
        if let Some(s) = secret {
            moved["clientSecret"] = json!(s);
        }
        fed.configure(Method::PUT, moved).await.assert_error(400);
    }
    let got = f.app.get(&fed.base, Some(&f.admin)).await;
    assert_eq!(
        got.json["tokenUrl"],
        p.endpoint("token_endpoint"),
        "{}",
        got.body
    );
    // The same endpoints keep the stored secret; new ones take a new secret.
    let mut same = body.clone();
    same.as_object_mut().unwrap().remove("clientSecret");
    same["defaultScope"] = json!("openid email");
    let r = fed.configure(Method::PUT, same).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut moved = body;
    moved["tokenUrl"] = json!("https://elsewhere.example.com/token");
    let r = fed.configure(Method::PUT, moved).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(moving_the_provider_needs_the_secret_again);

/// Chain 7: provider URLs on loopback or private addresses were fetched, and the error text
/// ("Connection refused (os error 111)") made a port scanner of the configuration.
async fn provider_urls_do_not_reach_the_servers_own_network(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| c.oidc_allow_private = false).await;
    let f = Fixture::on(app, &db).await;
    let p = provider();
    let fed = Federation::new(&f).await;
    let client = p
        .register_client(&[APP_CALLBACK], "client_secret_basic")
        .await;
    // A port that answers (the provider, on loopback) and one that does not: refused
    // alike, before anything is fetched, with nothing of the OS's words.
    let listening = p.discovery_url();
    let closed = "http://127.0.0.1:1/.well-known/openid-configuration".to_owned();
    let metadata = "https://169.254.169.254/.well-known/openid-configuration".to_owned();
    let mut messages = vec![];
    for url in [&listening, &closed, &metadata] {
        let r = fed
            .configure(
                Method::POST,
                json!({"discoveryUrl": url, "clientId": client.client_id, "clientSecret": client.client_secret}),
            )
            .await;
        r.assert_error(400);
        let message = r.json["Message"]
            .as_str()
            .unwrap()
            .replace(url.as_str(), "URL");
        for leak in ["refused", "os error", "timed out", "connect"] {
            assert!(!message.to_lowercase().contains(leak), "{message}");
        }
        messages.push(message);
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");

    // Endpoints given one by one are stored, but the exchange does not reach them either.
    let r = fed
        .configure(
            Method::POST,
            json!({
                "issuer": p.issuer,
                "authorizationUrl": p.endpoint("authorization_endpoint"),
                "tokenUrl": p.endpoint("token_endpoint"),
                "jwksUrl": p.endpoint("jwks_uri"),
                "userInfoUrl": p.endpoint("userinfo_endpoint"),
                "clientId": client.client_id,
                "clientSecret": client.client_secret,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = fed.login(&email("someone"), None).await;
    r.assert_error(502);
    let message = r.json["Message"].as_str().unwrap().to_lowercase();
    assert!(
        !message.contains("os error") && !message.contains("refused"),
        "{message}"
    );
}
both_backends!(provider_urls_do_not_reach_the_servers_own_network);
