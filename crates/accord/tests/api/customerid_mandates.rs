//! CustomerID mandates: given by an organisation or a person, listed, withdrawn, and
//! read as typed references; what a bound client may see of the people they name.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{add_rest_client, get, ids, mailed_token, seed, send, Fixture, Reply};
use crate::helpers::{TestDb, PW};

const ALL: (&str, &str) = ("all", "a-long-client-secret");
const BOUND: (&str, &str) = ("child-only", "another-long-secret");

/// A parent organisation and its child, a client for everything and one bound to the
/// child, and four mandates the bound client gave: the child gives SALES to the
/// individual until 2099 (`to_person`) and to an address nobody holds yet (`to_email`);
/// the child's Admin passes the Dpo role to the individual (`person_to_person`); the child
/// mandates its parent (`org_to_org`).
struct Mandates {
    f: Fixture,
    parent: String,
    child: String,
    /// A person of the parent, beyond the bound client's reach.
    third: String,
    sales: String,
    newcomer_email: String,
    to_person: String,
    to_email: String,
    person_to_person: String,
}

impl Mandates {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::with_smtp(db).await;
        let (parent, child, third) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        // The person mandated by ID is one of the child's: a bound client names only people
        // within its reach by ID (others by address).
        db.execute(
            "UPDATE users SET home_organization_id = $1 WHERE id = $2",
            &[&child, &f.individual_id],
        )
        .await;
        let sales = ids(&send(
            &f,
            Method::POST,
            "/roles",
            BOUND,
            &[("name", "SALES"), ("organizationId", child.as_str())],
        )
        .await)[0]
            .clone();
        let dpo = accord_domain::identity::OrgRole::Dpo
            .role_of(child.parse().unwrap())
            .id
            .to_string();
        let newcomer_email = crate::helpers::email("newcomer");
        let mut m = Self {
            f,
            parent,
            child,
            third,
            sales,
            newcomer_email,
            to_person: String::new(),
            to_email: String::new(),
            person_to_person: String::new(),
        };
        let (child, sales) = (m.child.clone(), m.sales.clone());
        m.to_person = m
            .given(&[
                ("type", "OrgToPer"),
                ("mandater", &child),
                ("mandatee", &m.f.individual_id.clone()),
                ("role", &sales),
                ("validUntil", "2099-01-01"),
            ])
            .await;
        m.to_email = m
            .given(&[
                ("type", "OrgToPer"),
                ("mandater", &child),
                ("assigneeEmail", &m.newcomer_email.clone()),
                ("role", &sales),
            ])
            .await;
        m.person_to_person = m
            .given(&[
                ("type", "PerToPer"),
                ("mandater", &m.f.admin_id.clone()),
                ("mandatee", &m.f.individual_id.clone()),
                ("role", &dpo),
            ])
            .await;
        let parent = m.parent.clone();
        m.given(&[
            ("type", "OrgToOrg"),
            ("mandater", &child),
            ("mandatee", &parent),
            ("role", &sales),
        ])
        .await;
        m
    }

    /// A mandate the bound client gives: its ID.
    async fn given(&self, form: &[(&str, &str)]) -> String {
        let r = self.create(BOUND, form).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids(&r)[0].clone()
    }

    async fn create(&self, client: (&str, &str), form: &[(&str, &str)]) -> Reply {
        send(&self.f, Method::POST, "/mandates", client, form).await
    }

    async fn get(&self, client: (&str, &str), path: &str, json: bool) -> Reply {
        get(&self.f, path, Some(client), None, json).await
    }
}

