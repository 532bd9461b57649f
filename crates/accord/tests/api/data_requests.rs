//! Data-subject requests (docs/data-rights.md): a person asks for a copy of their data or
//! its erasure at iGrant.io's paths, the organisation's Admin and Dpo answer through the
//! queue, and the person is told at each step.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{
    bearer, client, email, make_webhook, smtp, Consenting, Fixture, Reply, TestDb, PW,
};
use crate::receiver::Receiver;

/// A deployment whose organisation has a webhook for the data events, and a person
/// (whose address is known) subscribed to it.
struct Requesting {
    f: Fixture,
    person: String,
    person_id: String,
    person_email: String,
    receiver: Receiver,
}

impl Requesting {
    async fn new(db: &TestDb) -> Self {
        Self::on(Fixture::with_smtp(db).await).await
    }

    async fn on(f: Fixture) -> Self {
        let receiver = Receiver::start().await;
        make_webhook(
            &f,
            &receiver.url,
            &[
                "data.download.initiated",
                "data.download.cancelled",
                "data.download.processed",
                "data.delete.initiated",
                "data.delete.cancelled",
                "data.delete.processed",
            ],
        )
        .await;
        let person_email = email("data-subject");
        let person_id = f.app.register(&person_email, PW).await;
        let person = bearer(&f.app.login(&person_email, PW).await);
        let key = f.open_with_key().await;
        let r = f
            .call(
                Method::POST,
                &f.org_path("/users"),
                &person,
                Some(json!({"subscribekey": key})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        Self {
            f,
            person,
            person_id,
            person_email,
            receiver,
        }
    }

    fn mine(&self, rest: &str) -> String {
        format!("/v1/user/organizations/{}{rest}", self.f.org)
    }

    /// A POST exactly as iGrant.io's Android apps send it: no body, no Content-Type.
    async fn post_bare(&self, path: &str, auth: &str) -> Reply {
        let r = client()
            .post(self.f.app.url(path))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        Reply::from(r).await
    }

    async fn get(&self, path: &str, auth: &str) -> Reply {
        self.f.app.get(path, Some(auth)).await
    }

    async fn answer(&self, auth: &str, id: &str, state: i64, comment: &str) -> Reply {
        self.f
            .call(
                Method::PATCH,
                &self.f.org_path(&format!("/data-requests/{id}")),
                auth,
                Some(json!({"state": state, "comment": comment})),
            )
            .await
    }
}

fn is_go_time(t: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S +0000 UTC").is_ok()
}

async fn a_person_asks_for_a_copy_once_at_a_time(db: TestDb) {
    let r = Requesting::new(&db).await;
    let opened = r.post_bare(&r.mine("/data-download"), &r.person).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let req = &opened.json;
    assert_eq!(
        (req["Type"].as_i64(), req["TypeStr"].as_str()),
        (Some(2), Some("Download Data"))
    );
    assert_eq!(
        (req["State"].as_i64(), req["StateStr"].as_str()),
        (Some(1), Some("Request initiated"))
    );
    assert_eq!(req["UserID"], r.person_id.as_str());
    assert_eq!(req["OrgID"], r.f.org.as_str());
    assert!(is_go_time(req["RequestedDate"].as_str().unwrap()), "{req}");
    assert_eq!(req["ClosedDate"], "0001-01-01 00:00:00 +0000 UTC");
    let requested = chrono::NaiveDateTime::parse_from_str(
        req["RequestedDate"].as_str().unwrap(),
        "%Y-%m-%d %H:%M:%S +0000 UTC",
    )
    .unwrap();
    let due = chrono::NaiveDateTime::parse_from_str(
        req["DueDate"].as_str().unwrap(),
        "%Y-%m-%d %H:%M:%S +0000 UTC",
    )
    .unwrap();
    assert!(
        (28..=31).contains(&(due - requested).num_days()),
        "due a month later"
    );
    assert_eq!(req["Overdue"], false);
    let id = req["ID"].as_str().unwrap().to_owned();

    // Only one open of a kind; the other kind is its own.
    let again = r.post_bare(&r.mine("/data-download"), &r.person).await;
    again.assert_error(400);
    let status = r.get(&r.mine("/data-download/status"), &r.person).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    assert_eq!(status.json["RequestOngoing"], true);
    assert_eq!(status.json["ID"], id.as_str());
    assert_eq!(status.json["State"], 1);
    let none = r.get(&r.mine("/data-delete/status"), &r.person).await;
    assert_eq!(none.json["RequestOngoing"], false);
    assert_eq!(none.json["State"], 0);

    let all = r.get(&r.mine("/data-status"), &r.person).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.json["DataRequests"][0]["ID"], id.as_str());
    assert_eq!(all.json["IsRequestsOngoing"], true);
    assert_eq!(all.json["IsDataDownloadRequestOngoing"], true);
    assert_eq!(all.json["IsDataDeleteRequestOngoing"], false);
    assert!(all.json["Links"]["self"].is_string());
    let downloads = r.get(&r.mine("/data-download"), &r.person).await;
    assert_eq!(downloads.json[0]["ID"], id.as_str());
    let deletes = r.get(&r.mine("/data-delete"), &r.person).await;
    assert!(deletes.json.is_null(), "{}", deletes.body);

    let event = r.receiver.wait_for("data.download.initiated", 1).await;
    assert_eq!(event[0].json["data"]["dataRequestID"], id.as_str());
    assert_eq!(event[0].json["data"]["userID"], r.person_id.as_str());
}
both_backends!(a_person_asks_for_a_copy_once_at_a_time);

async fn the_organisation_answers_and_the_person_is_told(db: TestDb) {
    let r = Requesting::new(&db).await;
    let opened = r.post_bare(&r.mine("/data-download"), &r.person).await;
    let id = opened.json["ID"].as_str().unwrap().to_owned();
    let queue = r.f.org_path("/data-requests?status=open");
    for who in [&r.f.admin, &r.f.dpo] {
        let list = r.get(&queue, who).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert_eq!(list.json["DataRequests"][0]["ID"], id.as_str());
        assert!(list.json["DataRequests"][0]["UserName"].is_string());
    }
    for who in [&r.f.developer, &r.f.outsider, &r.person] {
        r.get(&queue, who).await.assert_error(403);
        r.answer(who, &id, 2, "").await.assert_error(403);
    }
    r.get(&r.f.org_path("/data-requests"), &r.f.admin)
        .await
        .assert_error(400);

    let acknowledged = r.answer(&r.f.dpo, &id, 2, "We are gathering it").await;
    assert_eq!(acknowledged.status, StatusCode::OK, "{}", acknowledged.body);
    assert_eq!(acknowledged.json["State"], 2);
    assert_eq!(acknowledged.json["Comment"], "We are gathering it");
    let notes = r.get("/v1/user/notifications", &r.person).await;
    let note = &notes.json["Notifications"][0];
    assert_eq!(note["Type"], "data.download.acknowledged");
    assert!(note["Message"]
        .as_str()
        .unwrap()
        .contains("We are gathering it"));
    let mails = smtp()
        .wait_for_subject(&r.person_email, "DMart: your data request", 1)
        .await;
    assert!(
        mails[0].contains("acknowledged by the organisation"),
        "{}",
        mails[0]
    );

    // Never back; never to the person's own "cancelled".
    r.answer(&r.f.admin, &id, 1, "").await.assert_error(400);
    r.answer(&r.f.admin, &id, 8, "").await.assert_error(400);
    let done = r.answer(&r.f.admin, &id, 7, "Sent to you").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json["StateStr"], "Request processed with action");
    assert_ne!(done.json["ClosedDate"], "0001-01-01 00:00:00 +0000 UTC");
    r.answer(&r.f.admin, &id, 6, "").await.assert_error(400);
    let event = r.receiver.wait_for("data.download.processed", 1).await;
    assert_eq!(event[0].json["data"]["state"], 7);

