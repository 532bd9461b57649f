//! The web facade: Accord's own pages for people (docs/web.md), beside the two APIs. The
//! pages call the same services with the same authorization as the API; handlers extract,
//! call one service function and render a compiled template (askama) with the person's
//! language's messages (Fluent). No JavaScript, no other origin: the CSS is our own.
//!
//! Security (docs/web.md): the page session is the API's session, carried in an
//! `HttpOnly`, `SameSite=Lax` cookie (`__Host-` and `Secure` when the public URL is https);
//! every form carries a CSRF token matched against a cookie of its own; every answer
//! carries a Content-Security-Policy without `unsafe-inline`, `frame-ancestors 'none'`,
//! `Referrer-Policy: no-referrer` and `nosniff`.

mod account;
pub mod i18n;
mod invitation;
mod organisation_sign_in;
mod password;
mod register;
mod sign_in;

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use serde::Deserialize;

use crate::services::{Actor, Services};
use i18n::{Lang, Texts, LANG_COOKIE};

/// The paths the web facade owns (its errors are pages, not API error bodies).
const PREFIXES: [&str; 11] = [
    "/confirm-email-change",
    "/accept-invitation",
    "/sign-in",
    "/sign-out",
    "/register",
    "/verify-email",
    "/forgot-password",
    "/reset-password",
    "/account",
    "/language/",
    "/static/",
];

/// Whether a path is one of the pages'.
pub fn owns(path: &str) -> bool {
    path == "/" || PREFIXES.iter().any(|p| path.starts_with(p))
}

pub fn router() -> Router<Arc<Services>> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route(
            "/sign-in/organisation/{org}",
            post(organisation_sign_in::start),
        )
        .route(
            "/sign-in/organisation/{org}/callback",
            get(organisation_sign_in::callback),
        )
        .route("/register", get(register::form).post(register::submit))
        .route(
            "/verify-email",
            get(register::verify_form).post(register::verify),
        )
        .route(
            "/forgot-password",
            get(password::forgot_form).post(password::forgot),
        )
        .route(
            "/reset-password",
            get(password::reset_form).post(password::reset),
        )
        .route(
            "/accept-invitation",
            get(invitation::form).post(invitation::accept),
        )
        .route("/account", get(account::show))
        .route("/account/profile", post(account::profile))
        .route("/account/password", post(account::password))
        .route("/account/email", post(account::change_email))
        .route(
            "/confirm-email-change",
            get(register::email_change_form).post(register::confirm_email_change),
        )
        .route("/account/sessions/end", post(account::end_session))
        .route(
            "/account/link/{org}",
            get(organisation_sign_in::link_form).post(organisation_sign_in::link),
        )
        .route("/account/apikey/show", post(account::show_api_key))
        .route("/account/apikey/rotate", post(account::rotate_api_key))
        .route("/account/apikey/revoke", post(account::revoke_api_key))
        .route(
            "/account/delete",
            get(account::delete_form).post(account::delete),
        )
        .route("/language/{code}", get(set_language))
        .route("/static/accord.css", get(stylesheet))
        .layer(middleware::from_fn(security_headers))
}

/// What a page may load: its own stylesheet and nothing else; it may not be framed, and
/// forms post only to Accord.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: axum::extract::Request, next: middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A page whose form leads to an organisation's provider set its own (`render_leading_to`).
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Mailed links carry their token in the query: no page ever hands its URL on.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// One cookie's value from the `Cookie` header.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// How the cookies are named and flagged: `__Host-` and `Secure` on an https deployment
/// (a browser refuses `Secure` cookies over plain http, so a local deployment goes without).
#[derive(Debug, Clone, Copy)]
pub struct CookieRules {
    secure: bool,
}

impl CookieRules {
    fn of(services: &Services) -> Self {
        Self {
            secure: services.config.public_url.starts_with("https://"),
        }
    }

    fn name(self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value; `max_age` `None`: until the browser closes; `Some(0)`: gone.
    fn set(self, base: &str, value: &str, same_site: &str, max_age: Option<i64>) -> HeaderValue {
        let mut c = format!(
            "{}={value}; Path=/; HttpOnly; SameSite={same_site}",
            self.name(base)
        );
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static(""))
    }
}

const SESSION_COOKIE: &str = "accord-session";
const CSRF_COOKIE: &str = "accord-csrf";

