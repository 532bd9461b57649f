//! Changing a password, and resetting a forgotten one by mail through a real SMTP server.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{bearer, email, query_param, smtp, TestApp, TestDb};

const PW: &str = "correct horse battery";
const NEW_PW: &str = "a brand new passphrase";

async fn change_password_with_the_current_one(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let here = app.login(&alice, PW).await;
    let elsewhere = app.login(&alice, PW).await;

    let body = json!({"currentpassword": "wrong", "password": NEW_PW});
    app.call(
        Method::POST,
        "/v1/user/password/reset",
        Some(&bearer(&here)),
        Some(body),
    )
    .await
    .assert_error(401);
    let body = json!({"currentpassword": PW, "password": "short"});
    app.call(
        Method::POST,
        "/v1/user/password/reset",
        Some(&bearer(&here)),
        Some(body),
    )
    .await
    .assert_error(400);
    app.call(
        Method::POST,
        "/v1/user/password/reset",
        None,
        Some(json!({"password": NEW_PW})),
    )
    .await
    .assert_error(401);

    let body = json!({"currentpassword": PW, "password": NEW_PW});
    let r = app
        .call(
            Method::POST,
            "/v1/user/password/reset",
            Some(&bearer(&here)),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // This session stays; the others end; the old password is gone.
    assert_eq!(
        app.get("/v1/user", Some(&bearer(&here))).await.status,
        StatusCode::OK
    );
    app.get("/v1/user", Some(&bearer(&elsewhere)))
        .await
        .assert_error(401);
    app.post(
        "/v1/users/login",
        json!({"username": alice, "password": PW}),
    )
    .await
    .assert_error(401);
    app.login(&alice, NEW_PW).await;

    // The spec's {"password"} alone, with PUT as iGrant's server took it: allowed from a
    // fresh password login.
    let fresh = app.login(&alice, NEW_PW).await;
    let r = app
        .call(
            Method::PUT,
            "/v1/user/password/reset",
            Some(&bearer(&fresh)),
            Some(json!({"password": PW})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.login(&alice, PW).await;

    // ...but not with an APIKey, which proves no recent password login.
    let key = app
        .call(Method::POST, "/v1/user/apikey", Some(&bearer(&fresh)), None)
        .await
        .json["APIKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .call(
            Method::POST,
            "/v1/user/password/reset",
            Some(&format!("ApiKey {key}")),
            Some(json!({"password": NEW_PW})),
        )
        .await;
    r.assert_error(400);
}
both_backends!(change_password_with_the_current_one);

async fn forgotten_password_mail_carries_a_single_use_token(db: TestDb) {
    let smtp = smtp();
    let app = TestApp::spawn_with(&db, |c| c.smtp_url = Some(smtp.url.clone())).await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    let old_session = app.login(&alice, PW).await;

    // The same answer for an account that exists and one that does not.
    let known = app
        .call(
            Method::PUT,
            "/v1/user/password/forgot",
            None,
            Some(json!({"username": alice})),
        )
        .await;
    let unknown = app
        .call(
            Method::PUT,
            "/v1/user/password/forgot",
            None,
            Some(json!({"username": email("nobody")})),
        )
        .await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.body);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));

    let mail = smtp
        .wait_for_subject(&alice, "Reset your password", 1)
        .await
        .remove(0);
    let token = query_param(&mail, "token").expect("token in mail");
    assert!(token.len() >= 40, "token {token:?} in {mail}");
    assert!(
        mail.contains(&app.base),
        "link points at the public URL: {mail}"
    );

    // A policy-breaking password does not burn the token.
    let r = app
        .post(
            "/v1/user/password/forgot/confirm",
            json!({"token": token, "password": "short"}),
        )
        .await;
    r.assert_error(400);
    let r = app
        .post(
            "/v1/user/password/forgot/confirm",
            json!({"token": token, "password": NEW_PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Once only.
    let r = app
        .post(
            "/v1/user/password/forgot/confirm",
            json!({"token": token, "password": "another passphrase"}),
        )
        .await;
    r.assert_error(400);
    app.post(
        "/v1/user/password/forgot/confirm",
        json!({"token": "forged", "password": NEW_PW}),
    )
    .await
    .assert_error(400);

    // The new password works, the old does not, and earlier sessions are over.
    app.login(&alice, NEW_PW).await;
    app.post(
        "/v1/users/login",
        json!({"username": alice, "password": PW}),
    )
    .await
    .assert_error(401);
    app.get("/v1/user", Some(&bearer(&old_session)))
        .await
        .assert_error(401);
    assert!(smtp
        .messages_to("nobody")
        .iter()
        .all(|m| !m.contains(&alice)));
}
both_backends!(forgotten_password_mail_carries_a_single_use_token);

async fn reset_tokens_expire(db: TestDb) {
    let smtp = smtp();
    let app = TestApp::spawn_with(&db, |c| {
        c.smtp_url = Some(smtp.url.clone());
        c.password_reset_ttl = std::time::Duration::ZERO;
    })
    .await;
    let alice = email("alice");
    app.register(&alice, PW).await;
    app.call(
        Method::PUT,
        "/v1/user/password/forgot",
        None,
        Some(json!({"username": alice})),
    )
    .await;
    let mail = smtp
        .wait_for_subject(&alice, "Reset your password", 1)
        .await
        .remove(0);
    let token = query_param(&mail, "token").expect("token in mail");
    app.post(
        "/v1/user/password/forgot/confirm",
        json!({"token": token, "password": NEW_PW}),
    )
    .await
    .assert_error(400);
}
both_backends!(reset_tokens_expire);