async fn bad_mandates_are_refused(db: TestDb) {
    let m = Mandates::new(&db).await;
    let (child, parent) = (m.child.as_str(), m.parent.as_str());
    let (person, sales) = (m.f.individual_id.as_str(), m.sales.as_str());
    let bad: [&[(&str, &str)]; 5] = [
        &[
            ("type", "OrgToEveryone"),
            ("mandater", child),
            ("mandatee", person),
            ("role", sales),
        ],
        &[
            ("type", "OrgToPer"),
            ("mandater", child),
            ("mandatee", person),
        ],
        &[
            ("type", "OrgToPer"),
            ("mandater", parent),
            ("mandatee", person),
            ("role", sales),
        ],
        &[
            ("type", "OrgToPer"),
            ("mandater", child),
            ("mandatee", person),
            ("role", sales),
            ("validFrom", "2030-01-02"),
            ("validUntil", "2030-01-01"),
        ],
        &[
            ("type", "OrgToPer"),
            ("mandater", child),
            ("assigneeEmail", "not-an-email"),
            ("role", sales),
        ],
    ];
    for form in bad {
        let r = m.create(BOUND, form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}: {}", r.body);
    }
    let r = m
        .create(
            ALL,
            &[
                ("type", "OrgToPer"),
                ("mandater", parent),
                ("mandatee", person),
                ("role", sales),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "an organisation grants its own roles only: {}",
        r.body
    );
}
both_backends!(bad_mandates_are_refused);

async fn mandates_are_listed_as_ids_or_entities(db: TestDb) {
    let m = Mandates::new(&db).await;
    assert_eq!(ids(&m.get(BOUND, "/mandates", false).await).len(), 4);
    let r = m.get(BOUND, "/mandates?entities=true", false).await;
    assert_eq!(r.body.matches("<Mandate>").count(), 4, "{}", r.body);
    let first = format!(
        r#"<Mandate><Attribute name="id"><Value>{}</Value></Attribute><Attribute name="type"><Value>OrgToPer</Value></Attribute>"#,
        m.to_person
    );
    assert!(r.body.contains(&first), "{}", r.body);
    let r = m.get(BOUND, "/mandates?entities=true", true).await;
    assert_eq!(r.json["Mandate"].as_array().unwrap().len(), 4);
    let r = m.get(BOUND, "/mandates?entities=maybe", false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = m
        .get(BOUND, &format!("/mandates/{}", m.to_email), false)
        .await;
    let assignee = format!(
        r#"<Attribute name="assigneeEmail"><Value>{}</Value></Attribute>"#,
        m.newcomer_email
    );
    assert!(
        r.body.contains(&assignee) && r.body.contains("<Value>pending</Value>"),
        "{}",
        r.body
    );
    let r = m
        .get(BOUND, &format!("/mandates/{}", m.to_person), false)
        .await;
    assert!(
        r.body.contains("<Value>active</Value>")
            && r.body.contains("<Value>2099-01-01T00:00:00Z</Value>"),
        "{}",
        r.body
    );
}
both_backends!(mandates_are_listed_as_ids_or_entities);

async fn given_and_received_mandates_stop_at_the_clients_reach(db: TestDb) {
    let m = Mandates::new(&db).await;
    let count = |r: Reply| ids(&r).len();
    let path = format!("/organizations/{}/givenmandates", m.child);
    assert_eq!(count(m.get(BOUND, &path, false).await), 3);
    let path = format!("/organizations/{}/receivedmandates", m.parent);
    assert_eq!(
        m.get(BOUND, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(count(m.get(ALL, &path, false).await), 1);
    let path = format!("/users/{}/givenmandates", m.f.admin_id);
    assert_eq!(
        ids(&m.get(BOUND, &path, false).await),
        vec![m.person_to_person.clone()]
    );
    let path = format!("/users/{}/receivedmandates", m.third);
    assert_eq!(
        m.get(BOUND, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
    let path = format!("/users/{}/receivedmandates", m.f.individual_id);
    assert_eq!(count(m.get(ALL, &path, false).await), 2);
}
both_backends!(given_and_received_mandates_stop_at_the_clients_reach);

async fn a_withdrawn_mandate_is_gone(db: TestDb) {
    let m = Mandates::new(&db).await;
    let path = format!("/mandates/{}", m.to_person);
    let r = send(&m.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        m.get(BOUND, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
    let again = send(&m.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}
both_backends!(a_withdrawn_mandate_is_gone);

/// The spec's GET111 shape: typed references to the parties and the role, which become
/// entities (`entities=true`) where the caller may see them.
async fn a_mandate_names_its_parties_by_typed_reference(db: TestDb) {
    let m = Mandates::new(&db).await;
    let path = format!("/mandates/{}", m.person_to_person);
    let r = m.get(BOUND, &path, false).await;
    for expected in [
        format!(
            r#"<Attribute name="mandater" type="user"><Value>{}</Value></Attribute>"#,
            m.f.admin_id
        ),
        format!(
            r#"<Attribute name="mandatee" type="user"><Value>{}</Value></Attribute>"#,
            m.f.individual_id
        ),
        r#"<Attribute name="type"><Value>PerToPer</Value></Attribute>"#.to_owned(),
    ] {
        assert!(r.body.contains(&expected), "{expected} in {}", r.body);
    }
    let r = m.get(BOUND, &path, true).await;
    let mandater = r.json["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "mandater")
        .unwrap()
        .clone();
    assert_eq!(
        mandater,
        json!({"name": "mandater", "type": "user", "Value": [m.f.admin_id]})
    );
    let entities = format!("{path}?entities=true");
    let r = m.get(BOUND, &entities, false).await;
    for (party, id) in [
        ("mandater", &m.f.admin_id),
        ("mandatee", &m.f.individual_id),
    ] {
        // The individual is one of the child's: an entity too.
        let expected = format!(
            r#"<Attribute name="{party}" type="user"><User><Attribute name="id"><Value>{id}</Value></Attribute>"#
        );
        assert!(r.body.contains(&expected), "{expected} in {}", r.body);
    }
    let r = m.get(ALL, &entities, true).await;
    let attrs = r.json["Attribute"].as_array().unwrap();
    let mandatee = attrs.iter().find(|a| a["name"] == "mandatee").unwrap();
    assert_eq!(mandatee["type"], "user");
    assert!(mandatee["User"]["Attribute"].is_array(), "{}", r.body);
    assert!(mandatee.get("Value").is_none());
    let role = attrs.iter().find(|a| a["name"] == "role").unwrap();
    assert!(
        role["Role"]["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "name"),
        "{}",
        r.body
    );
}
both_backends!(a_mandate_names_its_parties_by_typed_reference);

/// A person beyond the bound client's reach, mandated by the child through the unbound
/// client: the bound client sees the mandate, never the person (trust model, chain 6),
/// and cannot name them by ID itself.
async fn a_bound_client_never_sees_a_person_beyond_its_reach(db: TestDb) {
    let m = Mandates::new(&db).await;
    let form = [
        ("type", "OrgToPer"),
        ("mandater", m.child.as_str()),
        ("mandatee", m.third.as_str()),
        ("role", m.sales.as_str()),
    ];
    let r = m.create(ALL, &form).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let hidden = ids(&r)[0].clone();
    for entities in ["", "?entities=true"] {
        let r = m
            .get(BOUND, &format!("/mandates/{hidden}{entities}"), false)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(!r.body.contains(&m.third), "{}", r.body);
        assert!(!r.body.contains("Test User"), "{}", r.body);
        assert!(r.body.contains("<Value>pending</Value>"), "{}", r.body);
    }
    let r = m.create(BOUND, &form).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(
        &m.f,
        Method::DELETE,
        &format!("/mandates/{hidden}"),
        ALL,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(a_bound_client_never_sees_a_person_beyond_its_reach);

/// The mandate given to an address attaches to the account that proves the address: not
/// to whoever registers it first (trust model, chain 13), and the account is found
/// case-insensitively.
async fn a_mandate_to_an_address_waits_for_its_proof(db: TestDb) {
    let m = Mandates::new(&db).await;
    let path = format!("/mandates/{}", m.to_email);
    let r = m.get(ALL, &path, false).await;
    assert!(!r.body.contains(r#"name="mandatee""#), "{}", r.body);
    let shouted = m.newcomer_email.to_uppercase();
    let newcomer = m.f.app.register(&shouted, PW).await;
    let r = m.get(ALL, &path, false).await;
    assert!(!r.body.contains(r#"name="mandatee""#), "{}", r.body);
    assert!(r.body.contains("<Value>pending</Value>"), "{}", r.body);
    let token = mailed_token(&shouted, "Confirm your email address", 1).await;
    let verified =
        m.f.app
            .post("/v1/user/email/verify", json!({ "token": token }))
            .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let r = m.get(ALL, &path, false).await;
    let mandatee =
        format!(r#"<Attribute name="mandatee" type="user"><Value>{newcomer}</Value></Attribute>"#);
    let assignee = format!(
        r#"<Attribute name="assigneeEmail"><Value>{}</Value></Attribute>"#,
        m.newcomer_email
    );
    assert!(
        r.body.contains(&mandatee)
            && r.body.contains(&assignee)
            && r.body.contains("<Value>active</Value>"),
        "{}",
        r.body
    );
    let received = format!("/users/{newcomer}/receivedmandates");
    assert_eq!(
        ids(&m.get(ALL, &received, false).await),
        vec![m.to_email.clone()]
    );
}
both_backends!(a_mandate_to_an_address_waits_for_its_proof);
