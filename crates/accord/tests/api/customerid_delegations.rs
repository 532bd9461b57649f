//! CustomerID delegations: a user of an organisation that received a mandate passes the
//! mandated role on (GET115, GET116, GET122; create, delete).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::Fixture;
use crate::helpers::{add_rest_client, get, ids, seed, send};
use crate::helpers::{email, TestDb};

async fn delegations_pass_a_mandated_role_on(db: TestDb) {
    let f = Fixture::new(&db).await;
    let (parent, child, _) = seed(&db, &f).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    add_rest_client(&db, "child-only", "another-long-secret", Some(&child));
    let all = ("all", "a-long-client-secret");
    let bound = ("child-only", "another-long-secret");
    let dpo_of_parent = accord_domain::identity::OrgRole::Dpo
        .role_of(parent.parse().unwrap())
        .id
        .to_string();
    // The parent gives the child organisation its Dpo role.
    let r = send(
        &f,
        Method::POST,
        "/mandates",
        all,
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
    // A colleague in the child organisation receives it from the child's Admin.
    let colleague_email = email("colleague");
    let r = send(
        &f,
        Method::POST,
        "/users",
        bound,
        &[
            ("email", colleague_email.as_str()),
            ("organizationId", child.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let colleague = ids(&r)[0].clone();
    let delegate = |mandateruser: String, user: String, mandate: String| {
        let f = &f;
        async move {
            send(
                f,
                Method::POST,
                "/delegations",
                bound,
                &[
                    ("mandate", mandate.as_str()),
                    ("mandateruser", mandateruser.as_str()),
                    ("user", user.as_str()),
                ],
            )
            .await
        }
    };
    let r = delegate(f.admin_id.clone(), colleague.clone(), mandate.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.contains(r#"<Delegations xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/delegations" method="POST"><Id>"#), "{}", r.body);
    let delegation = ids(&r)[0].clone();

    // GET116: the spec's attributes in its order, then ours.
    let r = get(
        &f,
        &format!("/delegations/{delegation}"),
        Some(bound),
        None,
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = |name: &str, value: &str| {
        format!(r#"<Attribute name="{name}"><Value>{value}</Value></Attribute>"#)
    };
    let expected = [
        v("role", &dpo_of_parent),
        v("mandatee", &child),
        v("mandate", &mandate),
        v("mandateruser", &f.admin_id),
        v("mandaterorganization", &parent),
        v("id", &delegation),
        v("user", &colleague),
    ]
    .concat();
    assert!(
        r.body
            .ends_with(&format!(r#"method="GET">{expected}</Delegation>"#)),
        "{}",
        r.body
    );
    let r = get(
        &f,
        &format!("/delegations/{delegation}"),
        Some(bound),
        None,
        true,
    )
    .await;
    assert_eq!(
        r.json["Attribute"][0],
        json!({"name": "role", "Value": [dpo_of_parent]})
    );

    // GET115 and GET122, IDs and entities.
    assert_eq!(
        ids(&get(
            &f,
            &format!("/users/{colleague}/delegations"),
            Some(bound),
            None,
            false
        )
        .await),
        vec![delegation.clone()]
    );
    assert_eq!(
        ids(&get(
            &f,
            &format!("/users/{colleague}/receivedmandatedelegations"),
            Some(bound),
            None,
            false
        )
        .await),
        vec![mandate.clone()]
    );
    let r = get(
        &f,
        &format!("/users/{colleague}/receivedmandatedelegations?entities=true"),
        Some(bound),
        None,
        true,
    )
    .await;
    assert_eq!(r.json["Mandate"].as_array().unwrap().len(), 1, "{}", r.body);
    let r = get(
        &f,
        &format!("/users/{colleague}/delegations?entities=true"),
        Some(bound),
        None,
        false,
    )
    .await;
    assert!(
        r.body.contains("<Delegations ")
            && r.body
                .contains(&format!("<Delegation>{}", v("role", &dpo_of_parent))),
        "{}",
        r.body
    );
    assert!(ids(&get(
        &f,
        &format!("/users/{}/delegations", f.admin_id),
        Some(bound),
        None,
        false
    )
    .await)
    .is_empty());
    assert_eq!(
        ids(&get(&f, "/delegations", Some(all), None, false).await),
        vec![delegation.clone()]
    );

    // Refused: twice, to oneself, by someone outside the mandatee, of a mandate to a person, unknown.
    let r = delegate(f.admin_id.clone(), colleague.clone(), mandate.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("<code>Already exists</code>"), "{}", r.body);
    let r = delegate(colleague.clone(), colleague.clone(), mandate.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(
        &f,
        Method::POST,
        "/delegations",
        all,
        &[
            ("mandate", mandate.as_str()),
            ("mandateruser", f.individual_id.as_str()),
            ("user", colleague.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(
        &f,
        Method::POST,
        "/mandates",
        bound,
        &[
            ("type", "OrgToPer"),
            ("mandater", child.as_str()),
            ("mandatee", colleague.as_str()),
            (
                "role",
                accord_domain::identity::OrgRole::Developer
                    .role_of(child.parse().unwrap())
                    .id
                    .to_string()
                    .as_str(),
            ),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let to_person = ids(&r)[0].clone();
    let r = delegate(f.admin_id.clone(), colleague.clone(), to_person).await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.body.contains("given to an organization"),
        "{}",
        r.body
    );
    let r = delegate(
        f.admin_id.clone(),
        colleague.clone(),
        uuid::Uuid::now_v7().to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = send(
        &f,
        Method::POST,
        "/delegations",
        bound,
        &[
            ("mandate", mandate.as_str()),
            ("mandateruser", "x"),
            ("user", colleague.as_str()),
            ("extra", "1"),
        ],
    )
    .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.body.contains("unknown parameter"),
        "{}",
        r.body
    );

    // A client bound elsewhere sees nothing of it.
    let r = send(
        &f,
        Method::POST,
        "/organizations",
        all,
        &[
            ("technicalName", "elsewhere"),
            ("friendlyName", "Elsewhere"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let elsewhere = ids(&r)[0].clone();
    add_rest_client(&db, "elsewhere", "a-third-long-secret", Some(&elsewhere));
    let other = ("elsewhere", "a-third-long-secret");
    assert_eq!(
        get(
            &f,
            &format!("/delegations/{delegation}"),
            Some(other),
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(ids(&get(&f, "/delegations", Some(other), None, false).await).is_empty());
    assert_eq!(
        send(
            &f,
            Method::DELETE,
            &format!("/delegations/{delegation}"),
            other,
            &[]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            &f,
            &format!("/users/{colleague}/delegations"),
            Some(other),
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Withdrawn; and withdrawing the mandate withdraws its delegations.
    let r = send(
        &f,
        Method::DELETE,
        &format!("/delegations/{delegation}"),
        bound,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        get(
            &f,
            &format!("/delegations/{delegation}"),
            Some(bound),
            None,
            false
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let again =
        ids(&delegate(f.admin_id.clone(), colleague.clone(), mandate.clone()).await)[0].clone();
    assert_eq!(
        send(
            &f,
            Method::DELETE,
            &format!("/mandates/{mandate}"),
            all,
            &[]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&f, &format!("/delegations/{again}"), Some(all), None, false)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(ids(&get(
        &f,
        &format!("/users/{colleague}/receivedmandatedelegations"),
        Some(bound),
        None,
        false
    )
    .await)
    .is_empty());

    // The writes are in the action logs: the child's for delegations, the parent's for its mandate.
    let child_log = f
        .app
        .get(&format!("/v1/organizations/{child}/logs"), Some(&f.admin))
        .await;
    assert!(
        child_log
            .body
            .contains(&format!("delegated mandate {mandate} to user {colleague}")),
        "{}",
        child_log.body
    );
    assert!(
        child_log
            .body
            .contains(&format!("withdrew delegation {delegation}")),
        "{}",
        child_log.body
    );
    // The child's Admin is made Admin of the parent too, to read its log.
    let parent_admin = accord_domain::identity::OrgRole::Admin
        .role_of(parent.parse().unwrap())
        .id
        .to_string();
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{}/roles/{parent_admin}", f.admin_id),
        all,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let parent_log = f
        .app
        .get(&format!("/v1/organizations/{parent}/logs"), Some(&f.admin))
        .await;
    assert!(
        parent_log.status == StatusCode::OK
            && parent_log
                .body
                .contains(&format!("withdrew mandate {mandate}")),
        "{}",
        parent_log.body
    );
}
both_backends!(delegations_pass_a_mandated_role_on);
