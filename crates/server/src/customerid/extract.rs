//! Who calls the CustomerID API, and how they want the answer.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine as _;

use super::error::CidError;
use super::wire::{Context, Format};
use crate::services::customer_id::SearchCriteria;
use crate::services::{Actor, Services};

/// The authenticated caller (HTTP Basic for REST clients, Bearer for platform admins)
/// and the document context. Missing or wrong credentials: 401 with `WWW-Authenticate: Basic`.
pub struct Cid {
    pub actor: Actor,
    pub ctx: Context,
}

const PREFIX: &str = "/customerid-rest/services";

impl FromRequestParts<Arc<Services>> for Cid {
    type Rejection = CidError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let format = Format::of(&parts.headers);
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        let in_response_to = path
            .strip_prefix(PREFIX)
            .unwrap_or(&path)
            .trim_end_matches('/')
            .to_owned();
        let ctx = Context {
            in_response_to,
            method: parts.method.as_str().to_owned(),
            format,
        };
        let unauthorized = |m: &str| CidError::new(format, StatusCode::UNAUTHORIZED, m);
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("authentication required"))?
            .to_str()
            .map_err(|_| unauthorized("malformed Authorization header"))?;
        let (scheme, credentials) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| unauthorized("malformed Authorization header"))?;
        let actor = match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
                let (name, secret) = decoded
                    .split_once(':')
                    .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
                let source = crate::client_address::of(parts, services.config.trust_forwarded_for);
                services
                    .authenticate_rest_client(name, secret, source)
                    .await
            }
            "bearer" => services.authenticate_access_token(credentials.trim()).await,
            _ => {
                return Err(unauthorized(
                    "use HTTP Basic (REST clients) or Bearer (platform administrators)",
                ))
            }
        }
        .map_err(|e| CidError::from_domain(format, e))?;
        Ok(Cid { actor, ctx })
    }
}

/// Request parameters of a write: the query string's, then the body's — a form
/// (`application/x-www-form-urlencoded`) or an entity document in XML (`application/xml`,
/// `text/xml`) or JSON (`application/json`), see [`super::request_body`] — in order.
pub struct CidParams(pub Vec<(String, String)>);

/// Parameters one write may carry (query and body together): far above any user's
/// attributes, far below what would make handling it costly.
pub const MAX_PARAMETERS: usize = 1000;

impl axum::extract::FromRequest<Arc<Services>> for CidParams {
    type Rejection = CidError;

    async fn from_request(
        req: axum::extract::Request,
        state: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let format = Format::of(req.headers());
        let mut params = params(req.uri().query().map(str::to_owned));
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                ct.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| CidError::new(format, r.status(), r.body_text()))?;
        let bad = |m: String| CidError::new(format, StatusCode::BAD_REQUEST, m);
        match content_type.as_str() {
            _ if bytes.is_empty() => {}
            "application/x-www-form-urlencoded" => {
                let body = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad("the form is not UTF-8".into()))?;
                params.extend(self::params(Some(body)));
            }
            "application/xml" | "text/xml" => {
                params.extend(super::request_body::from_xml(&bytes).map_err(bad)?)
            }
            "application/json" => {
                params.extend(super::request_body::from_json(&bytes).map_err(bad)?)
            }
            _ => {
                return Err(CidError::new(
                    format,
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send parameters in the query string, as application/x-www-form-urlencoded, \
                     or as an entity document in application/xml or application/json",
                ))
            }
        }
        if params.len() > MAX_PARAMETERS {
            return Err(bad(format!(
                "a request takes at most {MAX_PARAMETERS} parameters (this one has {})",
                params.len()
            )));
        }
        // Whatever is stored may be rendered in an XML answer: refuse what XML cannot carry
        // here, once, for every write, rather than answer ill-formed documents later.
        if let Some((name, _)) = params.iter().find(|(n, v)| {
            !n.chars()
                .chain(v.chars())
                .all(accord_domain::identity::xml_char)
        }) {
            return Err(bad(format!(
                "{name:?}: a value holds a character XML cannot carry (a control character \
                 other than tab and newline, or a non-character)"
            )));
        }
        Ok(CidParams(params))
    }
}

