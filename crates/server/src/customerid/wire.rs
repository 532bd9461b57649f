//! CustomerID's documents: XML by default (namespace, `inResponseTo`, `method`), JSON when
//! the client asks for it with `Accept: application/json` (the same content without the
//! root wrapper, as the spec's ReinviteResponse sample shows).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use accord_domain::customer_id::{value_of, Attribute};

pub const NAMESPACE: &str = "http://schema.ubisecure.com/customerid/api";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    pub fn of(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.to_ascii_lowercase().contains("application/json") {
            Format::Json
        } else {
            Format::Xml
        }
    }
}

/// Where a document answers: the request path below `/customerid-rest/services`
/// (`/2.1/users/…`), the method, and the format asked for.
#[derive(Debug, Clone)]
pub struct Context {
    pub in_response_to: String,
    pub method: String,
    pub format: Format,
}

/// Escapes text and attribute values (`& < > " '`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn root_open(root: &str, ctx: &Context) -> String {
    format!(
        r#"{XML_DECLARATION}<{root} xmlns="{NAMESPACE}" inResponseTo="{}" method="{}">"#,
        escape(&ctx.in_response_to),
        escape(&ctx.method)
    )
}

fn body(format: Format, status: StatusCode, text: String) -> Response {
    let ct = match format {
        Format::Xml => "application/xml; charset=utf-8",
        Format::Json => "application/json",
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
        text,
    )
        .into_response()
}

/// An entity: `<User …><Attribute name="id"><Value>…</Value></Attribute>…</User>`, or
/// `{"Attribute": [{"name": "id", "Value": ["…"]}]}`.
pub fn entity(root: &str, ctx: &Context, attributes: &[Attribute]) -> Response {
    match ctx.format {
        Format::Xml => body(
            Format::Xml,
            StatusCode::OK,
            format!(
                "{}{}</{root}>",
                root_open(root, ctx),
                attributes_xml(attributes)
            ),
        ),
        Format::Json => body(
            Format::Json,
            StatusCode::OK,
            attributes_json(attributes).to_string(),
        ),
    }
}

