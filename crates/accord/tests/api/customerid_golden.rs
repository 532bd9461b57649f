//! Golden tests: the spec's response samples, copied verbatim from
//! `customerid-rest-2.1.txt`, against what the server answers for the same data.
//!
//! Normalisation (docs/customerid.md, "Golden samples"): whitespace between elements is
//! dropped (the samples are pretty-printed); every document starts with the XML
//! declaration (two samples show it, the rest omit it); `inResponseTo` is the path below
//! `/customerid-rest/services` (most samples; some show the full URL); placeholders
//! (`XXXXXXXX-…`, `USERID1`, `ROLEID`) become the IDs the server gave. Where Accord answers
//! more than a sample shows, the extra attributes are added to the expectation here,
//! visibly, and listed in the docs.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::Fixture;
use crate::helpers::TestDb;
use crate::helpers::{add_rest_client, get, ids, send, BASE};

/// A spec sample as the exact bytes Accord writes.
fn expected(sample: &str, substitutions: &[(&str, &str)]) -> String {
    let mut collapsed = String::with_capacity(sample.len());
    let mut chars = sample.trim().chars().peekable();
    while let Some(c) = chars.next() {
        collapsed.push(c);
        if c == '>' {
            let mut ws = String::new();
            while let Some(w) = chars.peek().filter(|w| w.is_whitespace()) {
                ws.push(*w);
                chars.next();
            }
            if chars.peek() != Some(&'<') {
                collapsed.push_str(&ws);
            }
        }
    }
    let mut s = collapsed
        .replace("https://localhost:7443/customerid-rest/services", "")
        .replace("https://HOSTNAME/customerid-rest/services", "");
    if !s.starts_with("<?xml") {
        s = format!(r#"<?xml version="1.0" encoding="utf-8"?>{s}"#);
    }
    for (from, to) in substitutions {
        s = s.replace(from, to);
    }
    s
}

async fn responses_match_the_spec_samples(db: TestDb) {
    let f = Fixture::new(&db).await;
    add_rest_client(&db, "restuser", "a-long-client-secret", None);
    let auth = ("restuser", "a-long-client-secret");
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let f = &f;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = send(f, Method::POST, path, auth, &pairs).await;
            assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
            ids(&r)[0].clone()
        }
    };
    // The world of the samples: 5555555-6 / 1234567-1 ("My Subsidiary"), its users and roles.
    let parent = post(
        "/organizations",
        vec![
            ("technicalName", "5555555-6".into()),
            ("friendlyName", "My Group".into()),
        ],
    )
    .await;
    let child = post(
        "/organizations",
        vec![
            ("technicalName", "1234567-1".into()),
            ("friendlyName", "My Subsidiary".into()),
            ("parentOrganizationId", parent.clone()),
        ],
    )
    .await;
    let user = post(
        "/users",
        vec![
            ("email", "firstname.lastname@example.org".into()),
            ("firstname", "Firstname".into()),
            ("surname", "Lastname".into()),
            ("mobile", "+0123456789".into()),
            ("ssn", "010199-1234".into()),
            ("organizationId", child.clone()),
        ],
    )
    .await;

    // GET105 Query User (`cn` is the user's ID, `login` the email: docs/customerid.md),
    // then Accord's one attribute beyond the sample: `emailVerified` (docs/security.md).
    let r = get(&f, &format!("/users/{user}"), Some(auth), None, false).await;
    assert_eq!(
        r.body,
        expected(
            r#"<?xml version="1.0" encoding="utf-8"?> <User xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://HOSTNAME/customerid-rest/services/2.1/users/XXXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" method="GET"> <Attribute name="id"> <Value>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX</Value> </Attribute> <Attribute name="firstname"> <Value>Firstname</Value> </Attribute> <Attribute name="surname"> <Value>Lastname</Value> </Attribute> <Attribute name="mobile"> <Value>+0123456789</Value> </Attribute> <Attribute name="cn"> <Value>YYYYYYYY-YYYY-YYYY-YYYY-YYYYYYYYYYYY</Value> </Attribute> <Attribute name="login"> <Value>firstname.lastname</Value> </Attribute> <Attribute name="email"> <Value>firstname.lastname@example.org</Value> </Attribute> <Attribute name="ssn"> <Value>010199-1234</Value> </Attribute> <Attribute name="organization"> <Value>My Subsidiary</Value> </Attribute> <Attribute name="organizationEntityName"> <Value>5555555-6/1234567-1</Value> </Attribute> <Attribute name="organizationId"> <Value>ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ</Value> </Attribute> <Attribute name="status"> <Value>Enabled</Value> </Attribute> <Attribute name="emailVerified"> <Value>FALSE</Value> </Attribute> </User>"#,
            &[
                ("XXXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &user),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &user),
                ("YYYYYYYY-YYYY-YYYY-YYYY-YYYYYYYYYYYY", &user),
                (
                    "<Value>firstname.lastname</Value>",
                    "<Value>firstname.lastname@example.org</Value>"
                ),
                ("ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ", &child),
            ]
        )
    );

    // The PUT fragment: the collection document with the affected ID and the method.
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{user}"),
        auth,
        &[("mobile", "+0123456780")],
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<Users xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/users/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" method="PUT"> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX</Id> </Users>"#,
            &[("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &user)]
        )
    );

    // GET104 and GET113: ID lists.
    let second = post(
        "/users",
        vec![
            ("email", "second.user@example.org".into()),
            ("organizationId", parent.clone()),
        ],
    )
    .await;
    let mut both = [user.clone(), second.clone()];
    both.sort();
    let r = get(
        &f,
        "/users?organizationEntityName=5555555-6",
        Some(auth),
        None,
        false,
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<Users xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/users" method="GET"> <Id>USERID1</Id> <Id>USERID2</Id> </Users>"#,
            &[("USERID1", &both[0]), ("USERID2", &both[1])]
        )
    );
    let r = get(
        &f,
        &format!("/organizations/{child}/users"),
        Some(auth),
        None,
        false,
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<Users xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/organizations/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX/users" method="GET"> <Id>USERID2</Id> </Users>"#,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &child),
                ("USERID2", &user)
            ]
        )
    );

    // GET109 Query Role: the sample's `name` and `entityName`, then Accord's `id` and `organizationId`.
    let top = post(
        "/organizations",
        vec![
            ("technicalName", "1234567-1".into()),
            ("friendlyName", "Top".into()),
        ],
    )
    .await;
    let role = post(
        "/roles",
        vec![("name", "ROLENAME".into()), ("organizationId", top.clone())],
    )
    .await;
    let r = get(&f, &format!("/roles/{role}"), Some(auth), None, false).await;
    let ours = format!(
        r#"<Attribute name="id"><Value>{role}</Value></Attribute><Attribute name="organizationId"><Value>{top}</Value></Attribute></Role>"#
    );
    assert_eq!(
        r.body,
        expected(
            r#"<Role xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/roles/ROLEID" method="GET"> <Attribute name="name"> <Value>ROLENAME</Value> </Attribute> <Attribute name="entityName"> <Value>1234567-1/ROLENAME</Value> </Attribute> </Role>"#,
            &[("ROLEID", &role), ("</Role>", &ours)]
        )
    );

    // GET111 Query Mandate. The sample lacks the namespace every other sample has; Accord
    // always writes it, and adds `status`.
    let test_user = post(
        "/users",
        vec![
            ("email", "test.user@example.org".into()),
            ("firstname", "Test".into()),
            ("surname", "User4z8y6pkhpya89zde5drs".into()),
            ("organizationId", child.clone()),
        ],
    )
    .await;
    // The sample's mandatee is registered: the person has proven the address, so a
    // mandate given to it names them (an unproven address would keep it pending).
    db.execute(
        "UPDATE users SET email_verified_at = 0 WHERE id = $1",
        &[&test_user],
    )
    .await;
    let mandate_role = post(
        "/roles",
        vec![
            ("name", "MANDATED".into()),
            ("organizationId", parent.clone()),
        ],
    )
    .await;
    let mandate = post(
        "/mandates",
        vec![
            ("type", "OrgToPer".into()),
            ("mandater", parent.clone()),
            ("assigneeEmail", "test.user@example.org".into()),
            ("role", mandate_role.clone()),
        ],
    )
    .await;
    let r = get(&f, &format!("/mandates/{mandate}"), Some(auth), None, false).await;
    assert_eq!(
        r.body,
        expected(
            r#"<Mandate inResponseTo="/2.1/mandates/e8bba13e-e965-4042-af70-2b51d59359a2" method="GET"> <Attribute name="id"> <Value>e8bba13e-e965-4042-af70-2b51d59359a2</Value> </Attribute> <Attribute name="type"> <Value>OrgToPer</Value> </Attribute> <Attribute name="entityName"> <Value>Test%20User4z8y6pkhpya89zde5drs</Value> </Attribute> <Attribute name="name"> <Value>Test User4z8y6pkhpya89zde5drs</Value> </Attribute> <Attribute name="assigneeEmail"> <Value>test.user@example.org</Value> </Attribute> <Attribute name="mandater" type="organization"> <Value>eb74ea0e-06f3-4575-aea0-13538e167e5f</Value> </Attribute> <Attribute name="mandatee" type="user"> <Value>08a644dc-e6b4-4079-a636-5f378d876ee8</Value> </Attribute> <Attribute name="role" type="role"> <Value>283cee64-2b42-4052-906a-9fa683829312</Value> </Attribute> </Mandate>"#,
            &[
                (
                    "<Mandate inResponseTo",
                    r#"<Mandate xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo"#
                ),
                ("e8bba13e-e965-4042-af70-2b51d59359a2", &mandate),
                ("eb74ea0e-06f3-4575-aea0-13538e167e5f", &parent),
                ("08a644dc-e6b4-4079-a636-5f378d876ee8", &test_user),
                ("283cee64-2b42-4052-906a-9fa683829312", &mandate_role),
                (
                    "</Mandate>",
                    r#"<Attribute name="status"><Value>active</Value></Attribute></Mandate>"#
                ),
            ]
        )
    );

    // GET116 Query Mandate Role Delegation: the sample's attributes, then `id` and `user`.
    let org_mandate = post(
        "/mandates",
        vec![
            ("type", "OrgToOrg".into()),
            ("mandater", parent.clone()),
            ("mandatee", child.clone()),
            ("role", mandate_role.clone()),
        ],
    )
    .await;
    let delegation = post(
        "/delegations",
        vec![
            ("mandate", org_mandate.clone()),
            ("mandateruser", user.clone()),
            ("user", test_user.clone()),
        ],
    )
    .await;
    let r = get(
        &f,
        &format!("/delegations/{delegation}"),
        Some(auth),
        None,
        false,
    )
    .await;
    let ours = format!(
        r#"<Attribute name="id"><Value>{delegation}</Value></Attribute><Attribute name="user"><Value>{test_user}</Value></Attribute></Delegation>"#
    );
    assert_eq!(
        r.body,
        expected(
            r#"<Delegation xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://localhost:7443/customerid-rest/services/2.1/delegations/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" method="GET"> <Attribute name="role"> <Value>ROLEID</Value> </Attribute> <Attribute name="mandatee"> <Value>MANDATEEORGANIZATIONID</Value> </Attribute> <Attribute name="mandate"> <Value>MANDATEID</Value> </Attribute> <Attribute name="mandateruser"> <Value>USERID</Value> </Attribute> <Attribute name="mandaterorganization"> <Value>ORGANIZATIONID</Value> </Attribute> </Delegation>"#,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &delegation),
                ("ROLEID", &mandate_role),
                ("MANDATEEORGANIZATIONID", &child),
                ("MANDATEID", &org_mandate),
                ("USERID", &user),
                ("ORGANIZATIONID", &parent),
                ("</Delegation>", &ours),
            ]
        )
    );
    // GET115 and GET122: one each.
    let r = get(
        &f,
        &format!("/users/{test_user}/delegations"),
        Some(auth),
        None,
        false,
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<Delegations xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://localhost:7443/customerid-rest/services/2.1/users/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX/delegations" method="GET"> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1</Id> </Delegations>"#,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1", &delegation),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &test_user)
            ]
        )
    );
    let r = get(
        &f,
        &format!("/users/{test_user}/receivedmandatedelegations"),
        Some(auth),
        None,
        false,
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<Mandates xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://localhost:7443/customerid-rest/services/2.1/users/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX/receivedmandatedelegations" method="GET"> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1</Id> </Mandates>"#,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1", &org_mandate),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &test_user)
            ]
        )
    );

    // GET112 and GET114: two invitations of one person.
    let first = post(
        "/roleinvitations",
        vec![
            ("email", "maija.virtanen@example.org".into()),
            ("role", role.clone()),
        ],
    )
    .await;
    let second_invitation = post(
        "/roleinvitations",
        vec![
            ("email", "maija.virtanen@example.org".into()),
            ("role", mandate_role.clone()),
        ],
    )
    .await;
    let invitee = ids(&get(
        &f,
        "/users?email=maija.virtanen@example.org&exactMatch=true",
        Some(auth),
        None,
        false,
    )
    .await)[0]
        .clone();
    let sample = r#"<RoleInvitations xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://localhost:7443/customerid-rest/services/2.1/users/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX/roleinvitations" method="GET"> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1</Id> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX2</Id> </RoleInvitations>"#;
    let r = get(
        &f,
        &format!("/users/{invitee}/roleinvitations"),
        Some(auth),
        None,
        false,
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            sample,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1", &first),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX2", &second_invitation),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", &invitee)
            ]
        )
    );
    let r = get(&f, "/roleinvitations", Some(auth), None, false).await;
    assert_eq!(
        r.body,
        expected(
            r#"<RoleInvitations xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="https://localhost:7443/customerid-rest/services/2.1/roleinvitations" method="GET"> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1</Id> <Id>XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX2</Id> </RoleInvitations>"#,
            &[
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX1", &first),
                ("XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXX2", &second_invitation)
            ]
        )
    );

    // PUT117 Reinvite User, XML and JSON (mail goes to the log here: no SMTP configured).
    let r = send(
        &f,
        Method::PUT,
        &format!("/users/{invitee}/reinvite"),
        auth,
        &[],
    )
    .await;
    assert_eq!(
        r.body,
        expected(
            r#"<ReinviteResponse xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/users/7a2e00a8-cd4e-4ad2-bb99-164d3c5b004f/reinvite" method="PUT">
<userId>7a2e00a8-cd4e-4ad2-bb99-164d3c5b004f</userId>
<email>maija.virtanen@example.org</email>
</ReinviteResponse>"#,
            &[("7a2e00a8-cd4e-4ad2-bb99-164d3c5b004f", &invitee)]
        )
    );
    let r = f
        .app
        .client
        .put(f.app.url(&format!("{BASE}/users/{invitee}/reinvite")))
        .basic_auth(auth.0, Some(auth.1))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = r.json().await.unwrap();
    let sample: serde_json::Value = serde_json::from_str(
        r#"{
"userId": "7a2e00a8-cd4e-4ad2-bb99-164d3c5b004f",
"email": "maija.virtanen@example.org"
}"#
        .replace("7a2e00a8-cd4e-4ad2-bb99-164d3c5b004f", &invitee)
        .as_str(),
    )
    .unwrap();
    assert_eq!(json, sample);
}
both_backends!(responses_match_the_spec_samples);
