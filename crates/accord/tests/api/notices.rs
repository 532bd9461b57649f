//! An organisation tells all its subscribers of a personal data breach or of an event
//! (the v2.1.2 document's notify-data-breach and notify-events).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{bearer, email, make_webhook, smtp, Fixture, TestDb, PW};
use crate::receiver::Receiver;

async fn subscriber(f: &Fixture, db: &TestDb, key: &str, proven: bool) -> (String, String) {
    let address = email("subscriber");
    let id = f.app.register(&address, PW).await;
    if proven {
        // The address's proof (its mailed link) is the trust model's, tested there.
        db.execute(
            "UPDATE users SET email_verified_at = 1 WHERE id = $1",
            &[&id],
        )
        .await;
    }
    let auth = bearer(&f.app.login(&address, PW).await);
    let r = f
        .call(
            Method::POST,
            &f.org_path("/users"),
            &auth,
            Some(json!({"subscribekey": key})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (address, auth)
}

async fn a_breach_is_told_to_every_subscriber(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let receiver = Receiver::start().await;
    make_webhook(&f, &receiver.url, &["org.data_breach", "org.event"]).await;
    let key = f.open_with_key().await;
    let (proven, proven_auth) = subscriber(&f, &db, &key, true).await;
    let (unproven, unproven_auth) = subscriber(&f, &db, &key, false).await;
    let breach = json!({
        "headline": "Passwords exposed",
        "userscount": 200,
        "dpoemail": "dpo@dmart.example",
        "consequence": "Your password may be known",
        "measures": "Change it today"
    });
    let path = f.org_path("/notify-data-breach");
    for who in [&f.developer, &f.outsider, &proven_auth] {
        f.call(Method::POST, &path, who, Some(breach.clone()))
            .await
            .assert_error(403);
    }
    let mut bad = breach.clone();
    bad["dpoemail"] = json!("not an address");
    f.call(Method::POST, &path, &f.admin, Some(bad))
        .await
        .assert_error(400);
    let r = f
        .call(
            Method::POST,
            &path,
            &f.admin,
            Some(json!({"headline": "x"})),
        )
        .await;
    r.assert_error(400);

    let r = f
        .call(Method::POST, &path, &f.dpo, Some(breach.clone()))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json["NotifiedUsers"], 2);
    for auth in [&proven_auth, &unproven_auth] {
        let notes = f.app.get("/v1/user/notifications", Some(auth)).await;
        let note = &notes.json["Notifications"][0];
        assert_eq!(note["Type"], "org.data_breach", "{}", notes.body);
        assert!(note["Message"]
            .as_str()
            .unwrap()
            .contains("Passwords exposed"));
    }
    let mail = smtp()
        .wait_for_subject(&proven, "DMart: Personal data breach: Passwords exposed", 1)
        .await;
    assert!(mail[0].contains("Change it today") && mail[0].contains("dpo@dmart.example"));
    // An unproven address may be someone else's: it gets the notification, not the mail.
    assert!(smtp()
        .messages_to(&unproven)
        .iter()
        .all(|m| !m.contains("Passwords exposed")));
    let event = receiver.wait_for("org.data_breach", 1).await;
    assert_eq!(event[0].json["data"]["notifiedUsers"], 2);
    assert_eq!(event[0].json["data"]["usersCount"], 200);

    let r = f
        .call(
            Method::POST,
            &f.org_path("/notify-events"),
            &f.admin,
            Some(json!({"details": "We move to a new address on Monday"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let event = receiver.wait_for("org.event", 1).await;
    assert_eq!(
        event[0].json["data"]["details"],
        "We move to a new address on Monday"
    );
    // Five mailings of a kind per window; the sixth is a notification only (decided while
    // answering, so no mail of it can come later).
    for n in 2..=6 {
        let r = f
            .call(
                Method::POST,
                &f.org_path("/notify-events"),
                &f.admin,
                Some(json!({ "details": format!("Event number {n}") })),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    smtp()
        .wait_for_subject(&proven, "DMart: Event number 5", 1)
        .await;
    assert!(smtp()
        .messages_to(&proven)
        .iter()
        .all(|m| !m.contains("Event number 6")));
    let notes = f
        .app
        .get("/v1/user/notifications", Some(&proven_auth))
        .await;
    assert!(notes.body.contains("Event number 6"), "{}", notes.body);
    f.call(
        Method::POST,
        &f.org_path("/notify-events"),
        &f.admin,
        Some(json!({"details": "  "})),
    )
    .await
    .assert_error(400);
}
both_backends!(a_breach_is_told_to_every_subscriber);
