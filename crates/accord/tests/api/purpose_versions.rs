//! A purpose's wording is versioned (issue #25, docs/consents.md "Versions"): a change
//! that alters meaning makes a new version, one that alters nothing does not; versions
//! are read whole, each with the hash of its canonical text.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::consents::verify_jws;
use crate::helpers::{
    attribute_in, join_all_spawned, make_webhook, purpose_in, smtp, Consenting, Fixture, Reply,
    TestApp, TestDb,
};
use crate::receiver::Receiver;

async fn versions(f: &Fixture, purpose: &str, auth: &str) -> Vec<Value> {
    let r = f
        .call(
            Method::GET,
            &f.org_path(&format!("/purposes/{purpose}/versions")),
            auth,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json["Versions"].as_array().unwrap().clone()
}

async fn current(f: &Fixture, purpose: &str) -> Value {
    let r = f
        .call(
            Method::GET,
            &f.org_path(&format!("/purposes/{purpose}")),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json["Purpose"].clone()
}

async fn a_purpose_is_reworded_only_by_a_change_of_meaning(db: TestDb) {
    let f = Fixture::new(&db).await;
    let marketing = json!({"Name": "Marketing", "Description": "Offers by mail", "PolicyURL": "https://dmart.example/p"});
    let r = f
        .call(
            Method::POST,
            &f.org_path("/purposes"),
            &f.admin,
            Some(json!({"Purposes": [marketing]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let purpose = r.json["Purposes"][0]["ID"].as_str().unwrap().to_owned();
    assert_eq!(r.json["Purposes"][0]["Version"], 1);
    let t = f
        .call(
            Method::POST,
            &f.org_path("/templates"),
            &f.admin,
            Some(json!({"Templates": [{"Consent": "Email", "PurposeIDs": [purpose]}]})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let template = t.json["Templates"][0]["ID"].as_str().unwrap().to_owned();
    // An attribute joining the purpose is part of what is consented to: version 2.
    assert_eq!(current(&f, &purpose).await["Version"], 2);

    // The same wording again is no version.
    let same = f
        .call(
            Method::PUT,
            &f.org_path(&format!("/purposes/{purpose}")),
            &f.admin,
            Some(marketing.clone()),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(same.json["Purpose"]["Version"], 2);
    assert_eq!(versions(&f, &purpose, &f.admin).await.len(), 2);

    // A new description is a new version; the old words stay readable.
    let reworded = f
        .call(
            Method::PUT,
            &f.org_path(&format!("/purposes/{purpose}")),
            &f.admin,
            Some(json!({"Name": "Marketing", "Description": "Offers by mail and phone", "PolicyURL": "https://dmart.example/p"})),
        )
        .await;
    assert_eq!(reworded.json["Purpose"]["Version"], 3, "{}", reworded.body);
    // Renaming the attribute rewords the purpose too.
    let renamed = f
        .call(
            Method::PUT,
            &f.org_path(&format!("/templates/{template}")),
            &f.admin,
            Some(json!({"Consent": "Email address", "PurposeIDs": [purpose]})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(current(&f, &purpose).await["Version"], 4);

    // Anyone who may read the purpose reads its versions, oldest first.
    let all = versions(&f, &purpose, &f.individual).await;
    let numbers: Vec<i64> = all.iter().map(|v| v["Version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(all[0]["Wording"]["Description"], "Offers by mail");
    assert_eq!(all[0]["Wording"]["Attributes"], json!([]));
    assert_eq!(all[1]["Wording"]["Attributes"][0]["Name"], "Email");
    assert_eq!(all[2]["Wording"]["Description"], "Offers by mail and phone");
    assert_eq!(all[3]["Wording"]["Attributes"][0]["Name"], "Email address");
    for v in &all {
        assert!(v["Created"].is_string(), "{v}");
        let text = v["WordingText"].as_str().unwrap();
        let digest = sha2_hex(text);
        assert_eq!(v["Hash"], format!("sha256:{digest}"));
    }
    let hashes: std::collections::HashSet<&str> =
        all.iter().map(|v| v["Hash"].as_str().unwrap()).collect();
    assert_eq!(hashes.len(), 4, "each wording its own hash");

    // One version by its number; a number never published is 404.
    let one = f
        .call(
            Method::GET,
            &f.org_path(&format!("/purposes/{purpose}/versions/3")),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.json["Hash"], all[2]["Hash"]);
    for missing in ["5", "0", "x"] {
        f.call(
            Method::GET,
            &f.org_path(&format!("/purposes/{purpose}/versions/{missing}")),
            &f.individual,
            None,
        )
        .await
        .assert_error(404);
    }
    // Only the Admin rewords.
    f.call(
        Method::PUT,
        &f.org_path(&format!("/purposes/{purpose}")),
        &f.dpo,
        Some(json!({"Name": "Sneaky"})),
    )
    .await
    .assert_error(403);
    assert_eq!(current(&f, &purpose).await["Version"], 4);
}
both_backends!(a_purpose_is_reworded_only_by_a_change_of_meaning);

fn sha2_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Admins rewording one purpose at once: every wording gets its own number, gap-free, and
/// the newest version is the purpose's wording (the layout is held while a change is
/// numbered; on PostgreSQL two changes would otherwise number from the same version).
async fn concurrent_rewordings_each_get_their_own_version(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f
        .call(
            Method::POST,
            &f.org_path("/purposes"),
            &f.admin,
            Some(json!({"Purposes": [{"Name": "Marketing"}]})),
        )
        .await;
    let purpose = r.json["Purposes"][0]["ID"].as_str().unwrap().to_owned();
    let url = f.app.url(&f.org_path(&format!("/purposes/{purpose}")));
    let puts = (0..8).map(|i| {
        let (client, url, auth) = (f.app.client.clone(), url.clone(), f.admin.clone());
        async move {
            client
                .put(url)
                .header("Authorization", auth)
                .json(&json!({"Name": "Marketing", "Description": format!("wording {i}")}))
                .send()
                .await
                .expect("sent")
                .status()
        }
    });
    for status in join_all_spawned(puts).await {
        assert_eq!(status, StatusCode::OK);
    }
    let all = versions(&f, &purpose, &f.admin).await;
    let numbers: Vec<i64> = all.iter().map(|v| v["Version"].as_i64().unwrap()).collect();
    assert_eq!(numbers, (1..=9).collect::<Vec<i64>>());
    let now = current(&f, &purpose).await;
    assert_eq!(now["Version"], 9);
    assert_eq!(all[8]["Wording"]["Description"], now["Description"]);
}
both_backends!(concurrent_rewordings_each_get_their_own_version);

/// Every consent change names the purpose's version it was made under: its history entry,
/// its receipt (with the hash of the version's wording: the receipt alone proves the
/// words), its webhook event; the ledger's hash covers it, and entries written before
/// versions existed (format 1) verify beside the new ones.
async fn a_consent_names_the_version_it_was_given_under(db: TestDb) {
    let f = Fixture::new(&db).await;
    // The ledger as an older server left it: three entries of format 1.
    crate::consents::write_ledger(&db, &f.org, 3).await;
    let receiver = Receiver::start().await;
    make_webhook(&f, &receiver.url, &["consent.allowed"]).await;
    let c = Consenting::new(f).await;
    let f = &c.f;
    let before = versions(f, &c.marketing, &f.individual).await;
    assert_eq!(before.len(), 2, "created, then given its attributes");

    let first = c.set(&f.individual, &c.marketing, &c.age, "Allow", 0).await;
    let claims = verify_jws(f, first["Receipt"].as_str().unwrap()).await;
    assert_eq!(claims["purpose_version"], 2, "{claims}");
    assert_eq!(claims["wording_hash"], before[1]["Hash"]);
    let words = before[1]["WordingText"].as_str().unwrap();
    assert_eq!(
        claims["wording_hash"],
        format!("sha256:{}", sha2_hex(words)),
        "the receipt's hash is the hash of the words"
    );

    // Reworded: a change from now on names version 3; the first keeps naming 2.
    let reworded = f
        .call(
            Method::PUT,
            &f.org_path(&format!("/purposes/{}", c.marketing)),
            &f.admin,
            Some(json!({"Name": "Marketing", "Description": "Offers by mail and phone"})),
        )
        .await;
    assert_eq!(reworded.json["Purpose"]["Version"], 3, "{}", reworded.body);
    let after = versions(f, &c.marketing, &f.individual).await;
    let second = c
        .set(&f.individual, &c.marketing, &c.email_attr, "Allow", 0)
        .await;
    let claims = verify_jws(f, second["Receipt"].as_str().unwrap()).await;
    assert_eq!(
        (&claims["purpose_version"], &claims["wording_hash"]),
        (&json!(3), &after[2]["Hash"])
    );

    // The history answers each entry's version, newest first.
    let history = f
        .call(
            Method::GET,
            &format!("/v1/users/{}/consenthistory", f.individual_id),
            &f.individual,
            None,
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let entries = history.json["ConsentHistory"].as_array().unwrap();
    let named: Vec<(&Value, &Value)> = entries
        .iter()
        .map(|e| (&e["PurposeVersion"], &e["WordingHash"]))
        .collect();
    assert_eq!(
        named,
        [
            (&json!(3), &after[2]["Hash"]),
            (&json!(2), &before[1]["Hash"])
        ]
    );
    // Each links to its words, readable by the person, and after the purpose is deleted.
    let link = entries[1]["WordingURL"].as_str().unwrap().to_owned();
    let path = link.strip_prefix(f.app.base.as_str()).unwrap().to_owned();
    let words = f.app.get(&path, Some(&f.individual)).await;
    assert_eq!(words.json["Hash"], before[1]["Hash"], "{}", words.body);

    // So does each webhook event.
    let mut events: Vec<(i64, String)> = receiver
        .wait_for("consent.allowed", 2)
        .await
        .iter()
        .map(|r| {
            let data = &r.json["data"];
            (
                data["purposeVersion"].as_i64().unwrap(),
                data["wordingHash"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            (2, before[1]["Hash"].as_str().unwrap().to_owned()),
            (3, after[2]["Hash"].as_str().unwrap().to_owned())
        ]
    );

    // Formats 1 and 2 verify as one chain, and both receipts match it.
    let verify = f.org_path("/consenthistory/verify");
    let receipts = json!({"Checkpoints": [first["Receipt"], second["Receipt"]]});
    let r = f
        .call(Method::POST, &verify, &f.dpo, Some(receipts.clone()))
        .await;
    assert_eq!(
        r.json,
        json!({"Intact": true, "Entries": 5, "FirstBrokenEntry": null, "Problem": null, "CheckpointsChecked": 2})
    );

    // A value moved to the newer version (to pass for a current consent) is caught...
    let kind = |r: &Reply| {
        (
            r.json["Problem"]["Kind"].as_str().map(str::to_owned),
            r.json["Problem"]["Seq"].as_i64(),
        )
    };
    db.execute(
        "UPDATE consent_values SET purpose_version = 3 WHERE attribute_id = $1",
        &[&c.age],
    )
    .await;
    let r = f.call(Method::GET, &verify, &f.dpo, None).await;
    assert_eq!(kind(&r), (Some("value".into()), Some(4)), "{}", r.body);
    db.execute(
        "UPDATE consent_values SET purpose_version = 2 WHERE attribute_id = $1",
        &[&c.age],
    )
    .await;
    // ...and so is an entry stripped of its version (the format-1 hash no longer holds).
    let id = first["ConsentHistoryID"].as_str().unwrap();
    db.execute(
        "UPDATE consent_history SET purpose_version = NULL, wording_hash = NULL WHERE id = $1",
        &[id],
    )
    .await;
    let r = f.call(Method::GET, &verify, &f.dpo, None).await;
    assert_eq!(kind(&r), (Some("altered".into()), Some(4)), "{}", r.body);

    let gone = f
        .call(
            Method::DELETE,
            &f.org_path(&format!("/purposes/{}", c.marketing)),
            &f.admin,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let words = f.app.get(&path, Some(&f.individual)).await;
    assert_eq!(words.json["Hash"], before[1]["Hash"], "{}", words.body);
    // Another organisation's path does not reach them.
    let elsewhere = path.replace(&f.org, &f.other_org);
    f.app
        .get(&elsewhere, Some(&f.individual))
        .await
        .assert_error(404);
}
both_backends!(a_consent_names_the_version_it_was_given_under);

/// A notification of the kind `kind` for the caller, waited for (the background worker
/// asks, on its interval).
async fn wait_for_notification(f: &Fixture, auth: &str, kind: &str) -> Value {
    for _ in 0..300 {
        let notes = f.app.get("/v1/user/notifications", Some(auth)).await;
        if let Some(n) = notes.json["Notifications"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["Type"] == kind)
        {
            return n.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {kind} notification within 15 s");
}

/// Publishing a new version of a purpose people consented to marks their consents
/// outdated: the record says so per attribute, the people are asked again (notification,
/// mail, webhook), and their answer is a change under the new version. What an outdated
/// consent means until then is the organisation's choice: it stands, or it lapses to the
/// default once the grace has passed (by the injected clock), in the record, its counts
/// and the consented-users list alike. Before publishing, the impact is counted.
async fn an_outdated_consent_stands_or_lapses_and_the_person_is_asked_again(db: TestDb) {
    let clock = accord_domain::FixedClock::new(chrono::Utc::now());
    let url = smtp().url.clone();
    let app = TestApp::spawn_full_with(
        &db,
        |c| c.smtp_url = Some(url),
        std::sync::Arc::new(clock.clone()),
    )
    .await;
    let c = Consenting::new(Fixture::on(app, &db).await).await;
    let f = &c.f;
    db.execute(
        "UPDATE users SET email_verified_at = 1 WHERE id = $1",
        &[&f.individual_id],
    )
    .await;
    // Days pass: sessions end (10 hours), APIKeys do not.
    let key = |auth: String| async move {
        let r = f.call(Method::POST, "/v1/user/apikey", &auth, None).await;
        format!("ApiKey {}", r.json["APIKey"].as_str().unwrap())
    };
    let individual = key(f.individual.clone()).await;
    let admin = key(f.admin.clone()).await;
    let dpo = key(f.dpo.clone()).await;
    let developer = key(f.developer.clone()).await;
    let record = || async {
        let r = f
            .call(
                Method::GET,
                &c.consents(&f.individual_id),
                &individual,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json
    };
    let me = f.app.get("/v1/user", Some(&individual)).await;
    let address = me.json["User"]["Email"].as_str().unwrap().to_owned();
    let receiver = Receiver::start().await;
    make_webhook(f, &receiver.url, &["consent.reconsent_required"]).await;
    let purpose_path = f.org_path(&format!("/purposes/{}", c.marketing));
    let consented = f.org_path(&format!("/purposes/{}/consented/users", c.marketing));
    let consenting = |r: &Reply| r.json["Users"].as_array().map_or(0, Vec::len);
    let marketing_of = |record: &Value| purpose_in(record, &c.marketing).clone();

    // Consent under version 2 (created, then given attributes).
    c.set(&individual, &c.marketing, &c.age, "Allow", 0).await;
    c.set(&individual, &c.marketing, &c.email_attr, "AskMe", 0)
        .await;
    let age = attribute_in(&marketing_of(&record().await), &c.age).clone();
    assert_eq!(
        (&age["Version"], &age["Outdated"], &age["LapsesAt"]),
        (&json!(2), &json!(false), &Value::Null)
    );
    assert_eq!(
        attribute_in(&marketing_of(&record().await), &c.zip)["Version"],
        Value::Null,
        "never set"
    );

    // Before publishing: the same words again would reword nothing; new words would make
    // one person's consent outdated. The Developer, the person and an outsider may not ask.
    let impact = f.org_path(&format!("/purposes/{}/impact", c.marketing));
    let same = json!({"Name": "Marketing", "LawfulBasisOfProcessing": 0});
    let reworded = json!({"Name": "Marketing", "Description": "Offers by mail and phone",
                          "OutdatedConsent": "Lapses", "ReconsentGraceDays": 10});
    let r = f.call(Method::POST, &impact, &dpo, Some(same)).await;
    assert_eq!(
        r.json,
        json!({"Version": 2, "NextVersion": null, "WouldOutdate": 0,
               "HoldersAtCurrentVersion": 1, "HoldersAtOlderVersions": 0}),
        "{}",
        r.body
    );
    let r = f
        .call(Method::POST, &impact, &admin, Some(reworded.clone()))
        .await;
    assert_eq!(
        (&r.json["NextVersion"], &r.json["WouldOutdate"]),
        (&json!(3), &json!(1)),
        "{}",
        r.body
    );
    for who in [&developer, &individual, &f.outsider] {
        f.call(Method::POST, &impact, who, Some(reworded.clone()))
            .await
            .assert_error(403);
    }
    assert_eq!(
        f.call(Method::GET, &purpose_path, &admin, None).await.json["Purpose"]["Version"],
        2,
        "asking changed nothing"
    );

    // Published: version 3, whose outdated consents lapse after 10 days.
    let r = f
        .call(Method::PUT, &purpose_path, &admin, Some(reworded))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            &r.json["Purpose"]["Version"],
            &r.json["Purpose"]["OutdatedConsent"],
            &r.json["Purpose"]["ReconsentGraceDays"]
        ),
        (&json!(3), &json!("Lapses"), &json!(10))
    );
    let published = clock_now(&clock);
    let marketing = marketing_of(&record().await);
    let age = attribute_in(&marketing, &c.age);
    assert_eq!(
        (&age["Status"]["Consent"], &age["Version"], &age["Outdated"]),
        (&json!("Allow"), &json!(2), &json!(true)),
        "within the grace it holds, and is outdated"
    );
    let lapses =
        (published + chrono::Duration::days(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(age["LapsesAt"], lapses.as_str());
    assert_eq!(marketing["Count"], json!({"Total": 3, "Consented": 2}));
    assert_eq!(
        consenting(&f.call(Method::GET, &consented, &developer, None).await),
        1
    );

    // The person is asked: a notification, a mail in their language, a webhook event.
    let note = wait_for_notification(f, &individual, "consent.reconsent_required").await;
    assert_eq!(note["PurposeID"], c.marketing.as_str());
    assert_eq!(note["AttributeIDs"].as_array().unwrap().len(), 3);
    let mail = smtp()
        .wait_for_subject(
            &address,
            "DMart has changed what it asks your consent for",
            1,
        )
        .await;
    assert!(
        mail[0].contains("version 3") && mail[0].contains("10 days"),
        "{}",
        mail[0]
    );
    let event = receiver.wait_for("consent.reconsent_required", 1).await;
    assert_eq!(
        (
            &event[0].json["data"]["userID"],
            &event[0].json["data"]["purposeVersion"]
        ),
        (&json!(f.individual_id), &json!(3))
    );
    // Once: the worker's later rounds ask nobody again.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let notes = f.app.get("/v1/user/notifications", Some(&individual)).await;
    let asked = notes.json["Notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["Type"] == "consent.reconsent_required")
        .count();
    assert_eq!(asked, 1);

    // The grace passes: the outdated consents read as the default, in the record, its
    // count and the list alike; the impact now counts them as lapsed, not held.
    clock.advance(chrono::Duration::days(10));
    let marketing = marketing_of(&record().await);
    let age = attribute_in(&marketing, &c.age);
    assert_eq!(
        (&age["Status"]["Consent"], &age["Outdated"]),
        (&json!("Disallow"), &json!(true))
    );
    assert_eq!(marketing["Count"], json!({"Total": 3, "Consented": 0}));
    assert_eq!(
        consenting(&f.call(Method::GET, &consented, &developer, None).await),
        0,
        "a lapsed consent is not listed"
    );

    // Answering is an ordinary change, under the new version: current again.
    let answer = c.set(&individual, &c.marketing, &c.age, "Allow", 0).await;
    let claims = verify_jws(f, answer["Receipt"].as_str().unwrap()).await;
    assert_eq!(
        (&claims["purpose_version"], &claims["previous"]),
        (&json!(3), &json!("Disallow")),
        "the lapsed value read the default before the answer"
    );
    let marketing = marketing_of(&record().await);
    let age = attribute_in(&marketing, &c.age);
    assert_eq!(
        (&age["Status"]["Consent"], &age["Version"], &age["Outdated"]),
        (&json!("Allow"), &json!(3), &json!(false))
    );
    assert!(attribute_in(&marketing, &c.email_attr)["Outdated"] == true);
    assert_eq!(
        consenting(&f.call(Method::GET, &consented, &developer, None).await),
        1
    );

    // Where outdated consents stand, the Email consent (given under version 2) holds
    // however long, outdated all the while.
    let r = f
        .call(
            Method::PUT,
            &purpose_path,
            &admin,
            Some(
                json!({"Name": "Marketing", "Description": "Offers by mail and phone",
                        "OutdatedConsent": "stands"}),
            ),
        )
        .await;
    assert_eq!(
        (
            &r.json["Purpose"]["Version"],
            &r.json["Purpose"]["OutdatedConsent"]
        ),
        (&json!(3), &json!("Stands")),
        "the choice is no version: {}",
        r.body
    );
    clock.advance(chrono::Duration::days(400));
    let marketing = marketing_of(&record().await);
    let email_attr = attribute_in(&marketing, &c.email_attr);
    assert_eq!(
        (
            &email_attr["Status"]["Consent"],
            &email_attr["Outdated"],
            &email_attr["LapsesAt"]
        ),
        (&json!("AskMe"), &json!(true), &Value::Null)
    );
    let r = f
        .call(
            Method::POST,
            &impact,
            &dpo,
            Some(json!({"Name": "Marketing", "Description": "Offers by mail and phone"})),
        )
        .await;
    assert_eq!(
        (
            &r.json["HoldersAtCurrentVersion"],
            &r.json["HoldersAtOlderVersions"]
        ),
        (&json!(1), &json!(1)),
        "one person, one consent at each: {}",
        r.body
    );
    // A choice outside the rules is refused.
    for bad in [
        json!({"Name": "Marketing", "OutdatedConsent": "Forever"}),
        json!({"Name": "Marketing", "ReconsentGraceDays": 366}),
        json!({"Name": "Marketing", "ReconsentGraceDays": -1}),
    ] {
        f.call(Method::PUT, &purpose_path, &admin, Some(bad))
            .await
            .assert_error(400);
    }
}
both_backends!(an_outdated_consent_stands_or_lapses_and_the_person_is_asked_again);

fn clock_now(clock: &accord_domain::FixedClock) -> chrono::DateTime<chrono::Utc> {
    use accord_domain::Clock as _;
    clock.now()
}