    let closed = r
        .get(&r.f.org_path("/data-requests?status=closed"), &r.f.admin)
        .await;
    assert_eq!(closed.json["DataRequests"][0]["ID"], id.as_str());
    let open = r.get(&queue, &r.f.admin).await;
    assert!(open.json["DataRequests"].is_null(), "{}", open.body);
    let status = r.get(&r.mine("/data-download/status"), &r.person).await;
    assert_eq!(status.json["RequestOngoing"], false);
    let one = r
        .get(&r.f.org_path(&format!("/data-requests/{id}")), &r.f.dpo)
        .await;
    assert_eq!(one.json["State"], 7);
    // Another organisation's Admin reaches it through neither organisation.
    let elsewhere = format!("/v1/organizations/{}/data-requests/{id}", r.f.other_org);
    r.get(&elsewhere, &r.f.outsider).await.assert_error(404);
    let states = r.get("/v1/organizations/data-requests", &r.f.admin).await;
    assert_eq!(states.json[0], json!({"ID": 1, "Str": "Request initiated"}));
}
both_backends!(the_organisation_answers_and_the_person_is_told);

async fn a_person_cancels_only_their_own_open_request(db: TestDb) {
    let r = Requesting::new(&db).await;
    // The form that names the person, as iGrant.io's later apps use it.
    let named = format!("/v1/users/{}/organizations/{}", r.person_id, r.f.org);
    let opened = r
        .post_bare(&format!("{named}/data-delete"), &r.person)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.body);
    let id = opened.json["ID"].as_str().unwrap().to_owned();
    // Someone else, by either path, reaches nothing.
    let cancel = format!("{named}/data-delete/{id}/cancel");
    r.post_bare(&cancel, &r.f.individual)
        .await
        .assert_error(404);
    let theirs = format!("/v1/user/organizations/{}/data-delete/{id}/cancel", r.f.org);
    r.post_bare(&theirs, &r.f.admin).await.assert_error(404);
    r.get(&format!("{named}/data-status"), &r.f.admin)
        .await
        .assert_error(404);
    // The wrong kind names nothing.
    r.post_bare(&format!("{named}/data-download/{id}/cancel"), &r.person)
        .await
        .assert_error(404);

    let cancelled = r.post_bare(&cancel, &r.person).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.json["State"], 8);
    r.post_bare(&cancel, &r.person).await.assert_error(400);
    r.answer(&r.f.admin, &id, 7, "").await.assert_error(400);
    let event = r.receiver.wait_for("data.delete.cancelled", 1).await;
    assert_eq!(event[0].json["data"]["dataRequestID"], id.as_str());
    // Closed, a new one may be opened.
    let again = r
        .post_bare(&format!("{named}/data-delete"), &r.person)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_ne!(again.json["ID"], id.as_str());
}
both_backends!(a_person_cancels_only_their_own_open_request);

