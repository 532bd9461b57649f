//! My account: the person's name and phone; their address (whether it is proven, and a
//! change proven by a link to the new one); a new password (the current one is asked;
//! every other session ends); where they are signed in (and ending a session); their
//! APIKey; and deleting the account behind the password.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::i18n::Lang;
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
    /// The language the person's mails are written in.
    pub mail_language: Lang,
    pub has_api_key: bool,
    /// Where the person is signed in, newest first.
    pub sessions: Vec<SessionRow>,
    pub notice: Option<String>,
    pub profile_error: Option<String>,
    pub email_error: Option<String>,
    pub password_error: Option<String>,
}

/// One session as the account page lists it.
pub struct SessionRow {
    pub id: String,
    /// When it began (UTC, to the minute).
    pub started: String,
    /// How it began, in words.
    pub how: String,
    /// The session of this very page.
    pub current: bool,
}

/// The account page: the person's profile and sessions, read together.
async fn account_page(s: &Services, visit: &Visit, actor: &Actor) -> Result<AccountPage, Error> {
    let (p, sessions) = s.my_profile_and_sessions(actor).await?;
    let mut page = page(visit, p);
    let current = actor.user().ok().and_then(|u| u.session_id);
    page.sessions = sessions
        .into_iter()
        .map(|x| SessionRow {
            id: x.id.to_string(),
            started: x.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            how: if x.from_password() {
                visit.t.get("session-password")
            } else {
                visit.t.get("session-organisation")
            },
            current: Some(x.id) == current,
        })
        .collect();
    Ok(page)
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
        mail_language: p.user.language.unwrap_or(visit.t.lang),
        has_api_key: p.api_key.is_some(),
        sessions: vec![],
        notice: None,
        profile_error: None,
        email_error: None,
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
    match account_page(&s, &visit, actor).await {
        Ok(mut page) => {
            page.notice = match q.done.as_deref() {
                Some("profile") => Some(visit.t.get("profile-saved")),
                Some("password") => Some(visit.t.get("password-changed")),
                Some("apikey-revoked") => Some(visit.t.get("apikey-revoked")),
                Some("session-ended") => Some(visit.t.get("session-ended")),
                Some("linked") => Some(visit.t.get("linked")),
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
    /// The language of the person's mails.
    language: Option<String>,
}

pub async fn profile(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<ProfileForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s
        .update_my_profile(
            actor,
            Some(&f.name),
            Some(&f.phone),
            f.language.as_deref().and_then(Lang::from_code),
        )
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
        Error::Rule(rule) => visit.t.rule(&rule),
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
    match account_page(s, visit, actor).await {
        Ok(mut page) => {
            with(&mut page);
            visit.render(StatusCode::BAD_REQUEST, page)
        }
        Err(_) => visit.to_sign_in(),
    }
}

#[derive(Template)]
#[template(path = "web/api_key.html")]
pub struct ApiKeyPage {
    pub c: Chrome,
    pub key: String,
    pub fresh: bool,
}

/// Nothing but the form token (checked by `Posted`).
#[derive(Deserialize)]
pub struct Plain {}

/// `POST /account/apikey/show`: the current key, on a page of its own (never in a URL).
pub async fn show_api_key(
    State(s): State<Arc<Services>>,
    Posted(visit, _): Posted<Plain>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.my_api_key(actor).await {
        Ok(key) => api_key_page(&visit, key, false),
        Err(_) => Redirect::to("/account").into_response(),
    }
}

/// `POST /account/apikey/rotate`: a new key (the old one stops working at once).
pub async fn rotate_api_key(
    State(s): State<Arc<Services>>,
    Posted(visit, _): Posted<Plain>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.rotate_my_api_key(actor).await {
        Ok(key) => api_key_page(&visit, key, true),
        Err(e) => again(&s, &visit, actor, |p| p.notice = Some(said(&visit, e))).await,
    }
}

fn api_key_page(visit: &Visit, key: String, fresh: bool) -> Response {
    visit.render(
        StatusCode::OK,
        ApiKeyPage {
            c: visit.chrome(),
            key,
            fresh,
        },
    )
}

/// `POST /account/apikey/revoke`.
pub async fn revoke_api_key(
    State(s): State<Arc<Services>>,
    Posted(visit, _): Posted<Plain>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.revoke_my_api_key(actor).await {
        Ok(()) => Redirect::to("/account?done=apikey-revoked").into_response(),
        Err(e) => again(&s, &visit, actor, |p| p.notice = Some(said(&visit, e))).await,
    }
}

#[derive(Template)]
#[template(path = "web/delete_account.html")]
pub struct DeletePage {
    pub c: Chrome,
    pub email: String,
    pub error: Option<String>,
}

/// `GET /account/delete`: the confirmation step.
pub async fn delete_form(State(s): State<Arc<Services>>, visit: Visit) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.my_profile(actor).await {
        Ok(p) => visit.render(
            StatusCode::OK,
            DeletePage {
                c: visit.chrome(),
                email: page(&visit, p).email,
                error: None,
            },
        ),
        Err(_) => visit.to_sign_in(),
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    password: String,
}

/// `POST /account/delete`: with the current password, the account and everything
/// personal hanging off it go (as `DELETE /v1/user`); the browser forgets the session.
pub async fn delete(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<DeleteForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.delete_my_account_confirmed(actor, &f.password).await {
        Ok(()) => {
            let mut res = visit.render(
                StatusCode::OK,
                super::MessagePage {
                    c: Chrome {
                        signed_in: false,
                        ..visit.chrome()
                    },
                    title: visit.t.get("deleted-title"),
                    message: visit.t.get("deleted-message"),
                    link: Some(("/register".to_owned(), visit.t.get("register-title"))),
                },
            );
            res.headers_mut().append(
                axum::http::header::SET_COOKIE,
                visit.rules.set(super::SESSION_COOKIE, "", "Lax", Some(0)),
            );
            res
        }
        Err(e) => {
            let error = match e {
                Error::Unauthenticated(_) => visit.t.get("current-password-wrong"),
                other => said(&visit, other),
            };
            let email = match s.my_profile(actor).await {
                Ok(p) => page(&visit, p).email,
                Err(_) => return visit.to_sign_in(),
            };
            visit.render(
                StatusCode::BAD_REQUEST,
                DeletePage {
                    c: visit.chrome(),
                    email,
                    error: Some(error),
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct EndSessionForm {
    session: String,
}

/// `POST /account/sessions/end`: signs one of the person's other sessions out (a phone
/// left behind); the API's tokens of that session stop working with it.
pub async fn end_session(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<EndSessionForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    let ended = match f.session.parse() {
        Ok(id) => s.end_my_session(actor, id).await,
        Err(_) => Err(Error::not_found("session not found")),
    };
    match ended {
        Ok(()) => Redirect::to("/account?done=session-ended").into_response(),
        Err(e) => again(&s, &visit, actor, |p| p.notice = Some(said(&visit, e))).await,
    }
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
    password: String,
}

/// `POST /account/email`: asks to move the account to another address (a link goes there).
pub async fn change_email(
    State(s): State<Arc<Services>>,
    Posted(visit, f): Posted<EmailForm>,
) -> Response {
    let Some(actor) = signed_in(&visit) else {
        return visit.to_sign_in();
    };
    match s.request_email_change(actor, &f.email, &f.password).await {
        Ok(to) => visit.render(
            StatusCode::OK,
            super::MessagePage {
                c: visit.chrome(),
                title: visit.t.get("check-mail-title"),
                message: visit.t.with("email-change-sent", "address", to),
                link: Some(("/account".to_owned(), visit.t.get("back-to-account"))),
            },
        ),
        Err(e) => {
            let error = match e {
                Error::Unauthenticated(_) => visit.t.get("current-password-wrong"),
                Error::Conflict(_) => visit.t.get("address-taken"),
                Error::TooManyRequests { .. } => visit.t.with("too-many-attempts", "minutes", 15),
                other => said(&visit, other),
            };
            again(&s, &visit, actor, |p| p.email_error = Some(error)).await
        }
    }
}
