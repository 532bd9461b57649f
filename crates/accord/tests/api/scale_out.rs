//! Scale-out: two `accord serve` processes on one PostgreSQL, load spread across both. No
//! errors; a write acknowledged by one node reads back from the other; a session revoked
//! through one is refused by both; each webhook event is delivered exactly once although
//! both nodes' workers deliver.

use std::collections::{HashMap, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::Consenting;
use crate::helpers::{email, TestApp, TestDb};
use crate::helpers::{user, Fixture, PW};
use crate::process::ServerProcess;
use crate::receiver::Receiver;

/// Consent changes per writer; six writers (two people × three attributes).
const CHANGES: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgresql() {
    let Some(db) = TestDb::postgres_if_configured().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("accord-scale-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // One deployment: the same database and public URL (so the same token issuer).
    let env = [("ACCORD_PUBLIC_URL", "http://accord.test")];
    let nodes = [
        ServerProcess::start(&db.url, dir.join("node-1.log"), &env),
        ServerProcess::start(&db.url, dir.join("node-2.log"), &env),
    ];
    let apps = [
        TestApp::remote(&nodes[0].base),
        TestApp::remote(&nodes[1].base),
    ];
    let c = Consenting::new(Fixture::on(TestApp::remote(&nodes[0].base), &db).await).await;
    let receiver = Receiver::start().await;
    let r = c
        .f
        .call(
            Method::POST,
            &c.f.org_path("/webhooks"),
            &c.f.admin,
            Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["consent.allowed", "consent.disallowed"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A second subscriber, set up through the second node.
    let key = c.f.open_with_key().await;
    let (second, second_id) = user(&apps[1], "second").await;
    let r = apps[1]
        .call(
            Method::POST,
            &c.f.org_path("/users"),
            Some(&second),
            Some(json!({"subscribekey": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second_consent = apps[0]
        .call(Method::GET, &c.consents(&second_id), Some(&second), None)
        .await
        .json["ID"]
        .as_str()
        .unwrap()
        .to_owned();

    // Load: each writer changes its attribute through one node and reads it back through
    // the other, alternating; all writers at once.
    let mut writers = vec![];
    for (w, attribute) in [&c.age, &c.email_attr, &c.zip].into_iter().enumerate() {
        for (token, person, consent) in [
            (
                c.f.individual.clone(),
                c.f.individual_id.clone(),
                c.consent.clone(),
            ),
            (second.clone(), second_id.clone(), second_consent.clone()),
        ] {
            let bases = [nodes[0].base.clone(), nodes[1].base.clone()];
            let path = format!(
                "/v1/organizations/{}/users/{person}/consents/{consent}/purposes/{}/attributes/{attribute}",
                c.f.org, c.marketing
            );
            let record = format!("/v1/organizations/{}/users/{person}/consents", c.f.org);
            let (marketing, attribute) = (c.marketing.clone(), attribute.clone());
            writers.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut history = vec![];
                for i in 0..CHANGES {
                    let (write, read) = (&bases[(i + w) % 2], &bases[(i + w + 1) % 2]);
                    let value = if i % 2 == 0 { "Allow" } else { "Disallow" };
                    let r = client
                        .patch(format!("{write}{path}"))
                        .header("authorization", &token)
                        .json(&json!({"consented": value}))
                        .send()
                        .await
                        .expect("answered");
                    assert_eq!(r.status(), StatusCode::OK, "write through {write}");
                    let body: Value = r.json().await.unwrap();
                    history.push(body["ConsentHistoryID"].as_str().unwrap().to_owned());
                    let r = client
                        .get(format!("{read}{record}"))
                        .header("authorization", &token)
                        .send()
                        .await
                        .expect("answered");
                    assert_eq!(r.status(), StatusCode::OK, "read through {read}");
                    let record: Value = r.json().await.unwrap();
                    let now = crate::helpers::attribute_in(
                        crate::helpers::purpose_in(&record, &marketing),
                        &attribute,
                    )["Status"]["Consent"]
                        .clone();
                    assert_eq!(
                        now, value,
                        "a write acknowledged by {write} reads back from {read}"
                    );
                }
                history
            }));
        }
    }
    let mut acknowledged = HashSet::new();
    for w in writers {
        acknowledged.extend(w.await.unwrap());
    }
    assert_eq!(acknowledged.len(), 6 * CHANGES);

    // Every change is delivered once, by whichever node's worker claimed it.
    let expected = acknowledged.len();
    let wait_all = async {
        loop {
            let got = receiver.received().len();
            if got >= expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait_all)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} of {expected} webhook deliveries within 30 s",
                receiver.received().len()
            )
        });
    // Time for a duplicate to show, should a second worker deliver again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let got = receiver.received();
    let mut per_history: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *per_history
            .entry(r.json["data"]["historyID"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let delivered: HashSet<String> = per_history.keys().cloned().collect();
    assert_eq!(delivered, acknowledged, "one event per acknowledged change");
    assert!(
        per_history.values().all(|n| *n == 1),
        "each event delivered exactly once: {} deliveries for {expected}",
        got.len()
    );
    let nodes_delivering: HashSet<String> = nodes
        .iter()
        .filter(|n| n.log_text().contains("webhook delivery"))
        .map(|n| n.base.clone())
        .collect();

    // The organisation's layout is cached per node: a template added through one node
    // shows in the next read through the other (both nodes read the record first).
    let record = c.consents(&c.f.individual_id);
    let attributes_of = |body: &Value| {
        crate::helpers::purpose_in(body, &c.marketing)["Consents"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = attributes_of(&apps[0].get(&record, Some(&c.f.individual)).await.json);
    assert_eq!(
        attributes_of(&apps[1].get(&record, Some(&c.f.individual)).await.json),
        before
    );
    let r = apps[1]
        .call(
            Method::POST,
            &c.f.org_path("/templates"),
            Some(&c.f.admin),
            Some(json!({"Templates": [{"Consent": "Phone", "PurposeIDs": [c.marketing]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        attributes_of(&apps[0].get(&record, Some(&c.f.individual)).await.json),
        before + 1
    );

    // Revocation: a session opened through one node, used through both, ended through the
    // other, is refused by both at once; so is an APIKey rotated through one.
    let who = email("revoked");
    apps[0].register(&who, PW).await;
    let login = apps[0].login(&who, PW).await;
    let access = crate::helpers::bearer(&login);
    for app in &apps {
        assert_eq!(
            app.get("/v1/user", Some(&access)).await.status,
            StatusCode::OK
        );
    }
    let r = apps[1]
        .call(
            Method::POST,
            "/v1/users/logout",
            Some(&access),
            Some(json!({"refreshtoken": login["Token"]["refresh_token"]})),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    for app in &apps {
        app.get("/v1/user", Some(&access)).await.assert_error(401);
    }
    let fresh = crate::helpers::bearer(&apps[1].login(&who, PW).await);
    let api_key = apps[0]
        .call(Method::POST, "/v1/user/apikey", Some(&fresh), None)
        .await
        .json["APIKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_auth = format!("ApiKey {api_key}");
    assert_eq!(
        apps[1].get("/v1/user", Some(&key_auth)).await.status,
        StatusCode::OK
    );
    let r = apps[1]
        .call(Method::DELETE, "/v1/user/apikey/revoke", Some(&fresh), None)
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    for app in &apps {
        app.get("/v1/user", Some(&key_auth)).await.assert_error(401);
    }

    crate::helpers::report(&format!(
        "scale-out (2 processes, PostgreSQL): {} consent changes and as many cross-node reads, 0 errors; {} webhook deliveries for {expected} events, 0 duplicates, delivered by {} node(s); revocation seen by both",
        acknowledged.len(),
        got.len(),
        nodes_delivering.len()
    ));
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}
