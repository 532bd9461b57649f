//! CustomerID request bodies: entity documents in XML and JSON, and hostile ones (XXE,
//! entity expansion, malformed, oversize) — each a clear error document, never a 500.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::Fixture;
use crate::helpers::{add_rest_client, get, ids, BASE};
use crate::helpers::{email, Reply, TestDb};

async fn body(
    f: &Fixture,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let r = f
        .app
        .client
        .request(method, f.app.url(&format!("{BASE}{path}")))
        .basic_auth("all", Some("a-long-client-secret"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

async fn request_bodies_in_xml_and_json_and_hostile_ones(db: TestDb) {
    let f = Fixture::new(&db).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    let auth = Some(("all", "a-long-client-secret"));
    let who = email("xml-body");
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<User xmlns="http://schema.ubisecure.com/customerid/api">
  <Attribute name="email"><Value>{who}</Value></Attribute>
  <Attribute name="firstname"><Value>Ma&amp;ija</Value></Attribute>
  <Attribute name="mobile"><Value>+358401234567</Value></Attribute>
  <Attribute name="nickname"><Value>M</Value><Value>Mai</Value></Attribute>
</User>"#
    );
    let r = body(
        &f,
        Method::POST,
        "/users",
        "application/xml; charset=utf-8",
        xml,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = ids(&r)[0].clone();
    let r = get(&f, &format!("/users/{id}"), auth, None, false).await;
    for part in [
        r#"<Attribute name="firstname"><Value>Ma&amp;ija</Value></Attribute>"#,
        r#"<Attribute name="nickname"><Value>M</Value><Value>Mai</Value></Attribute>"#,
        r#"<Attribute name="mobile"><Value>+358401234567</Value></Attribute>"#,
    ] {
        assert!(r.body.contains(part), "{part} in {}", r.body);
    }
    // PUT with a JSON entity: an attribute without values is removed, the rest stay.
    let r = body(
        &f,
        Method::PUT,
        &format!("/users/{id}"),
        "application/json",
        r#"{"Attribute":[{"name":"mobile","Value":[]},{"name":"surname","Value":["Virtanen"]}]}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = get(&f, &format!("/users/{id}"), auth, None, false).await;
    assert!(!r.body.contains(r#"name="mobile""#), "{}", r.body);
    assert!(
        r.body
            .contains(r#"<Attribute name="surname"><Value>Virtanen</Value></Attribute>"#)
            && r.body.contains("Ma&amp;ija"),
        "{}",
        r.body
    );

    // Hostile and malformed bodies.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "application/xml",
            r#"<?xml version="1.0"?><!DOCTYPE u [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><User><Attribute name="firstname"><Value>&xxe;</Value></Attribute></User>"#.into(),
            StatusCode::BAD_REQUEST,
            "DOCTYPE",
        ),
        (
            "text/xml",
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{}]><User><Attribute name="firstname"><Value>&lol9;</Value></Attribute></User>"#,
                (1..10).map(|i| format!(r#"<!ENTITY lol{i} "{}">"#, format!("&lol{};", i - 1).repeat(10).replace("&lol0;", "&lol;"))).collect::<String>()
            ),
            StatusCode::BAD_REQUEST,
            "DOCTYPE",
        ),
        ("application/xml", "<User><Attribute name=\"a\"><Value>x</Attribute></User>".into(), StatusCode::BAD_REQUEST, "malformed XML"),
        ("application/xml", "<User><Attribute name=\"a\"><Value>&nope;</Value></Attribute></User>".into(), StatusCode::BAD_REQUEST, "unknown entity"),
        ("application/xml", "<User><Attribute><Value>x</Value></Attribute></User>".into(), StatusCode::BAD_REQUEST, "needs a name"),
        ("application/json", r#"{"Attribute":[{"name":"a","Value":[1]}]}"#.into(), StatusCode::BAD_REQUEST, "malformed JSON"),
        ("application/json", "{".into(), StatusCode::BAD_REQUEST, "malformed JSON"),
        ("application/xml", "<User><Attribute name=\"firstname\"><Value>\u{0}</Value></Attribute></User>".into(), StatusCode::BAD_REQUEST, ""),
    ];
    for (content_type, payload, status, message) in cases {
        let r = body(
            &f,
            Method::PUT,
            &format!("/users/{id}"),
            content_type,
            payload.clone(),
        )
        .await;
        assert_eq!(r.status, status, "{payload}: {}", r.body);
        assert!(r.body.starts_with(r#"<?xml version="1.0" encoding="utf-8"?><error><code>Invalid arguments</code><message>"#), "{}", r.body);
        assert!(r.body.contains(message), "{message} in {}", r.body);
        if !passwd.is_empty() {
            assert!(!r.body.contains("root:"), "{}", r.body);
        }
    }
    // Unknown parameters of a mandate, sent as XML.
    let r = body(
        &f,
        Method::POST,
        "/mandates",
        "application/xml",
        r#"<Mandate><Attribute name="bogus"><Value>1</Value></Attribute></Mandate>"#,
    )
    .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.body.contains("unknown parameter"),
        "{}",
        r.body
    );
    // Oversize: 413 as an error document, in JSON when asked.
    let big = format!(
        "<User><Attribute name=\"firstname\"><Value>{}</Value></Attribute></User>",
        "a".repeat(2 * 1024 * 1024)
    );
    let r = body(
        &f,
        Method::PUT,
        &format!("/users/{id}"),
        "application/xml",
        big.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(
        r.body.contains("<code>Size limit exceeded</code>"),
        "{}",
        r.body
    );
    let r = f
        .app
        .client
        .put(f.app.url(&format!("{BASE}/users/{id}")))
        .basic_auth("all", Some("a-long-client-secret"))
        .header("content-type", "application/xml")
        .header("accept", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let r = Reply::from(r).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["code"], "Size limit exceeded", "{}", r.body);
    // The user is as it was.
    let r = get(&f, &format!("/users/{id}"), auth, None, false).await;
    assert!(r.body.contains("Ma&amp;ija"), "{}", r.body);
}
both_backends!(request_bodies_in_xml_and_json_and_hostile_ones);

/// What XML cannot carry (ESC, other C0 controls, U+FFFF) is refused at write, so every
/// later answer stays well-formed.
async fn values_xml_cannot_carry_are_refused(db: TestDb) {
    let f = crate::helpers::Fixture::new(&db).await;
    let (_, child, _) = crate::helpers::seed(&db, &f).await;
    crate::helpers::add_rest_client(&db, "all", "a-long-client-secret", None);
    let all = ("all", "a-long-client-secret");
    for hostile in ["a\u{1b}[31mb", "a\u{0}b", "a\u{8}b", "a\u{FFFF}b"] {
        let r = crate::helpers::send(
            &f,
            reqwest::Method::PUT,
            &format!("/users/{}", f.admin_id),
            all,
            &[("department", hostile)],
        )
        .await;
        assert_eq!(
            r.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{hostile:?}: {}",
            r.body
        );
        assert!(r.body.contains("<error>"), "{}", r.body);
    }
    // Tab, newline and any other text are kept, and the answer that carries them is XML.
    let r = crate::helpers::send(
        &f,
        reqwest::Method::PUT,
        &format!("/users/{}", f.admin_id),
        all,
        &[("department", "Sales\tand\nsupport \u{2028} ✓")],
    )
    .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.body);
    let r = crate::helpers::get(
        &f,
        &format!("/users/{}", f.admin_id),
        Some(all),
        None,
        false,
    )
    .await;
    assert!(
        !r.body
            .chars()
            .any(|c| !accord_domain::identity::xml_char(c)),
        "{}",
        r.body
    );
    assert!(r.body.contains("support"), "{}", r.body);
    // The iGrant facade refuses the same in what CustomerID renders (the name).
    let r = f
        .call(
            reqwest::Method::PATCH,
            "/v1/user",
            &f.admin,
            Some(serde_json::json!({"name": "Maija\u{FFFF}"})),
        )
        .await;
    r.assert_error(400);
    let _ = child;
}
both_backends!(values_xml_cannot_carry_are_refused);

/// A write with tens of thousands of parameters is refused at once (at most 1,000), and
/// the most allowed is handled promptly: parameters are counted, then grouped in linear
/// time (60,000 of them held a runtime thread for 3.9 s).
async fn parameters_are_capped_and_grouped_in_linear_time(db: TestDb) {
    let f = Fixture::new(&db).await;
    add_rest_client(&db, "all", "a-long-client-secret", None);
    let many: String = (0..60_000).map(|i| format!("a{i}=v&")).collect();
    let started = std::time::Instant::now();
    let r = body(
        &f,
        Method::POST,
        "/users",
        "application/x-www-form-urlencoded",
        format!("{many}email={}", email("many")),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("at most 1000 parameters"), "{}", r.body);
    let refused_in = started.elapsed();
    // 999 values of one custom attribute and an email: accepted.
    let most: String = (0..999).map(|i| format!("nick=n{i}&")).collect();
    let started = std::time::Instant::now();
    let r = body(
        &f,
        Method::POST,
        "/users",
        "application/x-www-form-urlencoded",
        format!("{most}email={}", email("most")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let accepted_in = started.elapsed();
    assert!(
        refused_in < std::time::Duration::from_secs(2)
            && accepted_in < std::time::Duration::from_secs(2),
        "60,000 parameters refused in {refused_in:?}, 1,000 accepted in {accepted_in:?}"
    );
}
both_backends!(parameters_are_capped_and_grouped_in_linear_time);
