//! The fixtures the scenarios share: a deployment with an organisation and its people
//! (`Fixture`), the same with purposes and attributes to consent to (`Consenting`), and
//! small steps many scenarios take.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{bearer, email, query_param, smtp, Reply, TestApp, TestDb};

pub const PW: &str = "correct horse battery";

/// A deployment with a platform admin, an organisation type, one organisation whose
/// Admin, Dpo and Developer are distinct users, an individual and an outsider who is
/// Admin of another organisation.
pub struct Fixture {
    pub app: TestApp,
    pub platform: String,
    pub admin: String,
    pub admin_id: String,
    pub dpo: String,
    pub developer: String,
    pub individual: String,
    pub individual_id: String,
    pub outsider: String,
    pub org: String,
    pub other_org: String,
    pub type_id: String,
}

impl Fixture {
    pub async fn new(db: &TestDb) -> Self {
        Self::on(TestApp::spawn(db).await, db).await
    }

    /// The same deployment on a server that sends mail to the test SMTP server.
    pub async fn with_smtp(db: &TestDb) -> Self {
        let url = crate::helpers::smtp().url.clone();
        Self::on(
            TestApp::spawn_with(db, |c| c.smtp_url = Some(url)).await,
            db,
        )
        .await
    }

    /// The same deployment on a server with a clock the test moves.
    pub async fn with_clock(db: &TestDb, clock: accord_domain::FixedClock) -> Self {
        Self::on(TestApp::spawn_with_clock(db, clock).await, db).await
    }

