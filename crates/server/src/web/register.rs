//! Registering an account, and proving its address with the mailed link. The link's page
//! only shows a button: mail scanners that open links must not use the token up.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, MessagePage, Posted, Visit};
use crate::services::identity::Registration;
use crate::services::Services;
use accord_domain::Error;

#[derive(Template)]
#[template(path = "web/register.html")]
pub struct RegisterPage {
    pub c: Chrome,
    pub email: String,
    pub name: String,
    pub error: Option<String>,
}

pub async fn form(visit: Visit) -> Response {
    if visit.session.is_some() {
        return Redirect::to("/account").into_response();
    }
    visit.render(
        StatusCode::OK,
        RegisterPage {
            c: visit.chrome(),
            email: String::new(),
            name: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct RegisterForm {
    email: String,
    name: String,
    password: String,
}

pub async fn submit(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<RegisterForm>,
) -> Response {
    let registered = s
        .register(Registration {
            username: &f.email,
            password: &f.password,
            name: &f.name,
            phone: "",
            source: Some(visit.source),
            language: Some(visit.t.lang),
        })
        .await;
    match registered {
        Ok(_) => visit.render(
            StatusCode::OK,
            MessagePage {
                c: visit.chrome(),
                title: visit.t.get("check-mail-title"),
                message: visit.t.get("registered-check-mail"),
                link: Some(("/sign-in".to_owned(), visit.t.get("sign-in"))),
            },
        ),
        Err(e) => {
            let (status, error) = match e {
                Error::Conflict(_) => (StatusCode::CONFLICT, visit.t.get("address-taken")),
                Error::TooManyRequests { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    visit.too_many(retry_after_secs),
                ),
                Error::Rule(rule) => (StatusCode::BAD_REQUEST, visit.t.rule(&rule)),
                Error::InvalidInput(why) => (StatusCode::BAD_REQUEST, why),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    visit.t.get("try-again-later"),
                ),
            };
            visit.render(
                status,
                RegisterPage {
                    c: visit.chrome(),
                    email: f.email,
                    name: f.name,
                    error: Some(error),
                },
            )
        }
    }
}

#[derive(Template)]
#[template(path = "web/confirm_token.html")]
pub struct ConfirmTokenPage {
    pub c: Chrome,
    pub title: String,
    pub message: String,
    pub action: &'static str,
    pub button: String,
    pub token: String,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn verify_form(visit: Visit, Query(q): Query<TokenQuery>) -> Response {
    visit.render(
        StatusCode::OK,
        ConfirmTokenPage {
            c: visit.chrome(),
            title: visit.t.get("verify-title"),
            message: visit.t.get("verify-message"),
            action: "/verify-email",
            button: visit.t.get("verify-button"),
            token: q.token.unwrap_or_default(),
        },
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

pub async fn verify(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<TokenForm>,
) -> Response {
    let on = if visit.session.is_some() {
        ("/account".to_owned(), visit.t.get("account-title"))
    } else {
        ("/sign-in".to_owned(), visit.t.get("sign-in"))
    };
    match s.verify_email(&f.token).await {
        Ok(()) => visit.told(
            StatusCode::OK,
            visit.t.get("verified-title"),
            visit.t.get("verified-message"),
            on,
        ),
        Err(Error::InvalidInput(_) | Error::NotFound(_)) => visit.link_invalid(on),
        Err(_) => visit.told(
            StatusCode::SERVICE_UNAVAILABLE,
            visit.t.get("verify-title"),
            visit.t.get("try-again-later"),
            on,
        ),
    }
}

/// `GET /confirm-email-change?token=`: the link mailed to a new address.
pub async fn email_change_form(visit: Visit, Query(q): Query<TokenQuery>) -> Response {
    visit.render(
        StatusCode::OK,
        ConfirmTokenPage {
            c: visit.chrome(),
            title: visit.t.get("email-change-title"),
            message: visit.t.get("email-change-message"),
            action: "/confirm-email-change",
            button: visit.t.get("email-change-button"),
            token: q.token.unwrap_or_default(),
        },
    )
}

/// `POST /confirm-email-change`: the account moves to the address the link was mailed to.
pub async fn confirm_email_change(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<TokenForm>,
) -> Response {
    let on = ("/account".to_owned(), visit.t.get("account-title"));
    let (status, title, message) = match s.confirm_email_change(&f.token).await {
        Ok(()) => (
            StatusCode::OK,
            visit.t.get("email-changed-title"),
            visit.t.get("email-changed-message"),
        ),
        Err(Error::Conflict(_)) => (
            StatusCode::CONFLICT,
            visit.t.get("email-change-title"),
            visit.t.get("address-taken"),
        ),
        Err(Error::InvalidInput(_) | Error::NotFound(_)) => return visit.link_invalid(on),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            visit.t.get("email-change-title"),
            visit.t.get("try-again-later"),
        ),
    };
    visit.told(status, title, message, on)
}