async fn only_people_the_organisation_knows_may_ask(db: TestDb) {
    let r = Requesting::new(&db).await;
    // Registered, never subscribed: the organisation holds nothing of theirs.
    let stranger_email = email("stranger");
    r.f.app.register(&stranger_email, PW).await;
    let stranger = bearer(&r.f.app.login(&stranger_email, PW).await);
    r.post_bare(&r.mine("/data-download"), &stranger)
        .await
        .assert_error(404);
    for org in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let path = format!("/v1/user/organizations/{org}/data-delete");
        r.post_bare(&path, &r.person).await.assert_error(404);
    }
    let anonymous = client()
        .post(r.f.app.url(&r.mine("/data-download")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Someone who left without a recorded consent has no relationship left.
    let left =
        r.f.call(
            Method::DELETE,
            &r.f.org_path(&format!("/users/{}", r.person_id)),
            &r.person,
            None,
        )
        .await;
    assert!(left.status.is_success(), "{}", left.body);
    r.post_bare(&r.mine("/data-download"), &r.person)
        .await
        .assert_error(404);
}
both_backends!(only_people_the_organisation_knows_may_ask);

async fn overdue_requests_show_in_the_queue(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let r = Requesting::on(Fixture::with_clock(&db, clock.clone()).await).await;
    // APIKeys: sessions end long before a month passes.
    let admin = format!("ApiKey {}", r_key(&r.f, &r.f.admin).await);
    let person = format!("ApiKey {}", r_key(&r.f, &r.person).await);
    let opened = r.post_bare(&r.mine("/data-delete"), &person).await;
    let id = opened.json["ID"].as_str().unwrap().to_owned();
    let overdue = |list: &Value| list["DataRequests"][0]["Overdue"].clone();
    let queue = r.f.org_path("/data-requests?status=open");
    assert_eq!(overdue(&r.get(&queue, &admin).await.json), false);
    clock.advance(Duration::days(32));
    assert_eq!(overdue(&r.get(&queue, &admin).await.json), true);
    let mine = r.get(&r.mine("/data-status"), &person).await;
    assert_eq!(
        mine.json["DataRequests"][0]["Overdue"], true,
        "{}",
        mine.body
    );
    let done = r.answer(&admin, &id, 6, "We hold nothing more").await;
    assert_eq!(done.json["Overdue"], false, "{}", done.body);
}

async fn r_key(f: &Fixture, auth: &str) -> String {
    let r = f.call(Method::POST, "/v1/user/apikey", auth, None).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.json["APIKey"].as_str().unwrap().to_owned()
}
both_backends!(overdue_requests_show_in_the_queue);

async fn someone_who_left_after_consenting_still_may_ask(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    c.set(&c.f.individual, &c.marketing, &c.email_attr, "Allow", 0)
        .await;
    let left =
        c.f.call(
            Method::DELETE,
            &c.f.org_path(&format!("/users/{}", c.f.individual_id)),
            &c.f.individual,
            None,
        )
        .await;
    assert!(left.status.is_success(), "{}", left.body);
    let path = format!("/v1/user/organizations/{}/data-delete", c.f.org);
    let r = c.f.call(Method::POST, &path, &c.f.individual, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(someone_who_left_after_consenting_still_may_ask);

async fn closed_requests_are_kept_by_their_rules(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let r = Requesting::on(Fixture::with_clock(&db, clock.clone()).await).await;
    let admin = format!("ApiKey {}", r_key(&r.f, &r.f.admin).await);
    let person = format!("ApiKey {}", r_key(&r.f, &r.person).await);
    let download = r.post_bare(&r.mine("/data-download"), &person).await;
    let id = download.json["ID"].as_str().unwrap().to_owned();
    let cancel = r.mine(&format!("/data-download/{id}/cancel"));
    assert_eq!(r.post_bare(&cancel, &person).await.status, StatusCode::OK);
    let delete = r.post_bare(&r.mine("/data-delete"), &person).await;
    let id = delete.json["ID"].as_str().unwrap().to_owned();
    // An open one is never swept, however old (opened before the erasure, which leaves
    // the organisation nothing of the person's to be asked about).
    let open = r.post_bare(&r.mine("/data-download"), &person).await;
    assert_eq!(open.status, StatusCode::OK, "{}", open.body);
    assert_eq!(
        r.answer(&admin, &id, 7, "erased").await.status,
        StatusCode::OK
    );
    assert_eq!(db.count("data_requests").await, 3);
    // A month and a day: the cancelled one is gone; the answer stays three years.
    clock.advance(Duration::days(31));
    assert_eq!(settle(&db, 2).await, 2);
    clock.advance(Duration::days(3 * 365));
    assert_eq!(settle(&db, 1).await, 1);
    let left = r.get(&r.mine("/data-status"), &person).await;
    assert_eq!(left.json["DataRequests"][0]["ID"], open.json["ID"]);
}
both_backends!(closed_requests_are_kept_by_their_rules);

/// The number of data requests once the background sweep has had its chance.
async fn settle(db: &TestDb, rows: i64) -> i64 {
    let mut n = db.count("data_requests").await;
    for _ in 0..100 {
        if n == rows {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        n = db.count("data_requests").await;
    }
    n
}

/// A subscriber with a name, a phone, an address and a recorded consent, and the paths of
/// their requests to the organisation.
struct Known {
    c: Consenting,
    name: String,
    phone: String,
    email: String,
}

impl Known {
    async fn new(db: &TestDb) -> Self {
        let c = Consenting::new(Fixture::new(db).await).await;
        c.set(&c.f.individual, &c.marketing, &c.email_attr, "Allow", 0)
            .await;
        let name = format!(
            "Zebulon Quill {}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let phone = format!("+46 70 {}", &uuid::Uuid::new_v4().as_u128() % 10_000_000);
        let me =
            c.f.call(
                Method::PATCH,
                "/v1/user",
                &c.f.individual,
                Some(json!({"name": name, "phone": phone})),
            )
            .await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        let email = me.json["User"]["Email"].as_str().unwrap().to_owned();
        Self {
            c,
            name,
            phone,
            email,
        }
    }

    fn mine(&self, rest: &str) -> String {
        format!("/v1/user/organizations/{}{rest}", self.c.f.org)
    }

    async fn ask(&self, kind: &str) -> String {
        let r = self
            .c
            .f
            .call(
                Method::POST,
                &self.mine(&format!("/data-{kind}")),
                &self.c.f.individual,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json["ID"].as_str().unwrap().to_owned()
    }

    async fn answer(&self, id: &str, state: i64) -> Reply {
        self.c
            .f
            .call(
                Method::PATCH,
                &self.c.f.org_path(&format!("/data-requests/{id}")),
                &self.c.f.admin,
                Some(json!({"state": state, "comment": "done"})),
            )
            .await
    }

    async fn export(&self, id: &str, auth: &str) -> Reply {
        self.c
            .f
            .app
            .get(
                &self.mine(&format!("/data-download/{id}/export")),
                Some(auth),
            )
            .await
    }
}

async fn a_released_copy_holds_what_the_organisation_has_of_the_person(db: TestDb) {
    let k = Known::new(&db).await;
    let f = &k.c.f;
    let id = k.ask("download").await;
    // Not before the organisation answers; never anyone else's.
    k.export(&id, &f.individual).await.assert_error(400);
    k.export(&id, &f.admin).await.assert_error(404);
    let named = format!(
        "/v1/users/{}/organizations/{}/data-download/{id}/export",
        f.individual_id, f.org
    );
    f.app.get(&named, Some(&f.outsider)).await.assert_error(404);
    let delete = k.ask("delete").await;
    k.export(&delete, &f.individual).await.assert_error(404);

    assert_eq!(k.answer(&id, 7).await.status, StatusCode::OK);
    let copy = k.export(&id, &f.individual).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    assert!(copy
        .headers
        .get("content-disposition")
        .is_some_and(|v| v.to_str().unwrap().starts_with("attachment")));
    let x = &copy.json;
    assert_eq!(x["Format"], "accord-data-export/1");
    assert_eq!(x["DataRequestID"], id.as_str());
    assert_eq!(x["Organization"]["ID"], f.org.as_str());
    assert_eq!(
        (
            &x["Profile"]["ID"],
            &x["Profile"]["Name"],
            &x["Profile"]["Email"],
            &x["Profile"]["Phone"]
        ),
        (
            &json!(f.individual_id),
            &json!(k.name),
            &json!(k.email),
            &json!(k.phone)
        )
    );
    assert!(x["Subscription"]["SubscribedAt"].is_string(), "{x}");
    assert_eq!(x["Consents"]["ID"], k.c.consent.as_str());
    let marketing = x["Consents"]["ConsentsAndPurposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Purpose"]["ID"] == k.c.marketing.as_str())
        .unwrap();
    assert!(marketing.to_string().contains("Allow"), "{marketing}");
    // The history, each entry with a receipt this server signed over that very entry.
    let history = x["ConsentHistory"].as_array().unwrap();
    assert!(!history.is_empty());
    for e in history {
        assert!(e["Log"]
            .as_str()
            .unwrap()
            .starts_with("Updated consent value"));
        let claims = crate::consents::verify_jws(f, e["Receipt"].as_str().unwrap()).await;
        assert_eq!((&claims["jti"], &claims["hash"]), (&e["ID"], &e["Hash"]));
        assert_eq!(claims["sub"], f.individual_id.as_str());
    }
    // The words agreed to: every version the record and the history name, with its text.
    let versions = x["PurposeVersions"].as_array().unwrap();
    for e in history {
        let named = versions
            .iter()
            .find(|v| v["PurposeID"] == e["PurposeID"] && v["Version"] == e["PurposeVersion"])
            .unwrap_or_else(|| panic!("the version of {e} in {versions:?}"));
        assert_eq!(named["Hash"], e["WordingHash"]);
        assert!(named["WordingText"].as_str().unwrap().contains("Marketing"));
    }
    assert_eq!(versions.len(), 1, "one version named: {versions:?}");
    let requests = x["DataRequests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert!(requests
        .iter()
        .any(|r| r["ID"] == id.as_str() && r["State"] == 7));
    // The form that names the person answers the same copy.
    let again = f.app.get(&named, Some(&f.individual)).await;
    assert_eq!(again.json["ConsentHistory"], x["ConsentHistory"]);
}
both_backends!(a_released_copy_holds_what_the_organisation_has_of_the_person);

async fn an_organisation_may_release_copies_at_once(db: TestDb) {
    let k = Known::new(&db).await;
    let f = &k.c.f;
    let patch = |auth: String| {
        let f = &k.c.f;
        async move {
            f.call(
                Method::PATCH,
                &f.org_path(""),
                &auth,
                Some(json!({"dataexport": {"releaseatonce": true}})),
            )
            .await
        }
    };
    patch(f.developer.clone()).await.assert_error(403);
    let on = patch(f.admin.clone()).await;
    assert_eq!(on.status, StatusCode::ACCEPTED, "{}", on.body);
    assert_eq!(on.json["Organization"]["DataExport"]["ReleaseAtOnce"], true);
    let id = k.ask("download").await;
    let copy = k.export(&id, &f.individual).await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    // Refused (processed without action): nothing is released.
    assert_eq!(k.answer(&id, 6).await.status, StatusCode::OK);
    k.export(&id, &f.individual).await.assert_error(400);
}
both_backends!(an_organisation_may_release_copies_at_once);

/// Where the person's opaque ID may stay after an erasure, and why: their own account
/// and its sign-in (kept: the erasure is the organisation's, not the account's), the ledger (the proof of
/// consent, Art. 7(1)), the requests (the proof the organisation answered), the action
/// log and the announced events (what was done, by ID), and the person's own inbox.
const KEPT_BY_ID: [&str; 9] = [
    "users",
    "sessions",
    "email_verifications",
    "consent_history",
    "data_requests",
    "organization_logs",
    "outbox",
    "webhook_deliveries",
    "notifications",
];

/// Where the person's name, address and phone may stay: their account, its pending
/// address proof, and the sign-in and mail throttles keyed by their address (which expire).
const ACCOUNT: [&str; 3] = ["users", "email_verifications", "login_throttle"];

async fn an_erasure_leaves_nothing_identifying_outside_the_proof(db: TestDb) {
    let k = Known::new(&db).await;
    let f = &k.c.f;
    // An open offer from the organisation to the person, too.
    let offer = f
        .call(
            Method::POST,
            &f.org_path("/admins"),
            &f.admin,
            Some(json!({"userid": f.individual_id, "roleid": 3})),
        )
        .await;
    assert_eq!(offer.status, StatusCode::ACCEPTED, "{}", offer.body);
    let id = k.ask("delete").await;
    let queue = f.org_path("/data-requests?status=open");
    let open = f.app.get(&queue, Some(&f.admin)).await;
    assert_eq!(open.json["DataRequests"][0]["UserName"], k.name.as_str());
    let held = db.tables_containing(&f.individual_id).await;
    for table in ["subscriptions", "consents", "consent_values", "offers"] {
        assert!(held.contains(table), "{table} before: {held:?}");
    }

    let done = k.answer(&id, 7).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        done.json["UserName"], "",
        "the queue keeps the opaque ID only"
    );

    let by_id = db.tables_containing(&f.individual_id).await;
    let extra: Vec<_> = by_id
        .iter()
        .filter(|t| !KEPT_BY_ID.contains(&t.as_str()))
        .collect();
    assert!(extra.is_empty(), "the person's ID is still in {extra:?}");
    for identifying in [&k.name, &k.email, &k.phone] {
        let found = db.tables_containing(identifying).await;
        assert!(
            found.iter().all(|t| ACCOUNT.contains(&t.as_str())),
            "{identifying} outside the account: {found:?}"
        );
    }
    // What the organisation reads of them: nothing but the proof.
    let users = f.app.get(&f.org_path("/users"), Some(&f.admin)).await;
    assert!(!users.body.contains(&f.individual_id), "{}", users.body);
    let record = format!(
        "/v1/organizations/{}/users/{}/consents",
        f.org, f.individual_id
    );
    f.app.get(&record, Some(&f.admin)).await.assert_error(404);
    let history = f
        .app
        .get(&f.org_path("/consenthistory"), Some(&f.admin))
        .await;
    assert!(history.body.contains(&f.individual_id), "the proof stays");
    let verified = f
        .app
        .get(&f.org_path("/consenthistory/verify"), Some(&f.admin))
        .await;
    assert_eq!(verified.json["Intact"], true, "{}", verified.body);
    // The person's account is theirs and stays.
    let me = f.app.get("/v1/user", Some(&f.individual)).await;
    assert_eq!(me.json["User"]["Name"], k.name.as_str());
}
both_backends!(an_erasure_leaves_nothing_identifying_outside_the_proof);
