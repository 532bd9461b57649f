//! Federated login: an organisation's own OpenID Connect provider signs its users in to
//! Accord. See `docs/federation.md`.
//!
//! | operation | who may |
//! |---|---|
//! | add, read, update, delete the provider; its redirect URI | Admin of the organisation |
//! | start a login (authorize), exchange a code, the callback | anyone (the provider authenticates) |
//! | exchange a code to link the identity to one's own account | the signed-in user |
//! | federated logout | the signed-in user, for their own session |
//!
//! No unit of work stays open across a call to the provider.

use std::net::IpAddr;

use accord_domain::access::OrgAction;
use accord_domain::federation::{
    choose_account, link_target, normalize_scope, AccountChoice, ExternalClaims, ExternalIdentity,
    IdentityProvider, LoginState, ProviderSettings, TokenAuthMethod, LOGIN_STATE_TTL,
};
use accord_domain::identity::{Email, User, UserStatus};
use accord_domain::{Error, OrganizationId, Result, UserId};
use accord_store::Mode;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, JsonWebKeySetUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, RequestTokenError, Scope,
    TokenResponse as _, TokenUrl, UserInfoUrl,
};

use super::identity::{TokenPair, UserProfile};
use super::provider_http::error_chain;
use super::tokens::{random_secret, secret_hash};
use super::{Actor, Services};

const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";
const SESSION_CLIENT_PREFIX: &str = "idp:";
const ASYMMETRIC_ALGORITHMS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The spec's provider body, as sent: absent fields are `None`.
#[derive(Debug, Default, Clone)]
pub struct ProviderInput {
    pub issuer: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub logout_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub jwks_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub validate_signature: Option<bool>,
    pub disable_userinfo: Option<bool>,
    pub default_scope: Option<String>,
    /// Ours: the issuer's `/.well-known/openid-configuration`, filling what is left empty.
    pub discovery_url: Option<String>,
    /// Ours: `client_secret_basic` or `client_secret_post`; otherwise as discovery says.
    pub token_endpoint_auth_method: Option<String>,
}

/// An account without a password cannot confirm a link with one.
pub const NO_PASSWORD_TO_CONFIRM: &str =
    "this account has no password to confirm the link with; set one first (forgot password)";

/// The sign-in page's offer for one organisation.
pub struct SignInOffer {
    pub organization_name: String,
    /// `scheme://host[:port]` of the provider's authorization endpoint.
    pub provider_origin: String,
}

/// A login begun at the authorize endpoint: where to send the browser, and the state
/// that comes back with the code.
pub struct LoginStart {
    pub authorization_url: String,
    pub state: String,
}

/// A code to exchange, with where it came from.
pub struct CodeExchange<'a> {
    pub org: OrganizationId,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub state: Option<&'a str>,
    pub source: IpAddr,
    /// A signed-in caller links the outside identity to their own account.
    pub caller: &'a Actor,
}

/// Whom the provider vouched for, after every check.
struct Verified {
    issuer: String,
    claims: ExternalClaims,
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::Unauthenticated(format!("federated login refused: {why}"))
}

/// The provider failed us. What failed (the OS's or the library's words) goes to the log
/// only: told to the caller, it would make a port scanner of the configuration.
fn upstream(what: &str, detail: impl std::fmt::Display) -> Error {
    tracing::warn!(endpoint = what, error = ?detail.to_string(), "identity provider call failed");
    Error::Upstream(format!(
        "the identity provider's {what} could not be reached or gave no usable answer"
    ))
}

impl Services {
    /// The callback address organisations register at their provider.
    pub fn federation_callback_uri(&self, org: OrganizationId) -> String {
        format!(
            "{}/v1/organizations/{org}/idp/open-id/callback",
            self.config.public_url
        )
    }