/// Everything a page needs of the request: the person's language, their session if they
/// are signed in, and the form token.
pub struct Visit {
    pub t: Texts,
    pub rules: CookieRules,
    /// The CSRF token of this browser; `fresh` when it was made for this answer.
    pub csrf: String,
    pub fresh_csrf: bool,
    /// The signed-in person and the session's secret (the cookie's value).
    pub session: Option<(Actor, String)>,
    /// The path asked for (the language switch returns to it).
    pub here: String,
    /// Where the request came from (sign-in and registration are throttled by it).
    pub source: std::net::IpAddr,
}

impl FromRequestParts<Arc<Services>> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let rules = CookieRules::of(services);
        let (csrf, fresh_csrf) = match cookie(&parts.headers, &rules.name(CSRF_COOKIE))
            .filter(|c| c.len() >= 32 && c.len() <= 128)
        {
            Some(c) => (c, false),
            None => (crate::services::tokens::random_secret(), true),
        };
        let session = match cookie(&parts.headers, &rules.name(SESSION_COOKIE)) {
            Some(secret) if !secret.is_empty() && secret.len() <= 256 => services
                .web_session(&secret)
                .await
                .ok()
                .map(|actor| (actor, secret)),
            _ => None,
        };
        Ok(Visit {
            t: Texts {
                lang: i18n::lang_of(&parts.headers),
            },
            rules,
            csrf,
            fresh_csrf,
            session,
            here: parts.uri.path().to_owned(),
            source: crate::client_address::of(parts, services.config.trust_forwarded_for),
        })
    }
}

impl Visit {
    /// What every page's frame shows.
    pub fn chrome(&self) -> Chrome {
        Chrome {
            t: self.t,
            csrf: self.csrf.clone(),
            signed_in: self.session.is_some(),
            here: self.here.clone(),
        }
    }

    /// The form's token matches this browser's: otherwise the form came from elsewhere
    /// (or is older than the browser's cookies) and is refused.
    pub fn form_is_ours(&self, token: &str) -> bool {
        !self.fresh_csrf && same_secret(&self.csrf, token)
    }

    /// On to `to`, signed in to the session of `tokens` (the cookie holds its refresh token).
    pub fn enter(&self, to: &str, tokens: &crate::services::identity::TokenPair) -> Response {
        let mut res = Redirect::to(to).into_response();
        res.headers_mut().append(
            header::SET_COOKIE,
            self.rules.set(
                SESSION_COOKIE,
                &tokens.refresh_token,
                "Lax",
                Some(tokens.refresh_expires_in),
            ),
        );
        res
    }

    /// "Too many attempts", with the whole minutes to wait.
    pub fn too_many(&self, retry_after_secs: u64) -> String {
        self.t.with(
            "too-many-attempts",
            "minutes",
            retry_after_secs.div_ceil(60).max(1),
        )
    }

