//! CustomerID role invitations and PUT117 Reinvite User, with the mail caught by a real
//! SMTP server (aiosmtpd) on loopback.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{add_rest_client, get, ids, seed, send, BASE};
use crate::helpers::{email, smtp, TestDb};
use crate::helpers::{Fixture, PW};

/// The token in an invitation mail's link (`…/accept-invitation?token=…`).
fn invitation_token(mail: &str) -> String {
    crate::helpers::query_param(mail, "token").expect("link in mail")
}

async fn accept(f: &Fixture, token: &str, password: &str) -> crate::helpers::Reply {
    f.app
        .post(
            &format!("/v1/invitations/{token}/accept"),
            json!({ "password": password }),
        )
        .await
}

/// A deployment with a parent organisation and its child, a REST client for everything
/// and one bound to the child, and a role of the child (`SALES`) to invite people to.
struct Setting {
    f: Fixture,
    smtp: &'static crate::helpers::Smtp,
    parent: String,
    child: String,
    sales: String,
}

const ALL: (&str, &str) = ("all", "a-long-client-secret");
const BOUND: (&str, &str) = ("child-only", "another-long-secret");

impl Setting {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::with_smtp(db).await;
        let (parent, child, _) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        let sales = ids(&send(
            &f,
            Method::POST,
            "/roles",
            BOUND,
            &[("name", "SALES"), ("organizationId", child.as_str())],
        )
        .await)[0]
            .clone();
        Self {
            f,
            smtp: smtp(),
            parent,
            child,
            sales,
        }
    }

    /// A role of the child organisation, by the iGrant role's derived ID.
    fn child_role(&self, role: accord_domain::identity::OrgRole) -> String {
        role.role_of(self.child.parse().unwrap()).id.to_string()
    }

    /// Invites `address` to `role` through `client`: the invitation's ID.
    async fn invite(&self, client: (&str, &str), address: &str, role: &str) -> String {
        let r = send(
            &self.f,
            Method::POST,
            "/roleinvitations",
            client,
            &[("email", address), ("role", role)],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids(&r)[0].clone()
    }

    /// The links of every invitation mail `address` got, once there are `count`.
    async fn links(&self, address: &str, count: usize) -> Vec<String> {
        let mails = self
            .smtp
            .wait_for_subject(address, "You are invited", count)
            .await;
        mails.iter().map(|m| invitation_token(m)).collect()
    }

    /// The user the bound client sees under `address`.
    async fn user_of(&self, address: &str) -> String {
        let path = format!("/users?email={address}&exactMatch=true");
        let found = ids(&get(&self.f, &path, Some(BOUND), None, false).await);
        assert_eq!(found.len(), 1);
        found[0].clone()
    }

    async fn get(&self, client: (&str, &str), path: &str) -> crate::helpers::Reply {
        get(&self.f, path, Some(client), None, false).await
    }
}

