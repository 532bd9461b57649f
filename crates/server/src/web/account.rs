//! My account: the person's name and phone, their address (and whether it is proven), and
//! a new password (the current one is asked; every other session ends).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Chrome, Posted, Visit};
use crate::services::identity::{PasswordChange, UserProfile};
use crate::services::{Actor, Services};
use accord_domain::Error;

#[derive(Template)]
#[template(path = "web/account.html")]
pub struct AccountPage {
    pub c: Chrome,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub verified: bool,
    pub notice: Option<String>,
    pub profile_error: Option<String>,
    pub password_error: Option<String>,
}

#[derive(Deserialize)]
pub struct AccountQuery {
    done: Option<String>,
}

fn page(visit: &Visit, p: UserProfile) -> AccountPage {
    AccountPage {
        c: visit.chrome(),
        name: p.user.name,
        phone: p.user.phone,
        email: p
            .user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        verified: p.user.email_verified_at.is_some(),
        notice: None,
        profile_error: None,
        password_error: None,
    }
}

/// The signed-in person, if any.
fn signed_in(visit: &Visit) -> Option<&Actor> {
    visit.session.as_ref().map(|(a, _)| a)
}

pub async fn show(
    State(s): State<Arc<Services>>,
    visit: Visit,
    Query(q): Query<AccountQuery>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.my_profile(actor).await {
        Ok(p) => {
            let mut page = page(&visit, p);
            page.notice = match q.done.as_deref() {
                Some("profile") => Some(visit.t.get("profile-saved")),
                Some("password") => Some(visit.t.get("password-changed")),
                _ => None,
            };
            visit.render(StatusCode::OK, page)
        }
        Err(_) => visit.to_sign_in(),
    }
}

#[derive(Deserialize)]
pub struct ProfileForm {
    name: String,
    phone: String,
}

pub async fn profile(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<ProfileForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s
        .update_my_profile(actor, Some(&f.name), Some(&f.phone))
        .await
    {
        Ok(_) => Redirect::to("/account?done=profile").into_response(),
        Err(e) => {
            again(&s, &visit, actor, |p| {
                p.profile_error = Some(said(&visit, e))
            })
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
}

pub async fn password(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<PasswordForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    if f.password != f.confirm {
        let differ = visit.t.get("passwords-differ");
        return again(&s, &visit, actor, |p| p.password_error = Some(differ)).await;
    }
    let change = PasswordChange {
        current_password: Some(&f.current),
        new_password: &f.password,
    };
    match s.change_my_password(actor, change).await {
        Ok(()) => Redirect::to("/account?done=password").into_response(),
        Err(Error::Unauthenticated(_)) => {
            let wrong = visit.t.get("current-password-wrong");
            again(&s, &visit, actor, |p| p.password_error = Some(wrong)).await
        }
        Err(e) => {
            again(&s, &visit, actor, |p| {
                p.password_error = Some(said(&visit, e))
            })
            .await
        }
    }
}

/// A refusal in words: the rule a value broke as the service says it, else a retry.
fn said(visit: &Visit, e: Error) -> String {
    match e {
        Error::InvalidInput(why) => why,
        _ => visit.t.get("try-again-later"),
    }
}

/// The account page again, with what went wrong beside its form.
async fn again(
    s: &Services,
    visit: &Visit,
    actor: &Actor,
    with: impl FnOnce(&mut AccountPage),
) -> Response {
    match s.my_profile(actor).await {
        Ok(p) => {
            let mut page = page(visit, p);
            with(&mut page);
            visit.render(StatusCode::BAD_REQUEST, page)
        }
        Err(_) => visit.to_sign_in(),
    }
}
