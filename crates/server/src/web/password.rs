//! Forgot password → mailed link → a new password (single use, expiring; every other
//! session of the account ends, as through the API).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, MessagePage, Posted, Visit};
use crate::services::Services;
use accord_domain::Error;

#[derive(Template)]
#[template(path = "web/forgot_password.html")]
pub struct ForgotPage {
    pub c: Chrome,
}

pub async fn forgot_form(visit: Visit) -> Response {
    visit.render(StatusCode::OK, ForgotPage { c: visit.chrome() })
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<ForgotForm>,
) -> Response {
    // The same answer whether or not an account has the address (docs/security.md).
    s.forgot_password(&f.email);
    visit.render(
        StatusCode::OK,
        MessagePage {
            c: visit.chrome(),
            title: visit.t.get("check-mail-title"),
            message: visit.t.get("reset-mail-sent"),
            link: Some(("/sign-in".to_owned(), visit.t.get("sign-in"))),
        },
    )
}

#[derive(Template)]
#[template(path = "web/reset_password.html")]
pub struct ResetPage {
    pub c: Chrome,
    pub token: String,
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn reset_form(visit: Visit, Query(q): Query<TokenQuery>) -> Response {
    visit.render(
        StatusCode::OK,
        ResetPage {
            c: visit.chrome(),
            token: q.token.unwrap_or_default(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
    confirm: String,
}

pub async fn reset(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<ResetForm>,
) -> Response {
    let again = |status, error: String| {
        visit.render(
            status,
            ResetPage {
                c: visit.chrome(),
                token: f.token.clone(),
                error: Some(error),
            },
        )
    };
    if f.password != f.confirm {
        return again(StatusCode::BAD_REQUEST, visit.t.get("passwords-differ"));
    }
    match s.confirm_password_reset(&f.token, &f.password).await {
        Ok(()) => Redirect::to("/sign-in?done=password-set").into_response(),
        Err(Error::Rule(rule)) if rule.is_password() => {
            again(StatusCode::BAD_REQUEST, visit.t.rule(&rule))
        }
        Err(Error::InvalidInput(_) | Error::Rule(_) | Error::NotFound(_)) => {
            visit.link_invalid(("/forgot-password".to_owned(), visit.t.get("forgot-title")))
        }
        Err(_) => again(
            StatusCode::SERVICE_UNAVAILABLE,
            visit.t.get("try-again-later"),
        ),
    }
}