async fn an_invitation_makes_a_waiting_account_and_mails_a_link(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("invitee");
    let r = send(
        &s.f,
        Method::POST,
        "/roleinvitations",
        BOUND,
        &[
            ("email", invitee.as_str()),
            ("role", s.sales.as_str()),
            ("firstname", "Ilona"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.contains(r#"method="POST""#), "{}", r.body);
    let invitation = ids(&r)[0].clone();
    let user = s.user_of(&invitee).await;
    let r = s.get(BOUND, &format!("/users/{user}")).await;
    assert!(
        r.body.contains(
            r#"<Attribute name="status"><Value>Waiting for registration</Value></Attribute>"#
        ),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!(
            r#"<Attribute name="organizationId"><Value>{}</Value></Attribute>"#,
            s.child
        )),
        "{}",
        r.body
    );
    assert_eq!(
        ids(&s.get(BOUND, "/roleinvitations").await),
        vec![invitation.clone()]
    );
    assert_eq!(
        ids(&s
            .get(BOUND, &format!("/users/{user}/roleinvitations"))
            .await),
        vec![invitation.clone()]
    );
    let r = get(
        &s.f,
        &format!("/roleinvitations/{invitation}"),
        Some(BOUND),
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
    assert_eq!(value("role"), Some(json!(s.sales)));
    assert_eq!(value("email"), Some(json!(invitee)));
    let mail = s
        .smtp
        .wait_for_subject(&invitee, "You are invited", 1)
        .await
        .remove(0);
    assert!(mail.contains("SALES"), "{mail}");
    let token = invitation_token(&mail);
    assert!(token.len() >= 40, "{mail}");
    // Not the raw token in any response.
    assert!(!r.body.contains(&token));
    // A waiting account cannot log in.
    let login =
        s.f.app
            .post(
                "/v1/v1.1/users/login",
                json!({"username": invitee, "password": PW}),
            )
            .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    // The write is in the organisation's action log.
    let logs =
        s.f.app
            .get(
                &format!("/v1/organizations/{}/logs", s.child),
                Some(&s.f.admin),
            )
            .await;
    assert!(
        logs.body
            .contains(&format!("invited user {user} to the role SALES")),
        "{}",
        logs.body
    );
}
both_backends!(an_invitation_makes_a_waiting_account_and_mails_a_link);

async fn a_reinvite_mails_a_new_link_and_voids_the_old_one(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("invitee");
    s.invite(BOUND, &invitee, &s.sales).await;
    let user = s.user_of(&invitee).await;
    let first = s.links(&invitee, 1).await.remove(0);
    // PUT117: a new link (XML answer as the spec shows), and the old one stops working.
    let r = send(
        &s.f,
        Method::PUT,
        &format!("/users/{user}/reinvite"),
        BOUND,
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
    let second = s
        .links(&invitee, 2)
        .await
        .into_iter()
        .find(|t| *t != first)
        .expect("a second link");
    accept(&s.f, &first, PW).await.assert_error(400);
    // JSON, as the spec's sample.
    let r =
        s.f.app
            .client
            .put(s.f.app.url(&format!("{BASE}/users/{user}/reinvite")))
            .basic_auth(BOUND.0, Some(BOUND.1))
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
    let third = s
        .links(&invitee, 3)
        .await
        .into_iter()
        .find(|t| *t != first && *t != second)
        .expect("a third link");
    accept(&s.f, &second, PW).await.assert_error(400);
    assert_eq!(accept(&s.f, &third, PW).await.status, StatusCode::OK);
    let logs =
        s.f.app
            .get(
                &format!("/v1/organizations/{}/logs", s.child),
                Some(&s.f.admin),
            )
            .await;
    assert!(
        logs.body.contains(&format!("reinvited user {user}")),
        "{}",
        logs.body
    );
}
both_backends!(a_reinvite_mails_a_new_link_and_voids_the_old_one);

async fn a_link_is_accepted_once_and_gives_the_role(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("invitee");
    let invitation = s.invite(BOUND, &invitee, &s.sales).await;
    let user = s.user_of(&invitee).await;
    let token = s.links(&invitee, 1).await.remove(0);
    // A password that breaks the policy does not burn the link.
    accept(&s.f, &token, "short").await.assert_error(400);
    let r = accept(&s.f, &token, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["UserID"], json!(user));
    assert_eq!(r.json["Roles"], json!([s.sales]));
    accept(&s.f, &token, PW).await.assert_error(400);
    s.f.app.login(&invitee, PW).await;
    assert_eq!(
        ids(&s.get(BOUND, &format!("/users/{user}/roles")).await),
        vec![s.sales.clone()]
    );
    let r = s
        .get(BOUND, &format!("/roleinvitations/{invitation}"))
        .await;
    assert!(r.body.contains("<Value>accepted</Value>"), "{}", r.body);
    // Reinvite refused once registered.
    let r = send(
        &s.f,
        Method::PUT,
        &format!("/users/{user}/reinvite"),
        BOUND,
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
    accept(&s.f, "not-a-token", PW).await.assert_error(400);
}
both_backends!(a_link_is_accepted_once_and_gives_the_role);

/// Registering the invited address takes neither the waiting account nor its role (trust
/// model, chains 3 and 4): the answer is the one for any taken address, and the address
/// gets a fresh link, which alone completes the account.
async fn registering_an_invited_address_takes_nothing(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("second-invitee");
    let dpo = s.child_role(accord_domain::identity::OrgRole::Dpo);
    let invitation = s.invite(BOUND, &invitee, &dpo).await;
    let link = s.links(&invitee, 1).await.remove(0);
    let r =
        s.f.app
            .post(
                "/v1/users/register",
                json!({"username": invitee, "password": "an intruder's password"}),
            )
            .await;
    r.assert_error(409);
    assert_eq!(
        r.json["Message"], "an account with this username already exists",
        "the same answer as for any registered address"
    );
    s.f.app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": invitee, "password": "an intruder's password"}),
        )
        .await
        .assert_error(401);
    let r = s
        .get(BOUND, &format!("/roleinvitations/{invitation}"))
        .await;
    assert!(r.body.contains("<Value>pending</Value>"), "{}", r.body);
    let fresh = s
        .links(&invitee, 2)
        .await
        .into_iter()
        .find(|t| *t != link)
        .expect("a fresh link");
    accept(&s.f, &link, PW).await.assert_error(400);
    let r = accept(&s.f, &fresh, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let user = r.json["UserID"].as_str().unwrap().to_owned();
    assert_eq!(
        ids(&s.get(BOUND, &format!("/users/{user}/roles")).await),
        vec![dpo.clone()]
    );
    // The link reached the address: it is proven.
    let r = s.get(BOUND, &format!("/users/{user}")).await;
    assert!(
        r.body
            .contains(r#"<Attribute name="emailVerified"><Value>TRUE</Value></Attribute>"#),
        "{}",
        r.body
    );
    // The Dpo role works on the iGrant facade at once.
    let r =
        s.f.app
            .post(
                "/v1/users/admin/login",
                json!({"username": invitee, "password": PW}),
            )
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(registering_an_invited_address_takes_nothing);

async fn an_existing_account_accepts_with_its_own_password(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("invitee");
    s.invite(BOUND, &invitee, &s.sales).await;
    let first = s.links(&invitee, 1).await.remove(0);
    assert_eq!(accept(&s.f, &first, PW).await.status, StatusCode::OK);
    let dpo = s.child_role(accord_domain::identity::OrgRole::Dpo);
    s.invite(BOUND, &invitee, &dpo).await;
    let token = s
        .links(&invitee, 2)
        .await
        .into_iter()
        .find(|t| *t != first)
        .expect("a second link");
    accept(&s.f, &token, "not the password")
        .await
        .assert_error(401);
    let r = accept(&s.f, &token, PW).await;
    assert_eq!(r.json["Roles"], json!([dpo]), "{}", r.body);
}
both_backends!(an_existing_account_accepts_with_its_own_password);

async fn a_bound_client_sees_only_invitations_within_its_subtree(db: TestDb) {
    let s = Setting::new(&db).await;
    let parent_admin = accord_domain::identity::OrgRole::Admin
        .role_of(s.parent.parse().unwrap())
        .id
        .to_string();
    let outside = email("outside-invitee");
    let parents = s.invite(ALL, &outside, &parent_admin).await;
    assert!(!ids(&s.get(BOUND, "/roleinvitations").await).contains(&parents));
    let path = format!("/roleinvitations/{parents}");
    assert_eq!(s.get(BOUND, &path).await.status, StatusCode::NOT_FOUND);
    let deleted = send(&s.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
    let form = [("email", outside.as_str()), ("role", parent_admin.as_str())];
    let r = send(&s.f, Method::POST, "/roleinvitations", BOUND, &form).await;
    // A role out of sight is named as one that does not exist: an invalid reference.
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("<code>Invalid reference</code>"),
        "{}",
        r.body
    );
    // Inviting an address whose account lives outside the client's scope reveals nothing
    // of it.
    let foreign = s.invite(BOUND, &outside, &s.sales).await;
    let path = format!("/roleinvitations/{foreign}");
    let r = s.get(BOUND, &path).await;
    assert!(
        r.status == StatusCode::OK && !r.body.contains(r#"name="user""#),
        "{}",
        r.body
    );
    let r = s.get(ALL, &path).await;
    assert!(
        r.body.contains(r#"<Attribute name="user" type="user">"#),
        "{}",
        r.body
    );
}
both_backends!(a_bound_client_sees_only_invitations_within_its_subtree);

async fn a_withdrawn_invitation_voids_its_link(db: TestDb) {
    let s = Setting::new(&db).await;
    let invitee = email("invitee");
    let invitation = s.invite(ALL, &invitee, &s.sales).await;
    let token = s.links(&invitee, 1).await.remove(0);
    let path = format!("/roleinvitations/{invitation}");
    let r = send(&s.f, Method::DELETE, &path, ALL, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    accept(&s.f, &token, PW).await.assert_error(400);
}
both_backends!(a_withdrawn_invitation_voids_its_link);

async fn bad_invitations_get_error_documents(db: TestDb) {
    let s = Setting::new(&db).await;
    for (form, status) in [
        (
            vec![("email", "not-an-email"), ("role", s.sales.as_str())],
            StatusCode::BAD_REQUEST,
        ),
        (vec![("email", "x@example.com")], StatusCode::BAD_REQUEST),
        (
            vec![("email", "x@example.com"), ("role", "no-such-role")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![
                ("email", "x@example.com"),
                ("role", s.sales.as_str()),
                ("colour", "red"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let r = send(&s.f, Method::POST, "/roleinvitations", BOUND, &form).await;
        assert_eq!(r.status, status, "{form:?}: {}", r.body);
        assert!(
            r.body
                .starts_with(r#"<?xml version="1.0" encoding="utf-8"?><error><code>"#),
            "{}",
            r.body
        );
    }
}
both_backends!(bad_invitations_get_error_documents);

async fn an_invitation_is_accepted_in_a_browser(db: TestDb) {
    let s = Setting::new(&db).await;
    let mut b = crate::browser::Browser::open("en-GB").await;
    // A new account chooses its password on the mailed link's page.
    let invitee = email("web-invitee");
    s.invite(BOUND, &invitee, &s.sales).await;
    let user = s.user_of(&invitee).await;
    let mails = s
        .smtp
        .wait_for_subject(&invitee, "You are invited", 1)
        .await;
    let token = invitation_token(&mails[0]);
    assert!(mails[0].contains(&format!("{}/accept-invitation?token={token}", s.f.app.base)));
    b.goto(&s.f.app.url(&format!("/accept-invitation?token={token}")))
        .await;
    b.assert_accessible("accept-invitation (new account)").await;
    b.screenshot("accept-invitation-en").await;
    let mut swedish = crate::browser::Browser::open("sv-SE").await;
    swedish
        .goto(&s.f.app.url(&format!("/accept-invitation?token={token}")))
        .await;
    swedish.assert_accessible("accept-invitation (sv)").await;
    swedish.screenshot("accept-invitation-sv").await;
    assert_eq!(b.text("#invited").await, invitee);
    b.fill("#password", "a password of my own").await;
    b.fill("#confirm", "a password of my own").await;
    let done = b.click("form[action='/accept-invitation'] button").await;
    assert_eq!(done.status, Some(200), "{done:?}");
    assert!(b.text("main").await.contains("Invitation accepted"));
    assert_eq!(
        ids(&s.get(BOUND, &format!("/users/{user}/roles")).await),
        vec![s.sales.clone()]
    );
    s.f.app.login(&invitee, "a password of my own").await;
    // Used once: the link's page now says so.
    let again = b
        .goto(&s.f.app.url(&format!("/accept-invitation?token={token}")))
        .await;
    assert_eq!(again.status, Some(400));

    // An existing account gives its own password; a wrong one is refused in words.
    let dpo = s.child_role(accord_domain::identity::OrgRole::Dpo);
    s.invite(BOUND, &invitee, &dpo).await;
    let second = s
        .links(&invitee, 2)
        .await
        .into_iter()
        .find(|t| *t != token)
        .expect("a second link");
    b.goto(&s.f.app.url(&format!("/accept-invitation?token={second}")))
        .await;
    b.assert_accessible("accept-invitation (existing account)")
        .await;
    b.fill("#password", "not the password").await;
    let wrong = b.click("form[action='/accept-invitation'] button").await;
    assert_eq!(wrong.status, Some(401));
    b.fill("#password", "a password of my own").await;
    let done = b.click("form[action='/accept-invitation'] button").await;
    assert_eq!(done.status, Some(200), "{done:?}");
    let mut held = ids(&s.get(BOUND, &format!("/users/{user}/roles")).await);
    held.sort();
    let mut expected = vec![s.sales.clone(), dpo];
    expected.sort();
    assert_eq!(held, expected);
}
both_backends!(an_invitation_is_accepted_in_a_browser);
