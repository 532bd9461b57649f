//! Organisations, their settings, role holders, subscribed users, purposes and templates.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{accept_offers, user, Fixture, Reply, TestApp, TestDb};

/// The spec's Organization object, every field, as its Admin reads it.
async fn an_organisation_reads_with_every_field_of_the_spec(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f.call(Method::GET, &f.org_path(""), &f.admin, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let org = &r.json["Organization"];
    for key in [
        "ID",
        "Name",
        "CoverImageID",
        "CoverImageURL",
        "LogoImageID",
        "LogoImageURL",
        "Location",
        "Type",
        "Description",
        "Enabled",
        "PolicyURL",
        "EulaURL",
        "Templates",
        "Purposes",
        "Admins",
        "BillingInfo",
        "Subs",
        "HlcSupport",
        "PrivacyDashboard",
        "DataRetention",
    ] {
        assert!(org.get(key).is_some(), "Organization lacks {key}: {org}");
    }
    assert_eq!(org["Name"], "DMart");
    assert_eq!(org["Type"]["ID"], f.type_id.as_str());
    assert_eq!(org["Type"]["Type"], "Retail");
    assert_eq!(
        org["Enabled"], false,
        "closed to subscriptions until enabled"
    );
    assert_eq!(org["Subs"], json!({"Method": 0, "Key": ""}));
    assert_eq!(org["BillingInfo"]["PayPerUserInfo"]["UserCommitment"], 0);
    assert_eq!(
        org["DataRetention"],
        json!({"RetentionPeriod": 0, "Enabled": false})
    );
    let admins = org["Admins"].as_array().unwrap();
    assert!(
        admins.contains(&json!({"UserID": f.admin_id, "RoleID": 1})),
        "{admins:?}"
    );
    assert_eq!(admins.len(), 3);
}
both_backends!(an_organisation_reads_with_every_field_of_the_spec);

async fn its_creator_holds_the_admin_role_and_others_read_only_the_profile(db: TestDb) {
    let f = Fixture::new(&db).await;
    // The creator's User object lists the role.
    let me = f.call(Method::GET, "/v1/user", &f.admin, None).await;
    assert!(me.json["User"]["Roles"]
        .as_array()
        .unwrap()
        .contains(&json!({"RoleID": 1, "OrgID": f.org})));

    // Any signed-in user reads the profile, but neither role holders nor key.
    let r = f
        .call(Method::GET, &f.org_path(""), &f.individual, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["Organization"]["Admins"], json!([]));
    f.app.get(&f.org_path(""), None).await.assert_error(401);
    f.call(Method::GET, "/v1/organizations/not-an-id", &f.admin, None)
        .await
        .assert_error(404);
    f.call(
        Method::GET,
        &format!("/v1/organizations/{}", uuid::Uuid::now_v7()),
        &f.admin,
        None,
    )
    .await
    .assert_error(404);
}
both_backends!(its_creator_holds_the_admin_role_and_others_read_only_the_profile);

async fn bad_organisations_are_not_created(db: TestDb) {
    let f = Fixture::new(&db).await;
    let body = json!({"name": "X", "location": "Y", "typeid": uuid::Uuid::now_v7().to_string()});
    f.call(Method::POST, "/v1/organizations", &f.individual, Some(body))
        .await
        .assert_error(400);
    f.call(
        Method::POST,
        "/v1/organizations",
        &f.individual,
        Some(json!({"name": "", "typeid": f.type_id})),
    )
    .await
    .assert_error(400);
    f.call(
        Method::POST,
        "/v1/organizations",
        &f.individual,
        Some(json!({"location": "x"})),
    )
    .await
    .assert_error(400);
}
both_backends!(bad_organisations_are_not_created);

/// PATCH: 202, absent fields unchanged; safe URLs only; the Dpo may not.
async fn an_organisation_is_patched_by_its_admin_only(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f
        .call(
            Method::PATCH,
            &f.org_path(""),
            &f.admin,
            Some(json!({"description": "Fresh food", "policyurl": "https://dmart.example/policy"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let org = &f
        .call(Method::GET, &f.org_path(""), &f.admin, None)
        .await
        .json["Organization"];
    assert_eq!(
        (org["Name"].as_str(), org["Description"].as_str()),
        (Some("DMart"), Some("Fresh food"))
    );
    assert_eq!(org["PolicyURL"], "https://dmart.example/policy");
    f.call(
        Method::PATCH,
        &f.org_path(""),
        &f.admin,
        Some(json!({"policyurl": "javascript:alert(1)"})),
    )
    .await
    .assert_error(400);
    f.call(
        Method::PATCH,
        &f.org_path(""),
        &f.dpo,
        Some(json!({"name": "Mine"})),
    )
    .await
    .assert_error(403);
}
both_backends!(an_organisation_is_patched_by_its_admin_only);

async fn an_organisation_sets_and_clears_its_eula_url(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/eulaURL"),
            &f.admin,
            Some(json!({"eulaurl": "https://dmart.example/eula"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        r.json["Organization"]["EulaURL"],
        "https://dmart.example/eula"
    );
    f.call(
        Method::POST,
        &f.org_path("/eulaURL"),
        &f.admin,
        Some(json!({"eulaurl": "ftp://x/eula"})),
    )
    .await
    .assert_error(400);
    f.call(
        Method::POST,
        &f.org_path("/eulaURL"),
        &f.admin,
        Some(json!({"eulaurl": "not a url"})),
    )
    .await
    .assert_error(400);
    let r = f
        .call(Method::DELETE, &f.org_path("/eulaURL"), &f.admin, None)
        .await;
    assert_eq!(
        (r.status, r.json["Organization"]["EulaURL"].as_str()),
        (StatusCode::ACCEPTED, Some(""))
    );
}
both_backends!(an_organisation_sets_and_clears_its_eula_url);

async fn reference_data_and_organisation_types(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f.app.get("/v1/organizations/roles", None).await;
    assert_eq!(
        r.json,
        json!([{"ID": 1, "Role": "Admin"}, {"ID": 2, "Role": "Dpo"}, {"ID": 3, "Role": "Developer"}])
    );
    let r = f.app.get("/v1/organizations/subscribe-methods", None).await;
    assert_eq!(
        r.json,
        json!({"Methods": [{"ID": 0, "Method": "Undefined"}, {"ID": 1, "Method": "Key-Based"}, {"ID": 2, "Method": "OpenID-Connect"}]})
    );

    let r = f
        .app
        .get(&format!("/v1/organizations/types/{}", f.type_id), None)
        .await;
    assert_eq!(
        r.json,
        json!({"ID": f.type_id, "Type": "Retail", "ImageID": "", "ImageURL": ""})
    );
    let r = f.app.get("/v1/organizations/types", None).await;
    assert_eq!(r.json["OrganizationTypes"].as_array().unwrap().len(), 1);
    // Only platform admins write types.
    f.call(
        Method::POST,
        "/v1/organizations/types",
        &f.admin,
        Some(json!({"Type": "Bank"})),
    )
    .await
    .assert_error(403);
    f.app
        .post("/v1/organizations/types", json!({"Type": "Bank"}))
        .await
        .assert_error(401);
    f.call(
        Method::POST,
        "/v1/organizations/types",
        &f.platform,
        Some(json!({"Type": ""})),
    )
    .await
    .assert_error(400);
    let path = format!("/v1/organizations/types/{}", f.type_id);
    let r = f
        .call(
            Method::PATCH,
            &path,
            &f.platform,
            Some(json!({"type": "Retail and grocery"})),
        )
        .await;
    assert_eq!(r.json["Type"], "Retail and grocery");
    f.call(Method::PATCH, &path, &f.admin, Some(json!({"type": "x"})))
        .await
        .assert_error(403);
    // A type in use stays; an unused one goes.
    f.call(Method::DELETE, &path, &f.platform, None)
        .await
        .assert_error(409);
    let r = f
        .call(
            Method::POST,
            "/v1/organizations/types",
            &f.platform,
            Some(json!({"Type": "Unused"})),
        )
        .await;
    let unused = format!("/v1/organizations/types/{}", r.json["ID"].as_str().unwrap());
    f.call(Method::DELETE, &unused, &f.admin, None)
        .await
        .assert_error(403);
    assert_eq!(
        f.call(Method::DELETE, &unused, &f.platform, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    f.app.get(&unused, None).await.assert_error(404);
}
both_backends!(reference_data_and_organisation_types);

async fn subscription_settings(db: TestDb) {
    let f = Fixture::new(&db).await;
    let key_path = f.org_path("/subscribe-key");
    // Key-based: a key of the documented shape, readable by Admin and Developer only.
    let key = f.open_with_key().await;
    assert!(is_subscribe_key(&key), "{key}");
    let r = f.call(Method::GET, &key_path, &f.developer, None).await;
    assert_eq!(
        r.json,
        json!({"SubscribeKey": key, "SubscribeMethod": "Key-Based"})
    );
    f.call(Method::GET, &key_path, &f.dpo, None)
        .await
        .assert_error(403);
    f.call(Method::GET, &key_path, &f.individual, None)
        .await
        .assert_error(403);
    f.call(Method::GET, &key_path, &f.outsider, None)
        .await
        .assert_error(403);
    let org = f.call(Method::GET, &f.org_path(""), &f.admin, None).await;
    assert_eq!(
        org.json["Organization"]["Subs"],
        json!({"Method": 1, "Key": key})
    );
    let org = f.call(Method::GET, &f.org_path(""), &f.dpo, None).await;
    assert_eq!(
        org.json["Organization"]["Subs"],
        json!({"Method": 1, "Key": ""}),
        "the Dpo sees no key"
    );

    let r = f
        .call(
            Method::POST,
            &f.org_path("/subscribe-key/renew"),
            &f.admin,
            None,
        )
        .await;
    let renewed = r.json["SubscribeKey"].as_str().unwrap().to_owned();
    assert!(is_subscribe_key(&renewed) && renewed != key);
    f.call(
        Method::POST,
        &f.org_path("/subscribe-key/renew"),
        &f.developer,
        None,
    )
    .await
    .assert_error(403);

    let r = f
        .call(Method::GET, &f.org_path("/subscribe-method"), &f.dpo, None)
        .await;
    assert_eq!(r.json, json!({"ID": 1, "Method": "Key-Based"}));
    f.call(
        Method::GET,
        &f.org_path("/subscribe-method"),
        &f.individual,
        None,
    )
    .await
    .assert_error(403);
    // Another method clears the key; renewing is then refused.
    let r = f
        .call(
            Method::POST,
            &f.org_path("/subscribe-method"),
            &f.admin,
            Some(json!({"subscribemethodid": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        f.call(Method::GET, &key_path, &f.admin, None).await.json["SubscribeKey"],
        ""
    );
    f.call(
        Method::POST,
        &f.org_path("/subscribe-key/renew"),
        &f.admin,
        None,
    )
    .await
    .assert_error(400);
    f.call(
        Method::POST,
        &f.org_path("/subscribe-method"),
        &f.admin,
        Some(json!({"subscribemethodid": 7})),
    )
    .await
    .assert_error(400);
    f.call(
        Method::POST,
        &f.org_path("/subscribe-method"),
        &f.admin,
        Some(json!({"subscribemethodid": "one"})),
    )
    .await
    .assert_error(400);

    // Subscription status: the Admin or a platform admin opens and closes it.
    assert_eq!(
        f.call(
            Method::GET,
            &f.org_path("/subscription"),
            &f.developer,
            None
        )
        .await
        .json,
        json!({"Enabled": true})
    );
    let r = f
        .call(
            Method::POST,
            &f.org_path("/subscription/disable"),
            &f.platform,
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json["Organization"]["Enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    f.call(
        Method::POST,
        &f.org_path("/subscription/enable"),
        &f.dpo,
        None,
    )
    .await
    .assert_error(403);
    f.call(
        Method::POST,
        &f.org_path("/subscription/enable"),
        &f.outsider,
        None,
    )
    .await
    .assert_error(403);
    assert_eq!(
        f.call(Method::GET, &f.org_path("/subscription"), &f.admin, None)
            .await
            .json,
        json!({"Enabled": false})
    );
}
both_backends!(subscription_settings);

fn is_subscribe_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('-').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            p.len() == 4
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
}

/// The Fixture's organisation opened with a subscribe key, the individual subscribed with
/// it (their answer kept), and another person, not subscribed.
struct Subscribing {
    f: Fixture,
    users: String,
    key: String,
    subscribed: Reply,
    other: String,
    other_id: String,
}

impl Subscribing {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let users = f.org_path("/users");
        let key = f.open_with_key().await;
        let subscribed = f
            .call(
                Method::POST,
                &users,
                &f.individual,
                Some(json!({"userid": f.individual_id, "subscribekey": key})),
            )
            .await;
        let (other, other_id) = user(&f.app, "other").await;
        Self {
            f,
            users,
            key,
            subscribed,
            other,
            other_id,
        }
    }

    /// The Admin asks the other person to subscribe.
    async fn offer_to_other(&self) -> Reply {
        let f = &self.f;
        f.call(
            Method::POST,
            &self.users,
            &f.admin,
            Some(json!({"userid": self.other_id})),
        )
        .await
    }

    async fn count(&self, auth: &str) -> Value {
        let f = &self.f;
        f.call(Method::GET, &f.org_path("/users/count"), auth, None)
            .await
            .json
    }
}

/// Closed organisations take no subscriptions; an open one none without its key.
async fn no_subscription_without_an_open_organisations_key(db: TestDb) {
    let f = Fixture::new(&db).await;
    let users = f.org_path("/users");
    // Closed organisations take no subscriptions.
    f.call(Method::POST, &users, &f.individual, Some(json!({})))
        .await
        .assert_error(400);
    f.open_with_key().await;
    f.call(
        Method::POST,
        &users,
        &f.individual,
        Some(json!({"subscribekey": "AAAA-BBBB-CCCC"})),
    )
    .await
    .assert_error(400);
    f.call(Method::POST, &users, &f.individual, Some(json!({})))
        .await
        .assert_error(400);
}
both_backends!(no_subscription_without_an_open_organisations_key);

/// With the key an individual subscribes themselves, once however often they ask; the
/// organisation shows in their profile.
async fn an_individual_subscribes_with_the_key_once(db: TestDb) {
    let s = Subscribing::new(&db).await;
    let (f, r) = (&s.f, &s.subscribed);
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let orgs = r.json["User"]["Orgs"].as_array().unwrap().clone();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["OrgID"], f.org.as_str());
    assert_eq!(
        (orgs[0]["Name"].as_str(), orgs[0]["Type"].as_str()),
        (Some("DMart"), Some("Retail"))
    );
    assert_eq!(orgs[0]["TypeID"], f.type_id.as_str());
    // Idempotent.
    let again = f
        .call(
            Method::POST,
            &s.users,
            &f.individual,
            Some(json!({"subscribekey": s.key})),
        )
        .await;
    assert_eq!(
        (
            again.status,
            again.json["User"]["Orgs"].as_array().unwrap().len()
        ),
        (StatusCode::OK, 1)
    );
    assert_eq!(
        f.call(Method::GET, "/v1/user", &f.individual, None)
            .await
            .json["User"]["Orgs"],
        json!(orgs)
    );
}
both_backends!(an_individual_subscribes_with_the_key_once);

/// The Admin may only ask anyone else (trust model, chain 1): the answer tells nothing
/// about the person, the same for an ID no one has; nobody else adds others.
async fn only_the_admin_asks_others_and_learns_nothing_of_them(db: TestDb) {
    let s = Subscribing::new(&db).await;
    let (f, users) = (&s.f, &s.users);
    f.call(
        Method::POST,
        users,
        &f.outsider,
        Some(json!({"userid": s.other_id, "subscribekey": s.key})),
    )
    .await
    .assert_error(403);
    let asked = s.offer_to_other().await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let nobody = f
        .call(
            Method::POST,
            users,
            &f.admin,
            Some(json!({"userid": uuid::Uuid::now_v7().to_string()})),
        )
        .await;
    assert_eq!(
        (nobody.status, &nobody.body),
        (asked.status, &asked.body),
        "the same answer whoever the ID names"
    );
    f.call(
        Method::POST,
        users,
        &f.admin,
        Some(json!({"userid": "not-an-id"})),
    )
    .await
    .assert_error(400);
}
both_backends!(only_the_admin_asks_others_and_learns_nothing_of_them);

/// Nothing is subscribed until the person asked accepts, once; they are told.
async fn a_subscription_the_admin_asks_for_is_an_offer_until_accepted(db: TestDb) {
    let s = Subscribing::new(&db).await;
    let (f, other) = (&s.f, &s.other);
    s.offer_to_other().await;
    assert_eq!(
        s.count(&f.developer).await,
        json!({"SubscribeUserCount": 1})
    );
    let notes = f
        .call(Method::GET, "/v1/user/notifications", other, None)
        .await;
    assert!(
        notes.body.contains("org.subscription_offered") && notes.body.contains("DMart"),
        "{}",
        notes.body
    );
    assert_eq!(accept_offers(&f.app, other).await, 1);
    assert_eq!(accept_offers(&f.app, other).await, 0, "accepted once");
    assert_eq!(
        s.count(&f.developer).await,
        json!({"SubscribeUserCount": 2})
    );
}
both_backends!(a_subscription_the_admin_asks_for_is_an_offer_until_accepted);

/// Unsubscribing: oneself, or by the Admin; others are told there is no such user.
async fn one_is_unsubscribed_by_oneself_or_the_admin(db: TestDb) {
    let s = Subscribing::new(&db).await;
    let (f, other_id) = (&s.f, &s.other_id);
    s.offer_to_other().await;
    accept_offers(&f.app, &s.other).await;
    let mine = f.org_path(&format!("/users/{}", f.individual_id));
    f.call(
        Method::DELETE,
        &f.org_path(&format!("/users/{other_id}")),
        &f.individual,
        None,
    )
    .await
    .assert_error(404);
    assert_eq!(
        f.call(Method::DELETE, &mine, &f.individual, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    f.call(Method::DELETE, &mine, &f.individual, None)
        .await
        .assert_error(404);
    assert_eq!(
        f.call(Method::GET, "/v1/user", &f.individual, None)
            .await
            .json["User"]["Orgs"],
        json!([])
    );
    assert_eq!(
        f.call(
            Method::DELETE,
            &f.org_path(&format!("/users/{other_id}")),
            &f.admin,
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.count(&f.admin).await, json!({"SubscribeUserCount": 0}));
}
both_backends!(one_is_unsubscribed_by_oneself_or_the_admin);

async fn role_holders_are_added_listed_and_removed(db: TestDb) {
    let f = Fixture::new(&db).await;
    let admins = f.org_path("/admins");
    let r = f.call(Method::GET, &admins, &f.developer, None).await;
    assert_eq!(r.json["Admins"].as_array().unwrap().len(), 3, "{}", r.body);
    f.call(Method::GET, &admins, &f.individual, None)
        .await
        .assert_error(403);
    f.call(
        Method::POST,
        &admins,
        &f.dpo,
        Some(json!({"userid": f.individual_id, "roleid": 1})),
    )
    .await
    .assert_error(403);
    f.call(
        Method::POST,
        &admins,
        &f.admin,
        Some(json!({"userid": f.individual_id, "roleid": 4})),
    )
    .await
    .assert_error(400);
    f.call(
        Method::POST,
        &admins,
        &f.admin,
        Some(json!({"userid": "nobody", "roleid": 2})),
    )
    .await
    .assert_error(400);

    // The last Admin cannot go; with a second Admin the first can.
    f.call(
        Method::DELETE,
        &admins,
        &f.admin,
        Some(json!({"userid": f.admin_id})),
    )
    .await
    .assert_error(400);
    let r = f
        .call(
            Method::POST,
            &admins,
            &f.admin,
            Some(json!({"userid": f.individual_id, "roleid": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "offered: {}", r.body);
    assert_eq!(accept_offers(&f.app, &f.individual).await, 1);
    // The new Admin can now log in as an organisation admin.
    let me = f.call(Method::GET, "/v1/user", &f.individual, None).await;
    assert!(me.json["User"]["Roles"]
        .as_array()
        .unwrap()
        .contains(&json!({"RoleID": 1, "OrgID": f.org})));
    let r = f
        .call(
            Method::DELETE,
            &admins,
            &f.individual,
            Some(json!({"userid": f.admin_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.json["Organization"]["Admins"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["UserID"] == f.admin_id.as_str()));
    // The former Admin is a stranger now.
    f.call(
        Method::PATCH,
        &f.org_path(""),
        &f.admin,
        Some(json!({"name": "x"})),
    )
    .await
    .assert_error(403);
    f.call(
        Method::DELETE,
        &admins,
        &f.individual,
        Some(json!({"userid": f.admin_id})),
    )
    .await
    .assert_error(400);
}
both_backends!(role_holders_are_added_listed_and_removed);

/// A new person who subscribes themselves with the key; answers their ID.
async fn join(app: &TestApp, users: &str, key: &str, tag: &str) -> String {
    let (auth, id) = user(app, tag).await;
    let r = app
        .call(
            Method::POST,
            users,
            Some(&auth),
            Some(json!({ "subscribekey": key })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    id
}

async fn subscribed_users_page_by_keyset(db: TestDb) {
    let f = Fixture::new(&db).await;
    let key = f.open_with_key().await;
    let mut expected = HashSet::new();
    for i in 0..120 {
        let id = join(&f.app, &f.org_path("/users"), &key, &format!("sub{i}")).await;
        expected.insert(id);
    }
    // A clean walk: 50, 50, 20, and Next only while more follow.
    let (sizes, seen) = walk(&f, 50, |_| async {}).await;
    assert_eq!(sizes, vec![50, 50, 20]);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected);
    // A full last page says it is the last: no Next leading to an empty page
    // (docs/igrant.md, "Paging": iGrant.io's server wrote one there).
    let (sizes, _) = walk(&f, 40, |_| async {}).await;
    assert_eq!(sizes, vec![40, 40, 40]);

    // A walk while users subscribe between page reads: no duplicates, no gaps; the
    // newcomers (newer IDs) come at the end.
    let added = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (sizes, seen) = walk(&f, 50, |_| {
        let (app, key, path, added) = (&f.app, key.clone(), f.org_path("/users"), added.clone());
        async move {
            let id = join(app, &path, &key, "late").await;
            added.lock().unwrap().push(id);
        }
    })
    .await;
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates across pages");
    assert!(
        expected.is_subset(&unique),
        "gaps: an original subscriber was skipped"
    );
    let added = added.lock().unwrap().clone();
    assert!(
        added.iter().all(|a| unique.contains(a)),
        "a newcomer subscribed mid-walk was skipped"
    );
    assert_eq!(sizes.iter().sum::<usize>(), 120 + added.len());

    // Limits.
    for bad in ["limit=0", "limit=501", "limit=x", "startid=nope"] {
        f.call(
            Method::GET,
            &f.org_path(&format!("/users?{bad}")),
            &f.admin,
            None,
        )
        .await
        .assert_error(400);
    }
    let r = f
        .call(Method::GET, &f.org_path("/users"), &f.dpo, None)
        .await;
    assert_eq!(
        r.json["Users"].as_array().unwrap().len(),
        50,
        "default limit 50"
    );
    let first = &r.json["Users"][0];
    for key in ["ID", "Name", "Phone", "Email"] {
        assert!(first.get(key).is_some(), "{first}");
    }
    f.call(Method::GET, &f.org_path("/users"), &f.developer, None)
        .await
        .assert_error(403);
    f.call(
        Method::GET,
        &format!("/v1/organizations/{}/users", f.other_org),
        &f.admin,
        None,
    )
    .await
    .assert_error(403);
}
both_backends!(subscribed_users_page_by_keyset);

/// Follows `Links.Next` from the first page; calls `between` after each page.
async fn walk<'a, F, Fut>(f: &'a Fixture, limit: usize, between: F) -> (Vec<usize>, Vec<String>)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + 'a,
{
    let mut url = f.app.url(&f.org_path(&format!("/users?limit={limit}")));
    let (mut sizes, mut seen) = (vec![], vec![]);
    for page in 0.. {
        assert!(page < 20, "pagination does not end");
        let r = Reply::from(
            f.app
                .client
                .get(&url)
                .header("authorization", &f.dpo)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let users = r.json["Users"].as_array().unwrap();
        sizes.push(users.len());
        seen.extend(users.iter().map(|u| u["ID"].as_str().unwrap().to_owned()));
        assert_eq!(r.json["Links"]["Self"], r.json["Links"]["self"]);
        assert!(
            r.json["Links"]["Self"]
                .as_str()
                .unwrap()
                .starts_with(&f.app.base),
            "absolute links"
        );
        match r.json["Links"].get("Next").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(r.json["Links"]["next"], next);
                url = next.to_owned();
            }
            None => break,
        }
        between(page).await;
    }
    (sizes, seen)
}

async fn anonymous_users_sign_in_with_their_api_key(db: TestDb) {
    let f = Fixture::new(&db).await;
    f.call(
        Method::POST,
        &f.org_path("/users/anonymous"),
        &f.developer,
        None,
    )
    .await
    .assert_error(403);
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users/anonymous"),
            &f.admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json["Email"], "");
    assert_eq!(r.json["Orgs"][0]["OrgID"], f.org.as_str());
    let key = r.json["APIKey"].as_str().unwrap();
    assert!(!key.is_empty());
    let me = f.app.get("/v1/user", Some(&format!("ApiKey {key}"))).await;
    assert_eq!(
        (me.status, me.json["User"]["ID"].clone()),
        (StatusCode::OK, r.json["ID"].clone())
    );
    assert_eq!(
        f.call(Method::GET, &f.org_path("/users/count"), &f.admin, None)
            .await
            .json["SubscribeUserCount"],
        1
    );
    // It has no password to log in with, and cannot hold a role.
    let id = r.json["ID"].as_str().unwrap();
    f.call(
        Method::POST,
        &f.org_path("/admins"),
        &f.admin,
        Some(json!({"userid": id, "roleid": 3})),
    )
    .await
    .assert_error(400);
}
both_backends!(anonymous_users_sign_in_with_their_api_key);

/// DMart's three purposes (Marketing by consent, Payroll by contract, an old client's
/// lawful usage) and two data attributes: Age (Marketing, Payroll) and Email (Marketing).
struct Layout {
    f: Fixture,
    marketing: String,
    payroll: String,
    age: String,
}

impl Layout {
    async fn new(db: &TestDb) -> (Self, Vec<Value>) {
        let f = Fixture::new(db).await;
        let body = json!({"Purposes": [
            {"Name": "Marketing", "Description": "Offers", "LawfulBasisOfProcessing": 0, "PolicyURL": "https://dmart.example/p"},
            {"Name": "Payroll", "LawfulBasisOfProcessing": 2, "Jurisdiction": "SE", "Shared3PP": true},
            {"Name": "Old client", "LawfulUsage": true}
        ]});
        let r = f
            .call(Method::POST, &f.org_path("/purposes"), &f.admin, Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let created = r.json["Purposes"].as_array().unwrap().clone();
        let marketing = created[0]["ID"].as_str().unwrap().to_owned();
        let payroll = created[1]["ID"].as_str().unwrap().to_owned();
        let templates = json!({"Templates": [
            {"Consent": "Age", "PurposeIDs": [marketing, payroll]},
            {"Consent": "Email", "PurposeIDs": [marketing]}
        ]});
        let r = f
            .call(
                Method::POST,
                &f.org_path("/templates"),
                &f.admin,
                Some(templates),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            r.json["Templates"][0]["PurposeIDs"],
            json!([marketing, payroll])
        );
        let age = r.json["Templates"][0]["ID"].as_str().unwrap().to_owned();
        (
            Self {
                f,
                marketing,
                payroll,
                age,
            },
            created,
        )
    }

    async fn call(&self, method: Method, rest: &str, auth: &str, body: Option<Value>) -> Reply {
        self.f
            .call(method, &self.f.org_path(rest), auth, body)
            .await
    }
}

async fn purposes_carry_their_lawful_basis(db: TestDb) {
    let (_, created) = Layout::new(&db).await;
    assert_eq!(created.len(), 3);
    assert_eq!(
        (
            created[0]["LawfulUsage"].as_bool(),
            created[0]["LawfulBasisOfProcessing"].as_i64()
        ),
        (Some(false), Some(0))
    );
    assert_eq!(
        (
            created[1]["LawfulUsage"].as_bool(),
            created[1]["Shared3PP"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(created[2]["LawfulBasisOfProcessing"], 5);
}
both_backends!(purposes_carry_their_lawful_basis);

async fn bad_purposes_and_templates_are_refused(db: TestDb) {
    let (l, _) = Layout::new(&db).await;
    let admin = l.f.admin.clone();
    for bad in [
        json!({"Purposes": [{"Name": "x", "LawfulBasisOfProcessing": 6}]}),
        json!({"Purposes": []}),
        json!({"Purposes": [{"Description": "no name"}]}),
        json!({"Purposes": [{"Name": "x", "PolicyURL": "file:///etc/passwd"}]}),
    ] {
        l.call(Method::POST, "/purposes", &admin, Some(bad))
            .await
            .assert_error(400);
    }
    let dpo_writes = json!({"Purposes": [{"Name": "x"}]});
    l.call(Method::POST, "/purposes", &l.f.dpo, Some(dpo_writes))
        .await
        .assert_error(403);
    let unknown =
        json!({"Templates": [{"Consent": "X", "PurposeIDs": [uuid::Uuid::now_v7().to_string()]}]});
    l.call(Method::POST, "/templates", &admin, Some(unknown))
        .await
        .assert_error(400);
    let foreign = json!({"Templates": [{"Consent": "X", "PurposeIDs": ["not-an-id"]}]});
    l.call(Method::POST, "/templates", &admin, Some(foreign))
        .await
        .assert_error(400);
    let developer_writes = json!({"Templates": [{"Consent": "X"}]});
    l.call(
        Method::POST,
        "/templates",
        &l.f.developer,
        Some(developer_writes),
    )
    .await
    .assert_error(403);
}
both_backends!(bad_purposes_and_templates_are_refused);

/// Everyone signed in reads them; another organisation's purpose is not found here.
async fn purposes_and_templates_are_read_by_everyone_signed_in(db: TestDb) {
    let (l, _) = Layout::new(&db).await;
    let r = l
        .call(Method::GET, "/purposes", &l.f.individual, None)
        .await;
    assert_eq!(r.json["Purposes"].as_array().unwrap().len(), 3);
    let one = l
        .call(
            Method::GET,
            &format!("/purposes/{}", l.marketing),
            &l.f.individual,
            None,
        )
        .await;
    assert_eq!(one.json["Purpose"]["Name"], "Marketing");
    let nobody = format!("/purposes/{}", uuid::Uuid::now_v7());
    l.call(Method::GET, &nobody, &l.f.admin, None)
        .await
        .assert_error(404);
    let elsewhere = format!(
        "/v1/organizations/{}/purposes/{}",
        l.f.other_org, l.marketing
    );
    l.f.call(Method::GET, &elsewhere, &l.f.outsider, None)
        .await
        .assert_error(404);
    let templates = l
        .call(Method::GET, "/templates", &l.f.individual, None)
        .await;
    assert_eq!(templates.json["Templates"].as_array().unwrap().len(), 2);
    // The organisation object carries both.
    let org = l.call(Method::GET, "", &l.f.individual, None).await.json["Organization"].clone();
    assert_eq!(org["Purposes"].as_array().unwrap().len(), 3);
    assert_eq!(org["Templates"].as_array().unwrap().len(), 2);
}
both_backends!(purposes_and_templates_are_read_by_everyone_signed_in);

async fn purposes_and_templates_are_replaced(db: TestDb) {
    let (l, _) = Layout::new(&db).await;
    let renamed = json!({"Name": "Marketing and campaign", "LawfulBasisOfProcessing": 5});
    let path = format!("/purposes/{}", l.marketing);
    let r = l.call(Method::PUT, &path, &l.f.admin, Some(renamed)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.json["Purpose"]["Name"].as_str(),
            r.json["Purpose"]["LawfulUsage"].as_bool()
        ),
        (Some("Marketing and campaign"), Some(true))
    );
    let range = json!({"Consent": "Age range", "PurposeIDs": [l.payroll]});
    let r = l
        .call(
            Method::PUT,
            &format!("/templates/{}", l.age),
            &l.f.admin,
            Some(range),
        )
        .await;
    assert_eq!(
        r.json["Template"],
        json!({"ID": l.age, "Consent": "Age range", "PurposeIDs": [l.payroll]})
    );
}
both_backends!(purposes_and_templates_are_replaced);

/// Deleting a purpose hides it (it is kept for the consent history) and drops it from
/// templates; a deleted template is gone.
async fn deleting_a_purpose_hides_it_and_frees_its_templates(db: TestDb) {
    let (l, _) = Layout::new(&db).await;
    let admin = l.f.admin.clone();
    let payroll = format!("/purposes/{}", l.payroll);
    let r = l.call(Method::DELETE, &payroll, &admin, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    l.call(Method::GET, &payroll, &admin, None)
        .await
        .assert_error(404);
    l.call(Method::DELETE, &payroll, &admin, None)
        .await
        .assert_error(404);
    let age = format!("/templates/{}", l.age);
    let r = l.call(Method::GET, &age, &admin, None).await;
    assert_eq!(r.json["Template"]["PurposeIDs"], json!([l.marketing]));
    let r = l.call(Method::DELETE, &age, &admin, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    l.call(Method::GET, &age, &admin, None)
        .await
        .assert_error(404);
}
both_backends!(deleting_a_purpose_hides_it_and_frees_its_templates);
