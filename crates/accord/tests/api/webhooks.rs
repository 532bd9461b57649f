//! Webhooks against a real receiver: signed envelopes, retries, once per event even with
//! two nodes, expiry events, and nothing lost to kill -9.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::make_webhook;
use crate::helpers::{email, TestApp, TestDb};
use crate::helpers::{Fixture, PW};
use crate::process::ServerProcess;
use crate::receiver::{signature_valid, Received, Receiver, Tarpit};

/// Subscribes the fixture's individual and sets one attribute; returns the consent path.
pub(crate) async fn consent_once(f: &Fixture, value: &str, days: i64) -> String {
    let r = f
        .call(
            Method::POST,
            &f.org_path("/purposes"),
            &f.admin,
            Some(json!({"Purposes": [{"Name": "Marketing"}]})),
        )
        .await;
    let purpose = r.json["Purposes"][0]["ID"].as_str().unwrap().to_owned();
    let r = f
        .call(
            Method::POST,
            &f.org_path("/templates"),
            &f.admin,
            Some(json!({"Templates": [{"Consent": "Email", "PurposeIDs": [purpose]}]})),
        )
        .await;
    let attribute = r.json["Templates"][0]["ID"].as_str().unwrap().to_owned();
    let key = f.open_with_key().await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &f.individual,
            Some(json!({"subscribekey": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let consents = f.org_path(&format!("/users/{}/consents", f.individual_id));
    let consent = f
        .call(Method::GET, &consents, &f.individual, None)
        .await
        .json["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("{consents}/{consent}/purposes/{purpose}/attributes/{attribute}");
    let r = f
        .call(
            Method::PATCH,
            &path,
            &f.individual,
            Some(json!({"consented": value, "days": days})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    path
}

/// A server with a clock the test moves, the Fixture's organisation on it, a receiver,
/// and the Admin's webhook to it for `consent.allowed` and `org.subscribed`.
struct Hooked {
    clock: accord_domain::FixedClock,
    f: Fixture,
    receiver: Receiver,
    hook: String,
    secret: String,
}

impl Hooked {
    async fn new(db: &TestDb) -> Self {
        let clock = accord_domain::FixedClock::new(Utc::now());
        let f = Fixture::with_clock(db, clock.clone()).await;
        let receiver = Receiver::start().await;
        let (hook, secret) =
            make_webhook(&f, &receiver.url, &["consent.allowed", "org.subscribed"]).await;
        Self {
            clock,
            f,
            receiver,
            hook,
            secret,
        }
    }

    /// The receiver fails the first consent delivery, the clock passes the backoff: the
    /// first attempt, and both once the retry arrived.
    async fn consent_delivered_on_retry(&self) -> (Vec<Received>, Vec<Received>) {
        self.receiver.answer_to("consent.allowed", &[500]);
        consent_once(&self.f, "Allow", 0).await;
        let first = self.receiver.wait_for("consent.allowed", 1).await;
        self.clock.advance(Duration::seconds(3));
        let both = self.receiver.wait_for("consent.allowed", 2).await;
        (first, both)
    }

    fn path(&self, rest: &str) -> String {
        self.f.org_path(&format!("/webhooks/{}{rest}", self.hook))
    }
}

/// A failed delivery is retried after the backoff: the same envelope (the webhook, the
/// event, its data), signed with the webhook's secret, under the same delivery ID.
async fn a_failed_delivery_is_retried_the_same_and_signed(db: TestDb) {
    let h = Hooked::new(&db).await;
    let (f, receiver) = (&h.f, &h.receiver);
    let (first, both) = h.consent_delivered_on_retry().await;
    let subscribed = receiver.wait_for("org.subscribed", 1).await;
    assert_eq!(
        subscribed[0].json["data"]["userID"],
        f.individual_id.as_str()
    );
    assert_eq!(first[0].body, both[1].body, "the same envelope, again");
    let env = &both[1].json;
    assert_eq!(
        (env["webhookID"].as_str(), env["type"].as_str()),
        (Some(h.hook.as_str()), Some("consent.allowed"))
    );
    assert!(env["timestamp"].is_string());
    assert_eq!(
        (
            env["data"]["userID"].as_str(),
            env["data"]["consented"].as_str()
        ),
        (Some(f.individual_id.as_str()), Some("Allow"))
    );
    assert!(
        both.iter().all(|r| signature_valid(&h.secret, r)),
        "signed with the webhook's secret"
    );
    assert!(!signature_valid("another secret", &both[0]));
    assert_eq!(
        both[0].headers["x-accord-delivery"],
        both[1].headers["x-accord-delivery"]
    );
}
both_backends!(a_failed_delivery_is_retried_the_same_and_signed);

/// The delivery log tells the story (attempts, the last status, the payload sent), and
/// a logged delivery is sent again on request.
async fn the_delivery_log_shows_each_delivery_and_redelivers_it(db: TestDb) {
    let h = Hooked::new(&db).await;
    let f = &h.f;
    let (_, both) = h.consent_delivered_on_retry().await;
    let deliveries = f
        .call(Method::GET, &h.path("/delivery"), &f.admin, None)
        .await;
    let list = deliveries.json["Deliveries"].as_array().unwrap().clone();
    let consent_delivery = list
        .iter()
        .find(|d| d["EventType"] == "consent.allowed")
        .unwrap();
    assert_eq!(
        (
            consent_delivery["Status"].as_str(),
            consent_delivery["Attempts"].as_i64(),
            consent_delivery["LastStatusCode"].as_i64()
        ),
        (Some("delivered"), Some(2), Some(200))
    );
    let id = consent_delivery["ID"].as_str().unwrap();
    let one = f
        .call(
            Method::GET,
            &h.path(&format!("/delivery/{id}")),
            &f.admin,
            None,
        )
        .await;
    assert_eq!(one.json["Delivery"]["Payload"], both[1].body.as_str());
    // Redelivery sends it again.
    let r = f
        .call(
            Method::POST,
            &h.path(&format!("/delivery/{id}/redeliver")),
            &f.admin,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    h.receiver.wait_for("consent.allowed", 3).await;
}
both_backends!(the_delivery_log_shows_each_delivery_and_redelivers_it);

/// Ping: at once, with the outcome.
async fn a_ping_is_delivered_at_once_with_its_outcome(db: TestDb) {
    let h = Hooked::new(&db).await;
    let f = &h.f;
    let r = f.call(Method::POST, &h.path("/ping"), &f.admin, None).await;
    assert_eq!(r.json["Delivery"]["Status"], "delivered", "{}", r.body);
    assert_eq!(h.receiver.of_type("ping").len(), 1);
}
both_backends!(a_ping_is_delivered_at_once_with_its_outcome);

/// The list does not show the secret again; anyone signed in reads the event types.
async fn webhooks_list_without_the_secret_and_event_types_are_public(db: TestDb) {
    let h = Hooked::new(&db).await;
    let f = &h.f;
    let list = f
        .call(Method::GET, &f.org_path("/webhooks"), &f.admin, None)
        .await
        .json;
    assert_eq!(list["Webhooks"][0]["SecretKey"], "");
    assert_eq!(
        list["Webhooks"][0]["SubscribedEvents"],
        json!(["consent.allowed", "org.subscribed"])
    );
    let types = f
        .call(
            Method::GET,
            "/v1/organizations/webhooks/event-types",
            &f.individual,
            None,
        )
        .await
        .json;
    assert_eq!(types["EventTypes"].as_array().unwrap().len(), 16);
    assert!(types["EventTypes"]
        .as_array()
        .unwrap()
        .contains(&json!("consent.reconsent_required")));
}
both_backends!(webhooks_list_without_the_secret_and_event_types_are_public);

/// Validation (the scheme, the event types, the content type), and who may: not the Dpo
/// nor the Developer; another organisation's Admin does not see the webhook.
async fn bad_webhooks_are_refused_and_only_the_admin_manages_them(db: TestDb) {
    let h = Hooked::new(&db).await;
    let (f, receiver, hook) = (&h.f, &h.receiver, &h.hook);
    for bad in [
        json!({"PayloadURL": "ftp://x/y", "SubscribedEvents": ["consent.allowed"]}),
        json!({"PayloadURL": receiver.url, "SubscribedEvents": ["consent.auto_expiry"]}),
        json!({"PayloadURL": receiver.url, "SubscribedEvents": []}),
        json!({"PayloadURL": receiver.url, "SubscribedEvents": ["org.subscribed"], "ContentType": "text/xml"}),
    ] {
        f.call(Method::POST, &f.org_path("/webhooks"), &f.admin, Some(bad))
            .await
            .assert_error(400);
    }
    f.call(Method::GET, &f.org_path("/webhooks"), &f.dpo, None)
        .await
        .assert_error(403);
    f.call(
        Method::POST,
        &f.org_path("/webhooks"),
        &f.developer,
        Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["org.subscribed"]})),
    )
    .await
    .assert_error(403);
    f.call(
        Method::GET,
        &format!("/v1/organizations/{}/webhooks/{hook}", f.other_org),
        &f.outsider,
        None,
    )
    .await
    .assert_error(404);
}
both_backends!(bad_webhooks_are_refused_and_only_the_admin_manages_them);

/// A webhook is replaced (disabled here; the secret still not shown) and deleted.
async fn a_webhook_is_replaced_and_deleted(db: TestDb) {
    let h = Hooked::new(&db).await;
    let (f, receiver) = (&h.f, &h.receiver);
    let r = f.call(Method::PUT, &h.path(""), &f.admin, Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["org.unsubscribed"], "Disabled": true}))).await;
    assert_eq!(
        (r.json["Disabled"].as_bool(), r.json["SecretKey"].as_str()),
        (Some(true), Some("")),
        "{}",
        r.body
    );
    assert_eq!(
        f.call(Method::DELETE, &h.path(""), &f.admin, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    f.call(Method::GET, &h.path(""), &f.admin, None)
        .await
        .assert_error(404);
}
both_backends!(a_webhook_is_replaced_and_deleted);

async fn private_destinations_are_refused_by_default(db: TestDb) {
    // The node that sets up (and may deliver to loopback) never finds the guarded node's
    // refused deliveries due: its clock stands still at the start, before any retry time
    // the guarded node sets, so they stay pending for the guarded node alone instead of
    // reaching the receiver through this one (woken by each webhook it makes, it looks
    // at the outbox and the due deliveries whatever its interval).
    let f = Fixture::on(
        TestApp::spawn_full_with(
            &db,
            |c| c.worker_interval = std::time::Duration::from_secs(3600),
            std::sync::Arc::new(accord_domain::FixedClock::new(chrono::Utc::now())),
        )
        .await,
        &db,
    )
    .await;
    let receiver = Receiver::start().await;
    let (hook, _) = make_webhook(&f, &receiver.url, &["org.subscribed"]).await;
    let guarded = TestApp::spawn_with(&db, |c| {
        c.webhook_allow_private = false;
        *c = c.clone().with_public_url(&f.app.base);
    })
    .await;
    let r = guarded
        .call(
            Method::POST,
            &f.org_path(&format!("/webhooks/{hook}/ping")),
            Some(&f.admin),
            None,
        )
        .await;
    assert_eq!(r.json["Delivery"]["Status"], "pending", "{}", r.body);
    assert!(
        r.json["Delivery"]["LastError"]
            .as_str()
            .unwrap()
            .contains("private address"),
        "{}",
        r.body
    );
    // IPv4 carried in IPv6 (compatible, mapped in its other notation, NAT64) and the
    // deprecated site-local block are refused alike, before any connection.
    let port: String = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    for host in [
        "[::127.0.0.1]",
        "[::ffff:0:7f00:1]",
        "[64:ff9b::7f00:1]",
        "[fec0::1]",
    ] {
        let (hook, _) =
            make_webhook(&f, &format!("http://{host}:{port}/"), &["org.subscribed"]).await;
        let r = guarded
            .call(
                Method::POST,
                &f.org_path(&format!("/webhooks/{hook}/ping")),
                Some(&f.admin),
                None,
            )
            .await;
        let error = r.json["Delivery"]["LastError"].as_str().unwrap_or_default();
        assert!(error.contains("private address"), "{host}: {}", r.body);
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}
both_backends!(private_destinations_are_refused_by_default);

async fn two_nodes_deliver_each_event_once(db: TestDb) {
    let f = Fixture::new(&db).await;
    let second = TestApp::spawn_peer(&db, &f.app).await;
    let receiver = Receiver::start().await;
    make_webhook(&f, &receiver.url, &["org.subscribed", "org.unsubscribed"]).await;
    let key = f.open_with_key().await;
    // Twenty people subscribe, alternately through either node; both nodes' workers run.
    for i in 0..20 {
        let who = email(&format!("n{i}"));
        let node = if i % 2 == 0 { &f.app } else { &second };
        node.register(&who, PW).await;
        let auth = crate::helpers::bearer(&node.login(&who, PW).await);
        let r = node
            .call(
                Method::POST,
                &f.org_path("/users"),
                Some(&auth),
                Some(json!({"subscribekey": key})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    receiver.wait_for("org.subscribed", 20).await;
    // Give any duplicate time to show, then count by delivery ID and by user.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.of_type("org.subscribed");
    let deliveries: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.headers["x-accord-delivery"].to_str().unwrap().to_owned())
        .collect();
    let users: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.json["data"]["userID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        (got.len(), deliveries.len(), users.len()),
        (20, 20, 20),
        "each event delivered exactly once"
    );
}
both_backends!(two_nodes_deliver_each_event_once);

async fn expiry_fires_consent_expired_once(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let f = Fixture::with_clock(&db, clock.clone()).await;
    let receiver = Receiver::start().await;
    make_webhook(&f, &receiver.url, &["consent.expired"]).await;
    let path = consent_once(&f, "Allow", 1).await;
    let key = f
        .call(Method::POST, "/v1/user/apikey", &f.individual, None)
        .await
        .json["APIKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let individual = format!("ApiKey {key}");
    // Sessions end as days pass; the Admin's APIKey does not.
    let key = f
        .call(Method::POST, "/v1/user/apikey", &f.admin, None)
        .await
        .json["APIKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = format!("ApiKey {key}");
    clock.advance(Duration::days(1) + Duration::minutes(1));
    let got = receiver.wait_for("consent.expired", 1).await;
    assert_eq!(
        (
            got[0].json["data"]["consented"].as_str(),
            got[0].json["data"]["changedBy"].as_str()
        ),
        (Some("Disallow"), Some("system"))
    );
    // Later sweeps do not fire it again.
    clock.advance(Duration::days(3));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(receiver.of_type("consent.expired").len(), 1);
    // The expiry is in the ledger, which still verifies.
    let history = f
        .call(Method::GET, &f.org_path("/consenthistory"), &admin, None)
        .await
        .json;
    let newest = &history["ConsentHistory"][0];
    assert_eq!(
        (
            newest["ChangedBy"].as_str(),
            newest["OldValue"].as_str(),
            newest["NewValue"].as_str()
        ),
        (Some("system"), Some("Allow"), Some("Disallow"))
    );
    let verify = f
        .call(
            Method::GET,
            &f.org_path("/consenthistory/verify"),
            &admin,
            None,
        )
        .await
        .json;
    assert_eq!(
        (verify["Intact"].as_bool(), verify["Entries"].as_i64()),
        (Some(true), Some(2))
    );

    // Consenting again, for a day: that consent expires (and is announced) in its turn.
    let r = f
        .call(
            Method::PATCH,
            &path,
            &individual,
            Some(json!({"consented": "Allow", "days": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    clock.advance(Duration::days(1) + Duration::minutes(1));
    receiver.wait_for("consent.expired", 2).await;
    let verify = f
        .call(
            Method::GET,
            &f.org_path("/consenthistory/verify"),
            &admin,
            None,
        )
        .await
        .json;
    assert_eq!(
        (verify["Intact"].as_bool(), verify["Entries"].as_i64()),
        (Some(true), Some(4))
    );
}
both_backends!(expiry_fires_consent_expired_once);

/// A change acknowledged while the receiver is down survives kill -9 of the server and is
/// delivered by the next one.
async fn no_event_is_lost_to_kill_9(db: TestDb) {
    let receiver = Receiver::start().await;
    receiver.answer(&[503; 3]);
    let dir = std::env::temp_dir().join(format!("accord-hook-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = ServerProcess::start(&db.url, dir.join("a.log"), &[]);
    let remote = TestApp::remote(&server.base);
    let (admin_auth, _) = crate::helpers::user(&remote, "admin").await;
    let platform = db_platform_admin(&db, &remote).await;
    let r = remote
        .call(
            Method::POST,
            "/v1/organizations/types",
            Some(&platform),
            Some(json!({"Type": "T"})),
        )
        .await;
    let type_id = r.json["ID"].as_str().unwrap().to_owned();
    let r = remote
        .call(
            Method::POST,
            "/v1/organizations",
            Some(&admin_auth),
            Some(json!({"name": "O", "typeid": type_id})),
        )
        .await;
    let org = r.json["ID"].as_str().unwrap().to_owned();
    let r = remote
        .call(
            Method::POST,
            &format!("/v1/organizations/{org}/webhooks"),
            Some(&admin_auth),
            Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["org.subscribed"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    remote
        .call(
            Method::POST,
            &format!("/v1/organizations/{org}/subscription/enable"),
            Some(&admin_auth),
            None,
        )
        .await;
    let (user_auth, user_id) = crate::helpers::user(&remote, "subscriber").await;
    let r = remote
        .call(
            Method::POST,
            &format!("/v1/organizations/{org}/users"),
            Some(&user_auth),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Acknowledged; the receiver is failing; the server dies.
    server.kill9();
    receiver.answer(&[]);
    let _server = ServerProcess::start(&db.url, dir.join("b.log"), &[]);
    let got = receiver.wait_for("org.subscribed", 1).await;
    assert!(got
        .iter()
        .all(|r| r.json["data"]["userID"] == user_id.as_str()));
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(no_event_is_lost_to_kill_9);

/// Registers a user, makes them platform admin in the database, logs in.
async fn db_platform_admin(db: &TestDb, app: &TestApp) -> String {
    let who = email("root");
    let id = app.register(&who, PW).await;
    db.execute(
        "UPDATE users SET is_platform_admin = TRUE WHERE id = $1",
        &[&id],
    )
    .await;
    crate::helpers::bearer(&app.login(&who, PW).await)
}

/// Someone subscribes to `org` (opened to key-based subscription by its Admin `admin`).
async fn subscribe_someone(app: &TestApp, org: &str, admin: &str, who: &str) {
    for (path, body) in [
        ("/subscribe-method", Some(json!({"subscribemethodid": 1}))),
        ("/subscription/enable", None),
    ] {
        let url = format!("/v1/organizations/{org}{path}");
        let r = app.call(Method::POST, &url, Some(admin), body).await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let key = app
        .call(
            Method::GET,
            &format!("/v1/organizations/{org}/subscribe-key"),
            Some(admin),
            None,
        )
        .await
        .json["SubscribeKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let who = email(who);
    app.register(&who, PW).await;
    let auth = crate::helpers::bearer(&app.login(&who, PW).await);
    let r = app
        .call(
            Method::POST,
            &format!("/v1/organizations/{org}/users"),
            Some(&auth),
            Some(json!({"subscribekey": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// One organisation's twenty webhooks pointing at a receiver that never answers, with
/// events waiting for each, delay no other organisation's deliveries: a healthy
/// organisation's event arrives within 2 s, on one node and then on two, exactly once.
async fn a_tarpit_organisation_delays_no_other(db: TestDb) {
    let f = Fixture::new(&db).await;
    let tarpit = Tarpit::start().await;
    for _ in 0..20 {
        make_webhook(&f, &tarpit.url, &["org.subscribed"]).await;
    }
    for i in 0..3 {
        subscribe_someone(&f.app, &f.org, &f.admin, &format!("slow{i}")).await;
    }
    // The tarpit's deliveries are in flight (each holds a connection for 10 s).
    for _ in 0..100 {
        if tarpit.connections.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let held = tarpit.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=4).contains(&held),
        "{held} tarpit deliveries in flight; at most 4 per organisation"
    );

    // The healthy organisation (other_org, whose Admin is `outsider`).
    let receiver = Receiver::start().await;
    let r = f
        .call(
            Method::POST,
            &format!("/v1/organizations/{}/webhooks", f.other_org),
            &f.outsider,
            Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["org.subscribed"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let started = std::time::Instant::now();
    subscribe_someone(&f.app, &f.other_org, &f.outsider, "healthy1").await;
    receiver.wait_for("org.subscribed", 1).await;
    let one_node = started.elapsed();

    let second = TestApp::spawn_peer(&db, &f.app).await;
    let started = std::time::Instant::now();
    subscribe_someone(&second, &f.other_org, &f.outsider, "healthy2").await;
    receiver.wait_for("org.subscribed", 2).await;
    let two_nodes = started.elapsed();
    assert!(
        one_node < std::time::Duration::from_secs(2)
            && two_nodes < std::time::Duration::from_secs(2),
        "a healthy organisation's delivery took {one_node:?} (one node), {two_nodes:?} (two)"
    );
    // Still at most 4 of the tarpit's in flight with both nodes claiming.
    let held = tarpit.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(held <= 8, "{held} tarpit connections");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.of_type("org.subscribed");
    let ids: std::collections::HashSet<_> = got
        .iter()
        .map(|r| r.headers["x-accord-delivery"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!((got.len(), ids.len()), (2, 2), "each event delivered once");
    eprintln!("healthy delivery beside a tarpit: {one_node:?} on one node, {two_nodes:?} on two");
}
both_backends!(a_tarpit_organisation_delays_no_other);

/// An endpoint that keeps failing backs off and, after 25 failed attempts in a row, is
/// disabled: its Admin sees `Disabled` and a line in the organisation's log.
async fn an_endpoint_that_keeps_failing_is_disabled(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let f = Fixture::with_clock(&db, clock.clone()).await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 200]);
    let (hook, _) = make_webhook(&f, &receiver.url, &["org.subscribed"]).await;
    for i in 0..4 {
        subscribe_someone(&f.app, &f.org, &f.admin, &format!("fail{i}")).await;
    }
    let hook_path = f.org_path(&format!("/webhooks/{hook}"));
    let mut rounds = 0;
    loop {
        let w = f.call(Method::GET, &hook_path, &f.admin, None).await;
        if w.json["Disabled"] == true {
            break;
        }
        rounds += 1;
        assert!(
            rounds < 200,
            "not disabled after {} attempts",
            receiver.received().len()
        );
        // Past any back-off (at most 5 minutes) and any delivery's next retry.
        let before = receiver.received().len();
        clock.advance(Duration::minutes(10));
        for _ in 0..100 {
            if receiver.received().len() > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let attempts = receiver.received().len();
    assert!(
        (25..=28).contains(&attempts),
        "disabled after {attempts} attempts"
    );
    // Disabled: nothing more is sent, however much time passes.
    clock.advance(Duration::hours(1));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), attempts);
    let logs = f
        .call(Method::GET, &f.org_path("/logs"), &f.admin, None)
        .await;
    assert!(logs.body.contains("disabled webhook"), "{}", logs.body);
}
both_backends!(an_endpoint_that_keeps_failing_is_disabled);