fn attributes_xml(attributes: &[Attribute]) -> String {
    let mut x = String::new();
    for a in attributes {
        x.push_str(&format!(r#"<Attribute name="{}""#, escape(&a.name)));
        if let Some(kind) = a.kind {
            x.push_str(&format!(r#" type="{}""#, escape(kind)));
        }
        x.push('>');
        match &a.entity {
            Some((root, inner)) => {
                x.push_str(&format!("<{root}>{}</{root}>", attributes_xml(inner)))
            }
            None => {
                for v in &a.values {
                    x.push_str(&format!("<Value>{}</Value>", escape(v)));
                }
            }
        }
        x.push_str("</Attribute>");
    }
    x
}

fn attributes_json(attributes: &[Attribute]) -> serde_json::Value {
    let list: Vec<_> = attributes
        .iter()
        .map(|a| {
            let mut o = json!({"name": a.name});
            if let Some(kind) = a.kind {
                o["type"] = json!(kind);
            }
            match &a.entity {
                Some((root, inner)) => o[*root] = attributes_json(inner),
                None => o["Value"] = json!(a.values),
            }
            o
        })
        .collect();
    json!({ "Attribute": list })
}

/// A list of entities (`entities=true`): `<Mandates …><Mandate><Attribute …/>…</Mandate>…</Mandates>`,
/// or `{"Mandate": [{"Attribute": […]}, …]}`.
pub fn entity_list(root: &str, item: &str, ctx: &Context, entities: &[Vec<Attribute>]) -> Response {
    match ctx.format {
        Format::Xml => {
            let mut x = root_open(root, ctx);
            for e in entities {
                x.push_str(&format!("<{item}>{}</{item}>", attributes_xml(e)));
            }
            x.push_str(&format!("</{root}>"));
            body(Format::Xml, StatusCode::OK, x)
        }
        Format::Json => {
            let list: Vec<_> = entities.iter().map(|e| attributes_json(e)).collect();
            body(
                Format::Json,
                StatusCode::OK,
                json!({ item: list }).to_string(),
            )
        }
    }
}

/// A list of identifiers: `<Users …><Id>…</Id></Users>`, or `{"Id": ["…"]}`.
pub fn id_list(root: &str, ctx: &Context, ids: &[String]) -> Response {
    match ctx.format {
        Format::Xml => {
            let mut x = root_open(root, ctx);
            for id in ids {
                x.push_str(&format!("<Id>{}</Id>", escape(id)));
            }
            x.push_str(&format!("</{root}>"));
            body(Format::Xml, StatusCode::OK, x)
        }
        Format::Json => body(
            Format::Json,
            StatusCode::OK,
            json!({ "Id": ids }).to_string(),
        ),
    }
}

/// A list as IDs, or (`entities=true`) as the entities, each carrying an `id` attribute.
pub fn ids_or_entities(
    root: &str,
    item: &str,
    ctx: &Context,
    entities: &[Vec<Attribute>],
    as_entities: bool,
) -> Response {
    if as_entities {
        return entity_list(root, item, ctx, entities);
    }
    let ids: Vec<String> = entities
        .iter()
        .filter_map(|e| value_of(e, "id").map(str::to_owned))
        .collect();
    id_list(root, ctx, &ids)
}

/// PUT117's answer: `<ReinviteResponse …><userId>…</userId><email>…</email></ReinviteResponse>`,
/// or `{"userId","email"}` as the spec's JSON sample shows.
pub fn reinvite_response(ctx: &Context, user_id: &str, email: &str) -> Response {
    match ctx.format {
        Format::Xml => body(
            Format::Xml,
            StatusCode::OK,
            format!(
                "{}<userId>{}</userId><email>{}</email></ReinviteResponse>",
                root_open("ReinviteResponse", ctx),
                escape(user_id),
                escape(email)
            ),
        ),
        Format::Json => body(
            Format::Json,
            StatusCode::OK,
            json!({"userId": user_id, "email": email}).to_string(),
        ),
    }
}

/// The answer to a modification: the collection document with the affected ID, the
/// request's method, and `status`.
pub fn modified(ctx: &Context, root: &str, id: String, status: StatusCode) -> Response {
    let mut r = id_list(root, ctx, &[id]);
    *r.status_mut() = status;
    r
}

/// `<error><code>…</code><message>…</message></error>`, or `{"code","message"}`.
pub fn error(format: Format, status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = match format {
        Format::Xml => body(
            Format::Xml,
            status,
            format!(
                "{XML_DECLARATION}<error><code>{}</code><message>{}</message></error>",
                escape(code),
                escape(message)
            ),
        ),
        Format::Json => body(
            Format::Json,
            status,
            json!({"code": code, "message": message}).to_string(),
        ),
    };
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"customerid\""),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn ctx(format: Format) -> Context {
        Context {
            in_response_to: "/2.1/users".into(),
            method: "GET".into(),
            format,
        }
    }

    /// The spec's GET104 sample, byte for byte (its whitespace between elements aside).
    #[tokio::test]
    async fn id_lists_match_the_spec_sample() {
        let r = id_list(
            "Users",
            &ctx(Format::Xml),
            &["USERID1".into(), "USERID2".into()],
        );
        assert_eq!(
            text(r).await,
            r#"<?xml version="1.0" encoding="utf-8"?><Users xmlns="http://schema.ubisecure.com/customerid/api" inResponseTo="/2.1/users" method="GET"><Id>USERID1</Id><Id>USERID2</Id></Users>"#
        );
        let r = id_list("Users", &ctx(Format::Json), &["USERID1".into()]);
        assert_eq!(text(r).await, r#"{"Id":["USERID1"]}"#);
    }

    #[tokio::test]
    async fn entities_escape_hostile_values() {
        let attrs = vec![
            Attribute::new("firstname", vec!["<b>&\"x\"</b>".to_string()]),
            Attribute::new("mail", vec!["a".into(), "b".into()]),
        ];
        let x = text(entity("User", &ctx(Format::Xml), &attrs)).await;
        assert!(x.contains(r#"<Attribute name="firstname"><Value>&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;</Value></Attribute>"#), "{x}");
        assert!(
            x.contains(r#"<Attribute name="mail"><Value>a</Value><Value>b</Value></Attribute>"#)
        );
        let j = text(entity("User", &ctx(Format::Json), &attrs)).await;
        assert_eq!(
            j,
            r#"{"Attribute":[{"Value":["<b>&\"x\"</b>"],"name":"firstname"},{"Value":["a","b"],"name":"mail"}]}"#
        );
    }

    #[tokio::test]
    async fn errors_in_both_formats() {
        let x = text(error(
            Format::Xml,
            StatusCode::NOT_FOUND,
            "Entity not found",
            "user not found",
        ))
        .await;
        assert_eq!(
            x,
            r#"<?xml version="1.0" encoding="utf-8"?><error><code>Entity not found</code><message>user not found</message></error>"#
        );
        let r = error(
            Format::Json,
            StatusCode::UNAUTHORIZED,
            "Authentication failed",
            "x",
        );
        assert!(r.headers().get("www-authenticate").is_some());
    }
}
