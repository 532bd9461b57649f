//! Signing in with a password, and signing out (the session ends everywhere: the API's
//! access tokens of the session stop working too).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::organisation_sign_in::offer_of;
use super::{same_origin_path, Chrome, MessagePage, Posted, Visit, SESSION_COOKIE};
use crate::services::identity::LoginKind;
use crate::services::Services;
use accord_domain::Error;

#[derive(Template)]
#[template(path = "web/sign_in.html")]
pub struct SignInPage {
    pub c: Chrome,
    pub next: String,
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    /// `(id, name)` of the organisation whose own sign-in the page offers (`?org=`).
    pub organisation: Option<(String, String)>,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    /// An organisation whose own provider the page offers beside the password.
    org: Option<String>,
    /// A notice the page shows by its key (never text from the URL).
    done: Option<String>,
}

pub async fn form(
    State(s): State<Arc<Services>>,
    visit: Visit,
    Query(q): Query<SignInQuery>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("signed-out") => Some(visit.t.get("signed-out")),
        Some("password-set") => Some(visit.t.get("password-set-sign-in")),
        _ => None,
    };
    let offer = match q.org.as_deref() {
        Some(org) => offer_of(&s, org).await,
        None => None,
    };
    let mut page = SignInPage {
        c: visit.chrome(),
        next: same_origin_path(q.next.as_deref()),
        email: String::new(),
        error: None,
        notice,
        organisation: None,
    };
    match offer {
        Some((id, offer)) => {
            page.organisation = Some((id.to_string(), offer.organization_name));
            visit.render_leading_to(StatusCode::OK, page, &offer.provider_origin)
        }
        None => visit.render(StatusCode::OK, page),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn submit(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<SignInForm>,
) -> Response {
    let next = same_origin_path(f.next.as_deref());
    match s
        .login(&f.email, &f.password, visit.source, LoginKind::User)
        .await
    {
        Ok((_, tokens)) => visit.enter(&next, &tokens),
        Err(e) => {
            let (status, error) = match e {
                Error::TooManyRequests { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    visit.too_many(retry_after_secs),
                ),
                Error::Unauthenticated(_) | Error::InvalidInput(_) | Error::Rule(_) => {
                    (StatusCode::UNAUTHORIZED, visit.t.get("wrong-credentials"))
                }
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    visit.t.get("try-again-later"),
                ),
            };
            visit.render(
                status,
                SignInPage {
                    c: visit.chrome(),
                    next,
                    email: f.email,
                    error: Some(error),
                    notice: None,
                    organisation: None,
                },
            )
        }
    }
}

/// Nothing but the form token (checked by `Posted`).
#[derive(Deserialize)]
pub struct SignOutForm {}

pub async fn sign_out(
    State(s): State<Arc<Services>>,
    Posted(visit, _): Posted<SignOutForm>,
) -> Response {
    if let Some((actor, secret)) = &visit.session {
        if let Err(e) = s.logout(actor, Some(secret)).await {
            tracing::warn!(error = ?e, "sign-out failed");
            return visit.render(
                StatusCode::SERVICE_UNAVAILABLE,
                MessagePage {
                    c: visit.chrome(),
                    title: visit.t.get("sign-out"),
                    message: visit.t.get("try-again-later"),
                    link: Some(("/account".to_owned(), visit.t.get("account-title"))),
                },
            );
        }
    }
    let mut res = Redirect::to("/sign-in?done=signed-out").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        visit.rules.set(SESSION_COOKIE, "", "Lax", Some(0)),
    );
    res
}
