//! A purpose's wording is versioned (issue #25, docs/consents.md "Versions"): a change
//! that alters meaning makes a new version, one that alters nothing does not; versions
//! are read whole, each with the hash of its canonical text.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{join_all_spawned, Fixture, TestDb};

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
