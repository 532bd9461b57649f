//! The trust model (docs/security.md): each chain the attacker's review reproduced, tried
//! again from the side of the person it would harm. The federation chains, which need the
//! OpenID provider, are in federation.rs.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::mailed_token;
use crate::helpers::{add_rest_client, seed, send};
use crate::helpers::{bearer, email, smtp, TestApp, TestDb};
use crate::helpers::{Fixture, PW};

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
    let id = crate::helpers::ids(&r)[0].clone();
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
    assert_eq!(me.json["User"]["Roles"], json!([]), "{}", me.body);
}
both_backends!(an_anonymous_user_holds_no_role_by_creating_an_organisation);

/// Proof of an address: registration mails a single-use link; the account shows whether
/// its address is verified; a token proves only the address it was mailed to.
async fn an_address_is_proven_by_its_mailed_link(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let alice = email("alice");
    let r = f
        .app
        .post(
            "/v1/users/register",
            json!({"username": alice, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json["EmailVerified"], false, "{}", r.body);
    let session = bearer(&f.app.login(&alice, PW).await);
    let token = mailed_token(&alice, "Confirm your email address", 1).await;
    let mail = &smtp()
        .wait_for_subject(&alice, "Confirm your email address", 1)
        .await[0];
    assert!(
        mail.contains(&f.app.base),
        "the link names the public URL: {mail}"
    );

    f.app
        .post("/v1/user/email/verify", json!({"token": "forged"}))
        .await
        .assert_error(400);
    let r = f
        .app
        .post("/v1/user/email/verify", json!({ "token": token }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let me = f.app.get("/v1/user", Some(&session)).await;
    assert_eq!(me.json["User"]["EmailVerified"], true, "{}", me.body);
    // Once only; and a verified address needs no new link.
    f.app
        .post("/v1/user/email/verify", json!({ "token": token }))
        .await
        .assert_error(400);
    f.call(Method::POST, "/v1/user/email/verify/resend", &session, None)
        .await
        .assert_error(409);
    f.app
        .call(Method::POST, "/v1/user/email/verify/resend", None, None)
        .await
        .assert_error(401);

    // An address changed (through CustomerID) is unproven again, and a link mailed to the
    // old address proves nothing about the new one.
    let (_, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let bound = ("child-only", "another-long-secret");
    let bob = email("bob");
    let r = send(
        &f,
        Method::POST,
        "/users",
        bound,
        &[
            ("email", bob.as_str()),
            ("organizationId", child.as_str()),
            ("password", PW),
        ],
    )
    .await;
    let bob_id = crate::helpers::ids(&r)[0].clone();
    let bob_session = bearer(&f.app.login(&bob, PW).await);
    let r = f
        .call(
            Method::POST,
            "/v1/user/email/verify/resend",
            &bob_session,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let old_token = mailed_token(&bob, "Confirm your email address", 1).await;
    let moved = email("bob-moved");
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{bob_id}"),
        bound,
        &[("email", moved.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    smtp()
        .wait_for_subject(&bob, "Your email address was changed", 1)
        .await;
    f.app
        .post("/v1/user/email/verify", json!({ "token": old_token }))
        .await
        .assert_error(400);
    let new_token = mailed_token(&moved, "Confirm your email address", 1).await;
    let r = f
        .app
        .post("/v1/user/email/verify", json!({ "token": new_token }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = crate::helpers::get(&f, &format!("/users/{bob_id}"), Some(bound), None, false).await;
    assert!(
        r.body
            .contains(r#"<Attribute name="emailVerified"><Value>TRUE</Value></Attribute>"#),
        "{}",
        r.body
    );
    // The attribute is the server's to set.
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{bob_id}"),
        bound,
        &[("emailVerified", "TRUE")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}
both_backends!(an_address_is_proven_by_its_mailed_link);

/// Whoever registered an address they do not own cannot keep its owner out: a reset mailed
/// to the address gives the owner the account alone, proven.
async fn the_owner_of_an_address_takes_its_account_back(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let victim = email("victim");
    f.app.register(&victim, "the squatter's password").await;
    let squatter = bearer(&f.app.login(&victim, "the squatter's password").await);
    let squatter_key = new_api_key(&f.app, &squatter).await;
    let token = reset_token(&f.app, &victim, 1).await;
    let r = confirm_reset(&f.app, &token, NEW_PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for credential in [&squatter, &squatter_key] {
        f.app
            .get("/v1/user", Some(credential))
            .await
            .assert_error(401);
    }
    let owner = bearer(&f.app.login(&victim, NEW_PW).await);
    let me = f.app.get("/v1/user", Some(&owner)).await;
    assert_eq!(me.json["User"]["EmailVerified"], true, "{}", me.body);
}
both_backends!(the_owner_of_an_address_takes_its_account_back);

/// Chain 8: registrations from one address were not throttled (100 in 1.4 s).
async fn registrations_are_throttled_per_source_address(db: TestDb) {
    let app = TestApp::spawn_with(&db, |c| c.registrations_per_address = 30).await;
    for i in 0..30 {
        app.register(&email(&format!("bulk{i}")), PW).await;
    }
    let r = app
        .post(
            "/v1/users/register",
            json!({"username": email("one-too-many"), "password": PW}),
        )
        .await;
    r.assert_error(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
}
both_backends!(registrations_are_throttled_per_source_address);

/// Chain 8: wrong REST client secrets were not throttled (60 in 1.3 s, then the right one
/// worked).
async fn rest_client_secrets_are_throttled(db: TestDb) {
    let f = Fixture::new(&db).await;
    add_rest_client(&db, "backend", "a-long-client-secret", None);
    let try_secret = |secret: &'static str| {
        let f = &f;
        async move {
            crate::helpers::get(f, "/organizations", Some(("backend", secret)), None, false).await
        }
    };
    // A burst with the right secret on a cold cache is one verification, not many
    // attempts: all served.
    let url = f
        .app
        .url(&format!("{}/organizations", crate::helpers::BASE));
    let burst = crate::helpers::join_all_spawned((0..12).map(|_| {
        let (client, url) = (f.app.client.clone(), url.clone());
        async move {
            let r = client
                .get(url)
                .basic_auth("backend", Some("a-long-client-secret"))
                .send()
                .await
                .expect("sent");
            r.status()
        }
    }))
    .await;
    assert!(burst.iter().all(|s| *s == StatusCode::OK), "{burst:?}");
    let mut statuses = vec![];
    for _ in 0..6 {
        statuses.push(try_secret("a-wrong-guess").await.status.as_u16());
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    // Locked: the right secret is refused too until the lock ends (unless cached).
    let r = crate::helpers::get(
        &f,
        "/organizations",
        Some(("backend", "a-long-client-secret")),
        None,
        true,
    )
    .await;
    assert!(
        [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS].contains(&r.status),
        "{}",
        r.body
    );
    let r = try_secret("another-wrong-guess").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    assert!(
        r.body.contains("<error>"),
        "the facade's own error document: {}",
        r.body
    );
}
both_backends!(rest_client_secrets_are_throttled);

/// Chain 2: a client bound to X set the password of a user homed in X who also held a role
/// in Y, then signed in as them and read Y's data.
async fn a_bound_client_reaches_no_one_beyond_its_subtree(db: TestDb) {
    let f = Fixture::new(&db).await;
    let (parent, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let bound = ("child-only", "another-long-secret");
    let create = |tag: &'static str| {
        let (f, child) = (&f, child.clone());
        async move {
            let address = email(tag);
            let r = send(
                f,
                Method::POST,
                "/users",
                bound,
                &[
                    ("email", address.as_str()),
                    ("organizationId", child.as_str()),
                ],
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            crate::helpers::ids(&r)[0].clone()
        }
    };
    // Homed in the child, with a role in the parent (outside the client's subtree).
    let member = create("member").await;
    db.execute(
        "INSERT INTO organization_roles (organization_id, user_id, role_id) VALUES ($1, $2, 3)",
        &[&parent, &member],
    )
    .await;
    // Homed in the child, and a platform administrator.
    let admin = create("operator").await;
    db.execute(
        "UPDATE users SET is_platform_admin = TRUE WHERE id = $1",
        &[&admin],
    )
    .await;
    for target in [&member, &admin] {
        for form in [
            vec![("password", "a takeover passphrase")],
            vec![("email", "taken-over@example.com")],
            vec![("status", "2")],
        ] {
            let r = send(&f, Method::PUT, &format!("/users/{target}"), bound, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{form:?}: {}", r.body);
            assert!(r.body.contains("<error>"), "{}", r.body);
        }
        let r = send(&f, Method::DELETE, &format!("/users/{target}"), bound, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        // What is the client's own to manage stays manageable.
        let r = send(
            &f,
            Method::PUT,
            &format!("/users/{target}"),
            bound,
            &[("mobile", "+358401111111")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    // A user wholly within the subtree: the client manages all of it.
    let own = create("own").await;
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{own}"),
        bound,
        &[("password", "a fresh passphrase")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An unbound client may.
    add_rest_client(&db, "all", "a-long-client-secret", None);
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{member}"),
        ("all", "a-long-client-secret"),
        &[("password", "a fresh passphrase")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(a_bound_client_reaches_no_one_beyond_its_subtree);

/// Chain 14: a Developer, refused the list of users, read every subscriber's email, phone
/// and name through the consented users of a purpose whose basis is not consent.
async fn a_developer_sees_ids_not_people(db: TestDb) {
    let c = crate::helpers::Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    f.call(Method::GET, &f.org_path("/users"), &f.developer, None)
        .await
        .assert_error(403);
    for purpose in [&c.payroll, &c.marketing] {
        let path = f.org_path(&format!("/purposes/{purpose}/consented/users"));
        let r = f.call(Method::GET, &path, &f.developer, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for u in r.json["Users"].as_array().unwrap() {
            assert!(!u["ID"].as_str().unwrap().is_empty());
            assert_eq!(
                (&u["Name"], &u["Email"], &u["Phone"]),
                (&json!(""), &json!(""), &json!("")),
                "{}",
                r.body
            );
        }
        // The Dpo's work needs the people themselves.
        let r = f.call(Method::GET, &path, &f.dpo, None).await;
        if purpose == &c.payroll {
            assert!(r.body.contains(&f.individual_id), "{}", r.body);
            assert!(r.body.contains("@example.com"), "{}", r.body);
        }
    }
}
both_backends!(a_developer_sees_ids_not_people);

/// Chain 15: after a person set Disallow and left, the Admin set Allow on their record (200,
/// with a receipt); returning, the person appeared as consenting.
async fn an_organisation_writes_no_consent_for_someone_who_left(db: TestDb) {
    let c = crate::helpers::Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    let me = &f.individual_id;
    let attribute = |record: &str| {
        f.org_path(&format!(
            "/users/{me}/consents/{record}/purposes/{}/attributes/{}",
            c.marketing, c.email_attr
        ))
    };
    let r = f
        .call(
            Method::PATCH,
            &attribute(&c.consent),
            &f.individual,
            Some(json!({"consented": "Disallow"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = f
        .call(
            Method::DELETE,
            &f.org_path(&format!("/users/{me}")),
            &f.individual,
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    // The organisation cannot write to the record of someone who left.
    let r = f
        .call(
            Method::PATCH,
            &attribute(&c.consent),
            &f.admin,
            Some(json!({"consented": "Allow"})),
        )
        .await;
    r.assert_error(404);
    // Returning starts from the defaults, not from anything written meanwhile.
    let key = f.open_with_key().await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &f.individual,
            Some(json!({ "subscribekey": key })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let record = f
        .call(Method::GET, &c.consents(me), &f.individual, None)
        .await;
    assert_eq!(record.status, StatusCode::OK, "{}", record.body);
    let marketing = crate::helpers::purpose_in(&record.json, &c.marketing);
    let email_attr = crate::helpers::attribute_in(marketing, &c.email_attr);
    assert_ne!(
        email_attr["Status"]["Consented"], "Allow",
        "{}",
        record.body
    );
    let consenting = f
        .call(
            Method::GET,
            &f.org_path(&format!("/purposes/{}/consented/users", c.marketing)),
            &f.admin,
            None,
        )
        .await;
    assert!(
        !consenting.body.contains(me.as_str()),
        "{}",
        consenting.body
    );
    // The person's own history still holds what they did.
    let history = f
        .call(
            Method::GET,
            &format!("/v1/users/{me}/consenthistory"),
            &f.individual,
            None,
        )
        .await;
    assert!(history.body.contains("Disallow"), "{}", history.body);
}
both_backends!(an_organisation_writes_no_consent_for_someone_who_left);
