//! Hostile input, generated: property tests (proptest) of the parsers that take raw bytes
//! (iGrant JSON bodies, CustomerID XML and JSON entity documents and forms, images), then
//! generated bodies sent through the real server to every kind of write. Nothing may
//! panic, answer 5xx, or answer outside the facade's error format. Case counts are fixed
//! (a bounded run in the test command) and reported.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use accord_server::customerid::request_body::{from_json, from_xml};
use accord_server::customerid::wire::escape;
use accord_server::igrant::extract::parse_body;
use accord_server::services::images::reencode_image;

use crate::both_backends;
use crate::helpers::png;
use crate::helpers::Consenting;
use crate::helpers::Fixture;
use crate::helpers::{email, report, TestApp, TestDb};

/// Cases per property of the parsers, and generated bodies per endpoint over HTTP.
const PARSER_CASES: u32 = 5_000;
const IMAGE_CASES: u32 = 1_000;
const HTTP_CASES: usize = 100;

/// Strings a client might send to break something: control characters, markup, SQL,
/// paths, format strings, huge numbers, right-to-left marks, lone surrogates escaped.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\PC]{0,40}",
        Just(String::new()),
        Just("\u{0}\u{1}\u{7f}".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("' OR 1=1; DROP TABLE users; --".to_owned()),
        Just("../../../../etc/passwd".to_owned()),
        Just("%s%n%x{}{0}".to_owned()),
        Just("\u{202e}gnp.exe".to_owned()),
        Just("99999999999999999999999999".to_owned()),
        Just("x".repeat(5_000)),
        Just("🦀".repeat(300)),
        Just("]]><!ENTITY".to_owned()),
    ]
}

/// Any JSON value, nested a few levels, with hostile strings and extreme numbers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(u64::MAX)),
        hostile_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((hostile_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object using the field names `fields` (the endpoint's own, in any case) with
/// values of any type: the bodies most likely to reach past the parser into the service.
fn json_body(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (prop::sample::select(fields), any::<bool>(), json_value()),
        0..=fields.len() + 1,
    )
    .prop_map(|entries| {
        Value::Object(
            entries
                .into_iter()
                .map(|(k, upper, v)| {
                    (
                        if upper {
                            k.to_uppercase()
                        } else {
                            k.to_owned()
                        },
                        v,
                    )
                })
                .collect(),
        )
    })
}

/// Bytes that are sometimes JSON, sometimes almost JSON, sometimes anything.
fn json_bytes(fields: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => json_body(fields).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => json_body(fields).prop_flat_map(|v| {
            let bytes = serde_json::to_vec(&v).unwrap();
            let len = bytes.len();
            (Just(bytes), 0..=len).prop_map(|(b, cut)| b[..cut].to_vec())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Parameters with the given attribute names and hostile values, control characters
/// included (forms and JSON documents carry them; an XML entity document cannot, so
/// [`entity_xml`] leaves them out).
fn entity_params(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(names).prop_map(str::to_owned),
                "[a-zA-Z]{1,12}"
            ],
            hostile_string(),
        ),
        0..8,
    )
}

/// What XML 1.0 can carry at all (others cannot be escaped, only refused).
fn xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\r'
}

fn entity_xml(root: &str, params: &[(String, String)]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0"?><{root} xmlns="http://schema.ubisecure.com/customerid/api">"#
    );
    for (name, value) in params {
        xml.push_str(&format!(
            r#"<Attribute name="{}"><Value>{}</Value></Attribute>"#,
            escape(&name.chars().filter(|c| xml_char(*c)).collect::<String>()),
            escape(&value.chars().filter(|c| xml_char(*c)).collect::<String>())
        ));
    }
    xml.push_str(&format!("</{root}>"));
    xml
}

fn run<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    report(&format!("fuzz {name}: {cases} cases, 0 failures"));
}

// The raw-byte parsers, directly: they never panic, and what they accept means what was
// sent. One test per property, each with its own case count.

#[test]
fn igrant_json_bodies_never_panic_the_parser() {
    run(
        "igrant JSON body (bytes)",
        PARSER_CASES,
        json_bytes(&["username", "password", "Purposes", "consented"]),
        |bytes| {
            let _ = parse_body::<Value>(&bytes);
            Ok(())
        },
    );
}

