//! Request extractors of the iGrant facade: the JSON body (keys matched case-insensitively,
//! every failure a JSON error) and the caller (authentication; authorization is the
//! services' business).

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::IgrantError;
use crate::services::{Actor, Credential, Services};

/// A JSON body whose keys are matched case-insensitively: iGrant.io's own server did, and
/// its SDKs send `{"Username"}` where the spec shows `{"username"}`. Body DTOs therefore
/// name their fields in lower case. Unknown keys are ignored.
pub struct IgrantJson<T>(pub T);

impl<S, T> FromRequest<S> for IgrantJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = IgrantError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(IgrantError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| IgrantError::new(rejection.status(), rejection.body_text()))?;
        parse_body(&bytes).map(IgrantJson)
    }
}

pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, IgrantError> {
    let bad = |m: String| IgrantError::new(StatusCode::BAD_REQUEST, m);
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("malformed JSON: {e}")))?;
    // Every body is an object; serde would otherwise read a struct from an array, by position.
    if !value.is_object() {
        return Err(bad("the body must be a JSON object".into()));
    }
    let value = lowercase_keys(value).map_err(|key| {
        bad(format!(
            "key {key:?} given twice (keys are case-insensitive)"
        ))
    })?;
    T::deserialize(value).map_err(|e| bad(format!("invalid request body: {e}")))
}

fn lowercase_keys(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let lower = k.to_lowercase();
                if out.contains_key(&lower) {
                    return Err(k);
                }
                out.insert(lower, lowercase_keys(v)?);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(lowercase_keys)
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// The caller if credentials were sent (and they must then be valid), else anonymous.
pub struct MaybeCaller(pub Actor);

impl FromRequestParts<Arc<Services>> for MaybeCaller {
    type Rejection = IgrantError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match credential(parts)? {
            Some(c) => authenticate(services, c).await.map(MaybeCaller),
            None => Ok(MaybeCaller(Actor::Anonymous)),
        }
    }
}

/// A bearer credential with a valid signature whose liveness the service checks in its
/// own statement (the consent reads); 401 when none is sent or the signature is bad.
pub struct Signed(pub Credential);

impl FromRequestParts<Arc<Services>> for Signed {
    type Rejection = IgrantError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let credential = match credential(parts)? {
            None => {
                return Err(IgrantError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication required",
                ))
            }
            Some(RawCredential::Bearer(t)) => services.signed_access_token(t).await,
            Some(RawCredential::ApiKey(k)) => services.signed_api_key(k).await,
        };
        credential.map(Signed).map_err(IgrantError::from)
    }
}

/// The authenticated caller: `Authorization: Bearer <access token>` or
/// `Authorization: ApiKey <APIKey>`. Anything else is 401 with `WWW-Authenticate`.
pub struct Caller(pub Actor);

impl FromRequestParts<Arc<Services>> for Caller {
    type Rejection = IgrantError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        match MaybeCaller::from_request_parts(parts, services).await?.0 {
            Actor::Anonymous => Err(IgrantError::new(
                StatusCode::UNAUTHORIZED,
                "authentication required",
            )),
            actor => Ok(Caller(actor)),
        }
    }
}

enum RawCredential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

fn credential(parts: &Parts) -> Result<Option<RawCredential<'_>>, IgrantError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        // iGrant.io's bb-consent iOS SDK, without an APIKey, sends its access token in a
        // header of its own; a header no browser sends across origins unasked.
        return Ok(parts
            .headers
            .get("accesstoken")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(RawCredential::Bearer));
    };
    let bad = || {
        IgrantError::new(
            StatusCode::UNAUTHORIZED,
            "Authorization must be 'Bearer <token>' or 'ApiKey <key>'",
        )
    };
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(bad)?;
    let token = token.trim();
    if token.is_empty() {
        return Err(bad());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Ok(Some(RawCredential::Bearer(token))),
        "apikey" => Ok(Some(RawCredential::ApiKey(token))),
        _ => Err(bad()),
    }
}

async fn authenticate(
    services: &Services,
    credential: RawCredential<'_>,
) -> Result<Actor, IgrantError> {
    let actor = match credential {
        RawCredential::Bearer(t) => services.authenticate_access_token(t).await,
        RawCredential::ApiKey(k) => services.authenticate_api_key(k).await,
    };
    actor.map_err(IgrantError::from)
}

/// The client's address, for throttling. Behind a proxy (`--trust-forwarded-for`), the
/// last `X-Forwarded-For` entry: the one our proxy added.
pub struct SourceAddr(pub IpAddr);

impl FromRequestParts<Arc<Services>> for SourceAddr {
    type Rejection = IgrantError;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        Ok(SourceAddr(crate::client_address::of(
            parts,
            services.config.trust_forwarded_for,
        )))
    }
}

/// Query parameters; a malformed query is a JSON 400 like every other error.
pub struct IgrantQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for IgrantQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = IgrantError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| IgrantQuery(q.0))
            .map_err(|e| IgrantError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Login {
        username: String,
        password: String,
    }

    #[test]
    fn keys_match_case_insensitively() {
        let l: Login = parse_body(br#"{"Username":"a@b.co","PASSWORD":"x"}"#).unwrap();
        assert_eq!((l.username.as_str(), l.password.as_str()), ("a@b.co", "x"));
    }

    #[test]
    fn decoding_failures_are_400_with_a_message() {
        for body in [
            &b"{"[..],
            b"[]",
            br#"{"username":5,"password":"x"}"#,
            br#"{"username":"a"}"#,
            b"\xff",
        ] {
            let e = parse_body::<Login>(body).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body:?}");
            assert!(!e.message.is_empty());
        }
        let e =
            parse_body::<Login>(br#"{"username":"a","Username":"b","password":"x"}"#).unwrap_err();
        assert!(e.message.contains("twice"), "{}", e.message);
    }
}
