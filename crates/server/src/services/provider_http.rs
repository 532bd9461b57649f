//! The HTTP client for calls to organisations' OpenID providers (discovery, JWKS, token,
//! userinfo). Their addresses come from organisation Admins, so every call is bounded:
//! a total timeout, a cap on the response size, and redirects followed only within the
//! same scheme, host and port (a provider may move a path; it may not send us elsewhere).
//! And, unless the operator allows it, never to a loopback, private or other
//! special-purpose address: names resolve to public addresses only, and an address given
//! as such must be public (the rule webhooks follow, `accord_domain::address`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use accord_domain::address::is_special_purpose;
use openidconnect::{http, HttpRequest, HttpResponse};

const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 3;
/// Discovery documents, key sets and token responses are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProviderHttpError {
    #[error("{0}")]
    Request(String),
    #[error("the provider's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    /// `ACCORD_OIDC_ALLOW_PRIVATE`: a provider inside the operator's own network.
    allow_private: bool,
}

/// Resolves names to their public addresses only; a name with none fails to resolve.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_special_purpose(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl ProviderHttp {
    pub fn new(allow_private: bool) -> accord_domain::Result<Self> {
        let same_origin_only = reqwest::redirect::Policy::custom(|attempt| {
            let first = &attempt.previous()[0];
            let next = attempt.url();
            let same = next.scheme() == first.scheme()
                && next.host_str() == first.host_str()
                && next.port_or_known_default() == first.port_or_known_default();
            if !same {
                attempt.error("redirect to another origin refused")
            } else if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(same_origin_only)
            .user_agent("Accord");
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        let client = builder.build().map_err(accord_domain::Error::internal)?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// One request, in the shape `openidconnect` hands out and expects back.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ProviderHttpError> {
        let (parts, body) = request.into_parts();
        // An address literal is connected to as it is, without resolution.
        let literal = parts
            .uri
            .host()
            .map(|h| h.trim_matches(['[', ']']))
            .and_then(|h| h.parse::<IpAddr>().ok());
        if !self.allow_private && literal.is_some_and(is_special_purpose) {
            return Err(ProviderHttpError::Request(
                "the provider's address is not a public address".into(),
            ));
        }
        let mut headers = parts.headers;
        // The provider's work joins the trace of the sign-in that called it.
        crate::telemetry::pass_on(&tracing::Span::current(), &mut headers);
        let mut response = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| ProviderHttpError::Request(describe(&e)))?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(ProviderHttpError::TooLarge);
        }
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ProviderHttpError::Request(describe(&e)))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ProviderHttpError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(bytes);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

// A named future rather than a closure: closures borrowing the client make the handlers'
// futures fail axum's `Send` bound (rust-lang/rust#102211).
impl<'c> openidconnect::AsyncHttpClient<'c> for ProviderHttp {
    type Error = ProviderHttpError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, ProviderHttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// reqwest's message with its cause chain (a refused redirect says so only in the cause),
/// and without the URL's query, which may carry a code.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        let mut bare = url.clone();
        bare.set_query(None);
        text = text.replace(url.as_str(), bare.as_str());
    }
    if let Some(cause) = e.source() {
        text.push_str(": ");
        text.push_str(&error_chain(cause));
    }
    text
}

/// An error and its causes on one line (the libraries' top-level messages are terse).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider on loopback that redirects elsewhere, answers too much, or answers well.
    async fn misbehaving() -> String {
        use axum::response::Redirect;
        use axum::routing::get;
        let app = axum::Router::new()
            .route(
                "/moved",
                get(|| async { Redirect::temporary("http://127.0.0.2:9/elsewhere") }),
            )
            .route(
                "/huge",
                get(|| async { "x".repeat(MAX_RESPONSE_BYTES + 1) }),
            )
            .route("/fine", get(|| async { "{}" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn get(url: &str) -> HttpRequest {
        http::Request::get(url).body(vec![]).unwrap()
    }

    #[tokio::test]
    async fn calls_are_bounded_and_stay_off_special_addresses() {
        let base = misbehaving().await;
        let allowed = ProviderHttp::new(true).unwrap();
        assert!(allowed.send(get(&format!("{base}/fine"))).await.is_ok());
        let moved = allowed.send(get(&format!("{base}/moved"))).await;
        assert!(
            matches!(&moved, Err(ProviderHttpError::Request(m)) if m.contains("another origin")),
            "{moved:?}"
        );
        let huge = allowed.send(get(&format!("{base}/huge"))).await;
        assert!(matches!(huge, Err(ProviderHttpError::TooLarge)), "{huge:?}");

        // Without the operator's leave: no loopback, by address or by name, nor the
        // cloud's metadata address.
        let public_only = ProviderHttp::new(false).unwrap();
        let port = base.rsplit(':').next().unwrap();
        for url in [
            format!("{base}/fine"),
            format!("http://localhost:{port}/fine"),
            format!("http://[::1]:{port}/fine"),
            "http://169.254.169.254/latest/meta-data".to_owned(),
        ] {
            let r = public_only.send(get(&url)).await;
            assert!(r.is_err(), "{url}: {r:?}");
        }
    }
}