    async fn org_for_configuration(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<OrganizationId> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "configure the identity provider",
            )
            .await?;
        tx.commit().await?;
        Ok(org.id)
    }

    pub async fn identity_provider(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<ProviderSettings> {
        let org = self.org_for_configuration(actor, org).await?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let provider = tx.identity_provider(org).await?;
        tx.commit().await?;
        provider
            .map(|p| p.settings)
            .ok_or_else(|| Error::not_found("this organisation has no identity provider"))
    }

    /// The callbacks to register at the provider: the API's, and the pages' (docs/web.md).
    pub async fn idp_redirect_uri(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<(String, String)> {
        let org = self.org_for_configuration(actor, org).await?;
        Ok((
            self.federation_callback_uri(org),
            self.web_federation_callback_uri(org),
        ))
    }

    /// Where the provider sends the browser back when the login began on a page.
    pub fn web_federation_callback_uri(&self, org: OrganizationId) -> String {
        format!(
            "{}/sign-in/organisation/{org}/callback",
            self.config.public_url
        )
    }

    /// What the sign-in page offers for an organisation, to anyone: its name and the
    /// origin of its provider's sign-in page (the page's forms may lead there). `None`
    /// when the organisation is unknown or has no provider.
    pub async fn federated_sign_in_offer(
        &self,
        org: OrganizationId,
    ) -> Result<Option<SignInOffer>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let provider = tx.identity_provider(org).await?;
        let organization = match provider {
            Some(_) => tx.organization_by_id(org).await?,
            None => None,
        };
        tx.commit().await?;
        Ok(provider.zip(organization).and_then(|(p, o)| {
            let url = reqwest::Url::parse(&p.settings.authorization_url).ok()?;
            Some(SignInOffer {
                organization_name: o.name,
                provider_origin: url.origin().ascii_serialization(),
            })
        }))
    }

    /// Starts a login that links the outside identity to the caller's own account, once
    /// their current password confirms it: a session left open, or stolen, is not enough
    /// to add a way into the account. An account without a password links nothing here.
    pub async fn start_federated_link_confirmed(
        &self,
        actor: &Actor,
        org: OrganizationId,
        password: &str,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<LoginStart> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let user = tx.user_by_id(me.user_id).await?;
        tx.commit().await?;
        let user = user.ok_or_else(|| Error::Unauthenticated("account no longer exists".into()))?;
        if user.password_hash.is_none() {
            return Err(Error::Forbidden(NO_PASSWORD_TO_CONFIRM.into()));
        }
        self.confirm_current_password(&user, password).await?;
        self.start_federated_login(actor, org, redirect_uri, login_hint)
            .await
    }

    /// POST (`replace` false: 409 if one exists) or PUT (`replace` true: 404 if none).
    /// On PUT an absent or masked `clientSecret` keeps the stored one.
    pub async fn put_identity_provider(
        &self,
        actor: &Actor,
        org: OrganizationId,
        input: ProviderInput,
        replace: bool,
    ) -> Result<ProviderSettings> {
        let org = self.org_for_configuration(actor, org).await?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let existing = tx.identity_provider(org).await?;
        tx.commit().await?;
        match (&existing, replace) {
            (Some(_), false) => {
                return Err(Error::Conflict(
                    "this organisation already has an identity provider; PUT replaces it".into(),
                ))
            }
            (None, true) => {
                return Err(Error::not_found(
                    "this organisation has no identity provider",
                ))
            }
            _ => {}
        }
        let secret = input
            .client_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != accord_domain::federation::MASKED_SECRET)
            .map(str::to_owned);
        if secret
            .as_ref()
            .is_some_and(|s| s.len() > 4096 || s.chars().any(char::is_control))
        {
            return Err(Error::invalid("clientSecret is not a valid secret"));
        }
        if secret.is_none() && existing.is_none() {
            return Err(Error::invalid("clientSecret is required"));
        }
        let settings = self.settings_from(input).await?;
        let sealed = match (&secret, &existing) {
            (Some(s), _) => self.sealer.seal(s, &org.to_string())?,
            (None, Some(p)) if settings.same_endpoints(&p.settings) => {
                p.client_secret_sealed.clone()
            }
            _ => {
                return Err(Error::invalid(
                    "clientSecret is required when the issuer or an endpoint URL changes",
                ))
            }
        };
        let now = self.clock.now();
        let provider = IdentityProvider {
            organization_id: org,
            settings,
            client_secret_sealed: sealed,
            created_at: existing.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        if replace {
            if !tx.update_identity_provider(&provider).await? {
                return Err(Error::not_found(
                    "this organisation has no identity provider",
                ));
            }
        } else {
            tx.insert_identity_provider(&provider)
                .await
                .map_err(|e| match e {
                    Error::Conflict(_) => Error::Conflict(
                        "this organisation already has an identity provider; PUT replaces it"
                            .into(),
                    ),
                    other => other,
                })?;
        }
        let action = if replace { "updated" } else { "added" };
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor.user()?.user_id.to_string(),
            &format!("identity provider {action}: {}", provider.settings.issuer),
        )
        .await?;
        tx.commit().await?;
        Ok(provider.settings)
    }

    pub async fn delete_identity_provider(&self, actor: &Actor, org: OrganizationId) -> Result<()> {
        let org = self.org_for_configuration(actor, org).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if !tx.delete_identity_provider(org).await? {
            return Err(Error::not_found(
                "this organisation has no identity provider",
            ));
        }
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor.user()?.user_id.to_string(),
            "identity provider removed",
        )
        .await?;
        tx.commit().await
    }

    /// The body's settings, completed from discovery when asked, then validated.
    async fn settings_from(&self, input: ProviderInput) -> Result<ProviderSettings> {
        let text = |v: Option<String>| v.unwrap_or_default().trim().to_owned();
        let mut s = ProviderSettings {
            issuer: text(input.issuer),
            authorization_url: text(input.authorization_url),
            token_url: text(input.token_url),
            logout_url: text(input.logout_url),
            client_id: text(input.client_id),
            jwks_url: text(input.jwks_url),
            userinfo_url: text(input.userinfo_url),
            validate_signature: input.validate_signature.unwrap_or(true),
            disable_userinfo: input.disable_userinfo.unwrap_or(false),
            default_scope: normalize_scope(input.default_scope.as_deref().unwrap_or(""))?,
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
        };
        let explicit_method = input
            .token_endpoint_auth_method
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(TokenAuthMethod::parse)
            .transpose()?;
        let discovery = text(input.discovery_url);
        if !discovery.is_empty() {
            let supported = self.discover_into(&mut s, &discovery).await?;
            s.token_auth_method = TokenAuthMethod::from_supported(supported.as_deref())?;
        }
        if let Some(m) = explicit_method {
            s.token_auth_method = m;
        }
        s.validated(self.config.oidc_allow_http)
    }

    /// Fills the empty settings from the provider's discovery document; answers the token
    /// endpoint authentication methods it lists.
    async fn discover_into(
        &self,
        s: &mut ProviderSettings,
        discovery_url: &str,
    ) -> Result<Option<Vec<String>>> {
        accord_domain::federation::check_provider_url(
            "discoveryUrl",
            discovery_url,
            self.config.oidc_allow_http,
        )?;
        let issuer = discovery_url
            .strip_suffix(DISCOVERY_SUFFIX)
            .ok_or_else(|| {
                Error::invalid(format!("discoveryUrl must end with {DISCOVERY_SUFFIX}"))
            })?;
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|_| Error::invalid("discoveryUrl is not a valid URL"))?;
        let http = &self.provider_http;
        // The library checks that the document names the issuer it was fetched for.
        let meta = ProviderMetadataWithLogout::discover_async(issuer, http)
            .await
            .map_err(|e| {
                tracing::warn!(error = ?error_chain(&e), "OpenID discovery failed");
                Error::invalid(format!(
                    "discovery at {discovery_url} failed: the provider could not be reached, or \
                     its answer is not a discovery document of this issuer (the server's log \
                     has the detail)"
                ))
            })?;
        let fill = |field: &mut String, value: Option<String>| {
            if field.is_empty() {
                *field = value.unwrap_or_default();
            }
        };
        fill(&mut s.issuer, Some(meta.issuer().to_string()));
        fill(
            &mut s.authorization_url,
            Some(meta.authorization_endpoint().to_string()),
        );
        fill(
            &mut s.token_url,
            meta.token_endpoint().map(|u| u.to_string()),
        );
        fill(&mut s.jwks_url, Some(meta.jwks_uri().to_string()));
        fill(
            &mut s.userinfo_url,
            meta.userinfo_endpoint().map(|u| u.to_string()),
        );
        fill(
            &mut s.logout_url,
            meta.additional_metadata()
                .end_session_endpoint
                .as_ref()
                .map(|u| u.to_string()),
        );
        Ok(meta.token_endpoint_auth_methods_supported().map(|list| {
            list.iter()
                .filter_map(|m| match m {
                    CoreClientAuthMethod::ClientSecretBasic => Some("client_secret_basic"),
                    CoreClientAuthMethod::ClientSecretPost => Some("client_secret_post"),
                    _ => None,
                })
                .map(str::to_owned)
                .collect()
        }))
    }

    async fn provider_of(&self, org: OrganizationId) -> Result<IdentityProvider> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let provider = tx.identity_provider(org).await?;
        tx.commit().await?;
        provider.ok_or_else(|| Error::not_found("this organisation has no identity provider"))
    }

    /// Starts a login: state, nonce and PKCE verifier are remembered (hashed state, single
    /// use, ten minutes); the answer is the provider's authorization URL.
    /// A signed-in caller's login belongs to them: its code may link the outside identity
    /// to their account, and to no other.
    pub async fn start_federated_login(
        &self,
        caller: &Actor,
        org: OrganizationId,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<LoginStart> {
        let started_by = match caller {
            Actor::User(me) => Some(me.user_id),
            Actor::Anonymous | Actor::RestClient(_) => None,
        };
        let provider = self.provider_of(org).await?;
        let redirect = parse_redirect_uri(redirect_uri)?;
        let client = CoreClient::new(
            ClientId::new(provider.settings.client_id.clone()),
            issuer_url(&provider.settings)?,
            CoreJsonWebKeySet::new(vec![]),
        )
        .set_auth_uri(
            AuthUrl::new(provider.settings.authorization_url.clone()).map_err(Error::internal)?,
        )
        .set_redirect_uri(redirect);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = random_secret();
        let nonce = random_secret();
        let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || Nonce::new(nonce_for_url),
            )
            .set_pkce_challenge(challenge);
        for scope in provider.settings.default_scope.split_whitespace() {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.to_owned()));
            }
        }
        if let Some(hint) = login_hint.map(str::trim).filter(|h| !h.is_empty()) {
            if hint.len() > 256 || hint.chars().any(char::is_control) {
                return Err(Error::invalid("login_hint is not valid"));
            }
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.url();
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.insert_login_state(
            &LoginState {
                state_hash: secret_hash(&state),
                organization_id: provider.organization_id,
                nonce,
                pkce_verifier: verifier.secret().clone(),
                redirect_uri: redirect_uri.to_owned(),
                expires_at: now + LOGIN_STATE_TTL,
                started_by,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(LoginStart {
            authorization_url: url.to_string(),
            state,
        })
    }

    /// Exchanges an authorization code for an Accord session: 401 for every code, token
    /// or state that does not check out, and then nothing is created. Failures count
    /// against the source address like failed logins.
    pub async fn exchange_federated_code(
        &self,
        x: CodeExchange<'_>,
    ) -> Result<(UserProfile, TokenPair)> {
        let attempt = self
            .begin_sign_in(x.source, crate::metrics::SignInKind::federated, None)
            .await?;
        let outcome = self.exchange_unthrottled(&x).await;
        // Only a code, token or state that did not check out stays counted.
        if !matches!(outcome, Err(Error::Unauthenticated(_))) {
            let mut tx = self.store.begin(Mode::Write).await?;
            self.sign_in_succeeded(tx.as_mut(), &attempt).await?;
            tx.commit().await?;
        }
        outcome
    }

    async fn exchange_unthrottled(&self, x: &CodeExchange<'_>) -> Result<(UserProfile, TokenPair)> {
        let provider = self.provider_of(x.org).await?;
        let org = provider.organization_id;
        let code = x.code.trim();
        if code.is_empty() || code.len() > 4096 {
            return Err(Error::invalid("code is required"));
        }
        let redirect = parse_redirect_uri(x.redirect_uri)?;
        let now = self.clock.now();
        // The state is spent before the provider is asked: a replay fails even when the
        // first attempt is still on its way.
        let login = match x.state.map(str::trim).filter(|s| !s.is_empty()) {
            Some(state) => {
                let mut tx = self.store.begin(Mode::Write).await?;
                let login = tx.take_login_state(&secret_hash(state)).await?;
                tx.commit().await?;
                match login {
                    Some(l)
                        if l.organization_id == org
                            && l.expires_at > now
                            && l.redirect_uri == x.redirect_uri =>
                    {
                        Some(l)
                    }
                    _ => return Err(refused("unknown, used or expired state")),
                }
            }
            None => None,
        };
        let caller = match x.caller {
            Actor::User(me) => Some(me.user_id),
            Actor::Anonymous | Actor::RestClient(_) => None,
        };
        // Decided before the provider is asked: a refused link spends nothing there.
        let target = link_target(caller, login.as_ref())?;
        let verified = self
            .verify_with_provider(&provider, code, redirect, login.as_ref())
            .await?;
        self.sign_in_federated(org, verified, target).await
    }

    /// Token endpoint, ID token checks, userinfo.
    async fn verify_with_provider(
        &self,
        provider: &IdentityProvider,
        code: &str,
        redirect: RedirectUrl,
        login: Option<&LoginState>,
    ) -> Result<Verified> {
        let s = &provider.settings;
        let secret = self.sealer.open(
            &provider.client_secret_sealed,
            &provider.organization_id.to_string(),
        )?;
        let http = &self.provider_http;
        let jwks = if s.validate_signature {
            let url = JsonWebKeySetUrl::new(s.jwks_url.clone()).map_err(Error::internal)?;
            CoreJsonWebKeySet::fetch_async(&url, http)
                .await
                .map_err(|e| upstream("key set (jwksUrl)", error_chain(&e)))?
        } else {
            CoreJsonWebKeySet::new(vec![])
        };
        let client = CoreClient::new(ClientId::new(s.client_id.clone()), issuer_url(s)?, jwks)
            .set_client_secret(ClientSecret::new(secret))
            .set_auth_uri(AuthUrl::new(s.authorization_url.clone()).map_err(Error::internal)?)
            .set_token_uri(TokenUrl::new(s.token_url.clone()).map_err(Error::internal)?)
            .set_auth_type(match s.token_auth_method {
                TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
                TokenAuthMethod::ClientSecretPost => AuthType::RequestBody,
            })
            .set_redirect_uri(redirect);
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(l) = login {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(l.pkce_verifier.clone()));
        }
        let tokens = request.request_async(http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                refused(format!("the provider refused the code ({})", r.error()))
            }
            RequestTokenError::Parse(e, _) => upstream("token endpoint", e),
            other => upstream("token endpoint", error_chain(&other)),
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| refused("the provider returned no ID token"))?;
        let clock = self.clock.clone();
        // Every public-key algorithm (the library's default is RS256 alone; Okta, Auth0
        // and others may sign with ES256 or PS256). Never `none`, never HMAC keyed by
        // the client secret.
        let mut verifier = client
            .id_token_verifier()
            .set_time_fn(move || clock.now())
            .set_allowed_algs(ASYMMETRIC_ALGORITHMS);
        if !s.validate_signature {
            verifier = verifier.insecure_disable_signature_check();
        }
        let claims = match login {
            Some(l) => id_token.claims(&verifier, &Nonce::new(l.nonce.clone())),
            // The spec's flow: the client made the authorization request and checks its
            // own nonce (docs/federation.md).
            None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
        }
        .map_err(|e| refused(format!("invalid ID token: {e}")))?;
        let subject = claims.subject().clone();
        let mut external = ExternalClaims {
            subject: subject.to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: display_name(
                localized(claims.name()),
                localized(claims.given_name()),
                localized(claims.family_name()),
            ),
        };
        if !s.disable_userinfo && !s.userinfo_url.is_empty() {
            let info: CoreUserInfoClaims = client
                .clone()
                .set_user_info_url(
                    UserInfoUrl::new(s.userinfo_url.clone()).map_err(Error::internal)?,
                )
                .user_info(
                    AccessToken::new(tokens.access_token().secret().clone()),
                    Some(subject),
                )
                .request_async(http)
                .await
                .map_err(|e| match e {
                    openidconnect::UserInfoError::ClaimsVerification(e) => {
                        refused(format!("userinfo does not match the ID token: {e}"))
                    }
                    other => upstream("userinfo endpoint", error_chain(&other)),
                })?;
            // Userinfo is the fuller answer; where it gives an address, its verified flag goes with it.
            if let Some(email) = info.email() {
                external.email = Some(email.to_string());
                external.email_verified = info.email_verified().unwrap_or(false);
            }
            let name = display_name(
                localized(info.name()),
                localized(info.given_name()),
                localized(info.family_name()),
            );
            if name.is_some() {
                external.name = name;
            }
        }
        Ok(Verified {
            issuer: s.issuer.clone(),
            claims: external,
        })
    }

    /// Finds or creates the account, links it, subscribes it, opens a session. `target`:
    /// the account whose holder started this login, to link the identity to.
    async fn sign_in_federated(
        &self,
        org: OrganizationId,
        v: Verified,
        target: Option<UserId>,
    ) -> Result<(UserProfile, TokenPair)> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let organization = tx
            .organization_by_id(org)
            .await?
            .ok_or_else(|| Error::not_found("organisation not found"))?;
        let linked_id = tx
            .external_identity_user(org, &v.issuer, &v.claims.subject)
            .await?;
        let email = v.claims.email.as_deref().and_then(|e| Email::parse(e).ok());
        let link = |user_id: UserId| ExternalIdentity {
            organization_id: org,
            issuer: v.issuer.clone(),
            subject: v.claims.subject.clone(),
            user_id,
            created_at: now,
        };

        let user = match target {
            // Linking by the account's holder: their session started this login.
            Some(me) => {
                if linked_id.is_some_and(|id| id != me) {
                    return Err(Error::Conflict(
                        "this identity is linked to another account".into(),
                    ));
                }
                if linked_id.is_none() {
                    tx.insert_external_identity(&link(me)).await?;
                }
                tx.user_by_id(me)
                    .await?
                    .ok_or_else(|| refused("account no longer exists"))?
            }
            None => {
                let linked = match linked_id {
                    Some(id) => tx.user_by_id(id).await?,
                    None => None,
                };
                let same_email = match (&linked, &email) {
                    (None, Some(e)) => tx.user_by_email_key(&e.key()).await?,
                    _ => None,
                };
                match choose_account(linked.as_ref(), same_email.as_ref(), &v.claims)? {
                    AccountChoice::Linked(_) => linked.ok_or_else(|| refused("account gone"))?,
                    AccountChoice::Create => {
                        let user = User {
                            name: v.claims.name.clone().unwrap_or_default(),
                            ..User::new(email.clone(), UserStatus::Enabled, now)
                        };
                        tx.insert_user(&user).await?;
                        tx.insert_external_identity(&link(user.id)).await?;
                        user
                    }
                }
            }
        };
        if !user.status.may_log_in() {
            return Err(refused("this account is disabled"));
        }
        self.subscribe_in(tx.as_mut(), &organization, user.id, now)
            .await?;
        self.log_action(
            tx.as_mut(),
            org,
            "federated_login",
            &user.id.to_string(),
            "signed in through the organisation's identity provider",
        )
        .await?;
        tx.set_last_visit(user.id, now).await?;
        let tokens = self
            .open_session(tx.as_mut(), user.id, now, &session_client(org))
            .await?;
        let mut user = user;
        user.last_visit = Some(now);
        let profile = self.profile_of(tx.as_mut(), user, true).await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok((profile, tokens))
    }

    /// Ends the caller's session. When it was opened through this organisation's provider
    /// and the provider has a logout URL, answers the URL the browser must visit to end
    /// the provider's own session (the provider's session lives in the browser's cookies,
    /// out of the server's reach).
    pub async fn federated_logout(
        &self,
        actor: &Actor,
        org: OrganizationId,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Option<String>> {
        let me = actor.user()?;
        let Some(session_id) = me.session_id else {
            return Err(Error::invalid(
                "an APIKey has no session to end; log out with the access token",
            ));
        };
        let after = post_logout_redirect_uri
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| parse_redirect_uri(u).map(|_| u.to_owned()))
            .transpose()?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        if tx.organization_by_id(org).await?.is_none() {
            return Err(Error::not_found("organisation not found"));
        }
        let session = tx.session_by_id(session_id).await?;
        let provider = tx.identity_provider(org).await?;
        tx.revoke_session(session_id, now).await?;
        tx.commit().await?;
        let federated_here = session.is_some_and(|s| s.client_id == session_client(org));
        Ok(match provider {
            Some(p) if federated_here && !p.settings.logout_url.is_empty() => {
                let mut url =
                    reqwest::Url::parse(&p.settings.logout_url).map_err(Error::internal)?;
                {
                    let mut q = url.query_pairs_mut();
                    q.append_pair("client_id", &p.settings.client_id);
                    if let Some(after) = &after {
                        q.append_pair("post_logout_redirect_uri", after);
                    }
                }
                Some(url.to_string())
            }
            _ => None,
        })
    }
}

