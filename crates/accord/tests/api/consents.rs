//! Permissions and consents: records, changes, expiry, history, the ledger, receipts and
//! consented users.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{attribute_in, ledger_cli, purpose_in, user, Consenting, Fixture, PW};
use crate::helpers::{email, join_all_spawned, report, TestDb};

async fn a_new_record_reads_the_defaults(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let record = c.record().await;
    assert_eq!(
        (record["OrgID"].as_str(), record["UserID"].as_str()),
        (Some(c.f.org.as_str()), Some(c.f.individual_id.as_str()))
    );
    let marketing = purpose_in(&record, &c.marketing);
    assert_eq!(marketing["Count"], json!({"Total": 3, "Consented": 0}));
    assert_eq!(marketing["Purpose"]["LawfulUsage"], false);
    let age = attribute_in(marketing, &c.age);
    assert_eq!(age["Description"], "Age");
    assert_eq!(
        age["Status"],
        json!({"Consent": "Disallow", "Consented": "Disallow", "TimeStamp": "0001-01-01T00:00:00Z", "Days": 0, "Remaining": 0})
    );
    assert_eq!(marketing["DataRetention"], json!({"Expiry": ""}));
    // A legal obligation needs no consent: its attributes read Allow.
    let payroll = purpose_in(&record, &c.payroll);
    assert_eq!(payroll["Count"], json!({"Total": 1, "Consented": 1}));
    assert_eq!(attribute_in(payroll, &c.age)["Status"]["Consent"], "Allow");

    // The same record by ID; for the Admin and the Dpo; nobody else.
    let by_id =
        c.f.call(
            Method::GET,
            &format!("{}/{}", c.consents(&c.f.individual_id), c.consent),
            &c.f.dpo,
            None,
        )
        .await;
    assert_eq!(
        (by_id.status, by_id.json["ID"].as_str()),
        (StatusCode::OK, Some(c.consent.as_str()))
    );
    assert_eq!(
        c.f.call(
            Method::GET,
            &c.consents(&c.f.individual_id),
            &c.f.admin,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    c.f.call(
        Method::GET,
        &c.consents(&c.f.individual_id),
        &c.f.developer,
        None,
    )
    .await
    .assert_error(404);
    c.f.call(
        Method::GET,
        &c.consents(&c.f.individual_id),
        &c.f.outsider,
        None,
    )
    .await
    .assert_error(404);
    c.f.app
        .get(&c.consents(&c.f.individual_id), None)
        .await
        .assert_error(401);
    // Someone else's consent ID under this user, or a user with no record: 404.
    c.f.call(
        Method::GET,
        &format!(
            "{}/{}",
            c.consents(&c.f.individual_id),
            uuid::Uuid::now_v7()
        ),
        &c.f.individual,
        None,
    )
    .await
    .assert_error(404);
    let (stranger, stranger_id) = user(&c.f.app, "stranger").await;
    c.f.call(Method::GET, &c.consents(&stranger_id), &stranger, None)
        .await
        .assert_error(404);
    c.f.call(Method::GET, &c.consents(&stranger_id), &c.f.admin, None)
        .await
        .assert_error(404);
}
both_backends!(a_new_record_reads_the_defaults);

/// A purpose's one-word status (`GET …/purposes/{id}/status`).
async fn purpose_status(c: &Consenting, auth: &str) -> String {
    let path = format!("{}/status", c.purpose(&c.marketing));
    let r = c.f.call(Method::GET, &path, auth, None).await;
    r.json["Consented"].as_str().unwrap().to_owned()
}

async fn an_attribute_change_is_counted_and_receipted(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let reply = c
        .set(&c.f.individual, &c.marketing, &c.age, "allow", 0)
        .await;
    assert_eq!(
        (reply["Msg"].as_str(), reply["Status"].as_i64()),
        (Some("Consent updated successfully"), Some(200))
    );
    assert!(
        reply["Receipt"].as_str().unwrap().split('.').count() == 3,
        "a JWS: {reply}"
    );
    let record = c.record().await;
    let marketing = purpose_in(&record, &c.marketing);
    assert_eq!(marketing["Count"], json!({"Total": 3, "Consented": 1}));
    assert_eq!(
        attribute_in(marketing, &c.age)["Status"]["Consent"],
        "Allow"
    );
    // The same attribute in another purpose is another consent.
    assert_eq!(
        attribute_in(purpose_in(&record, &c.payroll), &c.age)["Status"]["Consent"],
        "Allow"
    );
    assert_eq!(
        purpose_status(&c, &c.f.individual).await,
        "AskMe",
        "mixed reads AskMe"
    );
}
both_backends!(an_attribute_change_is_counted_and_receipted);

/// `POST …/status` sets every attribute of the purpose; the status reads Allow, Disallow,
/// or AskMe when mixed; the purpose view counts the same.
async fn a_purpose_status_sets_and_summarises_its_attributes(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let status_path = format!("{}/status", c.purpose(&c.marketing));
    let allow = Some(json!({"consented": "Allow"}));
    let r =
        c.f.call(Method::POST, &status_path, &c.f.individual, allow)
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every purpose, as iGrant.io's server answered (its web dashboard replaces its list).
    assert_eq!(r.json["ConsentsAndPurposes"].as_array().unwrap().len(), 2);
    assert_eq!(
        purpose_in(&r.json, &c.marketing)["Count"],
        json!({"Total": 3, "Consented": 3})
    );
    assert_eq!(purpose_status(&c, &c.f.individual).await, "Allow");
    // Several attributes at once: the spec's body and answer.
    let body = json!({"consentattributes": [{"attributeid": c.email_attr}, {"attributeid": c.zip}], "consented": "Disallow"});
    let r =
        c.f.call(
            Method::PATCH,
            &c.purpose(&c.marketing),
            &c.f.individual,
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.json["Purposes"][0];
    assert_eq!(
        (p["ID"].as_str(), p["AllowAll"].as_bool()),
        (Some(c.marketing.as_str()), Some(false))
    );
    let zip = p["Consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["TemplateID"] == c.zip.as_str())
        .unwrap();
    assert_eq!(zip["Status"]["Consented"], "Disallow");
    assert_eq!(r.json["Receipts"].as_array().unwrap().len(), 2);
    assert_eq!(purpose_status(&c, &c.f.dpo).await, "AskMe");
    let disallow = Some(json!({"consented": "DISALLOW"}));
    let r =
        c.f.call(Method::POST, &status_path, &c.f.individual, disallow)
            .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(purpose_status(&c, &c.f.individual).await, "Disallow");
    // The purpose view.
    let r =
        c.f.call(Method::GET, &c.purpose(&c.marketing), &c.f.individual, None)
            .await;
    assert_eq!(
        (
            r.json["ConsentID"].as_str(),
            r.json["Consents"]["Count"]["Consented"].as_i64()
        ),
        (Some(c.consent.as_str()), Some(0))
    );
}
both_backends!(a_purpose_status_sets_and_summarises_its_attributes);

async fn bad_consent_changes_are_refused(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let age = c.attribute(&c.marketing, &c.age);
    for body in [
        json!({"consented": "maybe"}),
        json!({"consented": "Allow", "days": -1}),
        json!({"consented": "Allow", "days": "x"}),
        json!({"consented": 1}),
        json!({"days": 3}),
    ] {
        c.f.call(Method::PATCH, &age, &c.f.individual, Some(body))
            .await
            .assert_error(400);
    }
    let ok = Some(json!({"consented": "Allow"}));
    let nowhere = uuid::Uuid::now_v7().to_string();
    for path in [
        c.attribute(&c.marketing, &nowhere),
        c.attribute(&nowhere, &c.age),
        c.attribute(&c.payroll, &c.zip),
    ] {
        c.f.call(Method::PATCH, &path, &c.f.individual, ok.clone())
            .await
            .assert_error(404);
    }
    let none_named = Some(json!({"consentattributes": [], "consented": "Allow"}));
    c.f.call(
        Method::PATCH,
        &c.purpose(&c.marketing),
        &c.f.individual,
        none_named,
    )
    .await
    .assert_error(400);
}
both_backends!(bad_consent_changes_are_refused);

/// Who may change: the individual and the Admin (for them); not the Dpo, not others.
async fn only_the_individual_and_the_admin_change_a_record(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let age = c.attribute(&c.marketing, &c.age);
    let ok = Some(json!({"consented": "Allow"}));
    c.f.call(Method::PATCH, &age, &c.f.dpo, ok.clone())
        .await
        .assert_error(403);
    for other in [&c.f.outsider, &c.f.developer] {
        c.f.call(Method::PATCH, &age, other, ok.clone())
            .await
            .assert_error(404);
    }
    c.set(&c.f.admin, &c.marketing, &c.age, "AskMe", 0).await;
    c.set(&c.f.individual, &c.marketing, &c.age, "Allow", 0)
        .await;
}
both_backends!(only_the_individual_and_the_admin_change_a_record);

async fn time_limited_consent_expires_without_anyone_touching_it(db: TestDb) {
    let clock = accord_domain::FixedClock::new(Utc::now());
    let c = Consenting::new(Fixture::with_clock(&db, clock.clone()).await).await;
    // Days pass: sessions end (10 hours), APIKeys do not.
    let key = |auth: String| {
        let f = &c.f;
        async move {
            let r = f.call(Method::POST, "/v1/user/apikey", &auth, None).await;
            format!("ApiKey {}", r.json["APIKey"].as_str().unwrap())
        }
    };
    let (individual, developer, admin) = (
        key(c.f.individual.clone()).await,
        key(c.f.developer.clone()).await,
        key(c.f.admin.clone()).await,
    );
    c.set(&individual, &c.marketing, &c.email_attr, "Allow", 2)
        .await;
    let record = || async {
        c.f.call(
            Method::GET,
            &c.consents(&c.f.individual_id),
            &individual,
            None,
        )
        .await
        .json
    };
    let read = |record: Value| {
        attribute_in(purpose_in(&record, &c.marketing), &c.email_attr)["Status"].clone()
    };
    let st = read(record().await);
    assert_eq!(
        (
            st["Consent"].as_str(),
            st["Days"].as_i64(),
            st["Remaining"].as_i64()
        ),
        (Some("Allow"), Some(2), Some(2))
    );
    assert_ne!(st["TimeStamp"], "0001-01-01T00:00:00Z");
    let consented =
        c.f.org_path(&format!("/purposes/{}/consented/users", c.marketing));
    assert_eq!(
        c.f.call(Method::GET, &consented, &developer, None)
            .await
            .json["Users"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    clock.advance(Duration::days(1));
    assert_eq!(read(record().await)["Remaining"], 1);
    clock.advance(Duration::days(1));
    let st = read(record().await);
    assert_eq!(
        (st["Consent"].as_str(), st["Remaining"].as_i64()),
        (Some("Disallow"), Some(0))
    );
    assert_eq!(
        c.f.call(Method::GET, &consented, &developer, None)
            .await
            .json["Users"],
        json!([]),
        "expired consent no longer counts"
    );
    c.f.call(Method::GET, "/v1/user", &c.f.individual, None)
        .await
        .assert_error(401);

    // Retention: the latest change plus the period, once enabled.
    let r =
        c.f.call(
            Method::PATCH,
            &c.f.org_path(""),
            &admin,
            Some(json!({"dataretention": {"RetentionPeriod": 86400, "Enabled": true}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    c.set(&individual, &c.marketing, &c.age, "Allow", 0).await;
    let record = record().await;
    let expected = (clock_now(&clock) + Duration::days(1))
        .format("%Y-%m-%d %H:%M:%S +0000 UTC")
        .to_string();
    assert_eq!(
        purpose_in(&record, &c.marketing)["DataRetention"]["Expiry"],
        expected.as_str()
    );
    assert_eq!(
        purpose_in(&record, &c.payroll)["DataRetention"]["Expiry"],
        "",
        "lawful usage keeps no retention clock"
    );
}
both_backends!(time_limited_consent_expires_without_anyone_touching_it);

fn clock_now(clock: &accord_domain::FixedClock) -> chrono::DateTime<Utc> {
    use accord_domain::Clock as _;
    clock.now()
}

async fn history_is_written_filtered_and_paged(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    c.set(&c.f.individual, &c.marketing, &c.age, "Allow", 0)
        .await;
    c.set(&c.f.individual, &c.marketing, &c.age, "Disallow", 0)
        .await;
    c.set(&c.f.admin, &c.marketing, &c.zip, "AskMe", 7).await;
    c.set(&c.f.individual, &c.payroll, &c.age, "Disallow", 0)
        .await;

    let path = format!("/v1/users/{}/consenthistory", c.f.individual_id);
    let r = c.f.call(Method::GET, &path, &c.f.individual, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let entries = r.json["ConsentHistory"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 4);
    // Newest first; what changed, from what, by whom.
    assert_eq!(
        (
            entries[0]["PurposeID"].as_str(),
            entries[0]["NewValue"].as_str()
        ),
        (Some(c.payroll.as_str()), Some("Disallow"))
    );
    assert_eq!(entries[0]["OldValue"], "", "never set before");
    assert_eq!(
        (
            entries[1]["ChangedBy"].as_str(),
            entries[1]["Days"].as_i64()
        ),
        (Some("organisation_admin"), Some(7))
    );
    assert_eq!(entries[1]["ActorID"], c.f.admin_id.as_str());
    assert_eq!(
        (
            entries[2]["OldValue"].as_str(),
            entries[2]["NewValue"].as_str()
        ),
        (Some("Allow"), Some("Disallow"))
    );
    assert_eq!(entries[3]["ChangedBy"], "individual");
    assert_eq!(entries[2]["PrevHash"], entries[3]["Hash"], "chained");

    // Filters and paging.
    let r =
        c.f.call(
            Method::GET,
            &format!("{path}?purposeid={}", c.payroll),
            &c.f.individual,
            None,
        )
        .await;
    assert_eq!(r.json["ConsentHistory"].as_array().unwrap().len(), 1);
    let r =
        c.f.call(
            Method::GET,
            &format!("{path}?orgid={}", c.f.other_org),
            &c.f.individual,
            None,
        )
        .await;
    // An empty page is null, as iGrant.io's server wrote it.
    assert_eq!(r.json["ConsentHistory"], Value::Null);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let r =
        c.f.call(
            Method::GET,
            &format!("{path}?startDate={today}&endDate={today}"),
            &c.f.individual,
            None,
        )
        .await;
    assert_eq!(r.json["ConsentHistory"].as_array().unwrap().len(), 4);
    let r =
        c.f.call(
            Method::GET,
            &format!("{path}?endDate=2001-01-01"),
            &c.f.individual,
            None,
        )
        .await;
    assert_eq!(r.json["ConsentHistory"], Value::Null);
    c.f.call(
        Method::GET,
        &format!("{path}?startDate=yesterday"),
        &c.f.individual,
        None,
    )
    .await
    .assert_error(400);
    let r =
        c.f.call(
            Method::GET,
            &format!("{path}?limit=3"),
            &c.f.individual,
            None,
        )
        .await;
    assert_eq!(r.json["ConsentHistory"].as_array().unwrap().len(), 3);
    let next = r.json["Links"]["Next"].as_str().unwrap().to_owned();
    let r = crate::helpers::Reply::from(
        c.f.app
            .client
            .get(&next)
            .header("authorization", &c.f.individual)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.json["ConsentHistory"].as_array().unwrap().len(), 1);
    assert!(r.json["Links"].get("Next").is_none());

    // Only one's own; the organisation's view for its Admin and Dpo.
    c.f.call(Method::GET, &path, &c.f.admin, None)
        .await
        .assert_error(404);
    let org_path = c.f.org_path("/consenthistory");
    assert_eq!(
        c.f.call(Method::GET, &org_path, &c.f.dpo, None).await.json["ConsentHistory"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    c.f.call(Method::GET, &org_path, &c.f.developer, None)
        .await
        .assert_error(403);
    c.f.call(Method::GET, &org_path, &c.f.individual, None)
        .await
        .assert_error(403);
}
both_backends!(history_is_written_filtered_and_paged);

async fn the_ledger_detects_tampering_and_receipts_verify(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let first = c
        .set(&c.f.individual, &c.marketing, &c.age, "Allow", 0)
        .await;
    c.set(&c.f.individual, &c.marketing, &c.email_attr, "Allow", 30)
        .await;
    c.set(&c.f.individual, &c.marketing, &c.age, "Disallow", 0)
        .await;
    let verify = c.f.org_path("/consenthistory/verify");
    let r = c.f.call(Method::GET, &verify, &c.f.dpo, None).await;
    assert_eq!(
        r.json,
        json!({"Intact": true, "Entries": 3, "FirstBrokenEntry": null, "Problem": null, "CheckpointsChecked": 0})
    );
    c.f.call(Method::GET, &verify, &c.f.developer, None)
        .await
        .assert_error(403);

    // The receipt verifies against the published key and says what happened.
    let id = first["ConsentHistoryID"].as_str().unwrap();
    let r =
        c.f.call(
            Method::GET,
            &format!(
                "/v1/users/{}/consenthistory/{id}/receipt",
                c.f.individual_id
            ),
            &c.f.individual,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["Receipt"], first["Receipt"], "re-issued identically");
    let claims = verify_jws(&c.f, r.json["Receipt"].as_str().unwrap()).await;
    assert_eq!(
        (claims["jti"].as_str(), claims["value"].as_str()),
        (Some(id), Some("Allow"))
    );
    assert_eq!(
        (
            claims["org"].as_str(),
            claims["purpose"].as_str(),
            claims["attribute"].as_str()
        ),
        (
            Some(c.f.org.as_str()),
            Some(c.marketing.as_str()),
            Some(c.age.as_str())
        )
    );
    assert_eq!(claims["typ"], "consent-receipt");
    let receipt_path = format!(
        "/v1/users/{}/consenthistory/{id}/receipt",
        c.f.individual_id
    );
    assert_eq!(
        c.f.call(Method::GET, &receipt_path, &c.f.admin, None)
            .await
            .status,
        StatusCode::OK
    );
    c.f.call(Method::GET, &receipt_path, &c.f.outsider, None)
        .await
        .assert_error(404);
    c.f.call(
        Method::GET,
        &format!("/v1/users/{}/consenthistory/{id}/receipt", c.f.admin_id),
        &c.f.admin,
        None,
    )
    .await
    .assert_error(404);

    // Someone edits the second entry in the database: the API and the CLI both see it.
    db.execute(
        "UPDATE consent_history SET new_value = 'Disallow' WHERE organization_id = $1 AND seq = 2",
        &[&c.f.org],
    )
    .await;
    let r = c.f.call(Method::GET, &verify, &c.f.admin, None).await;
    assert_eq!(
        (
            r.json["Intact"].as_bool(),
            r.json["FirstBrokenEntry"]["Seq"].as_i64()
        ),
        (Some(false), Some(2)),
        "{}",
        r.body
    );
    let out = ledger_cli(&db, &c.f.org, None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("BROKEN"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A clean organisation verifies with the CLI too.
    let out = ledger_cli(&db, &c.f.other_org, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "intact: 0 entries"
    );
}
both_backends!(the_ledger_detects_tampering_and_receipts_verify);

/// What `verify` says through the API (the server running) and the CLI (its own process
/// on the database): the problem's kind and position, or `None` when intact.
async fn ledger_verdict(
    c: &Consenting,
    db: &TestDb,
    checkpoints: &[&str],
) -> Option<(String, i64)> {
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/consenthistory/verify"),
            &c.f.dpo,
            Some(json!({"Checkpoints": checkpoints})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json["CheckpointsChecked"],
        checkpoints.len(),
        "{}",
        r.body
    );
    let api = (r.json["Intact"] == false).then(|| {
        (
            r.json["Problem"]["Kind"].as_str().unwrap().to_owned(),
            r.json["Problem"]["Seq"].as_i64().unwrap(),
        )
    });
    let file = std::env::temp_dir().join(format!("accord-cp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, checkpoints.join("\n")).unwrap();
    let out = ledger_cli(db, &c.f.org, Some(&file));
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let cli = if out.status.success() {
        assert!(stdout.starts_with("intact"), "{stdout}");
        None
    } else {
        assert_eq!(
            out.status.code(),
            Some(1),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (kind, rest) = stdout
            .strip_prefix("BROKEN (")
            .and_then(|r| r.split_once(") at position "))
            .unwrap_or_else(|| panic!("{stdout}"));
        let seq = rest
            .split(':')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"));
        Some((kind.to_owned(), seq))
    };
    assert_eq!(api, cli, "the API and the CLI agree");
    api
}

/// Six changes by the individual to Marketing, with their receipts, and the Dpo's
/// checkpoint of the ledger they made (position 6): the setting of the ledger-edit tests.
struct Ledger {
    c: Consenting,
    receipts: Vec<String>,
    checkpoint: String,
}

impl Ledger {
    async fn new(db: &TestDb) -> Self {
        let c = Consenting::new(Fixture::new(db).await).await;
        let mut receipts = vec![];
        for (attribute, value) in [
            (&c.age, "Allow"),
            (&c.email_attr, "Allow"),
            (&c.age, "Disallow"),
            (&c.zip, "Allow"),
            (&c.email_attr, "Disallow"),
            (&c.zip, "Disallow"),
        ] {
            let r = c
                .set(&c.f.individual, &c.marketing, attribute, value, 0)
                .await;
            receipts.push(r["Receipt"].as_str().unwrap().to_owned());
        }
        let r =
            c.f.call(
                Method::GET,
                &c.f.org_path("/consenthistory/checkpoint"),
                &c.f.dpo,
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.json["Seq"].as_i64()),
            (StatusCode::OK, Some(6)),
            "{}",
            r.body
        );
        let checkpoint = r.json["Checkpoint"].as_str().unwrap().to_owned();
        Self {
            c,
            receipts,
            checkpoint,
        }
    }
}

/// The Dpo (not the Developer) reads a checkpoint; the untouched ledger verifies against
/// it and a receipt; a forged checkpoint, or something that is not one, is refused.
async fn an_untouched_ledger_verifies_against_its_checkpoint(db: TestDb) {
    let Ledger {
        c,
        receipts,
        checkpoint,
    } = Ledger::new(&db).await;
    c.f.call(
        Method::GET,
        &c.f.org_path("/consenthistory/checkpoint"),
        &c.f.developer,
        None,
    )
    .await
    .assert_error(403);
    assert_eq!(
        ledger_verdict(&c, &db, &[&checkpoint, &receipts[2]]).await,
        None
    );
    // A checkpoint of another organisation, or a forged one, is refused.
    let mut forged = checkpoint.clone();
    forged.insert(forged.len() - 5, 'A');
    for bad in [forged.as_str(), "not a token"] {
        c.f.call(
            Method::POST,
            &c.f.org_path("/consenthistory/verify"),
            &c.f.dpo,
            Some(json!({"Checkpoints": [bad]})),
        )
        .await
        .assert_error(400);
    }
}
both_backends!(an_untouched_ledger_verifies_against_its_checkpoint);

/// Every kind of edit made directly in the database, without the signing key, is caught
/// and named at its position: a changed, removed, inserted or reordered entry, the newest
/// entries removed, a current value flipped; restored, the ledger verifies again.
async fn every_kind_of_ledger_edit_is_caught(db: TestDb) {
    let Ledger { c, .. } = Ledger::new(&db).await;
    let org = c.f.org.as_str();
    for table in ["consent_history", "consent_chain_heads", "consent_values"] {
        db.execute(
            &format!(
                "CREATE TABLE backup_{table} AS SELECT * FROM {table} WHERE organization_id = $1"
            ),
            &[org],
        )
        .await;
    }
    let restore = || async {
        for table in ["consent_history", "consent_chain_heads", "consent_values"] {
            db.execute(
                &format!("DELETE FROM {table} WHERE organization_id = $1"),
                &[org],
            )
            .await;
            db.execute(
                &format!("INSERT INTO {table} SELECT * FROM backup_{table}"),
                &[],
            )
            .await;
        }
    };
    let h = "UPDATE consent_history SET";
    let cases: Vec<(&str, Vec<String>, (&str, i64))> = vec![
        ("a changed entry", vec![format!("{h} new_value = 'Allow' WHERE organization_id = $1 AND seq = 3")], ("altered", 3)),
        ("an entry that holds no consent value", vec![format!("{h} new_value = 'Maybe' WHERE organization_id = $1 AND seq = 4")], ("altered", 4)),
        ("a removed entry", vec!["DELETE FROM consent_history WHERE organization_id = $1 AND seq = 3".into()], ("missing", 3)),
        (
            "an inserted entry (the later ones renumbered)",
            vec![
                format!("{h} seq = -seq WHERE organization_id = $1 AND seq >= 3"),
                format!("{h} seq = 1 - seq WHERE organization_id = $1 AND seq < 0"),
                "INSERT INTO consent_history SELECT id || 'x', organization_id, 3, user_id, consent_id, purpose_id, \
                 attribute_id, actor_id, changed_by, old_value, new_value, days, at, prev_hash, hash, \
                 purpose_version, wording_hash FROM consent_history WHERE organization_id = $1 AND seq = 2".into(),
            ],
            ("unlinked", 3),
        ),
        (
            "two entries reordered",
            vec![
                format!("{h} seq = -2 WHERE organization_id = $1 AND seq = 2"),
                format!("{h} seq = 2 WHERE organization_id = $1 AND seq = 3"),
                format!("{h} seq = 3 WHERE organization_id = $1 AND seq = -2"),
            ],
            ("unlinked", 2),
        ),
        ("the newest entries removed", vec!["DELETE FROM consent_history WHERE organization_id = $1 AND seq >= 5".into()], ("truncated", 5)),
        (
            "a current value flipped",
            vec!["UPDATE consent_values SET value = 'Allow' WHERE organization_id = $1 AND value = 'Disallow'".into()],
            ("value", 0),
        ),
    ];
    for (what, edits, expected) in &cases {
        for sql in edits {
            db.execute(sql, &[org]).await;
        }
        let verdict = ledger_verdict(&c, &db, &[]).await;
        let verdict = verdict.map(|(k, seq)| (k, if expected.0 == "value" { 0 } else { seq }));
        assert_eq!(verdict, Some((expected.0.to_owned(), expected.1)), "{what}");
        restore().await;
        assert_eq!(
            ledger_verdict(&c, &db, &[]).await,
            None,
            "restored after {what}"
        );
    }
}
both_backends!(every_kind_of_ledger_edit_is_caught);

/// The chain cut back with its head and values, then rewritten onwards, is consistent in
/// itself: only a checkpoint or a receipt kept outside the database shows it, at its
/// position.
async fn a_chain_cut_back_or_rewritten_is_caught_by_what_was_kept_outside(db: TestDb) {
    let Ledger {
        c,
        receipts,
        checkpoint,
    } = Ledger::new(&db).await;
    let org = c.f.org.as_str();
    // The chain cut back to its second entry, head and values made to agree: nothing in
    // the database shows it; the checkpoint and a receipt kept outside do.
    db.execute(
        "DELETE FROM consent_history WHERE organization_id = $1 AND seq > 2",
        &[org],
    )
    .await;
    db.execute(
        "UPDATE consent_chain_heads SET seq = 2, hash = (SELECT hash FROM consent_history \
         WHERE organization_id = $1 AND seq = 2) WHERE organization_id = $1",
        &[org],
    )
    .await;
    db.execute(
        "DELETE FROM consent_values WHERE organization_id = $1",
        &[org],
    )
    .await;
    assert_eq!(
        ledger_verdict(&c, &db, &[]).await,
        None,
        "consistent in itself"
    );
    assert_eq!(
        ledger_verdict(&c, &db, &[&checkpoint]).await,
        Some(("truncated".into(), 3))
    );
    // And rewritten onwards: new entries at the old positions.
    for value in ["Disallow", "Allow", "Disallow", "Allow"] {
        c.set(&c.f.individual, &c.marketing, &c.age, value, 0).await;
    }
    assert_eq!(
        ledger_verdict(&c, &db, &[]).await,
        None,
        "consistent in itself"
    );
    assert_eq!(
        ledger_verdict(&c, &db, &[&checkpoint]).await,
        Some(("rewritten".into(), 6))
    );
    assert_eq!(
        ledger_verdict(&c, &db, &[&receipts[2], &checkpoint]).await,
        Some(("rewritten".into(), 3))
    );
}
both_backends!(a_chain_cut_back_or_rewritten_is_caught_by_what_was_kept_outside);

/// With the server stopped: an edit made then is named by the CLI.
async fn an_edit_made_while_the_server_is_stopped_is_named_by_the_cli(db: TestDb) {
    let ledger = Ledger::new(&db).await;
    let org = ledger.c.f.org.clone();
    drop(ledger);
    db.execute(
        "UPDATE consent_history SET new_value = 'AskMe' WHERE organization_id = $1 AND seq = 1",
        &[&org],
    )
    .await;
    let out = ledger_cli(&db, &org, None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("BROKEN (altered) at position 1:"),
        "{stdout}"
    );
}
both_backends!(an_edit_made_while_the_server_is_stopped_is_named_by_the_cli);

pub(crate) async fn verify_jws(f: &Fixture, token: &str) -> Value {
    let jwks = f.app.get("/.well-known/jwks.json", None).await.json;
    let header = jsonwebtoken::decode_header(token).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .unwrap();
    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(token, &decoding, &v)
        .expect("receipt verifies")
        .claims
}

/// Twelve more subscribers to the Consenting organisation: every third allows Email,
/// every fourth says AskMe to Zip, the second disallows Age. `allowing` holds, ascending,
/// those who count as consenting to Marketing (Allow or AskMe).
struct Subscribers {
    c: Consenting,
    allowing: Vec<String>,
}

impl Subscribers {
    async fn new(db: &TestDb) -> Self {
        let c = Consenting::new(Fixture::new(db).await).await;
        let key =
            c.f.call(
                Method::GET,
                &c.f.org_path("/subscribe-key"),
                &c.f.admin,
                None,
            )
            .await
            .json["SubscribeKey"]
                .as_str()
                .unwrap()
                .to_owned();
        let mut allowing = vec![];
        for i in 0..12 {
            let who = email(&format!("c{i}"));
            let id = c.f.app.register(&who, PW).await;
            let auth = crate::helpers::bearer(&c.f.app.login(&who, PW).await);
            let r =
                c.f.call(
                    Method::POST,
                    &c.f.org_path("/users"),
                    &auth,
                    Some(json!({"subscribekey": key})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            let consent =
                c.f.call(Method::GET, &c.consents(&id), &auth, None)
                    .await
                    .json["ID"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            let base = format!(
                "{}/{consent}/purposes/{}/attributes",
                c.consents(&id),
                c.marketing
            );
            if i % 3 == 0 {
                c.f.call(
                    Method::PATCH,
                    &format!("{base}/{}", c.email_attr),
                    &auth,
                    Some(json!({"consented": "Allow"})),
                )
                .await;
                allowing.push(id.clone());
            }
            if i % 4 == 0 {
                c.f.call(
                    Method::PATCH,
                    &format!("{base}/{}", c.zip),
                    &auth,
                    Some(json!({"consented": "AskMe"})),
                )
                .await;
                if !allowing.contains(&id) {
                    allowing.push(id.clone());
                }
            }
            if i == 1 {
                // Disallow is recorded but does not count.
                c.f.call(
                    Method::PATCH,
                    &format!("{base}/{}", c.age),
                    &auth,
                    Some(json!({"consented": "Disallow"})),
                )
                .await;
            }
        }
        allowing.sort();
        Self { c, allowing }
    }

    /// `…/purposes/{Marketing}/consented/users`.
    fn marketing_users(&self) -> String {
        let c = &self.c;
        c.f.org_path(&format!("/purposes/{}/consented/users", c.marketing))
    }
}

/// Those who allow (or say AskMe to) something of a purpose are listed, ascending and
/// each once; those who only disallow are not; an attribute lists its own; a lawful-usage
/// purpose lists every subscriber.
async fn consented_users_are_listed_by_purpose_and_attribute(db: TestDb) {
    let s = Subscribers::new(&db).await;
    let c = &s.c;
    let r =
        c.f.call(Method::GET, &s.marketing_users(), &c.f.developer, None)
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<String> = r.json["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["ID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, s.allowing, "ascending, each once");
    let attribute = c.f.org_path(&format!(
        "/purposes/{}/attributes/{}/consented/users",
        c.marketing, c.email_attr
    ));
    assert_eq!(
        c.f.call(Method::GET, &attribute, &c.f.dpo, None).await.json["Users"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A lawful-usage purpose lists every subscriber.
    let lawful =
        c.f.org_path(&format!("/purposes/{}/consented/users", c.payroll));
    assert_eq!(
        c.f.call(Method::GET, &lawful, &c.f.admin, None).await.json["Users"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
}
both_backends!(consented_users_are_listed_by_purpose_and_attribute);

/// Paging: 2 a page, absolute links, Next only while more follow; the pages together
/// are the list.
async fn consented_users_page_by_absolute_next_links(db: TestDb) {
    let s = Subscribers::new(&db).await;
    let c = &s.c;
    let mut url = c.f.app.url(&format!("{}?limit=2", s.marketing_users()));
    let mut seen = vec![];
    loop {
        let r = crate::helpers::Reply::from(
            c.f.app
                .client
                .get(&url)
                .header("authorization", &c.f.admin)
                .send()
                .await
                .unwrap(),
        )
        .await;
        seen.extend(
            r.json["Users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["ID"].as_str().unwrap().to_owned()),
        );
        match r.json["Links"].get("Next").and_then(Value::as_str) {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, s.allowing);
}
both_backends!(consented_users_page_by_absolute_next_links);

/// Unsubscribed users no longer count.
async fn an_unsubscribed_user_is_no_longer_listed_as_consenting(db: TestDb) {
    let s = Subscribers::new(&db).await;
    let c = &s.c;
    let gone = s.allowing[0].clone();
    assert_eq!(
        c.f.call(
            Method::DELETE,
            &c.f.org_path(&format!("/users/{gone}")),
            &c.f.admin,
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let ids =
        c.f.call(Method::GET, &s.marketing_users(), &c.f.admin, None)
            .await
            .json["Users"]
            .clone();
    assert!(ids
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["ID"] != gone.as_str()));
}
both_backends!(an_unsubscribed_user_is_no_longer_listed_as_consenting);

/// Who may ask for consented users (not the individual), and bad input: a limit over
/// 500, an unknown purpose, an attribute not of the purpose.
async fn consented_users_refuse_individuals_and_bad_input(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    let purpose =
        c.f.org_path(&format!("/purposes/{}/consented/users", c.marketing));
    c.f.call(Method::GET, &purpose, &c.f.individual, None)
        .await
        .assert_error(403);
    c.f.call(
        Method::GET,
        &format!("{purpose}?limit=501"),
        &c.f.admin,
        None,
    )
    .await
    .assert_error(400);
    c.f.call(
        Method::GET,
        &c.f.org_path(&format!(
            "/purposes/{}/consented/users",
            uuid::Uuid::now_v7()
        )),
        &c.f.admin,
        None,
    )
    .await
    .assert_error(404);
    c.f.call(
        Method::GET,
        &c.f.org_path(&format!(
            "/purposes/{}/attributes/{}/consented/users",
            c.payroll, c.zip
        )),
        &c.f.admin,
        None,
    )
    .await
    .assert_error(404);
}
both_backends!(consented_users_refuse_individuals_and_bad_input);

/// The Consenting organisation with a second subscriber, the allower, who already allows
/// Email of Marketing; the path on which the Admin asks for consent to Marketing.
struct Requesting {
    c: Consenting,
    allower: String,
    request: String,
}

impl Requesting {
    async fn new(db: &TestDb) -> Self {
        let c = Consenting::new(Fixture::new(db).await).await;
        let key =
            c.f.call(
                Method::GET,
                &c.f.org_path("/subscribe-key"),
                &c.f.admin,
                None,
            )
            .await
            .json["SubscribeKey"]
                .as_str()
                .unwrap()
                .to_owned();
        let (allower, allower_id) = user(&c.f.app, "allower").await;
        c.f.call(
            Method::POST,
            &c.f.org_path("/users"),
            &allower,
            Some(json!({"subscribekey": key})),
        )
        .await;
        let consent =
            c.f.call(Method::GET, &c.consents(&allower_id), &allower, None)
                .await
                .json["ID"]
                .as_str()
                .unwrap()
                .to_owned();
        let path = format!(
            "{}/{consent}/purposes/{}/attributes/{}",
            c.consents(&allower_id),
            c.marketing,
            c.email_attr
        );
        assert_eq!(
            c.f.call(
                Method::PATCH,
                &path,
                &allower,
                Some(json!({"consented": "Allow"}))
            )
            .await
            .status,
            StatusCode::OK
        );
        let request =
            c.f.org_path(&format!("/purposes/{}/attributes/consent", c.marketing));
        Self {
            c,
            allower,
            request,
        }
    }

    /// The Admin asks for consent to Email of Marketing.
    async fn ask_for_email(&self) -> crate::helpers::Reply {
        let c = &self.c;
        c.f.call(
            Method::POST,
            &self.request,
            &c.f.admin,
            Some(json!({"attributeids": [c.email_attr]})),
        )
        .await
    }

    /// The individual's newest notification.
    async fn notification(&self) -> Value {
        let c = &self.c;
        let list =
            c.f.call(Method::GET, "/v1/user/notifications", &c.f.individual, None)
                .await;
        list.json["Notifications"][0].clone()
    }
}

/// A consent request notifies only those who disallow (the webhook says how many), with
/// the purpose, the attributes and a message naming them; the allower gets nothing.
async fn a_consent_request_notifies_only_those_who_disallow(db: TestDb) {
    let s = Requesting::new(&db).await;
    let c = &s.c;
    let receiver = crate::receiver::Receiver::start().await;
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/webhooks"),
            &c.f.admin,
            Some(json!({"PayloadURL": receiver.url, "SubscribedEvents": ["consent.requested"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = s.ask_for_email().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        r.json["NotifiedUsers"], 1,
        "only the one who disallows is asked"
    );
    let got = receiver.wait_for("consent.requested", 1).await;
    assert_eq!(got[0].json["data"]["notifiedUsers"], 1);

    let n = s.notification().await;
    assert_eq!(
        (
            n["Type"].as_str(),
            n["Read"].as_bool(),
            n["PurposeID"].as_str()
        ),
        (
            Some("consent.requested"),
            Some(false),
            Some(c.marketing.as_str())
        )
    );
    assert_eq!(n["AttributeIDs"], json!([c.email_attr]));
    assert!(n["Message"].as_str().unwrap().contains("Email"));
    assert_eq!(
        c.f.call(Method::GET, "/v1/user/notifications", &s.allower, None)
            .await
            .json["Notifications"],
        json!([])
    );
}
both_backends!(a_consent_request_notifies_only_those_who_disallow);

/// A notification is marked read by the one it was sent to; to anyone else it does not
/// exist.
async fn a_notification_is_marked_read_by_its_owner_only(db: TestDb) {
    let s = Requesting::new(&db).await;
    let c = &s.c;
    s.ask_for_email().await;
    let n = s.notification().await;
    let id = n["ID"].as_str().unwrap();
    let r =
        c.f.call(
            Method::PATCH,
            &format!("/v1/user/notifications/{id}"),
            &c.f.individual,
            Some(json!({"read": true})),
        )
        .await;
    assert_eq!(
        (r.status, r.json["Notification"]["Read"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{}",
        r.body
    );
    c.f.call(
        Method::PATCH,
        &format!("/v1/user/notifications/{id}"),
        &s.allower,
        Some(json!({"read": true})),
    )
    .await
    .assert_error(404);
}
both_backends!(a_notification_is_marked_read_by_its_owner_only);

/// Who may ask, and for what: not the Dpo; not for an unknown attribute or one of a
/// lawful-usage purpose. Naming none (the spec marks the list optional) asks about every
/// attribute of the purpose.
async fn only_the_admin_asks_for_consent_and_only_to_consent_based_attributes(db: TestDb) {
    let s = Requesting::new(&db).await;
    let c = &s.c;
    c.f.call(
        Method::POST,
        &s.request,
        &c.f.dpo,
        Some(json!({"attributeids": [c.email_attr]})),
    )
    .await
    .assert_error(403);
    for body in [json!({"attributeids": []}), json!({})] {
        let r =
            c.f.call(Method::POST, &s.request, &c.f.admin, Some(body))
                .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert!(r.json["NotifiedUsers"].is_u64(), "{}", r.body);
    }
    c.f.call(
        Method::POST,
        &s.request,
        &c.f.admin,
        Some(json!({"attributeids": [uuid::Uuid::now_v7().to_string()]})),
    )
    .await
    .assert_error(400);
    let lawful =
        c.f.org_path(&format!("/purposes/{}/attributes/consent", c.payroll));
    c.f.call(
        Method::POST,
        &lawful,
        &c.f.admin,
        Some(json!({"attributeids": [c.age]})),
    )
    .await
    .assert_error(400);
}
both_backends!(only_the_admin_asks_for_consent_and_only_to_consent_based_attributes);

async fn the_action_log_records_what_admins_do(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    // An admin login, a configuration change, reads of who consents and how many subscribe.
    let admin_email = {
        let me =
            c.f.call(Method::GET, "/v1/user", &c.f.admin, None)
                .await
                .json["User"]
                .clone();
        me["Email"].as_str().unwrap().to_owned()
    };
    let r =
        c.f.app
            .post(
                "/v1/users/admin/login",
                json!({"username": admin_email, "password": PW}),
            )
            .await;
    assert_eq!(r.status, StatusCode::OK);
    c.f.call(
        Method::PATCH,
        &c.f.org_path(""),
        &c.f.admin,
        Some(json!({"location": "Lund"})),
    )
    .await;
    c.f.call(
        Method::GET,
        &c.f.org_path(&format!("/purposes/{}/consented/users", c.marketing)),
        &c.f.developer,
        None,
    )
    .await;
    c.f.call(
        Method::GET,
        &c.f.org_path("/users/count"),
        &c.f.developer,
        None,
    )
    .await;

    let logs =
        c.f.call(Method::GET, &c.f.org_path("/logs"), &c.f.dpo, None)
            .await;
    assert_eq!(logs.status, StatusCode::OK, "{}", logs.body);
    let kinds: Vec<String> = logs.json["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["Type"].as_str().unwrap().to_owned())
        .collect();
    for kind in [
        "admin_login",
        "configuration",
        "consented_users",
        "user_count",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    assert_eq!(kinds[0], "user_count", "newest first");
    let profile_change = logs.json["Logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["Message"] == "updated the organisation's profile")
        .expect("logged");
    assert_eq!(profile_change["ActorID"], c.f.admin_id.as_str());
    let r =
        c.f.call(
            Method::GET,
            &c.f.org_path("/logs?limit=2"),
            &c.f.admin,
            None,
        )
        .await;
    assert_eq!(r.json["Logs"].as_array().unwrap().len(), 2);
    assert!(r.json["Links"]["Next"].is_string());
    c.f.call(Method::GET, &c.f.org_path("/logs"), &c.f.developer, None)
        .await
        .assert_error(403);
    c.f.call(Method::GET, &c.f.org_path("/logs"), &c.f.individual, None)
        .await
        .assert_error(403);
}
both_backends!(the_action_log_records_what_admins_do);

/// Concurrent changes to one record go through the group committer, many to a batch:
/// each is decided against the record as the changes before it in the batch left it.
/// So every entry's old value is the new value of the entry before it for the same
/// attribute, the chain is unbroken, and the record reads the last value.
async fn concurrent_changes_to_one_record_chain_in_order(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    const CHANGES: usize = 48;
    let values = ["Allow", "Disallow", "AskMe"];
    let calls = (0..CHANGES).map(|i| {
        let (auth, attribute) = match i % 3 {
            0 => (&c.f.individual, &c.age),
            1 => (&c.f.admin, &c.age),
            _ => (&c.f.individual, &c.zip),
        };
        let request =
            c.f.app
                .client
                .patch(c.f.app.url(&c.attribute(&c.marketing, attribute)))
                .header("Authorization", auth.as_str())
                .json(&json!({"consented": values[i % values.len()], "days": 0}));
        async move {
            let r = request.send().await.expect("sent");
            (r.status(), r.text().await.unwrap_or_default())
        }
    });
    for (status, body) in join_all_spawned(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let path = format!("/v1/users/{}/consenthistory?limit=100", c.f.individual_id);
    let r = c.f.call(Method::GET, &path, &c.f.individual, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut entries = r.json["ConsentHistory"].as_array().unwrap().clone();
    assert_eq!(entries.len(), CHANGES);
    entries.sort_by_key(|e| e["Seq"].as_i64().unwrap());
    let seqs: Vec<i64> = entries.iter().map(|e| e["Seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=CHANGES as i64).collect::<Vec<_>>(),
        "one entry per change, no gaps"
    );
    let mut last: std::collections::HashMap<String, String> = Default::default();
    for pair in entries.windows(2) {
        assert_eq!(
            pair[1]["PrevHash"], pair[0]["Hash"],
            "chained in sequence order"
        );
    }
    for e in &entries {
        let attribute = e["AttributeID"].as_str().unwrap().to_owned();
        let old = e["OldValue"].as_str().unwrap().to_owned();
        assert_eq!(
            old,
            last.get(&attribute).cloned().unwrap_or_default(),
            "entry {} read its attribute as the previous change left it",
            e["Seq"]
        );
        last.insert(attribute, e["NewValue"].as_str().unwrap().to_owned());
    }
    let record = c.record().await;
    let marketing = purpose_in(&record, &c.marketing);
    for attribute in [&c.age, &c.zip] {
        assert_eq!(
            attribute_in(marketing, attribute)["Status"]["Consented"].as_str(),
            last.get(attribute.as_str()).map(String::as_str),
        );
    }
    let verify = c.f.org_path("/consenthistory/verify");
    let r = c.f.call(Method::GET, &verify, &c.f.dpo, None).await;
    assert_eq!(
        r.json,
        json!({"Intact": true, "Entries": CHANGES, "FirstBrokenEntry": null, "Problem": null, "CheckpointsChecked": 0})
    );
}
both_backends!(concurrent_changes_to_one_record_chain_in_order);

/// Bounded work per consent change: a purpose holds at most 100 attributes, a change names
/// at most 100, and an attribute named twice is changed (and recorded) once.
async fn attributes_per_purpose_and_per_change_are_bounded(db: TestDb) {
    let c = Consenting::new(Fixture::new(&db).await).await;
    // Marketing has 3 attributes; 97 more fill it.
    let more: Vec<_> = (0..97)
        .map(|i| json!({"Consent": format!("A{i}"), "PurposeIDs": [c.marketing]}))
        .collect();
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/templates"),
            &c.f.admin,
            Some(json!({"Templates": more})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/templates"),
            &c.f.admin,
            Some(json!({"Templates": [{"Consent": "One too many", "PurposeIDs": [c.marketing]}]})),
        )
        .await;
    r.assert_error(400);
    assert!(r.body.contains("at most 100"), "{}", r.body);
    // Another purpose still takes attributes.
    let r =
        c.f.call(
            Method::POST,
            &c.f.org_path("/templates"),
            &c.f.admin,
            Some(json!({"Templates": [{"Consent": "Elsewhere", "PurposeIDs": [c.payroll]}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let named = |ids: Vec<&String>| json!({"consentattributes": ids.iter().map(|id| json!({"attributeid": id})).collect::<Vec<_>>(), "consented": "Allow"});
    let r =
        c.f.call(
            Method::PATCH,
            &c.purpose(&c.marketing),
            &c.f.individual,
            Some(named(vec![&c.age; 101])),
        )
        .await;
    r.assert_error(400);
    let r =
        c.f.call(
            Method::PATCH,
            &c.purpose(&c.marketing),
            &c.f.individual,
            Some(named(vec![&c.age; 50])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let history =
        c.f.call(
            Method::GET,
            &c.f.org_path("/consenthistory"),
            &c.f.dpo,
            None,
        )
        .await;
    assert_eq!(
        history.json["ConsentHistory"].as_array().map(Vec::len),
        Some(1),
        "{}",
        history.body
    );
}
both_backends!(attributes_per_purpose_and_per_change_are_bounded);

/// `n` chained entries for `org` (one person flipping one attribute), written straight
/// into the database in batches, the head set to the last.
pub(crate) async fn write_ledger(db: &TestDb, org: &str, n: i64) {
    use accord_domain::consent::{ChangedBy, ConsentValue, HistoryEntry, GENESIS};
    let at = chrono::Utc::now();
    let mut prev = GENESIS.to_owned();
    let mut rows = Vec::with_capacity(n as usize);
    for seq in 1..=n {
        let mut e = HistoryEntry {
            id: format!("{org}-{seq:08}"),
            seq,
            organization_id: org.to_owned(),
            user_id: "u".into(),
            consent_id: "c".into(),
            purpose_id: "p".into(),
            attribute_id: format!("a{}", seq % 1000),
            actor_id: "u".into(),
            changed_by: ChangedBy::Individual,
            old_value: None,
            new_value: if seq % 2 == 0 {
                ConsentValue::Allow
            } else {
                ConsentValue::Disallow
            },
            days: 0,
            at,
            wording: None,
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        rows.push(e);
    }
    // 500 rows of 15 values a statement: under both backends' parameter limits.
    let insert = |chunk: &[HistoryEntry]| {
        let mut sql = "INSERT INTO consent_history (id, organization_id, seq, user_id, consent_id, purpose_id, \
                       attribute_id, actor_id, changed_by, old_value, new_value, days, at, prev_hash, hash) VALUES "
            .to_owned();
        for (i, _) in chunk.iter().enumerate() {
            let b = i * 15;
            sql.push_str(if i == 0 { "(" } else { ", (" });
            sql.push_str(
                &(1..=15)
                    .map(|k| format!("${}", b + k))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            sql.push(')');
        }
        sql
    };
    macro_rules! bind_all {
        ($q:expr, $chunk:expr) => {{
            let mut q = $q;
            for e in $chunk {
                q = q
                    .bind(e.id.clone())
                    .bind(e.organization_id.clone())
                    .bind(e.seq)
                    .bind(e.user_id.clone())
                    .bind(e.consent_id.clone())
                    .bind(e.purpose_id.clone())
                    .bind(e.attribute_id.clone())
                    .bind(e.actor_id.clone())
                    .bind(e.changed_by.as_str())
                    .bind(None::<String>)
                    .bind(e.new_value.as_str())
                    .bind(e.days)
                    .bind(e.at.timestamp_millis())
                    .bind(e.prev_hash.clone())
                    .bind(e.hash.clone());
            }
            q
        }};
    }
    use sqlx::Connection as _;
    // The same batches on either backend's connection type.
    macro_rules! insert_all {
        ($connection:ty) => {{
            let mut c = <$connection>::connect(&db.url).await.unwrap();
            let mut tx = c.begin().await.unwrap();
            for chunk in rows.chunks(500) {
                let sql = insert(chunk);
                bind_all!(sqlx::query(&sql), chunk)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match db.backend {
        crate::helpers::Backend::Sqlite => insert_all!(sqlx::SqliteConnection),
        crate::helpers::Backend::Postgres => insert_all!(sqlx::PgConnection),
    }
    db.execute(
        "INSERT INTO consent_chain_heads (organization_id, seq, hash) VALUES ($1, 0, '') \
         ON CONFLICT (organization_id) DO NOTHING",
        &[org],
    )
    .await;
    db.execute(
        &format!("UPDATE consent_chain_heads SET seq = {n}, hash = $2 WHERE organization_id = $1"),
        &[org, &prev],
    )
    .await;
}

/// Runs the CLI's verification (the service GET …/verify calls) as its own process: its
/// verdict line, peak resident memory (bytes, VmHWM read until it exits) and wall time.
fn verify_in_process(db: &TestDb, org: &str) -> (String, u64, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(["admin", "verify-consent-ledger", "--org", org])
        .env("ACCORD_DATABASE_URL", &db.url)
        .env("ACCORD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        // VmHWM only grows; the last reading before the exit is the peak, give or take
        // the last few milliseconds.
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        }) {
            peak = kb * 1024;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        peak,
        started.elapsed(),
    )
}

/// Verification streams the ledger: ten times the entries take about the same memory.
async fn ledger_verification_memory_does_not_grow_with_the_ledger(db: TestDb) {
    let f = Fixture::new(&db).await;
    let (small, large) = (f.org.clone(), f.other_org.clone());
    write_ledger(&db, &small, 10_000).await;
    write_ledger(&db, &large, 100_000).await;
    let (verdict, small_rss, small_time) = verify_in_process(&db, &small);
    assert_eq!(verdict, "intact: 10000 entries");
    let (verdict, large_rss, large_time) = verify_in_process(&db, &large);
    assert_eq!(verdict, "intact: 100000 entries");
    report(&format!(
        "ledger verification ({:?}): 10,000 entries {} MiB in {small_time:?}; 100,000 entries {} MiB in {large_time:?}",
        db.backend,
        small_rss >> 20,
        large_rss >> 20
    ));
    assert!(
        large_rss < small_rss + (16 << 20),
        "peak RSS {} MiB for 100,000 entries against {} MiB for 10,000",
        large_rss >> 20,
        small_rss >> 20
    );
}
both_backends!(ledger_verification_memory_does_not_grow_with_the_ledger);