    pub async fn on(app: TestApp, db: &TestDb) -> Self {
        let platform_email = email("platform");
        let platform_id = app.register(&platform_email, PW).await;
        db.execute(
            "UPDATE users SET is_platform_admin = TRUE WHERE id = $1",
            &[&platform_id],
        )
        .await;
        let platform = bearer(&app.login(&platform_email, PW).await);

        let r = app
            .call(
                Method::POST,
                "/v1/organizations/types",
                Some(&platform),
                Some(json!({"Type": "Retail"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let type_id = r.json["ID"].as_str().unwrap().to_owned();

        let (admin, admin_id) = user(&app, "admin").await;
        let org = create_org(&app, &admin, &type_id, "DMart").await;
        let (dpo, dpo_id) = user(&app, "dpo").await;
        let (developer, developer_id) = user(&app, "developer").await;
        for (id, role, auth) in [(&dpo_id, 2, &dpo), (&developer_id, 3, &developer)] {
            let r = app
                .call(
                    Method::POST,
                    &format!("/v1/organizations/{org}/admins"),
                    Some(&admin),
                    Some(json!({"userid": id, "roleid": role})),
                )
                .await;
            // Offered: the role is theirs once they accept.
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
            accept_offers(&app, auth).await;
        }
        let (individual, individual_id) = user(&app, "individual").await;
        let (outsider, _) = user(&app, "outsider").await;
        let other_org = create_org(&app, &outsider, &type_id, "Other").await;
        Self {
            app,
            platform,
            admin,
            admin_id,
            dpo,
            developer,
            individual,
            individual_id,
            outsider,
            org,
            other_org,
            type_id,
        }
    }

    pub async fn call(&self, method: Method, path: &str, auth: &str, body: Option<Value>) -> Reply {
        self.app.call(method, path, Some(auth), body).await
    }

    pub fn org_path(&self, rest: &str) -> String {
        format!("/v1/organizations/{}{rest}", self.org)
    }

    /// Opens the organisation to subscriptions, key-based; returns the key.
    pub async fn open_with_key(&self) -> String {
        let r = self
            .call(
                Method::POST,
                &self.org_path("/subscribe-method"),
                &self.admin,
                Some(json!({"subscribemethodid": 1})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
        let r = self
            .call(
                Method::POST,
                &self.org_path("/subscription/enable"),
                &self.admin,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let r = self
            .call(
                Method::GET,
                &self.org_path("/subscribe-key"),
                &self.admin,
                None,
            )
            .await;
        r.json["SubscribeKey"].as_str().unwrap().to_owned()
    }
}

/// Registers and logs in a user: (bearer header, user ID).
/// Accepts every open offer (subscription or role) of the caller; answers how many.
pub async fn accept_offers(app: &TestApp, auth: &str) -> usize {
    let r = app.get("/v1/user/offers", Some(auth)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let offers = r.json["Offers"].as_array().expect("Offers").clone();
    for o in &offers {
        let id = o["ID"].as_str().unwrap();
        let r = app
            .call(
                Method::POST,
                &format!("/v1/user/offers/{id}/accept"),
                Some(auth),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }
    offers.len()
}

pub async fn user(app: &TestApp, tag: &str) -> (String, String) {
    let who = email(tag);
    let id = app.register(&who, PW).await;
    (bearer(&app.login(&who, PW).await), id)
}

/// An organisation with two purposes (Marketing needs consent; Payroll is a legal
/// obligation) and three attributes, and a subscribed individual.
pub struct Consenting {
    pub f: Fixture,
    pub marketing: String,
    pub payroll: String,
    pub age: String,
    pub email_attr: String,
    pub zip: String,
    pub consent: String,
}

impl Consenting {
    pub async fn new(f: Fixture) -> Self {
        let r = f
            .call(
                Method::POST,
                &f.org_path("/purposes"),
                &f.admin,
                Some(json!({"Purposes": [
                    {"Name": "Marketing", "LawfulBasisOfProcessing": 0},
                    {"Name": "Payroll", "LawfulBasisOfProcessing": 2}
                ]})),
            )
            .await;
        let marketing = r.json["Purposes"][0]["ID"].as_str().unwrap().to_owned();
        let payroll = r.json["Purposes"][1]["ID"].as_str().unwrap().to_owned();
        let r = f
            .call(
                Method::POST,
                &f.org_path("/templates"),
                &f.admin,
                Some(json!({"Templates": [
                    {"Consent": "Age", "PurposeIDs": [marketing, payroll]},
                    {"Consent": "Email", "PurposeIDs": [marketing]},
                    {"Consent": "Zip", "PurposeIDs": [marketing]}
                ]})),
            )
            .await;
        let ids: Vec<String> = r.json["Templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["ID"].as_str().unwrap().to_owned())
            .collect();
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
        let record = f
            .call(
                Method::GET,
                &f.org_path(&format!("/users/{}/consents", f.individual_id)),
                &f.individual,
                None,
            )
            .await;
        assert_eq!(record.status, StatusCode::OK, "{}", record.body);
        let consent = record.json["ID"].as_str().unwrap().to_owned();
        Self {
            marketing,
            payroll,
            age: ids[0].clone(),
            email_attr: ids[1].clone(),
            zip: ids[2].clone(),
            consent,
            f,
        }
    }

    pub fn consents(&self, user: &str) -> String {
        self.f.org_path(&format!("/users/{user}/consents"))
    }

    pub fn attribute(&self, purpose: &str, attribute: &str) -> String {
        format!(
            "{}/{}/purposes/{purpose}/attributes/{attribute}",
            self.consents(&self.f.individual_id),
            self.consent
        )
    }

    pub fn purpose(&self, purpose: &str) -> String {
        format!(
            "{}/{}/purposes/{purpose}",
            self.consents(&self.f.individual_id),
            self.consent
        )
    }

    pub(crate) async fn set(
        &self,
        auth: &str,
        purpose: &str,
        attribute: &str,
        value: &str,
        days: i64,
    ) -> Value {
        let r = self
            .f
            .call(
                Method::PATCH,
                &self.attribute(purpose, attribute),
                auth,
                Some(json!({"consented": value, "days": days})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json
    }

    pub async fn record(&self) -> Value {
        let r = self
            .f
            .call(
                Method::GET,
                &self.consents(&self.f.individual_id),
                &self.f.individual,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json
    }
}

pub fn purpose_in<'a>(record: &'a Value, id: &str) -> &'a Value {
    record["ConsentsAndPurposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["Purpose"]["ID"] == id)
        .expect("purpose in record")
}

pub fn attribute_in<'a>(purpose: &'a Value, id: &str) -> &'a Value {
    purpose["Consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["ID"] == id)
        .expect("attribute in purpose")
}

/// `accord admin verify-consent-ledger --org ORG [--checkpoints FILE]`, as its own process
/// on the test database.
pub fn ledger_cli(
    db: &TestDb,
    org: &str,
    checkpoints: Option<&std::path::Path>,
) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
    cmd.args(["admin", "verify-consent-ledger", "--org", org]);
    if let Some(file) = checkpoints {
        cmd.arg("--checkpoints").arg(file);
    }
    cmd.env("ACCORD_DATABASE_URL", &db.url)
        .env("ACCORD_LOG", "warn")
        .output()
        .unwrap()
}

/// Registers an organisation of the given type: its ID.
pub async fn create_org(app: &TestApp, auth: &str, type_id: &str, name: &str) -> String {
    let body = json!({"name": name, "location": "Stockholm, Sweden", "typeid": type_id, "description": "Groceries"});
    let r = app
        .call(Method::POST, "/v1/organizations", Some(auth), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json["ID"].as_str().unwrap().to_owned()
}

/// A valid 1×1 PNG.
pub fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap()
}

pub async fn make_webhook(f: &Fixture, url: &str, events: &[&str]) -> (String, String) {
    let r = f
        .call(
            Method::POST,
            &f.org_path("/webhooks"),
            &f.admin,
            Some(json!({"PayloadURL": url, "SubscribedEvents": events})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.json["SecretKey"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "a generated secret is shown once");
    (r.json["ID"].as_str().unwrap().to_owned(), secret)
}

/// A tiny client for a server in another process.
pub struct Remote(pub String);

impl Remote {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.0))
            .json(&body)
            .send()
            .await
            .expect("sent");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .put(format!("{}{path}", self.0))
            .json(&body)
            .send()
            .await
            .expect("sent");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

/// The token of the newest of `n` mails to `to` with `subject`.
pub async fn mailed_token(to: &str, subject: &str, n: usize) -> String {
    let mails = smtp().wait_for_subject(to, subject, n).await;
    // Maildir order is not arrival order: the token not seen before is the new one.
    let mut seen = SEEN.lock().unwrap();
    let token = mails
        .iter()
        .filter_map(|m| query_param(m, "token"))
        .find(|t| !seen.contains(t))
        .expect("a new token");
    seen.push(token.clone());
    token
}

static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
