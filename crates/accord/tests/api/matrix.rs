//! The permission matrix of docs/permissions.md, cell by cell: every operation of both
//! facades called as each kind of caller, the status compared with the document's. The
//! document is the one source: this test reads the table from it, and fails when an
//! operation the server offers (its /openapi.json) has no row or a row names no operation.
//!
//! Callers share one world (an organisation X with Admin, Dpo and Developer; individuals
//! A and B subscribed to X; the Admin of another organisation Y; a platform admin; an
//! unbound CustomerID REST client; and the trust model's kinds: a subscriber of X whose
//! address is unproven (everyone else's is proven), a person homed in Y (provisioned by
//! it), a person X offered a subscription they have not accepted, and a person signed in
//! through X's OpenID provider). An operation that ends what it acts on (deleting,
//! logging out, renewing the key) gets a fresh world for each caller it lets through, so
//! every cell means the same thing whatever ran before it.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::png;
use crate::helpers::{email, Reply, TestApp, TestDb};

const PW: &str = "correct horse battery";
const REST: (&str, &str) = ("matrix", "a-long-client-secret");
const CID: &str = "/customerid-rest/services/2.1";

/// The callers, in the order of the document's columns.
const CALLERS: [Caller; 13] = [
    Caller::Anonymous,
    Caller::A,
    Caller::B,
    Caller::Admin,
    Caller::Dpo,
    Caller::Developer,
    Caller::AdminY,
    Caller::Platform,
    Caller::Rest,
    Caller::Unverified,
    Caller::Provisioned,
    Caller::Pending,
    Caller::Federated,
];

/// Where the matrix's "application" receives the OpenID provider's redirect (nothing
/// listens: the browser stand-in stops before it).
const APP_CALLBACK: &str = "http://127.0.0.1:9/app/callback";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    A,
    B,
    Admin,
    Dpo,
    Developer,
    AdminY,
    Platform,
    Rest,
    Unverified,
    Provisioned,
    Pending,
    Federated,
}

/// Operations that end what they act on or the caller's own credentials, or change where
/// a caller stands (creating an organisation makes its creator an Admin, subscribing makes
/// one a subscriber whom X knows; re-setting the subscription method or re-enabling
/// subscriptions issues a new key).
const ENDING: &[&str] = &[
    "POST /v1/organizations",
    "POST /v1/organizations/{organizationID}/subscribe-method",
    "POST /v1/organizations/{organizationID}/subscription/enable",
    "POST /v1/organizations/{organizationID}/users",
    "DELETE /v1/user",
    "POST /v1/users/unregister",
    "DELETE /v1/user/apikey/revoke",
    "POST /v1/user/offers/{offerID}/accept",
    "DELETE /v1/user/offers/{offerID}",
    "DELETE /v1/user/roles/{organizationID}",
    "POST /v1/users/logout",
    "POST /v1/users/token",
    "POST /v1/user/token",
    "POST /v1/user/organizations/{orgID}/data-download",
    "POST /v1/user/organizations/{orgID}/data-delete",
    "POST /v1/users/{userID}/organizations/{orgID}/data-download",
    "POST /v1/users/{userID}/organizations/{orgID}/data-delete",
    "POST /v1/user/organizations/{orgID}/data-delete/{dataReqID}/cancel",
    "POST /v1/users/{userID}/organizations/{orgID}/data-delete/{dataReqID}/cancel",
    "POST /v1/user/password/reset",
    "PUT /v1/user/password/reset",
    "POST /v1/organizations/{organizationID}/idp/open-id/logout",
    "DELETE /v1/organizations/types/{typeID}",
    "DELETE /v1/organizations/{organizationID}/idp/open-id",
    "DELETE /v1/organizations/{organizationID}/admins",
    "DELETE /v1/organizations/{organizationID}/purposes/{purposeID}",
    "DELETE /v1/organizations/{organizationID}/templates/{templateID}",
    "DELETE /v1/organizations/{orgID}/webhooks/{webhookID}",
    "DELETE /v1/organizations/{organizationID}/users/{userID}",
    "DELETE /v1/users/{userID}/image",
    "DELETE /v1/organizations/{organizationID}/qrcode",
    "DELETE /v1/organizations/{orgID}/purposes/{purposeID}/qrcode",
    "POST /v1/organizations/{organizationID}/subscription/disable",
    "POST /v1/organizations/{organizationID}/subscribe-key/renew",
    "DELETE /customerid-rest/services/2.1/users/{id}",
    "DELETE /customerid-rest/services/2.1/organizations/{id}",
    "DELETE /customerid-rest/services/2.1/roles/{id}",
    "DELETE /customerid-rest/services/2.1/mandates/{id}",
    "DELETE /customerid-rest/services/2.1/delegations/{id}",
    "DELETE /customerid-rest/services/2.1/roleinvitations/{id}",
    "DELETE /customerid-rest/services/2.1/users/{id}/roles/{roleId}",
    "POST /customerid-rest/services/2.1/mandates",
    "POST /customerid-rest/services/2.1/delegations",
];

