//! CustomerID delegations: a user of an organisation that received a mandate passes the
//! mandated role on (GET115, GET116, GET122; create, delete).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{add_rest_client, get, ids, seed, send};
use crate::helpers::{email, TestDb};
use crate::helpers::{Fixture, Reply};

const ALL: (&str, &str) = ("all", "a-long-client-secret");
const BOUND: (&str, &str) = ("child-only", "another-long-secret");

/// The parent organisation gives the child its Dpo role (`mandate`), and the child's
/// Admin passes it on to a colleague in the child (`delegation`).
struct Delegated {
    f: Fixture,
    parent: String,
    child: String,
    dpo_of_parent: String,
    mandate: String,
    colleague: String,
    delegation: String,
}

impl Delegated {
    async fn new(db: &TestDb) -> Self {
        let f = Fixture::new(db).await;
        let (parent, child, _) = seed(db, &f).await;
        add_rest_client(db, ALL.0, ALL.1, None);
        add_rest_client(db, BOUND.0, BOUND.1, Some(&child));
        let dpo_of_parent = accord_domain::identity::OrgRole::Dpo
            .role_of(parent.parse().unwrap())
            .id
            .to_string();
        let r = send(
            &f,
            Method::POST,
            "/mandates",
            ALL,
            &[
                ("type", "OrgToOrg"),
                ("mandater", parent.as_str()),
                ("mandatee", child.as_str()),
                ("role", dpo_of_parent.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let mandate = ids(&r)[0].clone();
        let colleague_email = email("colleague");
        let r = send(
            &f,
            Method::POST,
            "/users",
            BOUND,
            &[
                ("email", colleague_email.as_str()),
                ("organizationId", child.as_str()),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let colleague = ids(&r)[0].clone();
        let mut d = Self {
            f,
            parent,
            child,
            dpo_of_parent,
            mandate,
            colleague,
            delegation: String::new(),
        };
        let r = d.delegate(&d.f.admin_id, &d.colleague, &d.mandate).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(r.body.contains(r#"<Delegations xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/delegations" method="POST"><Id>"#), "{}", r.body);
        d.delegation = ids(&r)[0].clone();
        d
    }

    /// The bound client asks `mandateruser` to pass `mandate` on to `user`.
    async fn delegate(&self, mandateruser: &str, user: &str, mandate: &str) -> Reply {
        let form = [
            ("mandate", mandate),
            ("mandateruser", mandateruser),
            ("user", user),
        ];
        send(&self.f, Method::POST, "/delegations", BOUND, &form).await
    }

    async fn get(&self, client: (&str, &str), path: &str, json: bool) -> Reply {
        get(&self.f, path, Some(client), None, json).await
    }
}

fn attribute(name: &str, value: &str) -> String {
    format!(r#"<Attribute name="{name}"><Value>{value}</Value></Attribute>"#)
}

/// GET116: the spec's attributes in its order, then ours.
async fn a_delegation_reads_as_the_spec_shows(db: TestDb) {
    let d = Delegated::new(&db).await;
    let path = format!("/delegations/{}", d.delegation);
    let r = d.get(BOUND, &path, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let expected = [
        attribute("role", &d.dpo_of_parent),
        attribute("mandatee", &d.child),
        attribute("mandate", &d.mandate),
        attribute("mandateruser", &d.f.admin_id),
        attribute("mandaterorganization", &d.parent),
        attribute("id", &d.delegation),
        attribute("user", &d.colleague),
    ]
    .concat();
    assert!(
        r.body
            .ends_with(&format!(r#"method="GET">{expected}</Delegation>"#)),
        "{}",
        r.body
    );
    let r = d.get(BOUND, &path, true).await;
    assert_eq!(
        r.json["Attribute"][0],
        json!({"name": "role", "Value": [d.dpo_of_parent]})
    );
}
both_backends!(a_delegation_reads_as_the_spec_shows);

/// GET115 and GET122, as IDs and as entities.
async fn a_delegate_lists_delegations_and_the_mandates_behind_them(db: TestDb) {
    let d = Delegated::new(&db).await;
    let colleague = &d.colleague;
    assert_eq!(
        ids(&d
            .get(BOUND, &format!("/users/{colleague}/delegations"), false)
            .await),
        vec![d.delegation.clone()]
    );
    let received = format!("/users/{colleague}/receivedmandatedelegations");
    assert_eq!(
        ids(&d.get(BOUND, &received, false).await),
        vec![d.mandate.clone()]
    );
    let r = d
        .get(BOUND, &format!("{received}?entities=true"), true)
        .await;
    assert_eq!(r.json["Mandate"].as_array().unwrap().len(), 1, "{}", r.body);
    let path = format!("/users/{colleague}/delegations?entities=true");
    let r = d.get(BOUND, &path, false).await;
    let first = format!("<Delegation>{}", attribute("role", &d.dpo_of_parent));
    assert!(
        r.body.contains("<Delegations ") && r.body.contains(&first),
        "{}",
        r.body
    );
    let path = format!("/users/{}/delegations", d.f.admin_id);
    assert!(ids(&d.get(BOUND, &path, false).await).is_empty());
    assert_eq!(
        ids(&d.get(ALL, "/delegations", false).await),
        vec![d.delegation.clone()]
    );
}
both_backends!(a_delegate_lists_delegations_and_the_mandates_behind_them);

/// Refused: twice, to oneself, by someone outside the mandatee, of a mandate to a person,
/// of an unknown mandate, with an unknown parameter.
async fn bad_delegations_are_refused(db: TestDb) {
    let d = Delegated::new(&db).await;
    let (admin, colleague) = (d.f.admin_id.as_str(), d.colleague.as_str());
    let r = d.delegate(admin, colleague, &d.mandate).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("<code>Already exists</code>"), "{}", r.body);
    let r = d.delegate(colleague, colleague, &d.mandate).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let form = [
        ("mandate", d.mandate.as_str()),
        ("mandateruser", d.f.individual_id.as_str()),
        ("user", colleague),
    ];
    let r = send(&d.f, Method::POST, "/delegations", ALL, &form).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let developer = accord_domain::identity::OrgRole::Developer
        .role_of(d.child.parse().unwrap())
        .id
        .to_string();
    let r = send(
        &d.f,
        Method::POST,
        "/mandates",
        BOUND,
        &[
            ("type", "OrgToPer"),
            ("mandater", d.child.as_str()),
            ("mandatee", colleague),
            ("role", developer.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let to_person = ids(&r)[0].clone();
    let r = d.delegate(admin, colleague, &to_person).await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.body.contains("given to an organization"),
        "{}",
        r.body
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let r = d.delegate(admin, colleague, &unknown).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let form = [
        ("mandate", d.mandate.as_str()),
        ("mandateruser", "x"),
        ("user", colleague),
        ("extra", "1"),
    ];
    let r = send(&d.f, Method::POST, "/delegations", BOUND, &form).await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.body.contains("unknown parameter"),
        "{}",
        r.body
    );
}
both_backends!(bad_delegations_are_refused);

async fn a_client_bound_elsewhere_sees_nothing_of_a_delegation(db: TestDb) {
    let d = Delegated::new(&db).await;
    let form = [
        ("technicalName", "elsewhere"),
        ("friendlyName", "Elsewhere"),
    ];
    let r = send(&d.f, Method::POST, "/organizations", ALL, &form).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let elsewhere = ids(&r)[0].clone();
    add_rest_client(&db, "elsewhere", "a-third-long-secret", Some(&elsewhere));
    let other = ("elsewhere", "a-third-long-secret");
    let path = format!("/delegations/{}", d.delegation);
    assert_eq!(
        d.get(other, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(ids(&d.get(other, "/delegations", false).await).is_empty());
    let r = send(&d.f, Method::DELETE, &path, other, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let path = format!("/users/{}/delegations", d.colleague);
    assert_eq!(
        d.get(other, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
}
both_backends!(a_client_bound_elsewhere_sees_nothing_of_a_delegation);

/// Withdrawn, and withdrawing the mandate withdraws its delegations; the writes are in the
/// action logs: the child's for delegations, the parent's for its mandate.
async fn withdrawing_a_mandate_withdraws_its_delegations(db: TestDb) {
    let d = Delegated::new(&db).await;
    let path = format!("/delegations/{}", d.delegation);
    let r = send(&d.f, Method::DELETE, &path, BOUND, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        d.get(BOUND, &path, false).await.status,
        StatusCode::NOT_FOUND
    );
    let again = ids(&d.delegate(&d.f.admin_id, &d.colleague, &d.mandate).await)[0].clone();
    let mandate_path = format!("/mandates/{}", d.mandate);
    let r = send(&d.f, Method::DELETE, &mandate_path, ALL, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = d.get(ALL, &format!("/delegations/{again}"), false).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let received = format!("/users/{}/receivedmandatedelegations", d.colleague);
    assert!(ids(&d.get(BOUND, &received, false).await).is_empty());

    let child_log =
        d.f.app
            .get(
                &format!("/v1/organizations/{}/logs", d.child),
                Some(&d.f.admin),
            )
            .await;
    for expected in [
        format!("delegated mandate {} to user {}", d.mandate, d.colleague),
        format!("withdrew delegation {}", d.delegation),
    ] {
        assert!(child_log.body.contains(&expected), "{}", child_log.body);
    }
    // The child's Admin is made Admin of the parent too, to read its log.
    let parent_admin = accord_domain::identity::OrgRole::Admin
        .role_of(d.parent.parse().unwrap())
        .id
        .to_string();
    let path = format!("/users/{}/roles/{parent_admin}", d.f.admin_id);
    let r = send(&d.f, Method::PUT, &path, ALL, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let parent_log =
        d.f.app
            .get(
                &format!("/v1/organizations/{}/logs", d.parent),
                Some(&d.f.admin),
            )
            .await;
    assert!(
        parent_log.status == StatusCode::OK
            && parent_log
                .body
                .contains(&format!("withdrew mandate {}", d.mandate)),
        "{}",
        parent_log.body
    );
}
both_backends!(withdrawing_a_mandate_withdraws_its_delegations);
