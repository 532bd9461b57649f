//! Signing in through an organisation's own OpenID provider, on pages: the sign-in page's
//! button (`/sign-in?org=…`), the start (`/sign-in/organisation/{org}`), the callback the
//! provider sends the browser back to, and linking such a sign-in to one's own account
//! (`/account/link/{org}`, confirmed by the current password). The rules of which account
//! signs in are the API's (docs/federation.md); what the pages add is the binding of the
//! callback to the browser that began the login (docs/web.md).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{cookie, same_secret, Chrome, Posted, Visit};
use crate::services::federation::{CodeExchange, LoginStart, SignInOffer, NO_PASSWORD_TO_CONFIRM};
use crate::services::{Actor, Services};
use accord_domain::federation::ACCOUNT_HAS_THE_ADDRESS;
use accord_domain::{Error, OrganizationId};

/// The state of the login this browser began: the callback is taken only with it, so a
/// callback URL made by someone else's login signs nobody in here (login CSRF).
const FEDERATION_COOKIE: &str = "accord-federation";
/// As long as the server keeps the login's state (`LOGIN_STATE_TTL`).
const FEDERATION_COOKIE_SECONDS: i64 = 600;

/// The organisation's offer, if the path names one with a provider.
pub async fn offer_of(s: &Services, org: &str) -> Option<(OrganizationId, SignInOffer)> {
    let id: OrganizationId = org.parse().ok()?;
    s.federated_sign_in_offer(id)
        .await
        .ok()
        .flatten()
        .map(|o| (id, o))
}

#[derive(Deserialize)]
pub struct StartForm {
    /// The person's name at the provider, handed on as `login_hint` (optional).
    hint: Option<String>,
}

/// `POST /sign-in/organisation/{org}`: to the provider, with this browser's state cookie.
pub async fn start(
    State(s): State<Arc<Services>>,
    Path(org): Path<String>,
    Posted(visit, f): Posted<StartForm>,
) -> Response {
    let Ok(id) = org.parse::<OrganizationId>() else {
        return no_provider(&visit);
    };
    let started = s
        .start_federated_login(
            &Actor::Anonymous,
            id,
            &s.web_federation_callback_uri(id),
            f.hint.as_deref(),
        )
        .await;
    match started {
        Ok(login) => to_provider(&visit, login),
        Err(Error::NotFound(_)) => no_provider(&visit),
        Err(Error::InvalidInput(_)) => visit.told(
            StatusCode::BAD_REQUEST,
            visit.t.get("organisation-sign-in-title"),
            visit.t.get("organisation-hint-invalid"),
            ("/sign-in".to_owned(), visit.t.get("sign-in")),
        ),
        Err(e) => unavailable(&visit, e),
    }
}

fn to_provider(visit: &Visit, login: LoginStart) -> Response {
    let mut res = Redirect::to(&login.authorization_url).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        visit.rules.set(
            FEDERATION_COOKIE,
            &login.state,
            "Lax",
            Some(FEDERATION_COOKIE_SECONDS),
        ),
    );
    res
}

fn no_provider(visit: &Visit) -> Response {
    visit.told(
        StatusCode::NOT_FOUND,
        visit.t.get("organisation-sign-in-title"),
        visit.t.get("no-provider"),
        ("/sign-in".to_owned(), visit.t.get("sign-in")),
    )
}

