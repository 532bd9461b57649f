//! The CustomerID facade's reads, authentication and wire format (XML and JSON).

use accord_domain::identity::OrgRole::{Admin, Dpo};
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{add_rest_client, get, ids, seed, send, user, Fixture, BASE};
use crate::helpers::{Reply, TestDb};

const NS: &str = "http://schema.ubisecure.com/customerid/api";
/// A REST client for everything, and one bound to the child organisation.
const ALL: (&str, &str) = ("all", "a-long-client-secret");
const BOUND: (&str, &str) = ("child-only", "another-long-secret");

/// The CustomerID seed (a parent "5555555-6" with its child "1234567-1", where the Admin,
/// Maija, lives; a third user of the parent waiting for registration) and a REST client
/// for everything.
struct Seeded {
    f: Fixture,
    parent: String,
    child: String,
    third: String,
}

impl Seeded {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let (parent, child, third) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        Self {
            f,
            parent,
            child,
            third,
        }
    }

    /// A GET by the client for everything, in XML or JSON.
    async fn get(&self, path: &str, json: bool) -> Reply {
        get(&self.f, path, Some(ALL), None, json).await
    }

    /// The IDs a GET (XML) answers.
    async fn found(&self, path: &str) -> Vec<String> {
        ids(&self.get(path, false).await)
    }
}