/// Keys are case-insensitive: a body is accepted exactly when it is an object and no two
/// keys of one object differ only in case, and then every key reads in lower case.
#[test]
fn igrant_json_bodies_are_accepted_exactly_when_keys_do_not_collide_and_read_lower_case() {
    run("igrant JSON body (keys)", PARSER_CASES, json_value(), |v| {
        fn dup_keys(v: &Value) -> bool {
            match v {
                Value::Object(m) => {
                    let mut seen = std::collections::HashSet::new();
                    m.keys().any(|k| !seen.insert(k.to_lowercase())) || m.values().any(dup_keys)
                }
                Value::Array(a) => a.iter().any(dup_keys),
                _ => false,
            }
        }
        fn all_lower(v: &Value) -> bool {
            match v {
                Value::Object(m) => m
                    .iter()
                    .all(|(k, v)| *k == k.to_lowercase() && all_lower(v)),
                Value::Array(a) => a.iter().all(all_lower),
                _ => true,
            }
        }
        let parsed = parse_body::<Value>(&serde_json::to_vec(&v).unwrap());
        prop_assert_eq!(parsed.is_err(), !v.is_object() || dup_keys(&v));
        if let Ok(p) = parsed {
            prop_assert!(all_lower(&p));
        }
        Ok(())
    });
}

#[test]
fn customerid_xml_bodies_never_panic_the_parser() {
    run(
        "customerid XML entity (bytes)",
        PARSER_CASES,
        prop::collection::vec(any::<u8>(), 0..300),
        |bytes| {
            let _ = from_xml(&bytes);
            Ok(())
        },
    );
}

/// Markup-shaped input: fragments of entity documents, entities, DOCTYPEs, in any order.
fn xml_fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(
        &[
            "<User>",
            "</User>",
            "<Attribute name=\"a\">",
            "</Attribute>",
            "<Value>",
            "</Value>",
            "<Value/>",
            "<Attribute name=\"b\"/>",
            "&amp;",
            "&lt;",
            "&#0;",
            "&#x110000;",
            "&bogus;",
            "<!DOCTYPE x [<!ENTITY e \"e\">]>",
            "<![CDATA[",
            "]]>",
            "<?xml version=\"1.0\"?>",
            "<!-- c -->",
            "text",
            "<",
            ">",
            "\"",
            "<Attribute>",
            "<Attribute name=''>",
        ][..],
    )
}

#[test]
fn customerid_xml_markup_never_accepts_a_doctype_or_a_nameless_attribute() {
    run(
        "customerid XML entity (markup)",
        PARSER_CASES,
        prop::collection::vec(xml_fragment(), 0..20),
        |parts| {
            let xml = parts.concat();
            if let Ok(params) = from_xml(xml.as_bytes()) {
                prop_assert!(
                    !xml.contains("<!DOCTYPE"),
                    "a DOCTYPE was accepted: {}",
                    xml
                );
                prop_assert!(params.iter().all(|(n, _)| !n.is_empty()), "{:?}", params);
            }
            Ok(())
        },
    );
}

/// What the wire renders, the parser reads back exactly, in XML and in JSON.
#[test]
fn customerid_entities_the_wire_renders_read_back_exactly_in_xml_and_json() {
    run(
        "customerid entity round trip",
        PARSER_CASES,
        entity_params(&["firstname", "email", "mobile"]).prop_map(|params| {
            // What XML can carry at all.
            let carried = |s: &String| s.chars().filter(|c| xml_char(*c)).collect::<String>();
            params
                .iter()
                .map(|(n, v)| (carried(n), carried(v)))
                .collect::<Vec<_>>()
        }),
        |params| {
            prop_assert_eq!(
                from_xml(entity_xml("User", &params).as_bytes()).map_err(TestCaseError::fail)?,
                params.clone()
            );
            let doc = json!({"Attribute": params.iter().map(|(n, v)| json!({"name": n, "Value": [v]})).collect::<Vec<_>>()});
            prop_assert_eq!(
                from_json(&serde_json::to_vec(&doc).unwrap()).map_err(TestCaseError::fail)?,
                params
            );
            Ok(())
        },
    );
}

#[test]
fn customerid_json_bodies_never_panic_the_parser() {
    run(
        "customerid JSON entity (bytes)",
        PARSER_CASES,
        json_bytes(&["Attribute", "name", "Value"]),
        |bytes| {
            let _ = from_json(&bytes);
            Ok(())
        },
    );
}

