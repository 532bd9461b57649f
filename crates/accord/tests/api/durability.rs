//! Nothing acknowledged is lost: every write that got a 2xx is there after `kill -9`.

use serde_json::{json, Value};

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::Consenting;
use crate::helpers::Remote;
use crate::helpers::{email, TestApp, TestDb};
use crate::helpers::{user, Fixture};
use crate::process::ServerProcess;

const PW: &str = "correct horse battery";

async fn acknowledged_writes_survive_kill_9(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-kill-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut acknowledged: Vec<(String, String)> = vec![];
    for round in 0..3 {
        let mut server =
            ServerProcess::start(&db.url, dir.join(format!("server-{round}.log")), &[]);
        let app = Remote(server.base.clone());
        // Every write acknowledged so far, from earlier lives of the server, is readable.
        for (who, name) in &acknowledged {
            let login = app
                .post(
                    "/v1/v1.1/users/login",
                    json!({"username": who, "password": PW}),
                )
                .await;
            assert_eq!(login.0, 200, "round {round}: {who} lost after kill -9");
            assert_eq!(
                login.1["User"]["Name"],
                name.as_str(),
                "round {round}: profile change lost"
            );
        }
        // Concurrent writes, then kill -9 right after the last acknowledgement.
        let mut writes = vec![];
        for i in 0..8 {
            let base = server.base.clone();
            writes.push(tokio::spawn(async move {
                let app = Remote(base);
                let who = email(&format!("r{round}w{i}"));
                let (status, _) = app
                    .post(
                        "/v1/users/register",
                        json!({"username": who, "password": PW, "name": "first"}),
                    )
                    .await;
                (status == 201).then_some(who)
            }));
        }
        for w in writes {
            if let Some(who) = w.await.unwrap() {
                acknowledged.push((who, "first".into()));
            }
        }
        // A profile change, acknowledged.
        let (who, _) = acknowledged.last().cloned().unwrap();
        let login: Value = app
            .post(
                "/v1/v1.1/users/login",
                json!({"username": who, "password": PW}),
            )
            .await
            .1;
        let token = login["Token"]["access_token"].as_str().unwrap().to_owned();
        let r = reqwest::Client::new()
            .patch(format!("{}/v1/user", server.base))
            .bearer_auth(&token)
            .json(&json!({"name": format!("renamed in round {round}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        acknowledged.last_mut().unwrap().1 = format!("renamed in round {round}");
        server.kill9();
    }
    assert_eq!(acknowledged.len(), 24, "every write was acknowledged");
    // One last life to read the final round back.
    let server = ServerProcess::start(&db.url, dir.join("server-final.log"), &[]);
    let app = Remote(server.base.clone());
    for (who, name) in &acknowledged {
        let login = app
            .post(
                "/v1/v1.1/users/login",
                json!({"username": who, "password": PW}),
            )
            .await;
        assert_eq!(login.0, 200, "{who} lost after kill -9");
        assert_eq!(login.1["User"]["Name"], name.as_str());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(acknowledged_writes_survive_kill_9);

/// One acknowledged consent change.
#[derive(Clone)]
struct Ack {
    history_id: String,
    value: &'static str,
}

/// What one writer did in one life of the server: acknowledged changes, in order, and the
/// change it had sent when the server died (it may or may not have been committed).
struct WriterLife {
    acks: Vec<Ack>,
    in_flight: Option<&'static str>,
}

/// The durability checker: writers change consents concurrently while the server is
/// killed with SIGKILL at a random moment, several times. After every restart each
/// acknowledged change has its history entry and receipt, every attribute reads its last
/// acknowledged value (or the unacknowledged one sent as the server died), and the
/// tamper-evident ledger verifies.
async fn acknowledged_consent_changes_survive_kill_9_mid_load(db: TestDb) {
    const KILLS: usize = 5;
    let dir = std::env::temp_dir().join(format!("accord-kill-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // One issuer across lives, so tokens outlive the process that issued them.
    let env = [("ACCORD_PUBLIC_URL", "http://accord.test")];
    let start =
        |life: usize| ServerProcess::start(&db.url, dir.join(format!("life-{life}.log")), &env);
    let mut server = start(0);
    let mut c = Consenting::new(Fixture::on(TestApp::remote(&server.base), &db).await).await;
    // A second subscriber, so two records change at once.
    let key = c.f.open_with_key().await;
    let (second, second_id) = user(&c.f.app, "second").await;
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/users"),
            &second,
            Some(json!({"subscribekey": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second_consent =
        c.f.call(Method::GET, &c.consents(&second_id), &second, None)
            .await;
    let second_consent = second_consent.json["ID"].as_str().unwrap().to_owned();
    // Writer = (token, user, consent, attribute): each attribute has one writer, so its
    // changes are ordered.
    let mut writers = vec![];
    for attribute in [&c.age, &c.email_attr, &c.zip] {
        writers.push((
            c.f.individual.clone(),
            c.f.individual_id.clone(),
            c.consent.clone(),
            attribute.clone(),
        ));
        writers.push((
            second.clone(),
            second_id.clone(),
            second_consent.clone(),
            attribute.clone(),
        ));
    }
    let mut acknowledged: Vec<Vec<Ack>> = vec![vec![]; writers.len()];
    let mut unacknowledged = 0usize;
    for life in 0..KILLS {
        let base = server.base.clone();
        let tasks: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(w, (token, user, consent, attribute))| {
                let url = format!(
                    "{base}/v1/organizations/{}/users/{user}/consents/{consent}/purposes/{}/attributes/{attribute}",
                    c.f.org, c.marketing
                );
                let token = token.clone();
                // Carry on from the value this writer last had acknowledged.
                let mut n = acknowledged[w].len() + life;
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    let mut acks = vec![];
                    loop {
                        n += 1;
                        let value = if n.is_multiple_of(2) { "Allow" } else { "Disallow" };
                        let sent = client
                            .patch(&url)
                            .header("Authorization", &token)
                            .json(&json!({"consented": value, "days": (n % 10) as i64}))
                            .send()
                            .await;
                        let reply = match sent {
                            Ok(r) => (r.status().as_u16(), r.json::<Value>().await),
                            Err(_) => return WriterLife { acks, in_flight: Some(value) },
                        };
                        match reply {
                            (200, Ok(body)) => acks.push(Ack {
                                history_id: body["ConsentHistoryID"].as_str().expect("ConsentHistoryID").to_owned(),
                                value,
                            }),
                            // The answer was cut off: not acknowledged.
                            (200, Err(_)) => return WriterLife { acks, in_flight: Some(value) },
                            (status, body) => panic!("a consent change got {status}: {body:?}"),
                        }
                    }
                })
            })
            .collect();
        // Kill at a moment the writers do not choose: 150–650 ms into the load.
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64
            % 500;
        tokio::time::sleep(std::time::Duration::from_millis(150 + jitter)).await;
        server.kill9();
        let mut in_flight: Vec<Option<&'static str>> = vec![];
        for (w, task) in tasks.into_iter().enumerate() {
            let lived = task.await.unwrap();
            acknowledged[w].extend(lived.acks);
            unacknowledged += usize::from(lived.in_flight.is_some());
            in_flight.push(lived.in_flight);
        }
        server = start(life + 1);
        c.f.app = TestApp::remote(&server.base);
        // Every attribute reads its last acknowledged value, or the one in flight at the kill.
        for (w, (token, user, _, attribute)) in writers.iter().enumerate() {
            let record = c.f.call(Method::GET, &c.consents(user), token, None).await;
            assert_eq!(record.status, StatusCode::OK, "{}", record.body);
            let now = crate::helpers::attribute_in(
                crate::helpers::purpose_in(&record.json, &c.marketing),
                attribute,
            )["Status"]["Consent"]
                .as_str()
                .unwrap()
                .to_owned();
            let last = acknowledged[w].last().map(|a| a.value);
            assert!(
                Some(now.as_str()) == last || Some(now.as_str()) == in_flight[w],
                "life {life}, writer {w}: reads {now}, last acknowledged {last:?}, in flight {:?}",
                in_flight[w]
            );
        }
        // The ledger holds every acknowledged change, at most the in-flight ones more, intact.
        let acked: usize = acknowledged.iter().map(Vec::len).sum();
        let verify =
            c.f.call(
                Method::GET,
                &c.f.org_path("/consenthistory/verify"),
                &c.f.admin,
                None,
            )
            .await;
        assert_eq!(verify.json["Intact"], true, "life {life}: {}", verify.body);
        let entries = verify.json["Entries"].as_u64().unwrap() as usize;
        assert!(
            (acked..=acked + unacknowledged).contains(&entries),
            "life {life}: {entries} ledger entries for {acked} acknowledged and {unacknowledged} unacknowledged changes"
        );
    }
    // Every acknowledged change has its history entry and its receipt says what was acknowledged.
    let mut lost = 0;
    for (w, acks) in acknowledged.iter().enumerate() {
        let (token, user, _, _) = &writers[w];
        for ack in acks {
            let r =
                c.f.call(
                    Method::GET,
                    &format!("/v1/users/{user}/consenthistory/{}/receipt", ack.history_id),
                    token,
                    None,
                )
                .await;
            if r.status != StatusCode::OK {
                lost += 1;
                continue;
            }
            let receipt = r.json["Receipt"].as_str().unwrap();
            let payload = receipt.split('.').nth(1).unwrap();
            use base64::Engine as _;
            let claims: Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(claims["value"], ack.value, "receipt of {}", ack.history_id);
        }
    }
    let acked: usize = acknowledged.iter().map(Vec::len).sum();
    crate::helpers::report(&format!(
        "durability ({:?}): {acked} consent changes acknowledged by {} concurrent writers, {KILLS} kill -9, {unacknowledged} cut off unacknowledged, {lost} lost",
        db.backend,
        writers.len()
    ));
    assert_eq!(lost, 0, "acknowledged consent changes lost");
    assert!(
        acked >= 6 * KILLS,
        "the writers got going in every life: {acked}"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(acknowledged_consent_changes_survive_kill_9_mid_load);
