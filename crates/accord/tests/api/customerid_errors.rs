//! CustomerID's URLs as the spec writes them (collections end with `/`) and its error codes
//! as the product documents them, chosen by cause, in XML and in JSON.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::{add_rest_client, get, ids, seed, send, Fixture, Reply, TestDb, BASE};

const ALL: (&str, &str) = ("all", "a-long-client-secret");

/// The seeded tree (parent 5555555-6 with child 1234567-1) and an unbound REST client.
struct Seeded {
    f: Fixture,
    parent: String,
    child: String,
}

impl Seeded {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let (parent, child, _) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        Self { f, parent, child }
    }

    /// A form POST asking for JSON answers.
    async fn send_json(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        let r = self
            .f
            .app
            .client
            .post(self.f.app.url(&format!("{BASE}{path}")))
            .basic_auth(ALL.0, Some(ALL.1))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .unwrap();
        Reply::from(r).await
    }
}

/// The code of an XML error document.
fn xml_code(r: &Reply) -> &str {
    r.body
        .split("<code>")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .unwrap_or("")
}

async fn the_specs_collection_urls_end_with_a_slash(db: TestDb) {
    let s = Seeded::new(&db).await;
    for (plain, slashed) in [
        ("/users", "/users/"),
        ("/organizations", "/organizations/"),
        ("/mandates", "/mandates/"),
        ("/roleinvitations", "/roleinvitations/"),
        ("/roles", "/roles/"),
    ] {
        let a = get(&s.f, plain, Some(ALL), None, false).await;
        let b = get(&s.f, slashed, Some(ALL), None, false).await;
        assert_eq!(a.status, StatusCode::OK, "{plain}: {}", a.body);
        assert_eq!((b.status, ids(&b)), (a.status, ids(&a)), "{slashed}");
    }
    let recursive = format!("/organizations/{}/users/?recursive=true", s.parent);
    let r = get(&s.f, &recursive, Some(ALL), None, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        ids(&r).contains(&s.f.admin_id),
        "the child's users: {}",
        r.body
    );
    // A write at the slashed URL is the same write.
    let r = send(
        &s.f,
        Method::POST,
        "/organizations/",
        ALL,
        &[("friendlyName", "Sub"), ("parentOrganizationId", &s.child)],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}
both_backends!(the_specs_collection_urls_end_with_a_slash);

async fn error_codes_name_their_cause(db: TestDb) {
    let s = Seeded::new(&db).await;
    let nowhere = uuid::Uuid::now_v7().to_string();
    // A parent that is not there: the organisation's, the user's home.
    let r = send(
        &s.f,
        Method::POST,
        "/organizations",
        ALL,
        &[
            ("friendlyName", "Orphan"),
            ("parentOrganizationId", &nowhere),
        ],
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::BAD_REQUEST, "Parent not found"),
        "{}",
        r.body
    );
    let r = s
        .send_json(
            "/users",
            &[
                ("email", "orphan@example.com"),
                ("organizationId", &nowhere),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json["code"], "Parent not found", "{}", r.body);
    // Another entity a parameter names: a role, a mandate, a mandater.
    let r = send(
        &s.f,
        Method::POST,
        "/roleinvitations",
        ALL,
        &[("email", "invited@example.com"), ("role", &nowhere)],
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::BAD_REQUEST, "Invalid reference"),
        "{}",
        r.body
    );
    let r = send(
        &s.f,
        Method::POST,
        "/delegations",
        ALL,
        &[
            ("mandate", &nowhere),
            ("mandateruser", &s.f.admin_id),
            ("user", &s.f.individual_id),
        ],
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::BAD_REQUEST, "Invalid reference"),
        "{}",
        r.body
    );
    let r = s
        .send_json(
            "/mandates",
            &[
                ("type", "OrgToOrg"),
                ("mandater", &nowhere),
                ("mandatee", &s.child),
                ("role", &nowhere),
            ],
        )
        .await;
    assert_eq!(r.json["code"], "Invalid reference", "{}", r.body);
    // The path's entity, a uniqueness rule, a rule broken, and what only the status says.
    let r = get(&s.f, &format!("/users/{nowhere}"), Some(ALL), None, false).await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::NOT_FOUND, "Entity not found")
    );
    let r = send(
        &s.f,
        Method::POST,
        "/organizations",
        ALL,
        &[("friendlyName", "Twin"), ("technicalName", "5555555-6")],
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::CONFLICT, "Already exists"),
        "{}",
        r.body
    );
    let r = send(
        &s.f,
        Method::POST,
        "/organizations",
        ALL,
        &[("technicalName", "x-1")],
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::BAD_REQUEST, "Invalid arguments"),
        "{}",
        r.body
    );
    let r =
        s.f.app
            .client
            .post(s.f.app.url(&format!("{BASE}/organizations")))
            .basic_auth(ALL.0, Some(ALL.1))
            .header("content-type", "text/plain")
            .body("friendlyName=x")
            .send()
            .await
            .unwrap();
    let r = Reply::from(r).await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Client error"),
        "{}",
        r.body
    );
    let r = get(
        &s.f,
        "/users",
        Some(("all", "a-wrong-secret-here")),
        None,
        false,
    )
    .await;
    assert_eq!(
        (r.status, xml_code(&r)),
        (StatusCode::UNAUTHORIZED, "Authentication failed")
    );
}
both_backends!(error_codes_name_their_cause);
