//! The permission table of docs/permissions.md, row by row: for each endpoint, one caller
//! who may (and the status they get) and one who may not (and the refusal they get).
//! Denied calls go first, so a leaked permission shows before the allowed call changes
//! anything.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::TestDb;
use crate::organizations::{user, Fixture};

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Individual,
    Admin,
    Dpo,
    Developer,
    Outsider,
    Platform,
}

struct Row {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: (Who, u16),
    denied: (Who, u16),
}

fn row(
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: (Who, u16),
    denied: (Who, u16),
) -> Row {
    Row {
        name,
        method,
        path,
        body,
        allowed,
        denied,
    }
}

async fn the_permission_table(db: TestDb) {
    use Who::*;
    let f = Fixture::new(&db).await;
    let org = |rest: &str| format!("/v1/organizations/{}{rest}", f.org);
    f.open_with_key().await;
    // Things for the rows to act on.
    let r = f
        .call(
            Method::POST,
            "/v1/organizations/types",
            &f.platform,
            Some(json!({"Type": "Spare"})),
        )
        .await;
    let spare_type = r.json["ID"].as_str().unwrap().to_owned();
    let r = f
        .call(
            Method::POST,
            &org("/purposes"),
            &f.admin,
            Some(json!({"Purposes": [{"Name": "A"}, {"Name": "B"}]})),
        )
        .await;
    let (p1, p2) = (
        r.json["Purposes"][0]["ID"].as_str().unwrap().to_owned(),
        r.json["Purposes"][1]["ID"].as_str().unwrap().to_owned(),
    );
    let r = f
        .call(
            Method::POST,
            &org("/templates"),
            &f.admin,
            Some(
                json!({"Templates": [{"Consent": "Age", "PurposeIDs": [p1]}, {"Consent": "Zip"}]}),
            ),
        )
        .await;
    let (t1, t2) = (
        r.json["Templates"][0]["ID"].as_str().unwrap().to_owned(),
        r.json["Templates"][1]["ID"].as_str().unwrap().to_owned(),
    );
    let (_, subscriber) = user(&f.app, "subscriber").await;
    let (_, extra) = user(&f.app, "extra").await;
    let r = f
        .call(
            Method::POST,
            &org("/users"),
            &f.admin,
            Some(json!({"userid": f.individual_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let admins = f
        .call(Method::GET, &org("/admins"), &f.admin, None)
        .await
        .json;
    let developer_id = admins["Admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["RoleID"] == 3)
        .unwrap()["UserID"]
        .as_str()
        .unwrap()
        .to_owned();

    let rows = vec![
        row(
            "create organisation type",
            Method::POST,
            "/v1/organizations/types".into(),
            Some(json!({"Type": "Bank"})),
            (Platform, 201),
            (Admin, 403),
        ),
        row(
            "rename organisation type",
            Method::PATCH,
            format!("/v1/organizations/types/{spare_type}"),
            Some(json!({"Type": "Spare 2"})),
            (Platform, 200),
            (Admin, 403),
        ),
        row(
            "delete organisation type",
            Method::DELETE,
            format!("/v1/organizations/types/{spare_type}"),
            None,
            (Platform, 204),
            (Outsider, 403),
        ),
        row(
            "read organisation types",
            Method::GET,
            "/v1/organizations/types".into(),
            None,
            (Anonymous, 200),
            (Anonymous, 200),
        ),
        row(
            "register organisation",
            Method::POST,
            "/v1/organizations".into(),
            Some(json!({"name": "New", "typeid": f.type_id})),
            (Individual, 201),
            (Anonymous, 401),
        ),
        row(
            "read organisation",
            Method::GET,
            org(""),
            None,
            (Individual, 200),
            (Anonymous, 401),
        ),
        row(
            "update organisation",
            Method::PATCH,
            org(""),
            Some(json!({"location": "Malmö"})),
            (Admin, 202),
            (Dpo, 403),
        ),
        row(
            "set EULA URL",
            Method::POST,
            org("/eulaURL"),
            Some(json!({"eulaurl": "https://x.example/eula"})),
            (Admin, 202),
            (Developer, 403),
        ),
        row(
            "delete EULA URL",
            Method::DELETE,
            org("/eulaURL"),
            None,
            (Admin, 202),
            (Outsider, 403),
        ),
        row(
            "read subscription key",
            Method::GET,
            org("/subscribe-key"),
            None,
            (Developer, 200),
            (Dpo, 403),
        ),
        row(
            "renew subscription key",
            Method::POST,
            org("/subscribe-key/renew"),
            None,
            (Admin, 200),
            (Developer, 403),
        ),
        row(
            "read subscription method",
            Method::GET,
            org("/subscribe-method"),
            None,
            (Dpo, 200),
            (Individual, 403),
        ),
        row(
            "set subscription method",
            Method::POST,
            org("/subscribe-method"),
            Some(json!({"subscribemethodid": 1})),
            (Admin, 204),
            (Dpo, 403),
        ),
        row(
            "read subscription status",
            Method::GET,
            org("/subscription"),
            None,
            (Developer, 200),
            (Individual, 403),
        ),
        row(
            "disable subscriptions",
            Method::POST,
            org("/subscription/disable"),
            None,
            (Platform, 200),
            (Dpo, 403),
        ),
        row(
            "enable subscriptions",
            Method::POST,
            org("/subscription/enable"),
            None,
            (Admin, 200),
            (Outsider, 403),
        ),
        row(
            "list role holders",
            Method::GET,
            org("/admins"),
            None,
            (Dpo, 200),
            (Individual, 403),
        ),
        row(
            "add role holder",
            Method::POST,
            org("/admins"),
            Some(json!({"userid": extra, "roleid": 3})),
            (Admin, 200),
            (Developer, 403),
        ),
        row(
            "remove role holder",
            Method::DELETE,
            org("/admins"),
            Some(json!({"userid": developer_id})),
            (Admin, 200),
            (Dpo, 403),
        ),
        row(
            "list subscribed users",
            Method::GET,
            org("/users"),
            None,
            (Dpo, 200),
            (Outsider, 403),
        ),
        row(
            "subscribe another user",
            Method::POST,
            org("/users"),
            Some(json!({"userid": subscriber})),
            (Admin, 200),
            (Outsider, 403),
        ),
        row(
            "count subscribed users",
            Method::GET,
            org("/users/count"),
            None,
            (Dpo, 200),
            (Individual, 403),
        ),
        row(
            "unsubscribe a user",
            Method::DELETE,
            org(&format!("/users/{}", f.individual_id)),
            None,
            (Individual, 204),
            (Outsider, 404),
        ),
        row(
            "create anonymous user",
            Method::POST,
            org("/users/anonymous"),
            None,
            (Admin, 201),
            (Dpo, 403),
        ),
        row(
            "list purposes",
            Method::GET,
            org("/purposes"),
            None,
            (Individual, 200),
            (Anonymous, 401),
        ),
        row(
            "create purposes",
            Method::POST,
            org("/purposes"),
            Some(json!({"Purposes": [{"Name": "C"}]})),
            (Admin, 201),
            (Dpo, 403),
        ),
        row(
            "read purpose",
            Method::GET,
            org(&format!("/purposes/{p1}")),
            None,
            (Outsider, 200),
            (Anonymous, 401),
        ),
        row(
            "replace purpose",
            Method::PUT,
            org(&format!("/purposes/{p1}")),
            Some(json!({"Name": "A2"})),
            (Admin, 200),
            (Developer, 403),
        ),
        row(
            "delete purpose",
            Method::DELETE,
            org(&format!("/purposes/{p2}")),
            None,
            (Admin, 204),
            (Dpo, 403),
        ),
        row(
            "list templates",
            Method::GET,
            org("/templates"),
            None,
            (Individual, 200),
            (Anonymous, 401),
        ),
        row(
            "create templates",
            Method::POST,
            org("/templates"),
            Some(json!({"Templates": [{"Consent": "Name"}]})),
            (Admin, 201),
            (Developer, 403),
        ),
        row(
            "read template",
            Method::GET,
            org(&format!("/templates/{t1}")),
            None,
            (Individual, 200),
            (Anonymous, 401),
        ),
        row(
            "replace template",
            Method::PUT,
            org(&format!("/templates/{t1}")),
            Some(json!({"Consent": "Age2"})),
            (Admin, 200),
            (Dpo, 403),
        ),
        row(
            "delete template",
            Method::DELETE,
            org(&format!("/templates/{t2}")),
            None,
            (Admin, 204),
            (Outsider, 403),
        ),
        row(
            "read own account",
            Method::GET,
            "/v1/user".into(),
            None,
            (Individual, 200),
            (Anonymous, 401),
        ),
        row(
            "list another organisation's users",
            Method::GET,
            format!("/v1/organizations/{}/users", f.other_org),
            None,
            (Outsider, 200),
            (Admin, 403),
        ),
    ];
    let auth = |who: Who| -> Option<&str> {
        match who {
            Anonymous => None,
            Individual => Some(&f.individual),
            Admin => Some(&f.admin),
            Dpo => Some(&f.dpo),
            Developer => Some(&f.developer),
            Outsider => Some(&f.outsider),
            Platform => Some(&f.platform),
        }
    };
    for r in rows {
        let (who, status) = r.denied;
        let reply = f
            .app
            .call(r.method.clone(), &r.path, auth(who), r.body.clone())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "row '{}': {who:?} must get {status}: {}",
            r.name,
            reply.body
        );
        if status >= 400 {
            reply.assert_error(status);
        }
        let (who, status) = r.allowed;
        let reply = f
            .app
            .call(r.method.clone(), &r.path, auth(who), r.body.clone())
            .await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "row '{}': {who:?} must get {status}: {}",
            r.name,
            reply.body
        );
    }
}
both_backends!(the_permission_table);

/// Erasing one's account may not leave an organisation without an Admin.
async fn the_last_admin_cannot_erase_their_account(db: TestDb) {
    let f = Fixture::new(&db).await;
    f.call(Method::DELETE, "/v1/user", &f.admin, None)
        .await
        .assert_error(409);
    let r = f
        .call(
            Method::POST,
            &f.org_path("/admins"),
            &f.admin,
            Some(json!({"userid": f.individual_id, "roleid": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        f.call(Method::DELETE, "/v1/user", &f.admin, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let admins = f
        .call(Method::GET, &f.org_path("/admins"), &f.individual, None)
        .await
        .json;
    assert!(
        admins["Admins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["UserID"] != f.admin_id.as_str()),
        "erased user's role goes with them"
    );
}
both_backends!(the_last_admin_cannot_erase_their_account);