#[test]
fn customerid_form_parameters_never_panic_the_parser() {
    run(
        "customerid form parameters",
        PARSER_CASES,
        any::<String>(),
        |s| {
            let _ = accord_server::customerid::extract::params(Some(s));
            Ok(())
        },
    );
}

/// Images: noise, and real images cut short or with bytes changed.
fn image_bytes() -> impl Strategy<Value = Vec<u8>> {
    let images = [png(), gif()];
    let mutated = (
        0..images.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(which, flips, cut)| {
            let mut b = images[which].clone();
            for (at, byte) in flips {
                let i = at.index(b.len());
                b[i] = byte;
            }
            let keep = cut.index(b.len() + 1);
            b.truncate(keep.max(1));
            b
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..400), mutated]
}

#[test]
fn images_accepted_are_stored_reencoded_and_accepted_again_as_the_same_kind() {
    run("image validation", IMAGE_CASES, image_bytes(), |bytes| {
        // Whatever is accepted is stored re-encoded, and what is stored is accepted again
        // as the same kind of image.
        if let Ok((stored, ct)) = reencode_image(&bytes) {
            prop_assert!(ct.starts_with("image/"));
            prop_assert_eq!(reencode_image(&stored).map(|r| r.1).ok(), Some(ct));
        }
        Ok(())
    });
}

/// A valid 1×1 GIF.
fn gif() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
        .unwrap()
}

fn sample<S: Strategy>(runner: &mut TestRunner, strategy: &S, n: usize) -> Vec<S::Value> {
    (0..n)
        .map(|_| strategy.new_tree(runner).expect("a case").current())
        .collect()
}

/// Generated requests the server accepted (2xx): the campaign reaches past the parsers.
static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One generated request's answer must be a 4xx in the facade's format or a success.
async fn check(what: &str, reply: reqwest::Response, xml_facade: bool) -> Result<(), String> {
    let status = reply.status();
    let content_type = reply
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = reply.text().await.unwrap_or_default();
    ACCEPTED.fetch_add(
        usize::from(status.is_success()),
        std::sync::atomic::Ordering::Relaxed,
    );
    if status.is_server_error() {
        return Err(format!("{what}: {status}: {body}"));
    }
    if status.is_client_error() {
        let ok = if xml_facade {
            content_type.starts_with("application/xml") && body.contains("<error><code>")
        } else {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            content_type.starts_with("application/json")
                && v["Code"] == status.as_u16()
                && v["Message"].as_str().is_some_and(|m| !m.is_empty())
        };
        if !ok {
            return Err(format!(
                "{what}: {status} not in the facade's error format: {content_type} {body}"
            ));
        }
    }
    Ok(())
}

