//! The trust model (docs/security.md): each chain the attacker's review reproduced, tried
//! again from the side of the person it would harm. The federation chains, which need the
//! OpenID provider, are in federation.rs.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::customerid::{add_rest_client, seed, send};
use crate::helpers::{bearer, email, query_param, smtp, TestApp, TestDb};
use crate::organizations::{Fixture, PW};

const NEW_PW: &str = "a brand new passphrase";

/// Asks for a reset mail and answers its token: the token of the `n`th reset mail to `to`
/// (counted from 1).
async fn reset_token(app: &TestApp, to: &str, n: usize) -> String {
    let r = app
        .call(
            Method::PUT,
            "/v1/user/password/forgot",
            None,
            Some(json!({"username": to})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    mailed_token(to, "Reset your password", n).await
}

/// The token of the newest of `n` mails to `to` with `subject`.
pub(crate) async fn mailed_token(to: &str, subject: &str, n: usize) -> String {
    let mails = smtp().wait_for_subject(to, subject, n).await;
    // Maildir order is not arrival order: the token not seen before is the new one.
    let mut seen = SEEN.lock().unwrap();
    let token = mails
        .iter()
        .filter_map(|m| query_param(m, "token"))
        .find(|t| !seen.contains(t))
        .expect("a new token");
    seen.push(token.clone());
    token
}

static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

async fn confirm_reset(app: &TestApp, token: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        "/v1/user/password/forgot/confirm",
        json!({"token": token, "password": password}),
    )
    .await
}

async fn new_api_key(app: &TestApp, auth: &str) -> String {
    let r = app
        .call(Method::POST, "/v1/user/apikey", Some(auth), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    format!("ApiKey {}", r.json["APIKey"].as_str().unwrap())
}

/// Chains 1 and 11: an APIKey made from a session survived every later password change
/// or reset, and a second reset token outlived the first one's use and a normal change.
async fn a_password_change_or_reset_closes_every_other_door(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| c.smtp_url = Some(smtp().url.clone())).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let here = app.login(&alice, PW).await;
    let elsewhere = app.login(&alice, PW).await;
    let key = new_api_key(&app, &bearer(&here)).await;

    // Two reset mails; the first is used.
    let first = reset_token(&app, &alice, 1).await;
    let second = reset_token(&app, &alice, 2).await;
    let r = confirm_reset(&app, &first, NEW_PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every session, its refresh token, the APIKey and the other reset token are over.
    for credential in [bearer(&here), bearer(&elsewhere), key.clone()] {
        app.get("/v1/user", Some(&credential))
            .await
            .assert_error(401);
    }
    let refresh = elsewhere["Token"]["refresh_token"].as_str().unwrap();
    app.post("/v1/users/token", json!({"refreshtoken": refresh}))
        .await
        .assert_error(401);
    confirm_reset(&app, &second, "an attacker's passphrase")
        .await
        .assert_error(400);

    // A normal change (current password) does the same to everything but its own session.
    let third = reset_token(&app, &alice, 3).await;
    let here = bearer(&app.login(&alice, NEW_PW).await);
    let other = bearer(&app.login(&alice, NEW_PW).await);
    let key = new_api_key(&app, &here).await;
    let r = app
        .call(
            Method::POST,
            "/v1/user/password/reset",
            Some(&here),
            Some(json!({"currentpassword": NEW_PW, "password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        app.get("/v1/user", Some(&here)).await.status,
        StatusCode::OK
    );
    app.get("/v1/user", Some(&other)).await.assert_error(401);
    app.get("/v1/user", Some(&key)).await.assert_error(401);
    confirm_reset(&app, &third, "an attacker's passphrase")
        .await
        .assert_error(400);
    app.login(&alice, PW).await;
    // A wallet or kiosk gets a new key from a new session.
    let key = new_api_key(&app, &here).await;
    assert_eq!(app.get("/v1/user", Some(&key)).await.status, StatusCode::OK);
}
both_backends!(a_password_change_or_reset_closes_every_other_door);

/// Chain 1: the "recent login" shortcut (a new password without the current one) took a
/// federated session; it must take only the access token of a fresh password sign-in.
async fn only_a_fresh_password_sign_in_changes_the_password_without_the_current_one(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let change = |auth: String, to: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/v1/user/password/reset",
                Some(&auth),
                Some(json!({ "password": to })),
            )
            .await
        }
    };
    // A refreshed access token proves only that its holder had a refresh token.
    let login = app.login(&alice, PW).await;
    let r = app
        .post(
            "/v1/users/token",
            json!({"refreshtoken": login["Token"]["refresh_token"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let refreshed = format!("Bearer {}", r.json["access_token"].as_str().unwrap());
    change(refreshed.clone(), NEW_PW).await.assert_error(400);
    // An APIKey proves no sign-in at all.
    let fresh = app.login(&alice, PW).await;
    let key = new_api_key(&app, &bearer(&fresh)).await;
    change(key, NEW_PW).await.assert_error(400);
    // The sign-in's own token may.
    let r = change(bearer(&fresh), NEW_PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.login(&alice, NEW_PW).await;
}
both_backends!(only_a_fresh_password_sign_in_changes_the_password_without_the_current_one);

/// Chains 2 and 11: a REST client setting a user's password left their sessions, refresh
/// tokens and APIKey working, and a reset mailed to the old address survived an email
/// change.
async fn a_password_or_email_set_by_a_rest_client_closes_the_other_doors(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let (_, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let bound = ("child-only", "another-long-secret");
    let maija = email("maija");
    let r = send(
        &f,
        Method::POST,
        "/users",
        bound,
        &[
            ("email", maija.as_str()),
            ("organizationId", child.as_str()),
            ("password", PW),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = crate::customerid::ids(&r)[0].clone();
    let login = f.app.login(&maija, PW).await;
    let key = new_api_key(&f.app, &bearer(&login)).await;
    let token = reset_token(&f.app, &maija, 1).await;

    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{id}"),
        bound,
        &[("password", NEW_PW)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    f.app
        .get("/v1/user", Some(&bearer(&login)))
        .await
        .assert_error(401);
    f.app.get("/v1/user", Some(&key)).await.assert_error(401);
    f.app
        .post(
            "/v1/users/token",
            json!({"refreshtoken": login["Token"]["refresh_token"]}),
        )
        .await
        .assert_error(401);
    confirm_reset(&f.app, &token, "an attacker's passphrase")
        .await
        .assert_error(400);

    // A reset mailed to the old address dies with the address.
    let token = reset_token(&f.app, &maija, 2).await;
    let moved = email("maija-new");
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{id}"),
        bound,
        &[("email", moved.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    confirm_reset(&f.app, &token, "an attacker's passphrase")
        .await
        .assert_error(400);
    f.app.login(&moved, NEW_PW).await;
}
both_backends!(a_password_or_email_set_by_a_rest_client_closes_the_other_doors);

/// Chain 9: an anonymous (APIKey-only) user became an Admin by creating an organisation.
async fn an_anonymous_user_holds_no_role_by_creating_an_organisation(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users/anonymous"),
            &f.admin,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let key = format!("ApiKey {}", r.json["APIKey"].as_str().expect("APIKey"));
    let r = f
        .call(
            Method::POST,
            "/v1/organizations",
            &key,
            Some(json!({"Name": "Mine now", "Location": "Here", "TypeID": f.type_id, "Description": "x"})),
        )
        .await;
    r.assert_error(403);
    let me = f.app.get("/v1/user", Some(&key)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json["Roles"], json!([]), "{}", me.body);
}
both_backends!(an_anonymous_user_holds_no_role_by_creating_an_organisation);
