//! iGrant.io's own clients, replayed: each test sends one call exactly as a public client
//! sends it (path, headers, body) and checks the answer with that client's success rule
//! and the keys (and JSON types) its model classes require. The client and the place are
//! cited beside each call (docs/igrant.md, "iGrant.io's own clients").
//!
//! J  = L3-iGrant/privacy-dashboard-android (Java SDK, `igrant_org_sdk`)
//! K  = decentralised-dataexchange/bb-consent-android-privacy-dashboard (Kotlin)
//! I1 = L3-iGrant/mobileSDK-iOS; I2 = decentralised-dataexchange/bb-consent-ios-privacy-dashboard
//! W  = decentralised-dataexchange/bb-consent-privacy-dashboard (JavaScript)

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{email, TestDb};
use crate::helpers::{Consenting, Fixture, PW};

/// A consenting individual (Consenting) who also logs in as the SDKs do.
struct Clients {
    c: Consenting,
}

impl Clients {
    async fn new(db: &TestDb) -> Self {
        Self {
            c: Consenting::new(Fixture::new(db).await).await,
        }
    }

    fn f(&self) -> &Fixture {
        &self.c.f
    }

    /// The SDKs' first call, with `Authorization` as given (or none).
    async fn orgs_and_consents(&self, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut req = crate::helpers::client().get(self.f().app.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = crate::helpers::Reply::from(req.send().await.unwrap()).await;
        (r.status, r.json)
    }

    fn first_call(&self) -> String {
        format!("/v1/GetUserOrgsAndConsents?orgID={}", self.f().org)
    }
}

fn is_whole_second_utc(t: &str) -> bool {
    // `yyyy-MM-dd'T'kk:mm:ss'Z'` (J, K) and `yyyy-MM-dd'T'HH:mm:ssZ` (I1).
    t.len() == 20
        && t.as_bytes()[10] == b'T'
        && t.ends_with('Z')
        && chrono::DateTime::parse_from_rfc3339(t).is_ok()
}

// J `Api/APIService.java`@0d9f7d4 `@POST("v1.1/users/login")` on a root base URL;
// I1 `LoginWebService.swift`@09772b4 `baseUrl_V1 + "users/login"`. Success: J 200;
// I1 2xx with `User` and `Token` objects (`UserInfo.swift`@09772b4).
async fn sdks_log_in_at_the_root_path(db: TestDb) {
    let f = Fixture::new(&db).await;
    let who = email("sdk-login");
    let id = f.app.register(&who, PW).await;
    let r = f
        .app
        .post(
            "/v1.1/users/login",
            json!({"username": who, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["ID"], id.as_str());
    assert!(r.json["Token"]["access_token"].is_string());
    assert!(r.json["Token"]["refresh_token"].is_string());
    assert!(r.json["Token"]["expires_in"].is_i64());
    // The spec's nested form stays.
    let r = f
        .app
        .post(
            "/v1/v1.1/users/login",
            json!({"username": who, "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Wrong password: the 401 J shows as "invalid email or password".
    let r = f
        .app
        .post(
            "/v1.1/users/login",
            json!({"username": who, "password": "wrong password here"}),
        )
        .await;
    r.assert_error(401);
}
both_backends!(sdks_log_in_at_the_root_path);

// J, K, I1, I2: `GET v1/GetUserOrgsAndConsents?orgID=` (J `APIService.java`@0d9f7d4,
// models `OrganizationDetailResponse.java`, `Organization.java` (Type: String),
// `PurposeConsent.java`, `Purpose.java`, `Count.java`@9bea6f5).
async fn every_sdk_starts_with_the_organisation_and_its_consents(db: TestDb) {
    let cl = Clients::new(&db).await;
    let (status, body) = cl
        .orgs_and_consents(&cl.first_call(), &[("Authorization", &cl.f().individual)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let org = &body["Organization"];
    assert_eq!(org["ID"], cl.f().org.as_str());
    assert_eq!(org["Name"], "DMart");
    // A string: J's and K's Gson models fail on an object here.
    assert_eq!(org["Type"], "Retail");
    assert_eq!(org["TypeID"], cl.f().type_id.as_str());
    for key in [
        "CoverImageURL",
        "LogoImageURL",
        "Location",
        "PolicyURL",
        "Description",
    ] {
        assert!(org[key].is_string(), "{key} in {org}");
    }
    assert_eq!(body["ConsentID"], cl.c.consent.as_str());
    let purposes = body["PurposeConsents"]
        .as_array()
        .expect("an array, never null");
    assert_eq!(purposes.len(), 2);
    let marketing = purposes
        .iter()
        .find(|p| p["Purpose"]["ID"] == cl.c.marketing.as_str())
        .expect("Marketing");
    // J unboxes these (NPE when absent).
    assert_eq!(marketing["Purpose"]["LawfulUsage"], false);
    assert!(marketing["Purpose"]["Description"].is_string());
    assert_eq!(marketing["Count"]["Total"], 3);
    assert!(marketing["Count"]["Consented"].is_i64());

    // The type's name comes with the organisation's cached layout: a rename shows in the
    // next call (renaming counts as a change to each of its organisations' layouts).
    let r = cl
        .f()
        .call(
            Method::PATCH,
            &format!("/v1/organizations/types/{}", cl.f().type_id),
            &cl.f().platform,
            Some(json!({"type": "Retail and grocery"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (status, renamed) = cl
        .orgs_and_consents(&cl.first_call(), &[("Authorization", &cl.f().individual)])
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["Organization"]["Type"], "Retail and grocery");

    // I1's later form names the user in the path: the same answer for oneself.
    let path = format!(
        "/v1/users/{}/GetUserOrgsAndConsents?orgID={}",
        cl.f().individual_id,
        cl.f().org
    );
    let (status, same) = cl
        .orgs_and_consents(&path, &[("Authorization", &cl.f().individual)])
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same["ConsentID"], body["ConsentID"]);
    // The organisation's Admin reads it; anyone else reads nothing.
    let (status, _) = cl
        .orgs_and_consents(&path, &[("Authorization", &cl.f().admin)])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = cl
        .orgs_and_consents(&path, &[("Authorization", &cl.f().outsider)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The outsider's own first call at an organisation they never joined: no record.
    let (status, _) = cl
        .orgs_and_consents(&cl.first_call(), &[("Authorization", &cl.f().outsider)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = cl
        .orgs_and_consents(
            "/v1/GetUserOrgsAndConsents",
            &[("Authorization", &cl.f().individual)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = cl.orgs_and_consents(&cl.first_call(), &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
both_backends!(every_sdk_starts_with_the_organisation_and_its_consents);

// J sends its login's access token as `Authorization: ApiKey <access_token>`
// (`LoginActivity.java`@013497f, `ApiManager.setAuthHeader`); I2 without an APIKey sends
// `accesstoken: <token>` and no `Authorization` (`BBConsentBaseWebService.swift`@6a80b4d).
async fn access_tokens_work_under_the_headers_the_sdks_use(db: TestDb) {
    let cl = Clients::new(&db).await;
    let token = cl.f().individual.trim_start_matches("Bearer ").to_owned();
    for headers in [
        [("Authorization", format!("ApiKey {token}"))],
        [("accesstoken", token.clone())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = cl.orgs_and_consents(&cl.first_call(), &headers).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {body}");
    }
    // An ended session ends under every header.
    let r = cl
        .f()
        .call(
            Method::POST,
            "/v1/users/logout",
            &cl.f().individual,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for headers in [
        [("Authorization", format!("ApiKey {token}"))],
        [("accesstoken", token.clone())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = cl.orgs_and_consents(&cl.first_call(), &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}");
    }
    // A forged token under the APIKey scheme is still no credential.
    let (status, _) = cl
        .orgs_and_consents(&cl.first_call(), &[("Authorization", "ApiKey not.a.token")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
both_backends!(access_tokens_work_under_the_headers_the_sdks_use);

// J and K take the purpose's ID from the top-level `ID` of
// `GET …/consents/{c}/purposes/{p}` and address the attribute change with it
// (J `UsagePurposesActivity.java`@6a799f6; K `BBConsentDataAttributeListingActivity.kt`).
// Body `{"Consented","Days"}` (J `ConsentStatusRequest.java`@9bea6f5); success 200.
async fn android_apps_change_an_attribute_through_the_purpose_read(db: TestDb) {
    let cl = Clients::new(&db).await;
    let r = cl
        .f()
        .call(
            Method::GET,
            &cl.c.purpose(&cl.c.marketing),
            &cl.f().individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["ID"], cl.c.marketing.as_str());
    assert_eq!(r.json["ConsentID"], cl.c.consent.as_str());
    let purpose_id = r.json["ID"].as_str().unwrap();
    let attribute = r.json["Consents"]["Consents"][0]["ID"].as_str().unwrap();
    let status = &r.json["Consents"]["Consents"][0]["Status"];
    assert!(status["Consented"].is_string() && status["Remaining"].is_i64());
    let r = cl
        .f()
        .call(
            Method::PATCH,
            &cl.c.attribute(purpose_id, attribute),
            &cl.f().individual,
            Some(json!({"Consented": "Disallow", "Days": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // W checks `Status === 200` in the body.
    assert_eq!(r.json["Status"], 200);
}
both_backends!(android_apps_change_an_attribute_through_the_purpose_read);

// W replaces its purpose list with the answer's `ConsentsAndPurposes`
// (`src/Provider/store.js`@5b38ef1 `updateAllAttribute`); I1 sends `{"consented":"DisAllow"}`
// (`OrganisationWebServiceManager.swift`@09772b4).
async fn a_purpose_status_change_answers_every_purpose(db: TestDb) {
    let cl = Clients::new(&db).await;
    let r = cl
        .f()
        .call(
            Method::POST,
            &format!("{}/status", cl.c.purpose(&cl.c.marketing)),
            &cl.f().individual,
            Some(json!({"consented": "DisAllow"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let purposes = r.json["ConsentsAndPurposes"].as_array().unwrap();
    assert_eq!(purposes.len(), 2, "{}", r.body);
    let marketing = purposes
        .iter()
        .find(|p| p["Purpose"]["ID"] == cl.c.marketing.as_str())
        .unwrap();
    assert!(marketing["Consents"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["Status"]["Consented"] == "Disallow"));
}
both_backends!(a_purpose_status_change_answers_every_purpose);

// J `ConsentHistoryActivity.java`@013497f: `GET v1/users/{u}/consenthistory?limit=8&orgid=&startid=`,
// shows `Log`, parses `TimeStamp` with `yyyy-MM-dd'T'kk:mm:ss'Z'`, pages with the last `ID`
// until `ConsentHistory` is null. I1 `NotificationWebService.swift`@5ca94b8:
// `GET user/consenthistory?orgid=`.
async fn consent_history_reads_as_the_apps_parse_it(db: TestDb) {
    let cl = Clients::new(&db).await;
    cl.c.set(
        &cl.f().individual,
        &cl.c.marketing,
        &cl.c.email_attr,
        "Disallow",
        0,
    )
    .await;
    let first = format!(
        "/v1/users/{}/consenthistory?limit=8&orgid={}&startid=",
        cl.f().individual_id,
        cl.f().org
    );
    let r = cl.f().app.get(&first, Some(&cl.f().individual)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let entries = r.json["ConsentHistory"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{}", r.body);
    let entry = &entries[0];
    assert_eq!(
        entry["Log"],
        "Updated consent value to <Disallow> for attribute <Email> in organization <DMart> for the purpose <Marketing>"
    );
    let at = entry["TimeStamp"].as_str().unwrap();
    assert!(is_whole_second_utc(at), "{at}");
    for key in ["ID", "OrgID", "PurposeID"] {
        assert!(entry[key].is_string(), "{key}");
    }
    // The next page, from the last ID: null, where the Android apps stop.
    let next = format!(
        "/v1/users/{}/consenthistory?limit=8&orgid={}&startid={}",
        cl.f().individual_id,
        cl.f().org,
        entry["ID"].as_str().unwrap()
    );
    let r = cl.f().app.get(&next, Some(&cl.f().individual)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json["ConsentHistory"].is_null(), "{}", r.body);
    // The iOS path names nobody: the caller's own.
    let mine = format!("/v1/user/consenthistory?orgid={}", cl.f().org);
    let r = cl.f().app.get(&mine, Some(&cl.f().individual)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["ConsentHistory"][0]["ID"], entry["ID"]);
    assert!(r.json["Links"]["self"].is_string());
    // Someone else's: their own (none), never the individual's.
    let r = cl.f().app.get(&mine, Some(&cl.f().outsider)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json["ConsentHistory"].is_null(), "{}", r.body);
}
both_backends!(consent_history_reads_as_the_apps_parse_it);

// I1 `allowAllConsent` (`OrganisationWebService.swift`@09772b4): `POST
// UpdateAllConsents/{userID}?orgID=&consented=Disallow` with the JSON body `{}`; 2xx + JSON.
async fn update_all_consents_sets_every_purpose(db: TestDb) {
    let cl = Clients::new(&db).await;
    let path = format!(
        "/v1/UpdateAllConsents/{}?orgID={}&consented=Disallow",
        cl.f().individual_id,
        cl.f().org
    );
    // Not the outsider's to change: nothing moves.
    let r = cl
        .f()
        .call(Method::POST, &path, &cl.f().outsider, Some(json!({})))
        .await;
    r.assert_error(404);
    let r = cl
        .f()
        .call(Method::POST, &path, &cl.f().individual, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let record = cl.c.record().await;
    for p in record["ConsentsAndPurposes"].as_array().unwrap() {
        for a in p["Consents"].as_array().unwrap() {
            assert_eq!(a["Status"]["Consented"], "Disallow", "{p}");
        }
    }
    let r = cl
        .f()
        .call(
            Method::POST,
            &format!(
                "/v1/UpdateAllConsents/{}?orgID={}&consented=Maybe",
                cl.f().individual_id,
                cl.f().org
            ),
            &cl.f().individual,
            None,
        )
        .await;
    r.assert_error(400);
}
both_backends!(update_all_consents_sets_every_purpose);

// I1 `LoginServiceManager.swift`@40f1e08 and I2 `handleUserInfoResponse`@32004c4 read
// `json["User"]` from `GET user`; `PATCH user` with `{"Phone","name"}` likewise.
async fn the_account_reads_as_the_ios_sdks_decode_it(db: TestDb) {
    let cl = Clients::new(&db).await;
    let r = cl.f().app.get("/v1/user", Some(&cl.f().individual)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["ID"], cl.f().individual_id.as_str());
    let r = cl
        .f()
        .call(
            Method::PATCH,
            "/v1/user",
            &cl.f().individual,
            Some(json!({"Phone": "+46 7252 98991", "name": "Alice"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["User"]["Phone"], "+46 7252 98991");
    assert_eq!(r.json["User"]["Name"], "Alice");
}
both_backends!(the_account_reads_as_the_ios_sdks_decode_it);

// J `ApiManager.java`@013497f and I1 `BaseWebService.refreshToken`@09772b4:
// `POST user/token` with `{"clientId":"igrant-ios-app","refreshToken"}`, no Authorization.
async fn sdks_refresh_at_user_token(db: TestDb) {
    let f = Fixture::new(&db).await;
    let who = email("sdk-refresh");
    f.app.register(&who, PW).await;
    let login = f.app.login(&who, PW).await;
    let refresh = login["Token"]["refresh_token"].as_str().unwrap();
    let r = f
        .app
        .post(
            "/v1/user/token",
            json!({"clientId": "igrant-ios-app", "refreshToken": refresh}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json["access_token"].is_string() && r.json["refresh_token"].is_string());
    // Used once: the same refresh token again is refused (and ends the session).
    let r = f
        .app
        .post(
            "/v1/user/token",
            json!({"clientId": "igrant-ios-app", "refreshToken": refresh}),
        )
        .await;
    r.assert_error(401);
}
both_backends!(sdks_refresh_at_user_token);

// The v2.1.2 OpenAPI's own paths: `GET /organizations/webhooks/payload/content-types` and
// `POST /users/unregister` (200 "User removed successfully").
async fn the_older_documents_paths_answer(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = f
        .app
        .get("/v1/organizations/webhooks/payload/content-types", None)
        .await;
    assert_eq!(r.json, json!({"ContentTypes": ["application/json"]}));
    let who = email("unregistering");
    f.app.register(&who, PW).await;
    let auth = crate::helpers::bearer(&f.app.login(&who, PW).await);
    let r = f
        .call(Method::POST, "/v1/users/unregister", &auth, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["Msg"], "User removed successfully");
    // Gone: the session with it, and the address may register again.
    f.app.get("/v1/user", Some(&auth)).await.assert_error(401);
    f.app.register(&who, PW).await;
}
both_backends!(the_older_documents_paths_answer);

// I1 `LoginWebService.updateDeviceToken`@09772b4 (and I2 alike): `POST user/register/ios`
// with `{"devicetoken": "…"}`; success is 2xx with a JSON body and no string `errorCode`.
// iGrant.io's server answered `{"User": …}` with `Client.Type` 1 (iOS) or 2 (Android).
async fn sdks_register_the_device_for_push_notifications(db: TestDb) {
    let cl = Clients::new(&db).await;
    let f = cl.f();
    for (path, kind) in [
        ("/v1/user/register/ios", 1),
        ("/v1/user/register/android", 2),
    ] {
        let token = format!("device-{kind}-{}", uuid::Uuid::new_v4());
        let r = f
            .call(
                Method::POST,
                path,
                &f.individual,
                Some(json!({"devicetoken": token})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.json["errorCode"].is_null());
        assert_eq!(r.json["User"]["Client"]["Token"], token.as_str());
        assert_eq!(r.json["User"]["Client"]["Type"], kind);
    }
    f.call(
        Method::POST,
        "/v1/user/register/ios",
        &f.individual,
        Some(json!({"devicetoken": "  "})),
    )
    .await
    .assert_error(400);
    f.app
        .post("/v1/user/register/ios", json!({"devicetoken": "x"}))
        .await
        .assert_error(401);
}
both_backends!(sdks_register_the_device_for_push_notifications);

// I1 `LoginWebService.changeProfileImageService`@09772b4 / `BaseWebService.upload`@b12b43d:
// `POST user/image`, multipart part `userimage` (`image.jpg`, JPEG); it reads `User.ImageURL`.
async fn the_ios_sdk_uploads_the_profile_image(db: TestDb) {
    let cl = Clients::new(&db).await;
    let f = cl.f();
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 30]))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let form = reqwest::multipart::Form::new().part(
        "userimage",
        reqwest::multipart::Part::bytes(jpeg.into_inner())
            .file_name("image.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = f
        .app
        .client
        .post(f.app.url("/v1/user/image"))
        .header("authorization", &f.individual)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = crate::helpers::Reply::from(r).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json["User"]["ImageURL"].as_str().unwrap();
    assert!(
        url.contains(&format!("/v1/users/{}/image/", f.individual_id)),
        "{url}"
    );
    let read = f
        .app
        .get(&url[url.find("/v1/").unwrap()..], Some(&f.individual))
        .await;
    assert_eq!(read.status, StatusCode::OK);
}
both_backends!(the_ios_sdk_uploads_the_profile_image);

// I1 `OrganisationWebService.acceptEulaConsent`@09772b4 (I2 @1e4beef): `POST
// user/organizations/{orgId}/eula` with a JSON body it does not specify; 2xx JSON is
// success. The acceptance shows in `User.Orgs[].EulaAccepted` (iGrant.io's User object)
// until the organisation changes its EULA.
async fn a_subscriber_accepts_the_eula(db: TestDb) {
    let cl = Clients::new(&db).await;
    let f = cl.f();
    let eula_path = f.org_path("/eulaURL");
    let eula = |url: &str| {
        f.call(
            Method::POST,
            &eula_path,
            &f.admin,
            Some(json!({"eulaurl": url})),
        )
    };
    let path = format!("/v1/user/organizations/{}/eula", f.org);
    // No EULA yet: nothing to accept.
    f.call(Method::POST, &path, &f.individual, Some(json!({})))
        .await
        .assert_error(400);
    assert_eq!(
        eula("https://dmart.example/eula-1").await.status,
        StatusCode::ACCEPTED
    );
    let accepted = |r: &crate::helpers::Reply| {
        r.json["User"]["Orgs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["OrgID"] == f.org.as_str())
            .unwrap()["EulaAccepted"]
            .clone()
    };
    let me = f.app.get("/v1/user", Some(&f.individual)).await;
    assert_eq!(accepted(&me), false);
    let r = f
        .call(Method::POST, &path, &f.individual, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(accepted(&r), true);
    // A new EULA asks again.
    assert_eq!(
        eula("https://dmart.example/eula-2").await.status,
        StatusCode::ACCEPTED
    );
    let me = f.app.get("/v1/user", Some(&f.individual)).await;
    assert_eq!(accepted(&me), false);
    // Only a subscriber accepts.
    f.call(Method::POST, &path, &f.outsider, None)
        .await
        .assert_error(404);
}
both_backends!(a_subscriber_accepts_the_eula);

// I1 `OrganisationWebServiceManager.swift`@09772b4 refreshes its token only when a 401's
// `Message` is exactly "Invalid token, Authorization failed" (iGrant.io's server's words);
// I2 returns to its login screen on the same message. A token that fails its signature
// or has expired is refused so.
async fn a_refused_access_token_reads_as_the_ios_sdk_expects(db: TestDb) {
    let f = Fixture::new(&db).await;
    let token = f.individual.trim_start_matches("Bearer ").to_owned();
    // The same token with a character inside its signature changed (not the last, whose
    // low bits a decoder may ignore).
    let mut tampered: Vec<char> = token.chars().collect();
    let at = tampered.len() - 10;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    for bad in [tampered.as_str(), "not-a-token"] {
        let r = f.app.get("/v1/user", Some(&format!("Bearer {bad}"))).await;
        r.assert_error(401);
        assert_eq!(r.json["Message"], "Invalid token, Authorization failed");
    }
}
both_backends!(a_refused_access_token_reads_as_the_ios_sdk_expects);