/// Generated bodies through the real server, to a write of every kind on both facades.
async fn generated_requests_never_break_the_server(db: TestDb) {
    let c = Consenting::new(Fixture::on(TestApp::spawn(&db).await, &db).await).await;
    let f = &c.f;
    crate::helpers::add_rest_client(&db, "fuzz", "a-long-client-secret", None);
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let attribute = format!(
        "{}/{}/purposes/{}/attributes/{}",
        c.consents(&f.individual_id),
        c.consent,
        c.marketing,
        c.age
    );
    let purpose = format!(
        "{}/{}/purposes/{}",
        c.consents(&f.individual_id),
        c.consent,
        c.marketing
    );
    // (method, path, caller, the endpoint's field names)
    let igrant: Vec<(Method, String, Option<&str>, &'static [&'static str])> = vec![
        (
            Method::POST,
            "/v1/users/register".into(),
            None,
            &["username", "password", "name", "phone"],
        ),
        (
            Method::POST,
            "/v1/v1.1/users/login".into(),
            None,
            &["username", "password"],
        ),
        (
            Method::POST,
            "/v1/users/token".into(),
            None,
            &["refreshtoken", "clientid"],
        ),
        (
            Method::POST,
            "/v1/user/email/verify".into(),
            None,
            &["token"],
        ),
        (
            Method::PATCH,
            "/v1/user".into(),
            Some(&f.individual),
            &["name", "phone", "email", "devicetoken"],
        ),
        (
            Method::PUT,
            "/v1/user/password/reset".into(),
            Some(&f.individual),
            &["currentpassword", "newpassword"],
        ),
        (
            Method::POST,
            "/v1/organizations".into(),
            Some(&f.individual),
            &["name", "location", "typeid", "description"],
        ),
        (
            Method::PATCH,
            f.org_path(""),
            Some(&f.admin),
            &[
                "name",
                "location",
                "description",
                "policyurl",
                "privacydashboard",
            ],
        ),
        (
            Method::POST,
            f.org_path("/purposes"),
            Some(&f.admin),
            &["Purposes", "Name", "LawfulBasisOfProcessing", "Description"],
        ),
        (
            Method::POST,
            f.org_path("/templates"),
            Some(&f.admin),
            &["Templates", "Consent", "PurposeIDs"],
        ),
        (
            Method::POST,
            f.org_path("/admins"),
            Some(&f.admin),
            &["userid", "roleid"],
        ),
        (
            Method::POST,
            f.org_path("/users"),
            Some(&f.individual),
            &["subscribekey"],
        ),
        (
            Method::POST,
            f.org_path("/webhooks"),
            Some(&f.admin),
            &["PayloadURL", "SubscribedEvents", "ContentType", "SecretKey"],
        ),
        (
            Method::PATCH,
            attribute,
            Some(&f.individual),
            &["consented", "days"],
        ),
        (
            Method::PATCH,
            purpose.clone(),
            Some(&f.individual),
            &["consented", "days", "consentattributes"],
        ),
        (
            Method::POST,
            format!("{purpose}/status"),
            Some(&f.individual),
            &["consented"],
        ),
        (
            Method::POST,
            f.org_path(&format!("/purposes/{}/attributes/consent", c.marketing)),
            Some(&f.admin),
            &["attributeids", "message"],
        ),
    ];
    let mut requests = 0usize;
    let accepted_before = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed);
    let mut failures = vec![];
    for (method, path, auth, fields) in &igrant {
        for (i, body) in sample(&mut runner, &json_bytes(fields), HTTP_CASES)
            .into_iter()
            .enumerate()
        {
            // Every fifth body goes out with a wrong content type.
            let ct = if i % 5 == 4 {
                "text/plain"
            } else {
                "application/json"
            };
            let mut req = f
                .app
                .client
                .request(method.clone(), f.app.url(path))
                .header("content-type", ct)
                .body(body.clone());
            if let Some(a) = auth {
                req = req.header("authorization", *a);
            }
            let r = req.send().await.expect("answered, not dropped");
            if let Err(e) = check(
                &format!("{method} {path} {}", String::from_utf8_lossy(&body)),
                r,
                false,
            )
            .await
            {
                failures.push(e);
            }
            requests += 1;
        }
    }
    // Multipart image uploads: noise and damaged images, under the right and wrong field names.
    let uploads = [
        (
            format!("/v1/users/{}/image", f.individual_id),
            &f.individual,
            "userimage",
        ),
        (f.org_path("/logoimage"), &f.admin, "orgimage"),
    ];
    let noise = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        Just(png()[..30].to_vec()),
        Just(b"GIF89a".to_vec()),
    ];
    for (path, auth, field) in &uploads {
        for (i, bytes) in sample(&mut runner, &noise, HTTP_CASES)
            .into_iter()
            .enumerate()
        {
            let name = if i % 4 == 3 { "other" } else { *field };
            let form = reqwest::multipart::Form::new().part(
                name.to_owned(),
                reqwest::multipart::Part::bytes(bytes)
                    .file_name("x.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
            let r = f
                .app
                .client
                .post(f.app.url(path))
                .header("authorization", auth.as_str())
                .multipart(form)
                .send()
                .await
                .expect("answered");
            if let Err(e) = check(&format!("upload {path}"), r, false).await {
                failures.push(e);
            }
            requests += 1;
        }
    }
    // CustomerID writes: parameters as a form, an XML or a JSON entity document, or noise.
    let cid = crate::helpers::BASE;
    let cid_writes: Vec<(Method, String, &'static [&'static str], &str)> = vec![
        (
            Method::POST,
            format!("{cid}/users"),
            &[
                "firstName",
                "lastName",
                "email",
                "mobile",
                "organizationEntityName",
                "status",
            ],
            "User",
        ),
        (
            Method::PUT,
            format!("{cid}/users/{}", f.individual_id),
            &["firstName", "email", "status", "mobile"],
            "User",
        ),
        (
            Method::POST,
            format!("{cid}/organizations"),
            &[
                "friendlyName",
                "technicalName",
                "parentOrganization",
                "organizationType",
            ],
            "Organization",
        ),
        (
            Method::PUT,
            format!("{cid}/organizations/{}", f.org),
            &["friendlyName", "technicalName"],
            "Organization",
        ),
        (
            Method::POST,
            format!("{cid}/roles"),
            &["name", "organizationId"],
            "Role",
        ),
        (
            Method::POST,
            format!("{cid}/mandates"),
            &[
                "organizationId",
                "userId",
                "roleName",
                "validFrom",
                "validUntil",
                "email",
            ],
            "Mandate",
        ),
        (
            Method::POST,
            format!("{cid}/roleinvitations"),
            &["email", "organizationId", "roleName"],
            "RoleInvitation",
        ),
    ];
    for (method, path, names, root) in &cid_writes {
        for (i, params) in sample(&mut runner, &entity_params(names), HTTP_CASES)
            .into_iter()
            .enumerate()
        {
            let (ct, body) = match i % 4 {
                0 => ("application/x-www-form-urlencoded", {
                    let mut s = url::form_urlencoded::Serializer::new(String::new());
                    for (n, v) in &params {
                        s.append_pair(n, v);
                    }
                    s.finish().into_bytes()
                }),
                1 => ("application/xml", entity_xml(root, &params).into_bytes()),
                2 => ("application/json", serde_json::to_vec(&json!({"Attribute": params.iter().map(|(n, v)| json!({"name": n, "Value": [v]})).collect::<Vec<_>>()})).unwrap()),
                _ => ("application/xml", params.iter().flat_map(|(n, v)| [n.as_bytes(), v.as_bytes()].concat()).collect()),
            };
            let r = f
                .app
                .client
                .request(method.clone(), f.app.url(path))
                .basic_auth("fuzz", Some("a-long-client-secret"))
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("answered");
            if let Err(e) = check(&format!("{method} {path} {params:?}"), r, true).await {
                failures.push(e);
            }
            requests += 1;
        }
    }
    // Anything stored renders to a document a conforming XML parser accepts: every user and
    // organisation the campaign left, as CustomerID answers them. Hostile text XML can
    // carry is stored first for certain (the campaign's own writes may all be refused).
    let auth = Some(("fuzz", "a-long-client-secret"));
    let mut stored = 0;
    for (i, text) in sample(&mut runner, &hostile_string(), 20)
        .into_iter()
        .enumerate()
    {
        let text: String = text.chars().filter(|c| xml_char(*c)).take(100).collect();
        let form = [
            ("email", email(&format!("xml{i}"))),
            ("firstName", text.clone()),
            ("nickname", text),
        ];
        let r = f
            .app
            .client
            .post(f.app.url(&format!("{cid}/users")))
            .basic_auth("fuzz", Some("a-long-client-secret"))
            .form(&form)
            .send()
            .await
            .expect("answered");
        stored += usize::from(r.status() == StatusCode::CREATED);
    }
    assert!(stored > 0, "no hostile text was stored");
    let mut rendered = 0;
    for kind in ["users", "organizations"] {
        let list = crate::helpers::get(f, &format!("/{kind}"), auth, None, false).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        for id in crate::helpers::ids(&list) {
            let one = crate::helpers::get(f, &format!("/{kind}/{id}"), auth, None, false).await;
            if let Err(e) = roxmltree::Document::parse(&one.body) {
                failures.push(format!(
                    "GET /{kind}/{id} is not well-formed XML ({e}): {:?}",
                    one.body
                ));
            }
            rendered += 1;
        }
    }
    assert!(rendered >= stored, "{rendered} entities rendered");
    // The server is still whole.
    assert_eq!(f.app.get("/healthz", None).await.status, StatusCode::OK);
    // Both backends run at once in one process: the count is approximate there, not here.
    let accepted = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed) - accepted_before;
    report(&format!(
        "fuzz HTTP ({:?}): {requests} generated requests to {} endpoints, about {accepted} accepted, {} failures (5xx or an error outside the facade's format)",
        db.backend,
        igrant.len() + uploads.len() + cid_writes.len(),
        failures.len()
    ));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
both_backends!(generated_requests_never_break_the_server);