/// `entities=true`: the entities themselves instead of their IDs.
pub fn wants_entities(q: Option<String>, format: Format) -> Result<bool, CidError> {
    match params(q)
        .iter()
        .find(|(k, _)| k == "entities")
        .map(|(_, v)| v.to_ascii_lowercase())
    {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(CidError::new(
            format,
            StatusCode::BAD_REQUEST,
            "entities must be true or false",
        )),
    }
}

/// Query parameters in order, percent-decoded (attribute names are free-form).
pub fn params(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded_pairs(&q)).unwrap_or_default()
}

fn form_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A search's query, parsed: the flags the operation allows (`exactMatch`, `recursive`),
/// `maxResults`, and every other parameter as an attribute criterion (each at most once).
pub fn search_criteria(
    params: &[(String, String)],
    allowed_flags: &[&str],
) -> accord_domain::Result<SearchCriteria> {
    use accord_domain::Error;
    let mut c = SearchCriteria {
        exact: false,
        max_results: 0,
        recursive: false,
        attributes: vec![],
    };
    let bool_of = |name: &str, v: &str| match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid(format!("{name} must be true or false"))),
    };
    for (name, value) in params {
        if c.attributes.iter().any(|(n, _)| n == name) {
            return Err(Error::invalid(format!("{name} given twice")));
        }
        match name.as_str() {
            "exactMatch" if allowed_flags.contains(&"exactMatch") => {
                c.exact = bool_of(name, value)?
            }
            "recursive" if allowed_flags.contains(&"recursive") => {
                c.recursive = bool_of(name, value)?
            }
            "maxResults" => {
                c.max_results = value
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n >= 0)
                    .ok_or_else(|| Error::invalid("maxResults must be a whole number, 0 or more"))?
            }
            _ => c.attributes.push((name.clone(), value.clone())),
        }
    }
    Ok(c)
}

/// The raw query of a search, parsed into its criteria; a bad one is answered in the
/// caller's format.
pub fn criteria(
    raw: Option<String>,
    allowed_flags: &[&str],
    cid: &Cid,
) -> Result<SearchCriteria, CidError> {
    search_criteria(&params(raw), allowed_flags)
        .map_err(|e| CidError::from_domain(cid.ctx.format, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_in_order() {
        assert_eq!(
            params(Some("email=a%40b.co&firstname=Ma+ija&x=%zz".into())),
            vec![
                ("email".into(), "a@b.co".into()),
                ("firstname".into(), "Ma ija".into()),
                ("x".into(), "%zz".into())
            ]
        );
        assert!(params(None).is_empty());
        // Hostile input: a % before a multi-byte character, a trailing %, invalid UTF-8.
        assert_eq!(params(Some("a=%é&b=%&c=%ff".into()))[0].1, "%é");
        assert_eq!(params(Some("b=%".into()))[0].1, "%");
        assert_eq!(params(Some("c=%ff".into()))[0].1, "\u{fffd}");
    }

    #[test]
    fn criteria_parse_flags_and_refuse_duplicates() {
        let p = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let c = search_criteria(
            &p(&[("exactMatch", "TRUE"), ("maxResults", "5"), ("email", "a@")]),
            &["exactMatch"],
        )
        .unwrap();
        assert!(c.exact && c.max_results == 5 && c.attributes.len() == 1);
        assert!(search_criteria(&p(&[("maxResults", "-1")]), &[]).is_err());
        assert!(search_criteria(&p(&[("exactMatch", "yes")]), &["exactMatch"]).is_err());
        assert!(search_criteria(&p(&[("email", "a"), ("email", "b")]), &[]).is_err());
    }
}
