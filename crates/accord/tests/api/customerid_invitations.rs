//! CustomerID role invitations and PUT117 Reinvite User, with the mail caught by a real
//! SMTP server (aiosmtpd) on loopback.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::customerid::{add_rest_client, get, ids, seed, send, BASE};
use crate::helpers::{email, smtp, TestDb};
use crate::helpers::{Fixture, PW};

/// The token in an invitation mail's link (`…/v1/invitations/{token}/accept`).
fn invitation_token(mail: &str) -> String {
    let start = mail.find("/v1/invitations/").expect("link in mail") + "/v1/invitations/".len();
    mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn accept(f: &Fixture, token: &str, password: &str) -> crate::helpers::Reply {
    f.app
        .post(
            &format!("/v1/invitations/{token}/accept"),
            json!({ "password": password }),
        )
        .await
}

async fn invitations_are_mailed_accepted_once_and_reinvited(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let smtp = smtp();
    let (parent, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let all = ("all", "a-long-client-secret");
    let bound = ("child-only", "another-long-secret");
    let sales = ids(&send(
        &f,
        Method::POST,
        "/roles",
        bound,
        &[("name", "SALES"), ("organizationId", child.as_str())],
    )
    .await)[0]
        .clone();

    // Invited: a waiting account appears, and a mail with a link.
    let invitee = email("invitee");
    let r = send(
        &f,
        Method::POST,
        "/roleinvitations",
        bound,
        &[
            ("email", invitee.as_str()),
            ("role", sales.as_str()),
            ("firstname", "Ilona"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.contains(r#"method="POST""#), "{}", r.body);
    let invitation = ids(&r)[0].clone();
    let user = ids(&get(
        &f,
        &format!("/users?email={invitee}&exactMatch=true"),
        Some(bound),
        None,
        false,
    )
    .await);
    assert_eq!(user.len(), 1);
    let user = user[0].clone();
    let r = get(&f, &format!("/users/{user}"), Some(bound), None, false).await;
    assert!(
        r.body.contains(
            r#"<Attribute name="status"><Value>Waiting for registration</Value></Attribute>"#
        ),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            r#"<Attribute name="organizationId"><Value>{child}</Value></Attribute>"#
        )),
        "{}",
        r.body
    );
    assert_eq!(
        ids(&get(&f, "/roleinvitations", Some(bound), None, false).await),
        vec![invitation.clone()]
    );
    assert_eq!(
        ids(&get(
            &f,
            &format!("/users/{user}/roleinvitations"),
            Some(bound),
            None,
            false
        )
        .await),
        vec![invitation.clone()]
    );
    let r = get(
        &f,
        &format!("/roleinvitations/{invitation}"),
        Some(bound),
        None,
        true,
    )
    .await;
    let attrs = r.json["Attribute"].as_array().unwrap().clone();
    let value = |name: &str| {
        attrs
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["Value"][0].clone())
    };
    assert_eq!(value("status"), Some(json!("pending")), "{}", r.body);
    assert_eq!(value("role"), Some(json!(sales)));
    assert_eq!(value("email"), Some(json!(invitee)));
    let first_mail = smtp
        .wait_for_subject(&invitee, "You are invited", 1)
        .await
        .remove(0);
    assert!(first_mail.contains("SALES"), "{first_mail}");
    let first_token = invitation_token(&first_mail);
    assert!(first_token.len() >= 40, "{first_mail}");
    // Not the raw token in any response.
    assert!(!r.body.contains(&first_token));
    // A waiting account cannot log in.
    let login = f
        .app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": invitee, "password": PW}),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);

    // PUT117: a new link (XML answer as the spec shows), and the old one stops working.
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{user}/reinvite"),
        bound,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><ReinviteResponse xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/users/{user}/reinvite" method="PUT"><userId>{user}</userId><email>{invitee}</email></ReinviteResponse>"#
        )
    );
    let mails = smtp.wait_for_subject(&invitee, "You are invited", 2).await;
    let second_token = mails
        .iter()
        .map(|m| invitation_token(m))
        .find(|t| *t != first_token)
        .expect("a second token");
    accept(&f, &first_token, PW).await.assert_error(400);
    // JSON, as the spec's sample.
    let r = f
        .app
        .client
        .put(f.app.url(&format!("{BASE}/users/{user}/reinvite")))
        .basic_auth(bound.0, Some(bound.1))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let r = crate::helpers::Reply::from(r).await;
    assert_eq!(
        r.json,
        json!({"userId": user, "email": invitee}),
        "{}",
        r.body
    );
    let mails = smtp.wait_for_subject(&invitee, "You are invited", 3).await;
    let token = mails
        .iter()
        .map(|m| invitation_token(m))
        .find(|t| *t != first_token && *t != second_token)
        .expect("a third token");
    accept(&f, &second_token, PW).await.assert_error(400);

    // Accepted once: a password that breaks the policy does not burn the link.
    accept(&f, &token, "short").await.assert_error(400);
    let r = accept(&f, &token, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["UserID"], json!(user));
    assert_eq!(r.json["Roles"], json!([sales]));
    accept(&f, &token, PW).await.assert_error(400);
    f.app.login(&invitee, PW).await;
    assert_eq!(
        ids(&get(
            &f,
            &format!("/users/{user}/roles"),
            Some(bound),
            None,
            false
        )
        .await),
        vec![sales.clone()]
    );
    let r = get(
        &f,
        &format!("/roleinvitations/{invitation}"),
        Some(bound),
        None,
        false,
    )
    .await;
    assert!(r.body.contains("<Value>accepted</Value>"), "{}", r.body);
    // Reinvite refused once registered.
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{user}/reinvite"),
        bound,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("<code>Invalid arguments</code>")
            && r.body.contains("not waiting for registration"),
        "{}",
        r.body
    );

    // Registering the invited address takes neither the waiting account nor its role
    // (trust model, chains 3 and 4): the answer is the one for any taken address, and the
    // address gets a fresh link, which alone completes the account.
    let second = email("second-invitee");
    let dpo = accord_domain::identity::OrgRole::Dpo
        .role_of(child.parse().unwrap())
        .id
        .to_string();
    let r = send(
        &f,
        Method::POST,
        "/roleinvitations",
        bound,
        &[("email", second.as_str()), ("role", dpo.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let second_invitation = ids(&r)[0].clone();
    let link = invitation_token(
        &smtp
            .wait_for_subject(&second, "You are invited", 1)
            .await
            .remove(0),
    );
    let r = f
        .app
        .post(
            "/v1/users/register",
            json!({"username": second, "password": "an intruder's password"}),
        )
        .await;
    r.assert_error(409);
    assert_eq!(
        r.json["Message"], "an account with this username already exists",
        "the same answer as for any registered address"
    );
    f.app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": second, "password": "an intruder's password"}),
        )
        .await
        .assert_error(401);
    let r = get(
        &f,
        &format!("/roleinvitations/{second_invitation}"),
        Some(bound),
        None,
        false,
    )
    .await;
    assert!(r.body.contains("<Value>pending</Value>"), "{}", r.body);
    let mails = smtp.wait_for_subject(&second, "You are invited", 2).await;
    let fresh = mails
        .iter()
        .map(|m| invitation_token(m))
        .find(|t| *t != link)
        .expect("a fresh link");
    accept(&f, &link, PW).await.assert_error(400);
    let r = accept(&f, &fresh, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second_id = r.json["UserID"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&get(
            &f,
            &format!("/users/{second_id}/roles"),
            Some(bound),
            None,
            false
        )
        .await),
        vec![dpo.clone()]
    );
    // The link reached the address: it is proven.
    let r = get(&f, &format!("/users/{second_id}"), Some(bound), None, false).await;
    assert!(
        r.body
            .contains(r#"<Attribute name="emailVerified"><Value>TRUE</Value></Attribute>"#),
        "{}",
        r.body
    );
    // The Dpo role works on the iGrant facade at once.
    let r = f
        .app
        .post(
            "/v1/users/admin/login",
            json!({"username": second, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // An existing account is invited, and accepts with its own password.
    let r = send(
        &f,
        Method::POST,
        "/roleinvitations",
        bound,
        &[("email", invitee.as_str()), ("role", dpo.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mails = smtp.wait_for_subject(&invitee, "You are invited", 4).await;
    let used = [first_token.clone(), second_token.clone(), token.clone()];
    let existing_token = mails
        .iter()
        .map(|m| invitation_token(m))
        .find(|t| !used.contains(t))
        .expect("a fourth token");
    accept(&f, &existing_token, "not the password")
        .await
        .assert_error(401);
    let r = accept(&f, &existing_token, PW).await;
    assert_eq!(r.json["Roles"], json!([dpo]), "{}", r.body);

    // Scope: the child's client neither sees nor withdraws an invitation to the parent.
    let parent_admin = accord_domain::identity::OrgRole::Admin
        .role_of(parent.parse().unwrap())
        .id
        .to_string();
    let outside = email("outside-invitee");
    let r = send(
        &f,
        Method::POST,
        "/roleinvitations",
        all,
        &[("email", outside.as_str()), ("role", parent_admin.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let parents = ids(&r)[0].clone();
    assert!(!ids(&get(&f, "/roleinvitations", Some(bound), None, false).await).contains(&parents));
    assert_eq!(
        get(
            &f,
            &format!("/roleinvitations/{parents}"),
            Some(bound),
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &f,
            Method::DELETE,
            &format!("/roleinvitations/{parents}"),
            bound,
            &[]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(
            &f,
            Method::POST,
            "/roleinvitations",
            bound,
            &[("email", outside.as_str()), ("role", parent_admin.as_str())]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Withdrawn: the link stops working.
    let outside_token = invitation_token(
        &smtp
            .wait_for_subject(&outside, "You are invited", 1)
            .await
            .remove(0),
    );
    let r = send(
        &f,
        Method::DELETE,
        &format!("/roleinvitations/{parents}"),
        all,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    accept(&f, &outside_token, PW).await.assert_error(400);

    // Inviting an address whose account lives outside the client's scope reveals nothing of it.
    let r = send(
        &f,
        Method::POST,
        "/roleinvitations",
        bound,
        &[("email", outside.as_str()), ("role", sales.as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let foreign = ids(&r)[0].clone();
    let r = get(
        &f,
        &format!("/roleinvitations/{foreign}"),
        Some(bound),
        None,
        false,
    )
    .await;
    assert!(
        r.status == StatusCode::OK && !r.body.contains(r#"name="user""#),
        "{}",
        r.body
    );
    let r = get(
        &f,
        &format!("/roleinvitations/{foreign}"),
        Some(all),
        None,
        false,
    )
    .await;
    assert!(
        r.body.contains(r#"<Attribute name="user" type="user">"#),
        "{}",
        r.body
    );

    // Bad input: each a clear error document.
    for (form, status) in [
        (
            vec![("email", "not-an-email"), ("role", sales.as_str())],
            StatusCode::BAD_REQUEST,
        ),
        (vec![("email", "x@example.com")], StatusCode::BAD_REQUEST),
        (
            vec![("email", "x@example.com"), ("role", "no-such-role")],
            StatusCode::NOT_FOUND,
        ),
        (
            vec![
                ("email", "x@example.com"),
                ("role", sales.as_str()),
                ("colour", "red"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = send(&f, Method::POST, "/roleinvitations", bound, &form).await;
        assert_eq!(r.status, status, "{form:?}: {}", r.body);
        assert!(
            r.body
                .starts_with(r#"<?xml version="1.0" encoding="utf-8"?><error><code>"#),
            "{}",
            r.body
        );
    }
    accept(&f, "not-a-token", PW).await.assert_error(400);

    // The writes are in the organisation's action log.
    let logs = f
        .app
        .get(&format!("/v1/organizations/{child}/logs"), Some(&f.admin))
        .await;
    assert!(
        logs.body
            .contains(&format!("invited user {user} to the role SALES")),
        "{}",
        logs.body
    );
    assert!(
        logs.body.contains(&format!("reinvited user {user}")),
        "{}",
        logs.body
    );
}
both_backends!(invitations_are_mailed_accepted_once_and_reinvited);
