//! Variants of the permission rules that the matrix (`matrix.rs`, one body per operation)
//! cannot show: the same operation with another body or on another organisation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestDb;
use crate::helpers::{user, Fixture};

async fn permission_variants(db: TestDb) {
    let f = Fixture::new(&db).await;
    let org = |rest: &str| format!("/v1/organizations/{}{rest}", f.org);
    f.open_with_key().await;
    // Subscribing someone else (`userid`) is the Admin's alone, and needs no key.
    let (_, subscriber) = user(&f.app, "subscriber").await;
    let body = json!({"userid": subscriber});
    for (who, status) in [
        (&f.outsider, 403),
        (&f.dpo, 403),
        (&f.developer, 403),
        (&f.individual, 403),
        (&f.platform, 403),
    ] {
        let r = f
            .call(Method::POST, &org("/users"), who, Some(body.clone()))
            .await;
        r.assert_error(status);
    }
    let r = f
        .call(Method::POST, &org("/users"), &f.admin, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "offered: {}", r.body);
    // Admin of one organisation is nothing in another, and the other way round.
    let other_users = format!("/v1/organizations/{}/users", f.other_org);
    f.call(Method::GET, &other_users, &f.admin, None)
        .await
        .assert_error(403);
    let r = f.call(Method::GET, &other_users, &f.outsider, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(permission_variants);

/// Chain 12: an Admin made another user Admin and left; the victim could neither erase
/// their account (409, last Admin) nor drop the role (400). A role is offered, accepted or
/// declined, and always left; an organisation without an Admin waits for a platform admin
/// to offer the role.
async fn a_role_is_accepted_and_always_left(db: TestDb) {
    let f = Fixture::new(&db).await;
    let admins = f.org_path("/admins");
    let offer = |to: &str, auth: &str| {
        let (f, admins, body) = (&f, admins.clone(), json!({"userid": to, "roleid": 1}));
        let auth = auth.to_owned();
        async move { f.call(Method::POST, &admins, &auth, Some(body)).await }
    };
    let roles = |auth: &str| {
        let (f, auth) = (&f, auth.to_owned());
        async move {
            f.call(Method::GET, "/v1/user", &auth, None).await.json["User"]["Roles"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    // Offered, not held; declined, nothing.
    let r = offer(&f.individual_id, &f.admin).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(roles(&f.individual).await, 0);
    let offers = f
        .call(Method::GET, "/v1/user/offers", &f.individual, None)
        .await;
    let id = offers.json["Offers"][0]["ID"].as_str().unwrap().to_owned();
    assert_eq!(offers.json["Offers"][0]["RoleID"], 1, "{}", offers.body);
    let r = f
        .call(
            Method::DELETE,
            &format!("/v1/user/offers/{id}"),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    f.call(
        Method::POST,
        &format!("/v1/user/offers/{id}/accept"),
        &f.individual,
        None,
    )
    .await
    .assert_error(404);
    assert_eq!(roles(&f.individual).await, 0);
    // Nobody accepts an offer made to someone else.
    offer(&f.individual_id, &f.admin).await;
    let offers = f
        .call(Method::GET, "/v1/user/offers", &f.individual, None)
        .await;
    let id = offers.json["Offers"][0]["ID"].as_str().unwrap().to_owned();
    f.call(
        Method::POST,
        &format!("/v1/user/offers/{id}/accept"),
        &f.outsider,
        None,
    )
    .await
    .assert_error(404);
    // Accepted: held. Then left, at will.
    let r = f
        .call(
            Method::POST,
            &format!("/v1/user/offers/{id}/accept"),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(roles(&f.individual).await, 1);
    let leave = format!("/v1/user/roles/{}", f.org);
    let r = f.call(Method::DELETE, &leave, &f.individual, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(roles(&f.individual).await, 0);
    f.call(Method::DELETE, &leave, &f.individual, None)
        .await
        .assert_error(404);

    // The last Admin erases their account: allowed. The organisation is closed to
    // configuration; a platform admin (only now) offers the role, and the Dpo accepts.
    f.call(Method::GET, "/v1/user", &f.admin, None).await;
    assert_eq!(
        offer(&f.individual_id, &f.platform).await.status,
        StatusCode::FORBIDDEN,
        "the organisation has an Admin"
    );
    let r = f.call(Method::DELETE, "/v1/user", &f.admin, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let rename = json!({"name": "renamed"});
    f.call(Method::PATCH, &f.org_path(""), &f.dpo, Some(rename.clone()))
        .await
        .assert_error(403);
    let dpo_id = f.call(Method::GET, "/v1/user", &f.dpo, None).await.json["User"]["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = offer(&dpo_id, &f.platform).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(crate::helpers::accept_offers(&f.app, &f.dpo).await, 1);
    let r = f
        .call(Method::PATCH, &f.org_path(""), &f.dpo, Some(rename))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}
both_backends!(a_role_is_accepted_and_always_left);

/// Caller kinds the matrix's one world does not hold: a pending subscriber (offered, not
/// yet accepted) and a person another organisation provisioned. (An unverified account is
/// every matrix caller; a federated session is federation.rs's; what a proven address
/// changes is customerid.rs's mandates and trust.rs's.)
async fn pending_and_provisioned_people(db: TestDb) {
    let f = Fixture::new(&db).await;
    f.open_with_key().await;
    let (pending, pending_id) = user(&f.app, "pending").await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &f.admin,
            Some(json!({ "userid": pending_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    // Offered, not subscribed: no record, nothing the organisation can read or write.
    let consents = f.org_path(&format!("/users/{pending_id}/consents"));
    for who in [&pending, &f.admin, &f.dpo] {
        f.call(Method::GET, &consents, who, None)
            .await
            .assert_error(404);
    }
    let users = f
        .call(Method::GET, &f.org_path("/users"), &f.admin, None)
        .await;
    assert!(!users.body.contains(&pending_id), "{}", users.body);
    let me = f.call(Method::GET, "/v1/user", &pending, None).await;
    assert_eq!(me.json["User"]["Orgs"], json!([]), "{}", me.body);
    // The person alone turns the offer into a subscription.
    assert_eq!(crate::helpers::accept_offers(&f.app, &pending).await, 1);
    let r = f.call(Method::GET, &consents, &f.admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Provisioned by the other organisation (homed there): its Admin subscribes them at
    // once; this organisation's Admin may only ask.
    let (homed, homed_id) = user(&f.app, "homed").await;
    db.execute(
        "UPDATE users SET home_organization_id = $1 WHERE id = $2",
        &[&f.other_org, &homed_id],
    )
    .await;
    f.call(
        Method::POST,
        &format!("/v1/organizations/{}/subscription/enable", f.other_org),
        &f.outsider,
        None,
    )
    .await;
    let r = f
        .call(
            Method::POST,
            &format!("/v1/organizations/{}/users", f.other_org),
            &f.outsider,
            Some(json!({ "userid": homed_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &f.admin,
            Some(json!({ "userid": homed_id })),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let me = f.call(Method::GET, "/v1/user", &homed, None).await;
    let orgs: Vec<&str> = me.json["User"]["Orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["OrgID"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, vec![f.other_org.as_str()], "{}", me.body);
}
both_backends!(pending_and_provisioned_people);