fn session_client(org: OrganizationId) -> String {
    format!("{SESSION_CLIENT_PREFIX}{org}")
}

fn issuer_url(s: &ProviderSettings) -> Result<IssuerUrl> {
    IssuerUrl::new(s.issuer.clone()).map_err(Error::internal)
}

/// Where the provider sends the browser back: an absolute http(s) URL without fragment
/// (the provider checks it against the URIs registered with it).
fn parse_redirect_uri(raw: &str) -> Result<RedirectUrl> {
    let raw = raw.trim();
    let ok = raw.len() <= 2048
        && reqwest::Url::parse(raw).is_ok_and(|u| {
            matches!(u.scheme(), "https" | "http") && u.host().is_some() && u.fragment().is_none()
        });
    if !ok {
        return Err(Error::invalid(
            "redirect_uri must be an absolute http(s) URL without a fragment",
        ));
    }
    RedirectUrl::new(raw.to_owned()).map_err(|_| Error::invalid("redirect_uri is not a URL"))
}

/// A claim's value in the default language.
fn localized<T: std::ops::Deref<Target = String>>(
    claim: Option<&openidconnect::LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| v.to_string())
}

fn display_name(
    name: Option<String>,
    given: Option<String>,
    family: Option<String>,
) -> Option<String> {
    let name = name.filter(|n| !n.trim().is_empty()).or_else(|| {
        let joined = [given, family]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(joined).filter(|j| !j.trim().is_empty())
    })?;
    // The same limit and cleaning as a name typed at registration.
    accord_domain::identity::parse_profile_text(
        "name",
        &name,
        accord_domain::identity::NAME_MAX_CHARS,
    )
    .ok()
}
