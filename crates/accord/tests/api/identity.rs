//! Registration, the three logins, refresh rotation, logout and revocation, APIKeys,
//! self-service.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, email, join_all_spawned, TestApp, TestDb};

const PW: &str = "correct horse battery";

async fn register_login_refresh_logout_round_trip(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");

    // Register: 201 with the spec's User object.
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": alice, "password": PW, "name": "Alice", "phone": "+46 70 123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let user = &r.json;
    for key in [
        "ID",
        "Name",
        "IamID",
        "Email",
        "Phone",
        "ImageID",
        "ImageURL",
        "LastVisit",
        "Client",
        "Orgs",
        "APIKey",
        "Roles",
    ] {
        assert!(user.get(key).is_some(), "User lacks {key}: {user}");
    }
    assert_eq!(user["Email"], alice.as_str());
    assert_eq!(user["Name"], "Alice");
    assert_eq!(user["Phone"], "+46 70 123");
    assert!(
        user.get("password").is_none() && !r.body.contains(PW),
        "password echoed: {}",
        r.body
    );
    let id = user["ID"].as_str().unwrap().to_owned();

    // Login v1.1: {User, Token}.
    let login = app.login(&alice, PW).await;
    assert_eq!(login["User"]["ID"], id.as_str());
    let token = &login["Token"];
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], 21600);
    assert_eq!(token["refresh_expires_in"], 36000);
    assert_ne!(login["User"]["LastVisit"], "0001-01-01T00:00:00Z");

    // Old login: the token only.
    let r = app
        .post(
            "/v1/users/login",
            json!({"username": alice, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.json["access_token"].is_string() && r.json.get("User").is_none(),
        "{}",
        r.body
    );
    assert_eq!(
        r.headers["cache-control"], "no-store",
        "tokens are not cached"
    );

    // The access token works.
    let me = app.get("/v1/user", Some(&bearer(&login))).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json["User"]["ID"], id.as_str());

    // Refresh rotates both tokens.
    let refresh = token["refresh_token"].as_str().unwrap();
    let r = app
        .post(
            "/v1/users/token",
            json!({"refreshtoken": refresh, "clientid": "app"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers["cache-control"], "no-store",
        "tokens are not cached"
    );
    let rotated = r.json.clone();
    assert_ne!(rotated["refresh_token"], token["refresh_token"]);
    let new_bearer = format!("Bearer {}", rotated["access_token"].as_str().unwrap());
    assert_eq!(
        app.get("/v1/user", Some(&new_bearer)).await.status,
        StatusCode::OK
    );

    // Logout with the current refresh token: 204, then both tokens of the session are dead.
    let r = app
        .post(
            "/v1/users/logout",
            json!({"refreshtoken": rotated["refresh_token"], "clientid": "app"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    app.get("/v1/user", Some(&new_bearer))
        .await
        .assert_error(401);
    app.get("/v1/user", Some(&bearer(&login)))
        .await
        .assert_error(401);
    app.post(
        "/v1/users/token",
        json!({"refreshtoken": rotated["refresh_token"]}),
    )
    .await
    .assert_error(401);
}
both_backends!(register_login_refresh_logout_round_trip);

async fn reusing_a_rotated_refresh_token_revokes_the_session(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let login = app.login(&alice, PW).await;
    let first = login["Token"]["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .post("/v1/users/token", json!({"refreshtoken": first}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let second = r.json["refresh_token"].as_str().unwrap().to_owned();
    let second_bearer = format!("Bearer {}", r.json["access_token"].as_str().unwrap());

    // A thief replays the first token: refused, and the whole session dies with it.
    app.post("/v1/users/token", json!({"refreshtoken": first}))
        .await
        .assert_error(401);
    app.post("/v1/users/token", json!({"refreshtoken": second}))
        .await
        .assert_error(401);
    app.get("/v1/user", Some(&second_bearer))
        .await
        .assert_error(401);
    // Other sessions of the user are untouched.
    let other = app.login(&alice, PW).await;
    assert_eq!(
        app.get("/v1/user", Some(&bearer(&other))).await.status,
        StatusCode::OK
    );
    // Garbage refresh tokens are simply invalid.
    app.post("/v1/users/token", json!({"refreshtoken": "not-a-token"}))
        .await
        .assert_error(401);
}
both_backends!(reusing_a_rotated_refresh_token_revokes_the_session);

/// Rotations are batched (SQLite's writer, one transaction for many): the same token sent
/// eight times at once is rotated once, and the seven replays revoke the session.
async fn concurrent_refreshes_of_one_token_rotate_it_once(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let login = app.login(&alice, PW).await;
    let token = login["Token"]["refresh_token"].as_str().unwrap().to_owned();
    // A second session, refreshed alongside, is not touched by the first one's fate.
    let other = app.login(&alice, PW).await;
    let other_token = other["Token"]["refresh_token"].as_str().unwrap().to_owned();
    let send = |t: &str| {
        let request = app
            .client
            .post(app.url("/v1/users/token"))
            .json(&json!({"refreshtoken": t}));
        async move {
            let r = request.send().await.expect("sent");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let calls = (0..9).map(|i| send(if i == 8 { &other_token } else { &token }));
    let answers = join_all_spawned(calls).await;
    let (other_status, other_pair) = &answers[8];
    assert_eq!(*other_status, StatusCode::OK, "{other_pair}");
    let rotated: Vec<_> = answers[..8]
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .collect();
    let statuses: Vec<_> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(rotated.len(), 1, "{statuses:?}");
    assert!(answers[..8]
        .iter()
        .all(|(status, _)| *status == StatusCode::OK || *status == StatusCode::UNAUTHORIZED));
    // The winner's successor belongs to a revoked session now.
    let successor = rotated[0].1["refresh_token"].as_str().unwrap().to_owned();
    app.post("/v1/users/token", json!({"refreshtoken": successor}))
        .await
        .assert_error(401);
    let next = other_pair["refresh_token"].as_str().unwrap().to_owned();
    let r = app
        .post("/v1/users/token", json!({"refreshtoken": next}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(concurrent_refreshes_of_one_token_rotate_it_once);

async fn logout_on_one_node_is_honoured_by_another(db: TestDb) {
    let node_a = TestApp::spawn(&db).await;
    let node_b = TestApp::spawn_peer(&db, &node_a).await;
    let alice = email("alice");
    node_a.register(&alice, PW).await;
    let login = node_a.login(&alice, PW).await;
    // Both nodes share keys and sessions through the database.
    assert_eq!(
        node_b.get("/v1/user", Some(&bearer(&login))).await.status,
        StatusCode::OK
    );
    let r = node_a
        .call(
            Method::POST,
            "/v1/users/logout",
            Some(&bearer(&login)),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    node_b
        .get("/v1/user", Some(&bearer(&login)))
        .await
        .assert_error(401);
    node_b
        .post(
            "/v1/users/token",
            json!({"refreshtoken": login["Token"]["refresh_token"]}),
        )
        .await
        .assert_error(401);
}
both_backends!(logout_on_one_node_is_honoured_by_another);

async fn admin_login_admits_role_holders_and_platform_admins_only(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let plain = email("plain");
    app.register(&plain, PW).await;
    let r = app
        .post(
            "/v1/users/admin/login",
            json!({"username": plain, "password": PW}),
        )
        .await;
    r.assert_error(401);

    // An organisation's Dpo (set up directly: organisations arrive with their own API).
    let dpo = email("dpo");
    let dpo_id = app.register(&dpo, PW).await;
    let org_id = uuid::Uuid::now_v7().to_string();
    db.execute(
        "INSERT INTO organizations (id, name, created_at) VALUES ($1, 'Org', 0)",
        &[&org_id],
    )
    .await;
    db.execute(
        "INSERT INTO organization_roles (organization_id, user_id, role_id) VALUES ($1, $2, 2)",
        &[&org_id, &dpo_id],
    )
    .await;
    let r = app
        .post(
            "/v1/users/admin/login",
            json!({"username": dpo, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json["User"]["Roles"],
        json!([{"RoleID": 2, "OrgID": org_id}])
    );

    // A platform admin made by the CLI, password on standard input.
    let admin = email("admin");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args([
            "admin",
            "add-platform-admin",
            "--email",
            &admin,
            "--name",
            "Root",
        ])
        .env("ACCORD_DATABASE_URL", &db.url)
        .env("ACCORD_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{PW}\n").as_bytes())?;
            child.wait_with_output()
        })
        .expect("accord admin add-platform-admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created platform admin"));
    let r = app
        .post(
            "/v1/users/admin/login",
            json!({"username": admin, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The ordinary logins take everyone.
    assert_eq!(
        app.post(
            "/v1/users/login",
            json!({"username": plain, "password": PW})
        )
        .await
        .status,
        StatusCode::OK
    );
}
both_backends!(admin_login_admits_role_holders_and_platform_admins_only);

async fn wrong_password_and_unknown_user_look_the_same(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let wrong = app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": alice, "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": email("nobody"), "password": PW}),
        )
        .await;
    wrong.assert_error(401);
    unknown.assert_error(401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        wrong.headers.get("www-authenticate"),
        unknown.headers.get("www-authenticate")
    );
}
both_backends!(wrong_password_and_unknown_user_look_the_same);

async fn registration_rules(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    // Unique case-insensitively.
    app.post(
        "/v1/users/register",
        json!({"username": alice.to_uppercase(), "password": PW}),
    )
    .await
    .assert_error(409);
    // Password policy and email validity.
    let bob = email("bob");
    app.post(
        "/v1/users/register",
        json!({"username": bob, "password": "short"}),
    )
    .await
    .assert_error(400);
    app.post(
        "/v1/users/register",
        json!({"username": bob, "password": bob}),
    )
    .await
    .assert_error(400);
    app.post(
        "/v1/users/register",
        json!({"username": "not-an-email", "password": PW}),
    )
    .await
    .assert_error(400);
    app.post(
        "/v1/users/register",
        json!({"username": bob, "password": PW, "name": "bad\u{0007}name"}),
    )
    .await
    .assert_error(400);
    // Login is case-insensitive on the username too; the iGrant SDK's capitalised keys work.
    let r = app
        .post(
            "/v1/v1.1/users/login",
            json!({"Username": alice.to_uppercase(), "Password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(registration_rules);

async fn self_service_update_and_erasure(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let login = app.login(&alice, PW).await;
    let auth = bearer(&login);

    let r = app
        .call(
            Method::PATCH,
            "/v1/user",
            Some(&auth),
            Some(json!({"Name": "Alice B."})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["Name"], "Alice B.");
    let r = app
        .call(
            Method::PATCH,
            "/v1/user",
            Some(&auth),
            Some(json!({"phone": "+1 555"})),
        )
        .await;
    assert_eq!(
        (
            r.json["User"]["Name"].as_str(),
            r.json["User"]["Phone"].as_str()
        ),
        (Some("Alice B."), Some("+1 555"))
    );
    app.call(
        Method::PATCH,
        "/v1/user",
        Some(&auth),
        Some(json!({"name": "x".repeat(300)})),
    )
    .await
    .assert_error(400);
    // Anonymous callers get 401 with a challenge.
    let r = app.get("/v1/user", None).await;
    r.assert_error(401);
    assert!(r.headers.get("www-authenticate").is_some());

    // Erasure: the account goes, its sessions die, the email is free again.
    let r = app
        .call(Method::DELETE, "/v1/user", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    app.get("/v1/user", Some(&auth)).await.assert_error(401);
    app.post(
        "/v1/users/login",
        json!({"username": alice, "password": PW}),
    )
    .await
    .assert_error(401);
    app.post(
        "/v1/users/token",
        json!({"refreshtoken": login["Token"]["refresh_token"]}),
    )
    .await
    .assert_error(401);
    app.register(&alice, PW).await;
}
both_backends!(self_service_update_and_erasure);

async fn api_keys_authenticate_until_rotated_or_revoked(db: TestDb) {
    let node_a = TestApp::spawn(&db).await;
    let node_b = TestApp::spawn_peer(&db, &node_a).await;
    let alice = email("alice");
    node_a.register(&alice, PW).await;
    let auth = bearer(&node_a.login(&alice, PW).await);

    node_a
        .get("/v1/user/apikey", Some(&auth))
        .await
        .assert_error(404);
    let r = node_a
        .call(Method::POST, "/v1/user/apikey", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key1 = r.json["APIKey"].as_str().unwrap().to_owned();
    // Shown again, identical; and on the User object of its owner.
    assert_eq!(
        node_a.get("/v1/user/apikey", Some(&auth)).await.json["APIKey"],
        key1.as_str()
    );
    assert_eq!(
        node_a.get("/v1/user", Some(&auth)).await.json["User"]["APIKey"],
        key1.as_str()
    );

    let with_key1 = format!("ApiKey {key1}");
    let r = node_b.get("/v1/user", Some(&with_key1)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Rotation: the old key is refused at once, on every node; the new one works.
    let r = node_a
        .call(Method::POST, "/v1/user/apikey", Some(&auth), None)
        .await;
    let key2 = r.json["APIKey"].as_str().unwrap().to_owned();
    assert_ne!(key1, key2);
    node_b
        .get("/v1/user", Some(&with_key1))
        .await
        .assert_error(401);
    let with_key2 = format!("ApiKey {key2}");
    assert_eq!(
        node_b.get("/v1/user", Some(&with_key2)).await.status,
        StatusCode::OK
    );

    // Revocation.
    let r = node_a
        .call(Method::DELETE, "/v1/user/apikey/revoke", Some(&auth), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    node_b
        .get("/v1/user", Some(&with_key2))
        .await
        .assert_error(401);
    node_a
        .get("/v1/user/apikey", Some(&auth))
        .await
        .assert_error(404);

    // An access token under the APIKey scheme is taken as the access token it is
    // (iGrant.io's Java SDK sends it so); an APIKey is no access token.
    let access = auth.trim_start_matches("Bearer ");
    let r = node_a
        .get("/v1/user", Some(&format!("ApiKey {access}")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = node_a
        .call(Method::POST, "/v1/user/apikey", Some(&auth), None)
        .await;
    let key3 = r.json["APIKey"].as_str().unwrap();
    node_a
        .get("/v1/user", Some(&format!("Bearer {key3}")))
        .await
        .assert_error(401);
}
both_backends!(api_keys_authenticate_until_rotated_or_revoked);

async fn login_throttling_engages_per_account(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    for _ in 0..5 {
        app.post(
            "/v1/users/login",
            json!({"username": alice, "password": "wrong password"}),
        )
        .await
        .assert_error(401);
    }
    // Locked: even the right password is refused, with Retry-After.
    let r = app
        .post(
            "/v1/users/login",
            json!({"username": alice, "password": PW}),
        )
        .await;
    r.assert_error(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Unknown accounts are throttled alike (no account enumeration through 429s).
    let ghost = email("ghost");
    for _ in 0..5 {
        app.post(
            "/v1/users/login",
            json!({"username": ghost, "password": "x"}),
        )
        .await
        .assert_error(401);
    }
    app.post(
        "/v1/users/login",
        json!({"username": ghost, "password": "x"}),
    )
    .await
    .assert_error(429);
    // Another account from the same address is not locked.
    let bob = email("bob");
    app.register(&bob, PW).await;
    app.login(&bob, PW).await;
}
both_backends!(login_throttling_engages_per_account);

async fn login_throttling_engages_per_address(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    // 50 failures from one address, spread over accounts so no account locks.
    for i in 0..50 {
        let who = format!("spray{}@example.com", i / 4);
        app.post(
            "/v1/users/login",
            json!({"username": who, "password": "guess"}),
        )
        .await
        .assert_error(401);
    }
    let alice = email("alice");
    app.register(&alice, PW).await;
    let r = app
        .post(
            "/v1/users/login",
            json!({"username": alice, "password": PW}),
        )
        .await;
    r.assert_error(429);
    assert!(r.headers.get("retry-after").is_some());
}
both_backends!(login_throttling_engages_per_address);

/// Many people behind one address (an office NAT) log in at once: only failures stay
/// counted against an address, and its sign-ins in flight wait their turn, so a burst of
/// correct logins is never throttled.
async fn a_burst_of_good_logins_from_one_address_is_not_throttled(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let mut people = vec![];
    for i in 0..60 {
        let who = email(&format!("staff{i}"));
        app.register(&who, PW).await;
        people.push(who);
    }
    let logins = people.iter().map(|who| {
        let (client, url) = (app.client.clone(), app.url("/v1/users/login"));
        let body = json!({"username": who, "password": PW});
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("sent")
                .status()
        }
    });
    let statuses = join_all_spawned(logins).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
}
both_backends!(a_burst_of_good_logins_from_one_address_is_not_throttled);

/// Hundreds of simultaneous wrong logins from one source, each for another account, check
/// no more passwords than the source's limit (each attempt is counted before its password
/// is hashed), also when they rotate through an IPv6 /64; a person elsewhere signs in
/// meanwhile.
async fn a_burst_of_wrong_logins_checks_no_more_passwords_than_the_limit(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| {
        c.failures_per_address = 20;
        c.trust_forwarded_for = true;
        // The test's 300 connections all come from loopback.
        c.connections_per_address = c.max_connections;
    })
    .await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    type Source = fn(usize) -> String;
    let sources: [(&str, Source); 2] = [
        ("IPv4", |_| "192.0.2.9".to_owned()),
        ("IPv6 /64", |i| format!("2001:db8:1:2::{:x}", i + 1)),
    ];
    for (label, source) in sources {
        let guesses = (0..300).map(|i| {
            let (client, url) = (app.client.clone(), app.url("/v1/users/login"));
            let body = json!({"username": format!("spray{i}@example.com"), "password": "guess"});
            let from = source(i);
            async move {
                let r = client
                    .post(url)
                    .header("X-Forwarded-For", from)
                    .json(&body)
                    .send();
                r.await.expect("sent").status()
            }
        });
        let statuses = join_all_spawned(guesses).await;
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!(checked + refused, 300, "{label}: {statuses:?}");
        assert!(
            checked <= 20,
            "{label}: {checked} passwords checked, the limit is 20"
        );
    }
    // Someone at another address is not held up or locked out.
    let r = app
        .client
        .post(app.url("/v1/users/login"))
        .header("X-Forwarded-For", "198.51.100.7")
        .json(&json!({"username": alice, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
both_backends!(a_burst_of_wrong_logins_checks_no_more_passwords_than_the_limit);