/// GET105: a user reads as the spec's XML document, attribute by attribute; in JSON the
/// same content without the wrapper.
async fn a_user_reads_as_the_specs_document_in_xml_and_json(db: TestDb) {
    let s = Seeded::new(&db).await;
    let (f, child) = (&s.f, &s.child);
    let r = s.get(&format!("/users/{}", f.admin_id), false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    let email = f
        .call(reqwest::Method::GET, "/v1/user", &f.admin, None)
        .await
        .json["User"]["Email"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><User xmlns="{NS}" inResponseTo="/2.1/users/{id}" method="GET"><Attribute name="id"><Value>{id}</Value></Attribute><Attribute name="firstname"><Value>Maija</Value></Attribute><Attribute name="surname"><Value>Virtanen</Value></Attribute><Attribute name="mobile"><Value>+358401234567</Value></Attribute><Attribute name="cn"><Value>{id}</Value></Attribute><Attribute name="login"><Value>{email}</Value></Attribute><Attribute name="email"><Value>{email}</Value></Attribute><Attribute name="employeeNumber"><Value>E-42</Value></Attribute><Attribute name="organization"><Value>DMart</Value></Attribute><Attribute name="organizationEntityName"><Value>5555555-6/1234567-1</Value></Attribute><Attribute name="organizationId"><Value>{child}</Value></Attribute><Attribute name="status"><Value>Enabled</Value></Attribute><Attribute name="emailVerified"><Value>FALSE</Value></Attribute></User>"#,
        id = f.admin_id
    );
    assert_eq!(r.body, expected);
    // JSON: the same content without the wrapper.
    let r = s.get(&format!("/users/{}", f.admin_id), true).await;
    let attrs = r.json["Attribute"].as_array().unwrap();
    assert!(
        attrs.contains(
            &serde_json::json!({"name": "organizationEntityName", "Value": ["5555555-6/1234567-1"]})
        ),
        "{}",
        r.body
    );
}
both_backends!(a_user_reads_as_the_specs_document_in_xml_and_json);

/// GET104: prefix by default, exact on request; by name, the home organisation's name or
/// entity name, custom attributes, several criteria together; `maxResults` caps.
async fn users_are_found_by_prefix_or_exact_match(db: TestDb) {
    let s = Seeded::new(&db).await;
    let (f, third) = (&s.f, &s.third);
    let r = s.get("/users?firstname=mai", false).await;
    assert_eq!(ids(&r), vec![f.admin_id.clone()], "{}", r.body);
    assert!(r.body.contains(r#"inResponseTo="/2.1/users""#));
    assert!(s
        .found("/users?firstname=mai&exactMatch=true")
        .await
        .is_empty());
    assert_eq!(
        s.found("/users?firstname=MAIJA&exactMatch=true").await,
        vec![f.admin_id.clone()]
    );
    // The home organisation by its name or its entity name (prefix or exact).
    assert_eq!(
        s.found("/users?organization=dma").await,
        vec![f.admin_id.clone()]
    );
    let mut both = vec![f.admin_id.clone(), third.clone()];
    both.sort();
    assert_eq!(
        s.found("/users?organizationEntityName=5555555-6").await,
        both
    );
    assert_eq!(
        s.found("/users?organizationEntityName=5555555-6&exactMatch=true")
            .await,
        vec![third.clone()]
    );
    assert_eq!(
        s.found("/users?employeeNumber=E-4&surname=Vir").await,
        vec![f.admin_id.clone()]
    );
    assert!(s
        .found("/users?employeeNumber=E-4&surname=Other")
        .await
        .is_empty());
    assert_eq!(s.found("/users?maxResults=2").await.len(), 2);
}
both_backends!(users_are_found_by_prefix_or_exact_match);

/// A status is searched by its code or its name; an unknown name is a 400 in the
/// CustomerID error document.
async fn users_are_found_by_status_code_or_name(db: TestDb) {
    let s = Seeded::new(&db).await;
    let third = &s.third;
    assert_eq!(s.found("/users?status=5").await, vec![third.clone()]);
    assert!(s
        .found("/users?organizationEntityName=5555555-6/1234567-1&status=5")
        .await
        .is_empty());
    assert_eq!(
        s.found("/users?status=waiting_for_registration").await,
        vec![third.clone()]
    );
    let r = s.get("/users?status=sleeping", false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("<error><code>Invalid arguments</code>"),
        "{}",
        r.body
    );
}
both_backends!(users_are_found_by_status_code_or_name);

/// One domain: a user registered through the iGrant facade is listed here.
async fn a_user_registered_through_igrant_is_listed_here(db: TestDb) {
    let s = Seeded::new(&db).await;
    assert!(s.found("/users").await.contains(&s.f.individual_id));
}
both_backends!(a_user_registered_through_igrant_is_listed_here);

/// GET107: an organisation reads with the spec's attributes; GET106 finds it by entity
/// name (exact or prefix), friendly name or VAT number.
async fn an_organisation_reads_back_and_is_found_by_its_attributes(db: TestDb) {
    let s = Seeded::new(&db).await;
    let (parent, child) = (&s.parent, &s.child);
    let r = s.get(&format!("/organizations/{child}"), false).await;
    assert!(r.body.starts_with(&format!(r#"<?xml version="1.0" encoding="utf-8"?><Organization xmlns="{NS}" inResponseTo="/2.1/organizations/{child}" method="GET">"#)), "{}", r.body);
    for part in [
        r#"<Attribute name="entityName"><Value>5555555-6/1234567-1</Value></Attribute>"#,
        r#"<Attribute name="friendlyName"><Value>DMart</Value></Attribute>"#,
        r#"<Attribute name="organizationClass"><Value>Retail</Value></Attribute>"#,
        r#"<Attribute name="vatNumber"><Value>FI1234567</Value></Attribute>"#,
    ] {
        assert!(r.body.contains(part), "{part} in {}", r.body);
    }
    assert_eq!(
        s.found("/organizations?entityName=5555555-6/1234567-1&exactMatch=true")
            .await,
        vec![child.clone()]
    );
    let both = s.found("/organizations?entityName=5555555-6").await;
    assert!(both.contains(child) && both.contains(parent), "{both:?}");
    assert_eq!(
        s.found("/organizations?friendlyName=dm").await,
        vec![child.clone()]
    );
    assert_eq!(
        s.found("/organizations?vatNumber=FI1234567&exactMatch=true")
            .await,
        vec![child.clone()]
    );
}
both_backends!(an_organisation_reads_back_and_is_found_by_its_attributes);

/// GET113: an organisation's own users, or with `recursive` those of its subtree too.
async fn an_organisations_users_are_listed_directly_or_recursively(db: TestDb) {
    let s = Seeded::new(&db).await;
    let (f, parent, third) = (&s.f, &s.parent, &s.third);
    assert_eq!(
        s.found(&format!("/organizations/{parent}/users")).await,
        vec![third.clone()]
    );
    let mut all = s
        .found(&format!("/organizations/{parent}/users?recursive=true"))
        .await;
    all.sort();
    let mut want = vec![third.clone(), f.admin_id.clone()];
    want.sort();
    assert_eq!(all, want);
}
both_backends!(an_organisations_users_are_listed_directly_or_recursively);

async fn who_may_call_the_customerid_api(db: TestDb) {
    let f = Fixture::new(&db).await;
    let (parent, child, third) = seed(&db, &f).await;
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let bound = Some(("child-only", "another-long-secret"));

    // No credentials, wrong ones, a malformed header: 401 with a Basic challenge.
    for auth in [
        None,
        Some(("child-only", "wrong-secret")),
        Some(("nobody", "another-long-secret")),
    ] {
        let r = get(&f, "/users", auth, None, false).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        assert!(
            r.body.contains("<code>Authentication failed</code>"),
            "{}",
            r.body
        );
    }
    let r = get(&f, "/users", None, None, true).await;
    assert_eq!(
        (r.json["code"].as_str(), r.status),
        (Some("Authentication failed"), StatusCode::UNAUTHORIZED)
    );
    // A platform admin's bearer token works; an ordinary user's does not.
    assert_eq!(
        get(&f, "/users", None, Some(&f.platform), false)
            .await
            .status,
        StatusCode::OK
    );
    let r = get(&f, "/users", None, Some(&f.individual), false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<code>Unauthorized</code>"));

    // A client bound to the child sees the child and its users, nothing else.
    assert_eq!(
        ids(&get(&f, "/users", bound, None, false).await),
        vec![f.admin_id.clone()]
    );
    assert_eq!(
        get(&f, &format!("/users/{}", f.admin_id), bound, None, false)
            .await
            .status,
        StatusCode::OK
    );
    let r = get(&f, &format!("/users/{third}"), bound, None, false).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("<code>Entity not found</code>"));
    assert_eq!(
        get(&f, &format!("/organizations/{parent}"), bound, None, false)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            &f,
            &format!("/organizations/{parent}/users"),
            bound,
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ids(&get(&f, "/organizations", bound, None, false).await),
        vec![child.clone()]
    );

    // Unknown paths and methods answer error documents, never the iGrant JSON.
    let r = get(&f, "/nothing", bound, None, false).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("<error>"), "{}", r.body);
    let r = Reply::from(
        f.app
            .client
            .delete(f.app.url(&format!("{BASE}/users")))
            .basic_auth("child-only", Some("another-long-secret"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        r.body.contains("<code>Method not allowed</code>"),
        "{}",
        r.body
    );
    let _ = user(&f.app, "unused").await;
}
both_backends!(who_may_call_the_customerid_api);

async fn roles_of_organisations_and_users(db: TestDb) {
    let f = Fixture::new(&db).await;
    let (parent, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let all = Some(("all", "a-long-client-secret"));
    let bound = Some(("child-only", "another-long-secret"));
    let role_of = |role: accord_domain::identity::OrgRole, org: &str| {
        role.role_of(org.parse().unwrap()).id.to_string()
    };
    use accord_domain::identity::OrgRole::{Admin, Developer, Dpo};

    // A role created through CustomerID, with a member (set up directly until role writes exist).
    let custom = uuid::Uuid::now_v7().to_string();
    db.execute(
        "INSERT INTO roles (id, organization_id, name, created_at) VALUES ($1, $2, 'SALES', 0)",
        &[&custom, &child],
    )
    .await;
    db.execute(
        "INSERT INTO role_members (role_id, user_id) VALUES ($1, $2)",
        &[&custom, &f.admin_id],
    )
    .await;

    let listed = ids(&get(&f, "/roles", all, None, false).await);
    for id in [
        role_of(Admin, &child),
        role_of(Dpo, &child),
        role_of(Developer, &parent),
        custom.clone(),
    ] {
        assert!(listed.contains(&id), "{id} in {listed:?}");
    }
    let mut bound_roles = ids(&get(&f, "/roles", bound, None, false).await);
    bound_roles.sort();
    let mut want = vec![
        role_of(Admin, &child),
        role_of(Dpo, &child),
        role_of(Developer, &child),
        custom.clone(),
    ];
    want.sort();
    assert_eq!(
        bound_roles, want,
        "a bound client sees its organisation's roles only"
    );

    let r = get(
        &f,
        &format!("/roles/{}", role_of(Dpo, &child)),
        bound,
        None,
        false,
    )
    .await;
    assert!(
        r.body
            .contains(r#"<Attribute name="name"><Value>Dpo</Value></Attribute>"#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(
            r#"<Attribute name="entityName"><Value>5555555-6/1234567-1/Dpo</Value></Attribute>"#
        ),
        "{}",
        r.body
    );
    let r = get(&f, &format!("/roles/{custom}"), all, None, true).await;
    assert!(
        r.json["Attribute"].as_array().unwrap().contains(
            &serde_json::json!({"name": "entityName", "Value": ["5555555-6/1234567-1/SALES"]})
        ),
        "{}",
        r.body
    );
    assert_eq!(
        get(
            &f,
            &format!("/roles/{}", role_of(Admin, &parent)),
            bound,
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // The Admin of the child holds its Admin role (an iGrant role) and SALES.
    let mut mine = ids(&get(
        &f,
        &format!("/users/{}/roles", f.admin_id),
        bound,
        None,
        false,
    )
    .await);
    mine.sort();
    let mut want = vec![role_of(Admin, &child), custom.clone()];
    want.sort();
    assert_eq!(mine, want);
    assert_eq!(
        get(
            &f,
            &format!("/users/{}/roles", f.individual_id),
            bound,
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}
both_backends!(roles_of_organisations_and_users);

/// The CustomerID seed (a parent and its child), a client for everything and one bound
/// to the child, and "Sales Unit" made under the child through POST100: a form body, a
/// custom attribute with two values.
struct SalesUnit {
    f: Fixture,
    parent: String,
    child: String,
    unit: String,
}

impl SalesUnit {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let (parent, child, _) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        let form = [
            ("friendlyName", "Sales Unit"),
            ("technicalName", "Sales"),
            ("parentOrganizationId", child.as_str()),
            ("organizationClass", "retail"),
            ("region", "North"),
            ("region", "East"),
        ];
        let r = send(&f, reqwest::Method::POST, "/organizations", ALL, &form).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let unit = ids(&r)[0].clone();
        assert_eq!(
            r.body,
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?><Organizations xmlns="{NS}" inResponseTo="/2.1/organizations" method="POST"><Id>{unit}</Id></Organizations>"#
            )
        );
        Self {
            f,
            parent,
            child,
            unit,
        }
    }

    async fn status(
        &self,
        method: reqwest::Method,
        path: &str,
        client: (&str, &str),
        form: &[(&str, &str)],
    ) -> StatusCode {
        send(&self.f, method, path, client, form).await.status
    }
}

async fn a_new_organisation_reads_back_in_both_facades(db: TestDb) {
    let s = SalesUnit::new(&db).await;
    let r = get(
        &s.f,
        &format!("/organizations/{}", s.unit),
        Some(ALL),
        None,
        false,
    )
    .await;
    for part in [
        r#"<Attribute name="entityName"><Value>5555555-6/1234567-1/Sales</Value></Attribute>"#,
        r#"<Attribute name="organizationClass"><Value>Retail</Value></Attribute>"#,
        r#"<Attribute name="region"><Value>North</Value><Value>East</Value></Attribute>"#,
    ] {
        assert!(r.body.contains(part), "{part} in {}", r.body);
    }
    // One domain: the iGrant facade sees it.
    let path = format!("/v1/organizations/{}", s.unit);
    let r =
        s.f.call(reqwest::Method::GET, &path, &s.f.individual, None)
            .await;
    assert_eq!(r.json["Organization"]["Name"], "Sales Unit", "{}", r.body);
}
both_backends!(a_new_organisation_reads_back_in_both_facades);

async fn bad_organisations_are_refused(db: TestDb) {
    use reqwest::Method;
    let s = SalesUnit::new(&db).await;
    let form = [
        ("friendlyName", "Again"),
        ("technicalName", "sales"),
        ("parentOrganizationId", s.child.as_str()),
    ];
    let r = send(&s.f, Method::POST, "/organizations", ALL, &form).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("<code>Already exists</code>"));
    for (client, form, status) in [
        (ALL, vec![("technicalName", "x")], StatusCode::BAD_REQUEST),
        (
            ALL,
            vec![("friendlyName", "x"), ("organizationType", "Nope")],
            StatusCode::BAD_REQUEST,
        ),
        (
            ALL,
            vec![("friendlyName", "x"), ("bad name", "v")],
            StatusCode::BAD_REQUEST,
        ),
        (BOUND, vec![("friendlyName", "x")], StatusCode::FORBIDDEN),
        (
            BOUND,
            vec![
                ("friendlyName", "x"),
                ("parentOrganizationId", s.parent.as_str()),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let got = s
            .status(Method::POST, "/organizations", client, &form)
            .await;
        assert_eq!(got, status, "{form:?}");
    }
    let r = Reply::from(
        s.f.app
            .client
            .post(s.f.app.url(&format!("{BASE}/organizations")))
            .basic_auth(ALL.0, Some(ALL.1))
            .json(&serde_json::json!({"friendlyName": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // A JSON body must be an entity document ({"Attribute": [...]}).
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("<code>Invalid arguments</code>"),
        "{}",
        r.body
    );
    let r = Reply::from(
        s.f.app
            .client
            .post(s.f.app.url(&format!("{BASE}/organizations")))
            .basic_auth(ALL.0, Some(ALL.1))
            .header("content-type", "text/plain")
            .body("friendlyName=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
}
both_backends!(bad_organisations_are_refused);

/// PUT: defined attributes replaced, an empty value removes one, the rest stay; no
/// cycles; nothing outside the client's subtree.
async fn an_organisation_is_updated_within_the_clients_subtree(db: TestDb) {
    use reqwest::Method;
    let s = SalesUnit::new(&db).await;
    let path = format!("/organizations/{}", s.unit);
    let form = [
        ("friendlyName", "Sales North"),
        ("organizationClass", ""),
        ("technicalName", "SalesN"),
    ];
    let r = send(&s.f, Method::PUT, &path, BOUND, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(r#"method="PUT""#));
    let cleared = format!("{path}?region=");
    assert_eq!(
        s.status(Method::PUT, &cleared, BOUND, &[]).await,
        StatusCode::OK
    );
    let r = get(&s.f, &path, Some(BOUND), None, false).await;
    assert!(
        r.body
            .contains(r#"<Attribute name="friendlyName"><Value>Sales North</Value></Attribute>"#),
        "{}",
        r.body
    );
    assert!(r.body.contains("5555555-6/1234567-1/SalesN"));
    assert!(
        !r.body.contains("organizationClass") && !r.body.contains("region"),
        "{}",
        r.body
    );
    let emptied = s
        .status(Method::PUT, &path, ALL, &[("friendlyName", "")])
        .await;
    assert_eq!(emptied, StatusCode::BAD_REQUEST);
    // No cycles: the parent cannot move below its child.
    let child = format!("/organizations/{}", s.child);
    let below = [("parentOrganizationId", s.unit.as_str())];
    assert_eq!(
        s.status(Method::PUT, &child, ALL, &below).await,
        StatusCode::BAD_REQUEST
    );
    let parent = format!("/organizations/{}", s.parent);
    let mine = [("friendlyName", "Mine")];
    assert_eq!(
        s.status(Method::PUT, &parent, BOUND, &mine).await,
        StatusCode::NOT_FOUND
    );
}
both_backends!(an_organisation_is_updated_within_the_clients_subtree);

/// DELETE: leaves only, and not the client's own root.
async fn only_leaves_are_deleted(db: TestDb) {
    use reqwest::Method;
    let s = SalesUnit::new(&db).await;
    let child = format!("/organizations/{}", s.child);
    assert_eq!(
        s.status(Method::DELETE, &child, ALL, &[]).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.status(Method::DELETE, &child, BOUND, &[]).await,
        StatusCode::FORBIDDEN
    );
    let path = format!("/organizations/{}", s.unit);
    let r = send(&s.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains(r#"method="DELETE""#) && ids(&r) == vec![s.unit.clone()]);
    let gone = get(&s.f, &path, Some(ALL), None, false).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
both_backends!(only_leaves_are_deleted);

/// The deadlock the permission matrix once met: the webhook worker holds a delivery of the
/// organisation's and then writes to the organisation's log, while a DELETE holds the
/// organisation and cascades into that delivery. PostgreSQL breaks the cycle by aborting the
/// DELETE; the client still gets its 200, the deletion done once the worker is through.
/// (SQLite has one writer at a time: no cycle to meet.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_organisation_survives_a_deadlock_with_the_webhook_worker() {
    use reqwest::Method;
    use sqlx::Connection as _;
    let Some(db) = TestDb::postgres_if_configured().await else {
        return;
    };
    let f = Fixture::new(&db).await;
    let (parent, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    // A webhook with one delivery (a ping to a closed loopback port).
    let (hook, _) =
        crate::helpers::make_webhook(&f, "http://127.0.0.1:9/hook", &["org.subscribed"]).await;
    let ping = f
        .call(
            Method::POST,
            &f.org_path(&format!("/webhooks/{hook}/ping")),
            &f.admin,
            None,
        )
        .await;
    assert_eq!(ping.status, StatusCode::OK, "{}", ping.body);

    // The worker's unit of work, by hand: the delivery first. Only the DELETE's backend
    // may be the one to find the cycle (a long deadlock_timeout here).
    let mut worker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    for sql in ["SET deadlock_timeout = '60s'", "BEGIN"] {
        sqlx::query(sql).execute(&mut worker).await.unwrap();
    }
    let locked =
        sqlx::query("UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE webhook_id = $1")
            .bind(&hook)
            .execute(&mut worker)
            .await
            .unwrap();
    assert!(locked.rows_affected() > 0, "the ping made a delivery");

    let client = f.app.client.clone();
    let url = f.app.url(&format!("{BASE}/organizations/{child}"));
    let delete = tokio::spawn(async move {
        let r = client
            .delete(url)
            .basic_auth("all", Some("a-long-client-secret"))
            .send()
            .await
            .unwrap();
        Reply::from(r).await
    });
    // Until the DELETE waits for the delivery the worker holds.
    let mut watcher = sqlx::PgConnection::connect(&db.url).await.unwrap();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM organizations%'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            !delete.is_finished(),
            "the DELETE did not wait for the delivery's lock"
        );
        tokio::task::yield_now().await;
    }
    // Then the organisation's log: the cycle closes; PostgreSQL aborts the DELETE's
    // transaction, which lets this insert through.
    sqlx::query(
        "INSERT INTO organization_logs (id, organization_id, kind, actor_id, message, created_at) \
         VALUES ($1, $2, 'webhook_delivery', '', 'delivered by hand', 0)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&child)
    .execute(&mut worker)
    .await
    .unwrap();
    sqlx::query("COMMIT").execute(&mut worker).await.unwrap();

    let r = delete.await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(ids(&r), vec![child.clone()]);
    let all = ("all", "a-long-client-secret");
    let gone = get(
        &f,
        &format!("/organizations/{child}"),
        Some(all),
        None,
        false,
    )
    .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    // Once: the parent's log records one deletion.
    let logged: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM organization_logs WHERE organization_id = $1 AND message LIKE 'deleted sub-organization%'",
    )
    .bind(&parent)
    .fetch_one(&mut watcher)
    .await
    .unwrap();
    assert_eq!(logged, 1);
}

const MAIJAS_PASSWORD: &str = "a long passphrase";

/// Maija, made through the client bound to the child organisation (POST101) with a
/// password and a custom attribute.
struct Maija {
    f: Fixture,
    child: String,
    email: String,
    id: String,
}

impl Maija {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let (_, child, _) = seed(db, &f).await;
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        let email = crate::helpers::email("maija");
        let form = [
            ("email", email.as_str()),
            ("firstname", "Maija"),
            ("surname", "Meikäläinen"),
            ("organizationId", child.as_str()),
            ("password", MAIJAS_PASSWORD),
            ("department", "Sales"),
        ];
        let r = send(&f, reqwest::Method::POST, "/users", BOUND, &form).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r
            .body
            .contains(r#"inResponseTo="/2.1/users" method="POST""#));
        let id = ids(&r)[0].clone();
        Self {
            f,
            child,
            email,
            id,
        }
    }

    async fn put(&self, query: &str, form: &[(&str, &str)]) -> StatusCode {
        let path = format!("/users/{}{query}", self.id);
        send(&self.f, reqwest::Method::PUT, &path, BOUND, form)
            .await
            .status
    }

    async fn read(&self) -> Reply {
        get(
            &self.f,
            &format!("/users/{}", self.id),
            Some(BOUND),
            None,
            false,
        )
        .await
    }

    async fn cannot_sign_in(&self) {
        let body = serde_json::json!({"username": self.email, "password": MAIJAS_PASSWORD});
        self.f
            .app
            .post("/v1/users/login", body)
            .await
            .assert_error(401);
    }
}

/// A user created here signs in through the iGrant facade, with the name CustomerID gave.
async fn a_user_made_through_customerid_signs_in_on_the_igrant_facade(db: TestDb) {
    let m = Maija::new(&db).await;
    let login = m.f.app.login(&m.email, MAIJAS_PASSWORD).await;
    assert_eq!(login["User"]["Name"], "Maija Meikäläinen");
    let r = m.read().await;
    assert!(
        r.body
            .contains(r#"<Attribute name="department"><Value>Sales</Value></Attribute>"#),
        "{}",
        r.body
    );
    assert!(r
        .body
        .contains(r#"<Attribute name="status"><Value>Enabled</Value></Attribute>"#));
}
both_backends!(a_user_made_through_customerid_signs_in_on_the_igrant_facade);

async fn bad_users_are_refused(db: TestDb) {
    let m = Maija::new(&db).await;
    let child = m.child.as_str();
    for (form, status, why) in [
        (
            vec![("email", m.email.as_str()), ("organizationId", child)],
            StatusCode::CONFLICT,
            "the address is taken",
        ),
        (
            vec![("firstname", "No email"), ("organizationId", child)],
            StatusCode::BAD_REQUEST,
            "no address",
        ),
        (
            vec![("email", "x@example.com")],
            StatusCode::BAD_REQUEST,
            "a bound client places users in its tree",
        ),
        (
            vec![
                ("email", "y@example.com"),
                ("organizationId", child),
                ("cn", "mine"),
            ],
            StatusCode::BAD_REQUEST,
            "cn is ours",
        ),
        (
            vec![
                ("email", "z@example.com"),
                ("organizationId", child),
                ("password", "short"),
            ],
            StatusCode::BAD_REQUEST,
            "the password policy",
        ),
    ] {
        let r = send(&m.f, reqwest::Method::POST, "/users", BOUND, &form).await;
        assert_eq!(r.status, status, "{why}: {}", r.body);
    }
}
both_backends!(bad_users_are_refused);

/// PUT: defined attributes replaced, an empty value removes one, the rest stay;
/// disabling ends sessions and sign-in on both facades; another user's address is taken.
async fn a_user_is_updated_and_disabling_closes_both_facades(db: TestDb) {
    let m = Maija::new(&db).await;
    let bearer = crate::helpers::bearer(&m.f.app.login(&m.email, MAIJAS_PASSWORD).await);
    let changes = [("mobile", "+358 40 1"), ("status", "disabled")];
    assert_eq!(m.put("?department=", &changes).await, StatusCode::OK);
    let r = m.read().await;
    assert!(
        r.body
            .contains(r#"<Attribute name="mobile"><Value>+358 40 1</Value></Attribute>"#)
            && r.body.contains("<Value>Disabled</Value>"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("department") && r.body.contains("<Value>Maija</Value>"),
        "{}",
        r.body
    );
    m.f.app
        .get("/v1/user", Some(&bearer))
        .await
        .assert_error(401);
    m.cannot_sign_in().await;
    let disabled = get(&m.f, "/users?status=disabled", Some(BOUND), None, false).await;
    assert_eq!(ids(&disabled), vec![m.id.clone()]);
    assert_eq!(m.put("", &[("status", "enabled")]).await, StatusCode::OK);
    m.f.app.login(&m.email, MAIJAS_PASSWORD).await;
    let me =
        m.f.call(reqwest::Method::GET, "/v1/user", &m.f.admin, None)
            .await;
    let admin_email = me.json["User"]["Email"].as_str().unwrap().to_owned();
    let taken = m.put("", &[("email", admin_email.as_str())]).await;
    assert_eq!(taken, StatusCode::CONFLICT);
}
both_backends!(a_user_is_updated_and_disabling_closes_both_facades);

/// DELETE: gone, and signed out of both facades; the last Admin of an organisation stays.
async fn a_deleted_user_is_gone_but_the_last_admin_stays(db: TestDb) {
    use reqwest::Method;
    let m = Maija::new(&db).await;
    let admin = format!("/users/{}", m.f.admin_id);
    let r = send(&m.f, Method::DELETE, &admin, BOUND, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let path = format!("/users/{}", m.id);
    let r = send(&m.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(m.read().await.status, StatusCode::NOT_FOUND);
    m.cannot_sign_in().await;
}
both_backends!(a_deleted_user_is_gone_but_the_last_admin_stays);

/// The bound client's SALES role of the child organisation, and a member it made who
/// holds SALES and the child's iGrant Dpo role.
struct Roles {
    f: Fixture,
    parent: String,
    child: String,
    sales: String,
    member: String,
    member_email: String,
}

impl Roles {
    async fn new(db: &TestDb) -> Self {
        use reqwest::Method;
        let f = Fixture::new(db).await;
        let (parent, child, _) = seed(db, &f).await;
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        let form = [("name", "SALES"), ("organizationId", child.as_str())];
        let r = send(&f, Method::POST, "/roles", BOUND, &form).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r
            .body
            .contains(r#"inResponseTo="/2.1/roles" method="POST""#));
        let sales = ids(&r)[0].clone();
        let member_email = crate::helpers::email("member");
        let form = [
            ("email", member_email.as_str()),
            ("organizationId", child.as_str()),
            ("password", "a long passphrase"),
        ];
        let member = ids(&send(&f, Method::POST, "/users", BOUND, &form).await)[0].clone();
        let roles = Self {
            f,
            parent,
            child,
            sales,
            member,
            member_email,
        };
        for role in [roles.sales.clone(), roles.of(Dpo, &roles.child)] {
            let path = format!("/users/{}/roles/{role}", roles.member);
            let r = send(&roles.f, Method::PUT, &path, BOUND, &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert!(r.body.contains(r#"method="PUT""#) && ids(&r) == vec![role.clone()]);
        }
        roles
    }

    /// An iGrant role's derived ID in an organisation.
    fn of(&self, role: accord_domain::identity::OrgRole, org: &str) -> String {
        role.role_of(org.parse().unwrap()).id.to_string()
    }

    async fn status(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> StatusCode {
        send(&self.f, method, path, BOUND, form).await.status
    }

    async fn held(&self) -> Vec<String> {
        let path = format!("/users/{}/roles", self.member);
        let mut held = ids(&get(&self.f, &path, Some(BOUND), None, false).await);
        held.sort();
        held
    }
}

async fn bad_roles_are_refused(db: TestDb) {
    use reqwest::Method;
    let r = Roles::new(&db).await;
    let (child, parent) = (r.child.as_str(), r.parent.as_str());
    for (form, status, why) in [
        (
            vec![("name", "sales"), ("organizationId", child)],
            StatusCode::CONFLICT,
            "names are case-insensitive",
        ),
        (
            vec![("name", "admin"), ("organizationId", child)],
            StatusCode::CONFLICT,
            "the iGrant roles are taken",
        ),
        (
            vec![("name", "X")],
            StatusCode::BAD_REQUEST,
            "no organisation",
        ),
        (
            vec![("name", "X"), ("organizationId", parent)],
            StatusCode::BAD_REQUEST,
            "outside the subtree",
        ),
    ] {
        assert_eq!(
            r.status(Method::POST, "/roles", &form).await,
            status,
            "{why}"
        );
    }
}
both_backends!(bad_roles_are_refused);

/// One domain: the iGrant facade sees the Dpo role a REST client gave, and admits the
/// member as an organisation admin.
async fn roles_given_here_hold_on_the_igrant_facade(db: TestDb) {
    let r = Roles::new(&db).await;
    let mut want = vec![r.sales.clone(), r.of(Dpo, &r.child)];
    want.sort();
    assert_eq!(r.held().await, want);
    let login =
        r.f.app
            .post(
                "/v1/users/admin/login",
                serde_json::json!({"username": r.member_email, "password": "a long passphrase"}),
            )
            .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(login.json["User"]["Roles"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!({"RoleID": 2, "OrgID": r.child})));
}
both_backends!(roles_given_here_hold_on_the_igrant_facade);

/// Removing: membership by membership; never the last Admin; the iGrant roles stay
/// roles; a deleted role is gone from its members.
async fn roles_are_removed_membership_by_membership(db: TestDb) {
    use reqwest::Method;
    let (delete, put) = (Method::DELETE, Method::PUT);
    let r = Roles::new(&db).await;
    let dpo = format!("/users/{}/roles/{}", r.member, r.of(Dpo, &r.child));
    assert_eq!(r.status(delete.clone(), &dpo, &[]).await, StatusCode::OK);
    assert_eq!(
        r.status(delete.clone(), &dpo, &[]).await,
        StatusCode::NOT_FOUND
    );
    let last_admin = format!("/users/{}/roles/{}", r.f.admin_id, r.of(Admin, &r.child));
    assert_eq!(
        r.status(delete.clone(), &last_admin, &[]).await,
        StatusCode::BAD_REQUEST
    );
    let igrant_role = format!("/roles/{}", r.of(Dpo, &r.child));
    assert_eq!(
        r.status(delete.clone(), &igrant_role, &[]).await,
        StatusCode::BAD_REQUEST
    );
    let outside = format!("/users/{}/roles/{}", r.member, r.of(Admin, &r.parent));
    assert_eq!(
        r.status(put.clone(), &outside, &[]).await,
        StatusCode::NOT_FOUND
    );
    let sales = format!("/roles/{}", r.sales);
    assert_eq!(r.status(delete.clone(), &sales, &[]).await, StatusCode::OK);
    let gone = get(&r.f, &sales, Some(BOUND), None, false).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(r.held().await.is_empty());
}
both_backends!(roles_are_removed_membership_by_membership);
