//! How a person finds an organisation (the v2.1.2 document's paths; docs/igrant.md):
//! searching by name, the QR codes an Admin prints, and their own list of organisations.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Consenting, Fixture, TestDb};

/// The picture's bytes, and what an independent decoder reads in it.
async fn qr(f: &Fixture, path: &str, auth: Option<&str>) -> (StatusCode, String) {
    let mut req = f.app.client.get(f.app.url(path));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    if status != StatusCode::OK {
        return (status, String::new());
    }
    assert_eq!(r.headers()["content-type"], "image/png");
    decode(&r.bytes().await.unwrap())
}

fn decode(png: &[u8]) -> (StatusCode, String) {
    let picture = image::load_from_memory(png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, text) = grids[0].decode().expect("the code reads");
    (StatusCode::OK, text)
}

async fn a_search_finds_open_organisations_by_part_of_their_name(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    let search = |name: &str| format!("/v1/organizations/search?name={name}");
    let found = f.app.get(&search("mAr"), Some(&f.outsider)).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let orgs = found.json["Organizations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1, "{}", found.body);
    assert_eq!(orgs[0]["ID"], f.org.as_str());
    assert_eq!(orgs[0]["Name"], "DMart");
    assert!(orgs[0]["Type"].is_string());
    assert_eq!(orgs[0]["Subscribed"], false);
    // The subscriber sees that they are.
    let mine = f.app.get(&search("dmart"), Some(&f.individual)).await;
    assert_eq!(mine.json["Organizations"][0]["Subscribed"], true);
    // Closed to subscriptions ("Other" was never opened): not found.
    let closed = f.app.get(&search("other"), Some(&f.outsider)).await;
    assert_eq!(closed.json["Organizations"], json!([]));
    // Wildcards are text.
    let wild = f.app.get(&search("%25"), Some(&f.outsider)).await;
    assert_eq!(wild.json["Organizations"], json!([]));
    f.app
        .get("/v1/organizations/search", Some(&f.outsider))
        .await
        .assert_error(400);
    f.app.get(&search("mart"), None).await.assert_error(401);
}
both_backends!(a_search_finds_open_organisations_by_part_of_their_name);

async fn a_person_lists_the_organisations_they_subscribe_to(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    for path in [
        "/v1/user/organizations".to_owned(),
        format!("/v1/users/{}/organizations", f.individual_id),
    ] {
        let r = f.app.get(&path, Some(&f.individual)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let orgs = r.json["UserOrganizations"].as_array().unwrap();
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0]["ID"], f.org.as_str());
        assert!(orgs[0]["Purposes"]
            .as_array()
            .is_some_and(|p| !p.is_empty()));
        // As any subscriber sees the organisation: no key, no role holders.
        assert_eq!(orgs[0]["Subs"]["Key"], "");
        assert_eq!(orgs[0]["Admins"], json!([]));
    }
    let of_type = |t: &str| format!("/v1/user/organizations?typeID={t}");
    let r = f.app.get(&of_type(&f.type_id), Some(&f.individual)).await;
    assert_eq!(r.json["UserOrganizations"].as_array().unwrap().len(), 1);
    let other_type = uuid::Uuid::now_v7().to_string();
    let r = f.app.get(&of_type(&other_type), Some(&f.individual)).await;
    assert_eq!(r.json["UserOrganizations"], json!([]));
    f.app
        .get(&of_type("not-an-id"), Some(&f.individual))
        .await
        .assert_error(400);
    // Nobody reads another person's list.
    let theirs = format!("/v1/users/{}/organizations", f.individual_id);
    f.app.get(&theirs, Some(&f.admin)).await.assert_error(404);
}
both_backends!(a_person_lists_the_organisations_they_subscribe_to);

async fn qr_codes_lead_to_the_organisation_and_its_purposes(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let f = &c.f;
    let org_qr = f.org_path("/qrcode");
    let purpose_qr = f.org_path(&format!("/purposes/{}/qrcode", c.marketing));
    // Nothing until the Admin generates it.
    assert_eq!(
        qr(f, &org_qr, Some(&f.individual)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        qr(f, &format!("{org_qr}/web"), None).await.0,
        StatusCode::NOT_FOUND
    );
    for who in [&f.developer, &f.individual] {
        f.call(Method::POST, &org_qr, who, None)
            .await
            .assert_error(403);
    }
    let made = f
        .app
        .client
        .post(f.app.url(&org_qr))
        .header("authorization", &f.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let (_, text) = decode(&made.bytes().await.unwrap());
    assert!(text.starts_with("http"), "{text}");
    assert!(
        text.ends_with(&format!("/v1/organizations/{}", f.org)),
        "{text}"
    );
    // Shown to anyone signed in, and on the web to anyone.
    assert_eq!(
        qr(f, &org_qr, Some(&f.outsider)).await,
        (StatusCode::OK, text.clone())
    );
    assert_eq!(
        qr(f, &format!("{org_qr}/web"), None).await,
        (StatusCode::OK, text.clone())
    );
    assert_eq!(qr(f, &org_qr, None).await.0, StatusCode::UNAUTHORIZED);

    let made = f.call(Method::POST, &purpose_qr, &f.admin, None).await;
    assert_eq!(made.status, StatusCode::OK);
    let (_, text) = qr(f, &format!("{purpose_qr}/web"), None).await;
    assert!(
        text.ends_with(&format!(
            "/v1/organizations/{}/purposes/{}",
            f.org, c.marketing
        )),
        "{text}"
    );
    let unknown = f.org_path(&format!("/purposes/{}/qrcode", uuid::Uuid::now_v7()));
    f.call(Method::POST, &unknown, &f.admin, None)
        .await
        .assert_error(404);

    // Deleted: gone from both forms; deleting again is 404.
    let gone = f.call(Method::DELETE, &org_qr, &f.admin, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        qr(f, &format!("{org_qr}/web"), None).await.0,
        StatusCode::NOT_FOUND
    );
    f.call(Method::DELETE, &org_qr, &f.admin, None)
        .await
        .assert_error(404);
    // The purpose's code is its own.
    assert_eq!(
        qr(f, &format!("{purpose_qr}/web"), None).await.0,
        StatusCode::OK
    );
}
both_backends!(qr_codes_lead_to_the_organisation_and_its_purposes);
