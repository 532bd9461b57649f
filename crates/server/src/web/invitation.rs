//! Accepting a role invitation (the CustomerID invitation mail's link): a new account
//! chooses its password, an existing one gives its own; either way the invited roles are
//! held from then on. The link works once.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, MessagePage, Posted, Visit};
use crate::services::Services;
use accord_domain::Error;

#[derive(Template)]
#[template(path = "web/accept_invitation.html")]
pub struct InvitationPage {
    pub c: Chrome,
    pub token: String,
    pub email: String,
    /// A new account chooses a password; an existing one gives its own.
    pub new_account: bool,
    pub error: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn link_invalid(visit: &Visit) -> Response {
    visit.link_invalid(("/sign-in".to_owned(), visit.t.get("sign-in")))
}

pub async fn form(
    State(s): State<Arc<Services>>,
    visit: Visit,
    Query(q): Query<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    match s.invitation_by_token(&token).await {
        Ok((email, new_account)) => visit.render(
            StatusCode::OK,
            InvitationPage {
                c: visit.chrome(),
                token,
                email,
                new_account,
                error: None,
            },
        ),
        Err(_) => link_invalid(&visit),
    }
}

#[derive(Deserialize)]
pub struct AcceptForm {
    token: String,
    password: String,
    /// Only for a new account's password.
    confirm: Option<String>,
}

pub async fn accept(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<AcceptForm>,
) -> Response {
    let Ok((email, new_account)) = s.invitation_by_token(&f.token).await else {
        return link_invalid(&visit);
    };
    let again = |status, error: String| {
        visit.render(
            status,
            InvitationPage {
                c: visit.chrome(),
                token: f.token.clone(),
                email: email.clone(),
                new_account,
                error: Some(error),
            },
        )
    };
    if new_account && f.confirm.as_deref() != Some(f.password.as_str()) {
        return again(StatusCode::BAD_REQUEST, visit.t.get("passwords-differ"));
    }
    match s.accept_invitation(&f.token, &f.password).await {
        Ok(_) => visit.render(
            StatusCode::OK,
            MessagePage {
                c: visit.chrome(),
                title: visit.t.get("invitation-accepted-title"),
                message: visit.t.get("invitation-accepted-message"),
                link: Some(("/sign-in".to_owned(), visit.t.get("sign-in"))),
            },
        ),
        Err(Error::Unauthenticated(_)) => {
            again(StatusCode::UNAUTHORIZED, visit.t.get("wrong-password"))
        }
        Err(Error::Rule(rule)) if rule.is_password() => {
            again(StatusCode::BAD_REQUEST, visit.t.rule(&rule))
        }
        Err(Error::InvalidInput(_) | Error::Rule(_) | Error::NotFound(_)) => link_invalid(&visit),
        Err(_) => again(
            StatusCode::SERVICE_UNAVAILABLE,
            visit.t.get("try-again-later"),
        ),
    }
}