/// What the world holds: the callers' credentials and the things operations act on.
struct World {
    tokens: BTreeMap<&'static str, (String, String, String)>, // caller → (email, access, refresh)
    a_id: String,
    b_id: String,
    admin_id: String,
    developer_id: String,
    extra_id: String,
    x: String,
    y: String,
    type_id: String,
    spare_type: String,
    key: String,
    purpose: String,
    template: String,
    consent: String,
    entry: String,
    notification: String,
    data_request: String,
    offer: String,
    webhook: String,
    delivery: String,
    a_image: String,
    x_logo: String,
    role: String,
    mandate: String,
    delegation: String,
    invitation: String,
}

async fn must(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Value {
    let r = app.call(method.clone(), path, auth, body).await;
    assert!(
        r.status.is_success(),
        "world: {method} {path}: {} {}",
        r.status,
        r.body
    );
    r.json
}

async fn cid(app: &TestApp, method: Method, path: &str, form: &[(&str, &str)]) -> Reply {
    let r = app
        .client
        .request(method, app.url(&format!("{CID}{path}")))
        .basic_auth(REST.0, Some(REST.1))
        .form(form)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

fn cid_id(r: &Reply) -> String {
    assert!(r.status.is_success(), "world: {} {}", r.status, r.body);
    r.body
        .split("<Id>")
        .nth(1)
        .and_then(|s| s.split("</Id>").next())
        .expect("an Id")
        .to_owned()
}

impl World {
    async fn build(app: &TestApp, db: &TestDb) -> Self {
        let mut tokens = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for who in [
            "A",
            "B",
            "Admin",
            "Dpo",
            "Developer",
            "Admin Y",
            "platform",
            "extra",
            "unverified",
            "provisioned",
            "pending",
        ] {
            let address = email(&who.replace(' ', "").to_lowercase());
            ids.insert(who, app.register(&address, PW).await);
            if who != "unverified" {
                // Everyone else has followed their verification link.
                db.execute(
                    "UPDATE users SET email_verified_at = 0 WHERE id = $1",
                    &[&ids[who]],
                )
                .await;
            }
            if who == "platform" {
                db.execute(
                    "UPDATE users SET is_platform_admin = TRUE WHERE id = $1",
                    &[&ids[who]],
                )
                .await;
            }
            let login = app.login(&address, PW).await;
            let access = login["Token"]["access_token"].as_str().unwrap().to_owned();
            let refresh = login["Token"]["refresh_token"].as_str().unwrap().to_owned();
            // Everyone has an APIKey, so reading one is about the caller, not its absence.
            must(
                app,
                Method::POST,
                "/v1/user/apikey",
                Some(&format!("Bearer {access}")),
                None,
            )
            .await;
            tokens.insert(who, (address, format!("Bearer {access}"), refresh));
        }
        let bearer = |who: &str| tokens[who].1.clone();
        let (platform, admin) = (bearer("platform"), bearer("Admin"));
        let ty = |name: String| json!({"Type": name});
        let type_id = must(
            app,
            Method::POST,
            "/v1/organizations/types",
            Some(&platform),
            Some(ty(email("type"))),
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let spare_type = must(
            app,
            Method::POST,
            "/v1/organizations/types",
            Some(&platform),
            Some(ty(email("spare"))),
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        upload(
            app,
            &format!("/v1/organizations/types/{type_id}/image"),
            &platform,
            "orgimage",
        )
        .await;
        let org_body = |name: &str| json!({"name": name, "location": "Stockholm", "typeid": type_id, "description": "x"});
        let x = must(
            app,
            Method::POST,
            "/v1/organizations",
            Some(&admin),
            Some(org_body("X")),
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let y = must(
            app,
            Method::POST,
            "/v1/organizations",
            Some(&bearer("Admin Y")),
            Some(org_body("Y")),
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        db.execute(
            "UPDATE users SET home_organization_id = $1 WHERE id = $2",
            &[&y, &ids["provisioned"]],
        )
        .await;
        let at = |rest: &str| format!("/v1/organizations/{x}{rest}");
        // X's provider is a real one (tests/oidc-provider), so someone can sign in through it.
        let op = crate::oidc::provider();
        let client = op
            .register_client(&[APP_CALLBACK], "client_secret_basic")
            .await;
        must(
            app,
            Method::POST,
            &at("/idp/open-id"),
            Some(&admin),
            Some(json!({"discoveryUrl": op.discovery_url(), "clientId": client.client_id, "clientSecret": client.client_secret})),
        )
        .await;
        for (who, role) in [("Dpo", 2), ("Developer", 3)] {
            must(
                app,
                Method::POST,
                &at("/admins"),
                Some(&admin),
                Some(json!({"userid": ids[who], "roleid": role})),
            )
            .await;
            crate::helpers::accept_offers(app, &bearer(who)).await;
        }
        must(
            app,
            Method::POST,
            &at("/subscribe-method"),
            Some(&admin),
            Some(json!({"subscribemethodid": 1})),
        )
        .await;
        must(
            app,
            Method::POST,
            &at("/subscription/enable"),
            Some(&admin),
            None,
        )
        .await;
        let key = must(app, Method::GET, &at("/subscribe-key"), Some(&admin), None).await
            ["SubscribeKey"]
            .as_str()
            .unwrap()
            .to_owned();
        for who in ["A", "B", "unverified"] {
            must(
                app,
                Method::POST,
                &at("/users"),
                Some(&bearer(who)),
                Some(json!({"subscribekey": key})),
            )
            .await;
        }
        // X asks "pending" to subscribe; they have not answered.
        must(
            app,
            Method::POST,
            &at("/users"),
            Some(&admin),
            Some(json!({"userid": ids["pending"]})),
        )
        .await;
        // Someone signs in through X's provider (and so subscribes to X).
        let federated = federated_login(app, &x, &email("federated")).await;
        let federated_access = format!(
            "Bearer {}",
            federated["Token"]["access_token"].as_str().unwrap()
        );
        must(
            app,
            Method::POST,
            "/v1/user/apikey",
            Some(&federated_access),
            None,
        )
        .await;
        let federated_tokens = (
            federated["User"]["Email"].as_str().unwrap().to_owned(),
            federated_access,
            federated["Token"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let purpose = must(
            app,
            Method::POST,
            &at("/purposes"),
            Some(&admin),
            Some(json!({"Purposes": [{"Name": "Marketing"}]})),
        )
        .await["Purposes"][0]["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let template = must(
            app,
            Method::POST,
            &at("/templates"),
            Some(&admin),
            Some(json!({"Templates": [{"Consent": "Email", "PurposeIDs": [purpose]}]})),
        )
        .await["Templates"][0]["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let a_id = ids["A"].clone();
        let consent = must(
            app,
            Method::GET,
            &at(&format!("/users/{a_id}/consents")),
            Some(&bearer("A")),
            None,
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let change = must(
            app,
            Method::PATCH,
            &at(&format!(
                "/users/{a_id}/consents/{consent}/purposes/{purpose}/attributes/{template}"
            )),
            Some(&bearer("A")),
            Some(json!({"consented": "Disallow"})),
        )
        .await;
        let entry = change["ConsentHistoryID"].as_str().unwrap().to_owned();
        must(
            app,
            Method::POST,
            &at(&format!("/purposes/{purpose}/attributes/consent")),
            Some(&admin),
            Some(json!({"attributeids": [template]})),
        )
        .await;
        let notification = must(
            app,
            Method::GET,
            "/v1/user/notifications",
            Some(&bearer("A")),
            None,
        )
        .await["Notifications"][0]["ID"]
            .as_str()
            .expect("A was asked for consent")
            .to_owned();
        // A asks X to erase their data: an open request in X's queue.
        let data_request = must(
            app,
            Method::POST,
            &format!("/v1/user/organizations/{x}/data-delete"),
            Some(&bearer("A")),
            None,
        )
        .await["ID"]
            .as_str()
            .expect("A's data request")
            .to_owned();
        // X's QR codes, for itself and for its purpose, as its Admin generated them.
        for qr in [at("/qrcode"), at(&format!("/purposes/{purpose}/qrcode"))] {
            let r = app
                .call(Method::POST, &qr, Some(&bearer("Admin")), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{qr}");
        }
        // Y offers A a role: A's open offer.
        let y_admins = format!("/v1/organizations/{y}/admins");
        must(
            app,
            Method::POST,
            &y_admins,
            Some(&bearer("Admin Y")),
            Some(json!({"userid": a_id, "roleid": 3})),
        )
        .await;
        let offer = must(
            app,
            Method::GET,
            "/v1/user/offers",
            Some(&bearer("A")),
            None,
        )
        .await["Offers"][0]["ID"]
            .as_str()
            .expect("A was offered a role")
            .to_owned();
        // A webhook to a closed loopback port: deliveries fail fast, nothing leaves the machine.
        let hook = json!({"PayloadURL": "http://127.0.0.1:9/hook", "SubscribedEvents": ["org.subscribed"]});
        let webhook = must(
            app,
            Method::POST,
            &at("/webhooks"),
            Some(&admin),
            Some(hook),
        )
        .await["ID"]
            .as_str()
            .unwrap()
            .to_owned();
        must(
            app,
            Method::POST,
            &at(&format!("/webhooks/{webhook}/ping")),
            Some(&admin),
            None,
        )
        .await;
        let delivery = must(
            app,
            Method::GET,
            &at(&format!("/webhooks/{webhook}/delivery")),
            Some(&admin),
            None,
        )
        .await["Deliveries"][0]["ID"]
            .as_str()
            .expect("a delivery")
            .to_owned();
        let a_image = upload(
            app,
            &format!("/v1/users/{a_id}/image"),
            &bearer("A"),
            "userimage",
        )
        .await["User"]["ImageID"]
            .as_str()
            .unwrap()
            .to_owned();
        let x_logo = upload(app, &at("/logoimage"), &admin, "orgimage").await["Organization"]
            ["LogoImageID"]
            .as_str()
            .unwrap()
            .to_owned();
        // CustomerID: X and its people live in X; a role of X held by B; Y mandates its Dpo
        // role to X, which X's Admin delegates to the Developer; an invitation to X's role.
        for who in ["A", "B", "Admin", "Developer"] {
            db.execute(
                "UPDATE users SET home_organization_id = $1 WHERE id = $2",
                &[&x, &ids[who]],
            )
            .await;
        }
        let role = cid_id(
            &cid(
                app,
                Method::POST,
                "/roles",
                &[("name", &email("role")[..12]), ("organizationId", &x)],
            )
            .await,
        );
        let r = cid(
            app,
            Method::PUT,
            &format!("/users/{}/roles/{role}", ids["B"]),
            &[],
        )
        .await;
        assert!(r.status.is_success(), "{}", r.body);
        let y_dpo = accord_domain::identity::OrgRole::Dpo
            .role_of(y.parse().unwrap())
            .id
            .to_string();
        let mandate = cid_id(
            &cid(
                app,
                Method::POST,
                "/mandates",
                &[
                    ("type", "OrgToOrg"),
                    ("mandater", &y),
                    ("mandatee", &x),
                    ("role", &y_dpo),
                ],
            )
            .await,
        );
        let delegation = cid_id(
            &cid(
                app,
                Method::POST,
                "/delegations",
                &[
                    ("mandate", &mandate),
                    ("mandateruser", &ids["Admin"]),
                    ("user", &ids["Developer"]),
                ],
            )
            .await,
        );
        let invitation = cid_id(
            &cid(
                app,
                Method::POST,
                "/roleinvitations",
                &[("email", &email("invitee")), ("role", &role)],
            )
            .await,
        );
        tokens.insert("federated", federated_tokens);
        Self {
            tokens,
            a_id,
            b_id: ids["B"].clone(),
            admin_id: ids["Admin"].clone(),
            developer_id: ids["Developer"].clone(),
            extra_id: ids["extra"].clone(),
            x,
            y,
            type_id,
            spare_type,
            key,
            purpose,
            template,
            consent,
            entry,
            notification,
            data_request,
            offer,
            webhook,
            delivery,
            a_image,
            x_logo,
            role,
            mandate,
            delegation,
            invitation,
        }
    }

    fn name(caller: Caller) -> Option<&'static str> {
        match caller {
            Caller::A => Some("A"),
            Caller::B => Some("B"),
            Caller::Admin => Some("Admin"),
            Caller::Dpo => Some("Dpo"),
            Caller::Developer => Some("Developer"),
            Caller::AdminY => Some("Admin Y"),
            Caller::Platform => Some("platform"),
            Caller::Unverified => Some("unverified"),
            Caller::Provisioned => Some("provisioned"),
            Caller::Pending => Some("pending"),
            Caller::Federated => Some("federated"),
            Caller::Anonymous | Caller::Rest => None,
        }
    }

    /// The caller's (email, bearer, refresh token); A's for callers without an account.
    fn own(&self, caller: Caller) -> &(String, String, String) {
        &self.tokens[Self::name(caller).unwrap_or("A")]
    }
}

async fn upload(app: &TestApp, path: &str, auth: &str, field: &str) -> Value {
    let form = reqwest::multipart::Form::new().part(
        field.to_owned(),
        reqwest::multipart::Part::bytes(png())
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let r = app
        .client
        .post(app.url(path))
        .header("authorization", auth)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = Reply::from(r).await;
    assert!(
        r.status.is_success(),
        "world: upload {path}: {} {}",
        r.status,
        r.body
    );
    r.json
}

/// An OpenID provider given endpoint by endpoint: nothing is fetched.
/// Signs `who` in through organisation `org`'s provider: `{User, Token}`.
async fn federated_login(app: &TestApp, org: &str, who: &str) -> Value {
    let base = format!("/v1/organizations/{org}/idp/open-id");
    let url = reqwest::Url::parse_with_params(
        &app.url(&format!("{base}/authorize")),
        &[("redirect_uri", APP_CALLBACK), ("login_hint", who)],
    )
    .unwrap();
    let r = Reply::from(app.client.get(url).send().await.expect("authorize")).await;
    assert_eq!(r.status, StatusCode::OK, "authorize: {}", r.body);
    let (to, state) = (
        r.json["AuthorizationURL"].as_str().unwrap().to_owned(),
        r.json["State"].as_str().unwrap().to_owned(),
    );
    let landing = crate::oidc::Browser::new()
        .follow_until(&to, APP_CALLBACK)
        .await;
    let code = crate::oidc::param(&landing, "code").expect("a code");
    let url = reqwest::Url::parse_with_params(
        &app.url(&format!("{base}/exchange")),
        &[
            ("redirect_uri", APP_CALLBACK),
            ("code", code.as_str()),
            ("state", state.as_str()),
        ],
    )
    .unwrap();
    let r = Reply::from(app.client.post(url).send().await.expect("exchange")).await;
    assert_eq!(r.status, StatusCode::OK, "exchange: {}", r.body);
    r.json
}

fn idp_body() -> Value {
    json!({
        "issuer": "https://idp.example", "authorizationUrl": "https://idp.example/auth", "tokenUrl": "https://idp.example/token",
        "jwksUrl": "https://idp.example/jwks", "userInfoUrl": "https://idp.example/userinfo",
        "clientId": "accord", "clientSecret": "a-client-secret"
    })
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Image(&'static str),
}

/// The concrete request for an operation in a world, as a caller.
fn request(op: &str, w: &World, caller: Caller) -> (String, Body) {
    let (method, template) = op.split_once(' ').unwrap();
    let cid_path = template.strip_prefix(CID);
    let mut path = template.to_owned();
    let mut put = |name: &str, value: &str| path = path.replace(&format!("{{{name}}}"), value);
    match cid_path {
        Some(rest) => {
            let id = match rest.split('/').nth(1) {
                Some("users") if op.starts_with("DELETE") && rest.contains("/roles/") => &w.b_id,
                Some("users") => &w.a_id,
                Some("organizations") => &w.x,
                Some("roles") => &w.role,
                Some("mandates") => &w.mandate,
                Some("delegations") => &w.delegation,
                Some("roleinvitations") => &w.invitation,
                other => panic!("no identifier for {other:?}"),
            };
            put("id", id);
            put("roleId", &w.role);
        }
        None => {
            for name in ["orgID", "organizationID"] {
                put(name, &w.x);
            }
            put("userID", &w.a_id);
            put("consentID", &w.consent);
            put("purposeID", &w.purpose);
            put("attributeID", &w.template);
            put("templateID", &w.template);
            put("version", "1");
            put(
                "typeID",
                if method == "DELETE" {
                    &w.spare_type
                } else {
                    &w.type_id
                },
            );
            put("webhookID", &w.webhook);
            put("deliveryID", &w.delivery);
            put(
                "imageID",
                if template.starts_with("/v1/users/") {
                    &w.a_image
                } else {
                    &w.x_logo
                },
            );
            put("entryID", &w.entry);
            put("notificationID", &w.notification);
            put("offerID", &w.offer);
            put("dataReqID", &w.data_request);
            put("token", "not-an-invitation-token");
        }
    }
    if op.ends_with("/idp/open-id/authorize") {
        path.push_str("?redirect_uri=https://app.example/callback");
    }
    if op.ends_with("GetUserOrgsAndConsents") {
        path.push_str(&format!("?orgID={}", w.x));
    }
    if op == "POST /v1/UpdateAllConsents/{userID}" {
        path.push_str(&format!("?orgID={}&consented=Allow", w.x));
    }
    if op == "GET /v1/organizations/search" {
        path.push_str("?name=x");
    }
    if op == "GET /v1/organizations/{orgID}/data-requests" {
        path.push_str("?status=open");
    }
    let (address, _, refresh) = w.own(caller);
    let form = |pairs: &[(&str, &str)]| {
        Body::Form(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    };
    let body = match op {
        "POST /v1/users/register" => Body::Json(json!({"username": email("new"), "password": PW})),
        "POST /v1/users/login"
        | "POST /v1/v1.1/users/login"
        | "POST /v1.1/users/login"
        | "POST /v1/users/admin/login" => {
            Body::Json(json!({"username": address, "password": PW}))
        }
        "POST /v1/users/token" | "POST /v1/user/token" => Body::Json(json!({"refreshtoken": refresh})),
        "POST /v1/users/logout" => Body::Json(json!({"refreshtoken": refresh})),
        "PATCH /v1/user" => Body::Json(json!({"name": "Renamed"})),
        "POST /v1/user/password/reset" | "PUT /v1/user/password/reset" => {
            Body::Json(json!({"currentpassword": PW, "password": "another horse battery"}))
        }
        "PUT /v1/user/password/forgot" => Body::Json(json!({"username": address})),
        "POST /v1/user/password/forgot/confirm" => Body::Json(json!({"token": "not-a-token", "password": "another horse battery"})),
        "POST /v1/user/email/verify" => Body::Json(json!({"token": "not-a-token"})),
        "POST /v1/invitations/{token}/accept" => Body::Json(json!({"password": "another horse battery"})),
        "POST /v1/organizations" => Body::Json(json!({"name": "New", "location": "Here", "typeid": w.type_id, "description": "x"})),
        "POST /v1/organizations/types" => Body::Json(json!({"Type": email("type")})),
        "PATCH /v1/organizations/types/{typeID}" => Body::Json(json!({"Type": email("renamed")})),
        "POST /v1/organizations/types/{typeID}/image"
        | "POST /v1/organizations/{organizationID}/coverimage"
        | "POST /v1/organizations/{organizationID}/logoimage" => Body::Image("orgimage"),
        "POST /v1/users/{userID}/image" | "POST /v1/user/image" => Body::Image("userimage"),
        "POST /v1/user/register/ios" | "POST /v1/user/register/android" => Body::Json(json!({"devicetoken": "a-device"})),
        "PATCH /v1/organizations/{organizationID}" => Body::Json(json!({"location": "Malmö"})),
        "POST /v1/organizations/{organizationID}/eulaURL" => Body::Json(json!({"eulaurl": "https://x.example/eula"})),
        "POST /v1/organizations/{organizationID}/admins" => Body::Json(json!({"userid": w.extra_id, "roleid": 3})),
        "DELETE /v1/organizations/{organizationID}/admins" => Body::Json(json!({"userid": w.developer_id})),
        "POST /v1/organizations/{organizationID}/idp/open-id" | "PUT /v1/organizations/{organizationID}/idp/open-id" => Body::Json(idp_body()),
        "POST /v1/organizations/{organizationID}/purposes" => Body::Json(json!({"Purposes": [{"Name": "Another"}]})),
        "PUT /v1/organizations/{organizationID}/purposes/{purposeID}"
        | "POST /v1/organizations/{organizationID}/purposes/{purposeID}/impact" => Body::Json(json!({"Name": "Marketing 2"})),
        "POST /v1/organizations/{organizationID}/templates" => Body::Json(json!({"Templates": [{"Consent": "Zip"}]})),
        "PUT /v1/organizations/{organizationID}/templates/{templateID}" => Body::Json(json!({"Consent": "Email 2", "PurposeIDs": [w.purpose]})),
        "POST /v1/organizations/{organizationID}/subscribe-method" => Body::Json(json!({"subscribemethodid": 1})),
        "POST /v1/organizations/{organizationID}/users" => Body::Json(json!({"subscribekey": w.key})),
        "PATCH /v1/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}" => {
            Body::Json(json!({"consentattributes": [{"attributeid": w.template}], "consented": "Allow"}))
        }
        "PATCH /v1/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}/attributes/{attributeID}"
        | "POST /v1/organizations/{orgID}/users/{userID}/consents/{consentID}/purposes/{purposeID}/status" => {
            Body::Json(json!({"consented": "Allow"}))
        }
        "POST /v1/organizations/{orgID}/purposes/{purposeID}/attributes/consent" => Body::Json(json!({"attributeids": [w.template]})),
        "POST /v1/organizations/{orgID}/webhooks" | "PUT /v1/organizations/{orgID}/webhooks/{webhookID}" => {
            Body::Json(json!({"PayloadURL": "http://127.0.0.1:9/hook", "SubscribedEvents": ["org.subscribed"]}))
        }
        "PATCH /v1/user/notifications/{notificationID}" => Body::Json(json!({"read": true})),
        "POST /v1/organizations/{orgID}/notify-data-breach" => Body::Json(json!({"headline": "h", "dpoemail": "dpo@x.example", "consequence": "c", "measures": "m"})),
        "POST /v1/organizations/{orgID}/notify-events" => Body::Json(json!({"details": "d"})),
        "PATCH /v1/organizations/{organizationID}/data-requests/{dataReqID}" => Body::Json(json!({"state": 2, "comment": "on it"})),
        "POST /v1/organizations/{orgID}/consenthistory/verify" => Body::Json(json!({"Checkpoints": []})),
        _ if cid_path.is_some() => match cid_path.unwrap() {
            "/users" => form(&[("email", &email("cid")), ("organizationId", &w.x)]),
            "/users/{id}" if method == "PUT" => form(&[("firstName", "Maija")]),
            "/organizations" => form(&[("friendlyName", "Sub"), ("technicalName", &email("t")[..12]), ("parentOrganizationId", &w.x)]),
            "/organizations/{id}" if method == "PUT" => form(&[("friendlyName", "X2")]),
            "/roles" => form(&[("name", &email("r")[..12]), ("organizationId", &w.x)]),
            "/mandates" => {
                let x_admin = accord_domain::identity::OrgRole::Admin.role_of(w.x.parse().unwrap()).id.to_string();
                form(&[("type", "OrgToOrg"), ("mandater", &w.x), ("mandatee", &w.y), ("role", &x_admin)])
            }
            "/delegations" => form(&[("mandate", &w.mandate), ("mandateruser", &w.admin_id), ("user", &w.a_id)]),
            "/roleinvitations" => form(&[("email", &email("invited")), ("role", &w.role)]),
            _ => Body::None,
        },
        _ => Body::None,
    };
    (path, body)
}

async fn send(app: &TestApp, op: &str, w: &World, caller: Caller) -> Reply {
    let (method, _) = op.split_once(' ').unwrap();
    let (path, body) = request(op, w, caller);
    let mut req = app
        .client
        .request(method.parse::<Method>().unwrap(), app.url(&path));
    req = match caller {
        Caller::Anonymous => req,
        Caller::Rest => req.basic_auth(REST.0, Some(REST.1)),
        other => req.header("authorization", &w.own(other).1),
    };
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Form(pairs) => req.form(&pairs),
        Body::Image(field) => req.multipart(
            reqwest::multipart::Form::new().part(
                field,
                reqwest::multipart::Part::bytes(png())
                    .file_name("p.png")
                    .mime_str("image/png")
                    .unwrap(),
            ),
        ),
    };
    Reply::from(req.send().await.expect("answered")).await
}

/// The matrix as the document states it: operation → a status per caller.
fn documented() -> BTreeMap<String, [u16; 13]> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/permissions.md"
    ))
    .expect("docs/permissions.md");
    let section = doc
        .split("## The matrix")
        .nth(1)
        .expect("a section '## The matrix'");
    let mut rows = BTreeMap::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let Some(op) = cells
            .first()
            .and_then(|c| c.strip_prefix('`'))
            .and_then(|c| c.strip_suffix('`'))
        else {
            continue;
        };
        assert_eq!(
            cells.len(),
            1 + CALLERS.len(),
            "row {op}: one operation and a status per caller"
        );
        let statuses: Vec<u16> = cells[1..]
            .iter()
            .map(|c| {
                c.trim_matches('*')
                    .parse()
                    .unwrap_or_else(|_| panic!("row {op}: {c:?} is not a status"))
            })
            .collect();
        assert!(
            rows.insert(op.to_owned(), statuses.try_into().unwrap())
                .is_none(),
            "row {op} twice"
        );
    }
    rows
}

async fn the_permission_matrix(db: TestDb) {
    let app = TestApp::spawn(&db).await;
    crate::helpers::add_rest_client(&db, REST.0, REST.1, None);
    let matrix = documented();
    // Every operation the server offers has a row, and every row is an operation.
    let openapi: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let offered: BTreeSet<String> = openapi["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let rows: BTreeSet<String> = matrix.keys().cloned().collect();
    assert_eq!(
        (
            offered.difference(&rows).collect::<Vec<_>>(),
            rows.difference(&offered).collect::<Vec<_>>()
        ),
        (vec![], vec![]),
        "(operations without a row, rows without an operation)"
    );

    let shared = World::build(&app, &db).await;
    let mut wrong = vec![];
    let mut calls = 0;
    for (op, expected) in &matrix {
        // Refusals first: a leaked permission shows before an allowed call changes anything.
        let mut order: Vec<(Caller, u16)> = CALLERS
            .iter()
            .copied()
            .zip(expected.iter().copied())
            .collect();
        order.sort_by_key(|(_, status)| *status < 400);
        for (caller, status) in order {
            let ending = ENDING.contains(&op.as_str()) && status < 400;
            let fresh;
            let world = if ending {
                fresh = World::build(&app, &db).await;
                &fresh
            } else {
                &shared
            };
            let reply = send(&app, op, world, caller).await;
            calls += 1;
            if reply.status.as_u16() != status {
                wrong.push(format!(
                    "{op} as {caller:?}: {} (documented {status}): {}",
                    reply.status.as_u16(),
                    reply.body.chars().take(160).collect::<String>()
                ));
            } else if status >= 400 && !error_in_format(op, &reply) {
                wrong.push(format!(
                    "{op} as {caller:?}: {status} outside the facade's error format: {}",
                    reply.body
                ));
            }
        }
    }
    crate::helpers::report(&format!(
        "permission matrix ({:?}): {} operations x {} callers = {calls} calls, {} differ from docs/permissions.md",
        db.backend,
        matrix.len(),
        CALLERS.len(),
        wrong.len()
    ));
    assert!(
        wrong.is_empty(),
        "{} cells differ from docs/permissions.md:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
both_backends!(the_permission_matrix);

fn error_in_format(op: &str, reply: &Reply) -> bool {
    let ct = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if op.contains(CID) {
        ct.starts_with("application/xml") && reply.body.contains("<error><code>")
    } else {
        ct.starts_with("application/json")
            && reply.json["Code"] == reply.status.as_u16()
            && reply.json["Message"].is_string()
    }
}

#[test]
fn statuses_are_plausible() {
    // Guards the parser: the document's rows hold real HTTP statuses.
    for (op, statuses) in documented() {
        for s in statuses {
            assert!(
                StatusCode::from_u16(s).is_ok() && (200..600).contains(&s),
                "{op}: {s}"
            );
        }
    }
}