    /// An HTML answer with the headers every page has (and the form token's cookie when
    /// it is new).
    pub fn render(&self, status: StatusCode, page: impl Template) -> Response {
        let html = match page.render() {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(error = %e, "page did not render");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut res = (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response();
        if self.fresh_csrf {
            res.headers_mut().append(
                header::SET_COOKIE,
                self.rules.set(CSRF_COOKIE, &self.csrf, "Strict", None),
            );
        }
        res
    }

    /// A page with a form whose answer leads the browser on to `origin` (an organisation's
    /// provider): browsers hold a form's redirects to `form-action` too, so that one origin
    /// joins `'self'` there, on this page only.
    pub fn render_leading_to(
        &self,
        status: StatusCode,
        page: impl Template,
        origin: &str,
    ) -> Response {
        let mut res = self.render(status, page);
        let plain = origin.starts_with("https://") || origin.starts_with("http://");
        if plain
            && origin
                .chars()
                .all(|c| c.is_ascii_graphic() && !";,'".contains(c))
        {
            let csp = CSP.replace(
                "form-action 'self'",
                &format!("form-action 'self' {origin}"),
            );
            if let Ok(v) = HeaderValue::from_str(&csp) {
                res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
        }
        res
    }

    /// The page of a refused form (a missing or foreign CSRF token).
    pub fn forged(&self) -> Response {
        self.render(
            StatusCode::FORBIDDEN,
            MessagePage {
                c: self.chrome(),
                title: self.t.get("forged-title"),
                message: self.t.get("forged-message"),
                link: Some(("/".to_owned(), self.t.get("go-home"))),
            },
        )
    }

    /// A page that says one thing, with a way on.
    pub fn told(
        &self,
        status: StatusCode,
        title: String,
        message: String,
        on: (String, String),
    ) -> Response {
        self.render(
            status,
            MessagePage {
                c: self.chrome(),
                title,
                message,
                link: Some(on),
            },
        )
    }

    /// A mailed link's token that is wrong, used or expired (400), with a way on.
    pub fn link_invalid(&self, on: (String, String)) -> Response {
        self.told(
            StatusCode::BAD_REQUEST,
            self.t.get("link-invalid-title"),
            self.t.get("link-invalid-message"),
            on,
        )
    }

    /// To the sign-in page, coming back here afterwards.
    pub fn to_sign_in(&self) -> Response {
        Redirect::to(&format!("/sign-in?next={}", self.here)).into_response()
    }
}

/// A form posted from one of this browser's pages: its CSRF token matched this browser's
/// cookie, or the request is refused with a page that says so (403); a malformed form is
/// a 400 page.
pub struct Posted<T>(pub Visit, pub T);

#[derive(Deserialize)]
struct WithToken<T> {
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

impl<T> axum::extract::FromRequest<Arc<Services>> for Posted<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        services: &Arc<Services>,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Ok(visit) = Visit::from_request_parts(&mut parts, services).await;
        let req = axum::extract::Request::from_parts(parts, body);
        match axum::Form::<WithToken<T>>::from_request(req, services).await {
            Ok(axum::Form(form)) if visit.form_is_ours(&form.csrf) => {
                Ok(Posted(visit, form.fields))
            }
            Ok(_) => Err(visit.forged()),
            Err(_) => Err(visit.render(
                StatusCode::BAD_REQUEST,
                MessagePage {
                    c: visit.chrome(),
                    title: visit.t.get("bad-form-title"),
                    message: visit.t.get("bad-form-message"),
                    link: Some(("/".to_owned(), visit.t.get("go-home"))),
                },
            )),
        }
    }
}

/// Two secrets compared in constant time.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The frame of every page.
pub struct Chrome {
    pub t: Texts,
    pub csrf: String,
    pub signed_in: bool,
    pub here: String,
}

impl Chrome {
    pub fn langs(&self) -> [Lang; 2] {
        Lang::ALL
    }

    pub fn lang(&self) -> &'static str {
        self.t.lang.code()
    }
}

/// A page that says one thing, with a way on.
#[derive(Template)]
#[template(path = "web/message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub title: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

/// Where to go after signing in: a path on this server only (never `//host`, `/\host`,
/// or a scheme), of visible ASCII (it becomes a `Location` header), else the account page.
pub fn same_origin_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && p.len() <= 512
                && p.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
        {
            p.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

async fn home(visit: Visit) -> Response {
    if visit.session.is_some() {
        Redirect::to("/account").into_response()
    } else {
        Redirect::to("/sign-in").into_response()
    }
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// The language switch: a plain link (no form), remembered in a cookie for a year.
async fn set_language(
    State(s): State<Arc<Services>>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let rules = CookieRules::of(&s);
    let back = same_origin_path(q.back.as_deref());
    let Some(lang) = Lang::from_code(&code) else {
        return Redirect::to(&back).into_response();
    };
    // Not a secret: no `__Host-` name, readable by the next page whatever the scheme.
    let secure = if rules.secure { "; Secure" } else { "" };
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age={}{secure}",
        lang.code(),
        365 * 24 * 3600
    );
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The stylesheet, compiled in.
async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/accord.css"),
    )
        .into_response()
}

/// An error no handler rendered (a method not allowed, a timeout, a panic): a short page
/// in the place of the API's error body, with the pages' headers.
pub fn error_page(status: StatusCode) -> Response {
    let text = status.canonical_reason().unwrap_or("Error");
    let mut res = (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {text}</title>\
             <link rel=\"stylesheet\" href=\"/static/accord.css\"></head><body><main><h1>{code} {text}</h1>\
             <p><a href=\"/\">Accord</a></p></main></body></html>",
            code = status.as_u16()
        ),
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::same_origin_path;

    #[test]
    fn only_paths_of_this_server_are_followed() {
        for (next, to) in [
            (Some("/account"), "/account"),
            (Some("/register?x=1"), "/register?x=1"),
            (None, "/account"),
            (Some("//evil.example"), "/account"),
            (Some("/\\evil.example"), "/account"),
            (Some("https://evil.example"), "/account"),
            (Some("/caf\u{e9}"), "/account"),
            (Some("/a b"), "/account"),
            (Some("/a\r\nSet-Cookie: x=1"), "/account"),
        ] {
            assert_eq!(same_origin_path(next), to, "{next:?}");
        }
    }
}