fn unavailable(visit: &Visit, e: Error) -> Response {
    tracing::warn!(error = %e, "federated sign-in page failed");
    visit.told(
        StatusCode::SERVICE_UNAVAILABLE,
        visit.t.get("organisation-sign-in-title"),
        visit.t.get("try-again-later"),
        ("/sign-in".to_owned(), visit.t.get("sign-in")),
    )
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /sign-in/organisation/{org}/callback`: the provider's answer. Taken only from the
/// browser whose cookie holds the login's state; the code is exchanged as the API's
/// exchange does, and the session it opens replaces this browser's (which ends).
pub async fn callback(
    State(s): State<Arc<Services>>,
    Path(org): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
    visit: Visit,
) -> Response {
    let mut res = callback_answer(&s, &org, q, &headers, &visit).await;
    // The state is single use whatever happened.
    res.headers_mut().append(
        header::SET_COOKIE,
        visit.rules.set(FEDERATION_COOKIE, "", "Lax", Some(0)),
    );
    res
}

async fn callback_answer(
    s: &Services,
    org: &str,
    q: CallbackQuery,
    headers: &HeaderMap,
    visit: &Visit,
) -> Response {
    let title = visit.t.get("organisation-sign-in-title");
    let again = ("/sign-in".to_owned(), visit.t.get("sign-in"));
    let Ok(id) = org.parse::<OrganizationId>() else {
        return no_provider(visit);
    };
    if q.error.is_some() {
        let m = visit.t.get("organisation-cancelled");
        return visit.told(StatusCode::BAD_REQUEST, title, m, again);
    }
    let ours = cookie(headers, &visit.rules.name(FEDERATION_COOKIE));
    let (Some(code), Some(state)) = (q.code, q.state) else {
        let m = visit.t.get("organisation-not-this-browser");
        return visit.told(StatusCode::BAD_REQUEST, title, m, again);
    };
    if !ours.is_some_and(|c| same_secret(&c, &state)) {
        let m = visit.t.get("organisation-not-this-browser");
        return visit.told(StatusCode::BAD_REQUEST, title, m, again);
    }
    let redirect_uri = s.web_federation_callback_uri(id);
    // Anonymous: the state alone says whose login this is (its holder's, when they began
    // it to link), and the cookie says it is this browser's.
    let exchanged = s
        .exchange_federated_code(CodeExchange {
            org: id,
            code: &code,
            redirect_uri: &redirect_uri,
            state: Some(&state),
            source: visit.source,
            caller: &Actor::Anonymous,
        })
        .await;
    match exchanged {
        Ok((profile, tokens)) => {
            let linked = visit
                .session
                .as_ref()
                .and_then(|(a, _)| a.user().ok())
                .is_some_and(|me| me.user_id == profile.user.id);
            // The browser's earlier session is replaced, so it ends rather than lingers.
            if let Some((actor, secret)) = &visit.session {
                if let Err(e) = s.logout(actor, Some(secret)).await {
                    tracing::warn!(error = ?e, "the replaced page session did not end");
                }
            }
            let to = if linked {
                "/account?done=linked"
            } else {
                "/account"
            };
            visit.enter(to, &tokens)
        }
        Err(Error::Conflict(why)) if why == ACCOUNT_HAS_THE_ADDRESS => visit.told(
            StatusCode::CONFLICT,
            title,
            visit.t.get("organisation-address-taken"),
            (
                format!("/sign-in?next=/account/link/{id}"),
                visit.t.get("sign-in-to-link"),
            ),
        ),
        Err(Error::Conflict(_)) => visit.told(
            StatusCode::CONFLICT,
            title,
            visit.t.get("organisation-linked-elsewhere"),
            ("/account".to_owned(), visit.t.get("account-title")),
        ),
        Err(Error::TooManyRequests { retry_after_secs }) => visit.told(
            StatusCode::TOO_MANY_REQUESTS,
            title,
            visit.too_many(retry_after_secs),
            again,
        ),
        Err(
            Error::Unauthenticated(_)
            | Error::Forbidden(_)
            | Error::InvalidInput(_)
            | Error::Rule(_),
        ) => {
            let m = visit.t.get("organisation-refused");
            visit.told(StatusCode::UNAUTHORIZED, title, m, again)
        }
        Err(Error::NotFound(_)) => no_provider(visit),
        Err(Error::Upstream(why)) => {
            tracing::warn!(error = %why, "an organisation's provider failed a page sign-in");
            let m = visit.t.get("organisation-unavailable");
            visit.told(StatusCode::BAD_GATEWAY, title, m, again)
        }
        Err(e) => unavailable(visit, e),
    }
}

#[derive(Template)]
#[template(path = "web/link_organisation.html")]
pub struct LinkPage {
    pub c: Chrome,
    pub org: String,
    pub organisation: String,
    pub error: Option<String>,
}

/// `GET /account/link/{org}`: what linking means, and the password that confirms it.
pub async fn link_form(
    State(s): State<Arc<Services>>,
    Path(org): Path<String>,
    visit: Visit,
) -> Response {
    if visit.session.is_none() {
        return visit.to_sign_in();
    }
    let Some((id, offer)) = offer_of(&s, &org).await else {
        return no_provider(&visit);
    };
    link_page(&visit, id, offer, StatusCode::OK, None)
}

fn link_page(
    visit: &Visit,
    id: OrganizationId,
    offer: SignInOffer,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    visit.render_leading_to(
        status,
        LinkPage {
            c: visit.chrome(),
            org: id.to_string(),
            organisation: offer.organization_name,
            error,
        },
        &offer.provider_origin,
    )
}

#[derive(Deserialize)]
pub struct LinkForm {
    password: String,
    hint: Option<String>,
}

/// `POST /account/link/{org}`: the password checked, to the provider; the login is the
/// signed-in person's, so its identity links to their account and no other.
pub async fn link(
    State(s): State<Arc<Services>>,
    Path(org): Path<String>,
    Posted(visit, f): Posted<LinkForm>,
) -> Response {
    let Some((actor, _)) = &visit.session else {
        return visit.to_sign_in();
    };
    let Some((id, offer)) = offer_of(&s, &org).await else {
        return no_provider(&visit);
    };
    let started = s
        .start_federated_link_confirmed(
            actor,
            id,
            &f.password,
            &s.web_federation_callback_uri(id),
            f.hint.as_deref(),
        )
        .await;
    let error = match started {
        Ok(login) => return to_provider(&visit, login),
        Err(Error::Forbidden(why)) if why == NO_PASSWORD_TO_CONFIRM => {
            visit.t.get("link-needs-password")
        }
        Err(Error::Unauthenticated(_)) => visit.t.get("current-password-wrong"),
        Err(Error::InvalidInput(_)) => visit.t.get("organisation-hint-invalid"),
        Err(Error::TooManyRequests { retry_after_secs }) => visit.too_many(retry_after_secs),
        Err(e) => return unavailable(&visit, e),
    };
    link_page(&visit, id, offer, StatusCode::BAD_REQUEST, Some(error))
}
