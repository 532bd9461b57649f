//! Federated login through an organisation's own OpenID Connect provider: the provider's
//! settings and their rules, the short-lived state of a login in progress, and how an
//! outside identity becomes an Accord account. See `docs/federation.md`.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};
use crate::identity::User;
use crate::{OrganizationId, UserId};

/// How long a login started at the authorize endpoint may take to come back.
pub const LOGIN_STATE_TTL: Duration = Duration::minutes(10);

/// What GET shows instead of a stored client secret.
pub const MASKED_SECRET: &str = "********";

/// The scope asked for when the organisation sets none.
pub const DEFAULT_SCOPE: &str = "openid email profile";

const URL_MAX: usize = 2048;
const TEXT_MAX: usize = 1024;

/// How Accord authenticates itself at the provider's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    /// HTTP Basic with the client ID and secret: OpenID Connect's default.
    ClientSecretBasic,
    /// The client ID and secret in the form body.
    ClientSecretPost,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim() {
            "client_secret_basic" => Ok(TokenAuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(TokenAuthMethod::ClientSecretPost),
            _ => Err(Error::invalid(
                "tokenEndpointAuthMethod must be client_secret_basic or client_secret_post",
            )),
        }
    }

    /// The method to use given what a provider's discovery document lists
    /// (`token_endpoint_auth_methods_supported`; absent means Basic, per OpenID Connect
    /// Discovery).
    pub fn from_supported(supported: Option<&[String]>) -> Result<Self> {
        let Some(list) = supported else {
            return Ok(TokenAuthMethod::ClientSecretBasic);
        };
        for method in [
            TokenAuthMethod::ClientSecretBasic,
            TokenAuthMethod::ClientSecretPost,
        ] {
            if list.iter().any(|m| m == method.as_str()) {
                return Ok(method);
            }
        }
        Err(Error::invalid(
            "the provider supports neither client_secret_basic nor client_secret_post",
        ))
    }
}

/// An organisation's OpenID provider as stored. The client secret is sealed (encrypted);
/// only the services can open it, and only to call the token endpoint.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    pub organization_id: OrganizationId,
    pub settings: ProviderSettings,
    pub client_secret_sealed: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The provider settings of the spec's body (without the secret), validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    pub issuer: String,
    pub authorization_url: String,
    pub token_url: String,
    pub logout_url: String,
    pub client_id: String,
    pub jwks_url: String,
    pub userinfo_url: String,
    pub validate_signature: bool,
    pub disable_userinfo: bool,
    pub default_scope: String,
    pub token_auth_method: TokenAuthMethod,
}

impl ProviderSettings {
    /// Checks every rule, trimming as it goes. `allow_http` is the operator's
    /// `ACCORD_OIDC_ALLOW_HTTP`; without it plain http is accepted for loopback hosts only.
    pub fn validated(mut self, allow_http: bool) -> Result<Self> {
        let url = |field: &str, value: &mut String, required: bool| -> Result<()> {
            *value = value.trim().to_owned();
            if value.is_empty() {
                return if required {
                    Err(Error::invalid(format!("{field} is required")))
                } else {
                    Ok(())
                };
            }
            check_provider_url(field, value, allow_http)
        };
        url("issuer", &mut self.issuer, true)?;
        url("authorizationUrl", &mut self.authorization_url, true)?;
        url("tokenUrl", &mut self.token_url, true)?;
        url("logoutUrl", &mut self.logout_url, false)?;
        url("jwksUrl", &mut self.jwks_url, self.validate_signature)?;
        url(
            "userInfoUrl",
            &mut self.userinfo_url,
            !self.disable_userinfo,
        )?;
        self.client_id = self.client_id.trim().to_owned();
        if self.client_id.is_empty() {
            return Err(Error::invalid("clientId is required"));
        }
        if self.client_id.len() > TEXT_MAX || self.client_id.chars().any(char::is_control) {
            return Err(Error::invalid("clientId is not a valid client ID"));
        }
        self.default_scope = normalize_scope(&self.default_scope)?;
        Ok(self)
    }
}

impl ProviderSettings {
    /// Whether `self` sends the client secret to the same places as `before`: the same
    /// issuer and endpoints. A configuration that moves any of them must be given the
    /// secret again, or whoever may change the URLs could have the stored secret sent to a
    /// server of theirs.
    pub fn same_endpoints(&self, before: &ProviderSettings) -> bool {
        let urls = |s: &ProviderSettings| {
            [
                s.issuer.clone(),
                s.authorization_url.clone(),
                s.token_url.clone(),
                s.logout_url.clone(),
                s.jwks_url.clone(),
                s.userinfo_url.clone(),
            ]
        };
        urls(self) == urls(before)
    }
}

/// An absolute https URL; http only for a loopback host or when the operator allows it.
pub fn check_provider_url(field: &str, value: &str, allow_http: bool) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid(format!("{field} {why}")));
    if value.len() > URL_MAX || value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("is not a valid URL");
    }
    let Ok(url) = url::Url::parse(value) else {
        return bad("must be an absolute URL");
    };
    if url.cannot_be_a_base() || !url.username().is_empty() || url.password().is_some() {
        return bad("must be an absolute URL without credentials");
    }
    if url.fragment().is_some() {
        return bad("must not have a fragment");
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return bad("must name a host"),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback || allow_http => Ok(()),
        "http" => bad("must use https (plain http only for loopback addresses, or with ACCORD_OIDC_ALLOW_HTTP)"),
        _ => bad("must be an https URL"),
    }
}

/// Space-separated scope tokens, `openid` first and once; empty means [`DEFAULT_SCOPE`].
pub fn normalize_scope(raw: &str) -> Result<String> {
    let mut scopes: Vec<&str> = vec!["openid"];
    for s in raw.split_whitespace() {
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if !s
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return Err(Error::invalid(
                "defaultScope holds a character a scope may not have",
            ));
        }
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.len() == 1 && raw.trim().is_empty() {
        return Ok(DEFAULT_SCOPE.to_owned());
    }
    let joined = scopes.join(" ");
    if joined.len() > TEXT_MAX {
        return Err(Error::invalid("defaultScope is too long"));
    }
    Ok(joined)
}

/// A login begun at the authorize endpoint, kept until the code comes back (once).
#[derive(Debug, Clone)]
pub struct LoginState {
    /// SHA-256 of the `state` parameter: the parameter itself is never stored.
    pub state_hash: String,
    pub organization_id: OrganizationId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    /// The account whose session started the login, if any: only that account may link
    /// the outside identity it brings back.
    pub started_by: Option<UserId>,
}

/// An outside identity, `(issuer, subject)`, and the account it signs in to.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub created_at: DateTime<Utc>,
}

/// Who the provider says signed in, from the ID token and (unless disabled) userinfo.
#[derive(Debug, Clone, Default)]
pub struct ExternalClaims {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Which account an outside identity signs in to.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountChoice {
    /// Linked before (through this organisation's provider): that account.
    Linked(UserId),
    /// Not linked, no account has the address (or the provider gave none): a new account.
    Create,
}

/// Who may be linked by an exchange: the account whose session started the login at
/// `authorize` (the login state records it), and only that account. `caller` is the
/// account whose session made the exchange, if any; `login` the state the code came back
/// with (`None`: the client made the authorization request itself). A signed-in exchange
/// without a state its own session started links nothing: otherwise a code the attacker
/// minted for their own outside identity, passed to the victim's client, would link the
/// attacker's identity to the victim's account.
pub fn link_target(caller: Option<UserId>, login: Option<&LoginState>) -> Result<Option<UserId>> {
    let started_by = login.and_then(|l| l.started_by);
    match (caller, started_by) {
        (Some(me), Some(owner)) if me == owner => Ok(Some(me)),
        (Some(_), _) => Err(Error::Forbidden(
            "to link an outside identity to your account, start the login at authorize with \
             this account's access token and exchange the code with the state it answered"
                .into(),
        )),
        (None, owner) => Ok(owner),
    }
}

/// The linking rule for an exchange that links to no account (`link_target` gave none).
/// An identity linked before signs in to its account. An account that merely has the
/// address the provider claims is never taken: a provider is configured by one
/// organisation's Admin, who could claim anyone's address, `email_verified` included, and
/// a subscription, a role or a home organisation proves nothing about who holds the
/// mailbox. Its holder links it themselves (their session starts the login).
pub fn choose_account(
    linked: Option<&User>,
    same_email: Option<&User>,
    _claims: &ExternalClaims,
) -> Result<AccountChoice> {
    if let Some(u) = linked {
        return if u.status.may_log_in() {
            Ok(AccountChoice::Linked(u.id))
        } else {
            Err(Error::Unauthenticated("this account is disabled".into()))
        };
    }
    match same_email {
        None => Ok(AccountChoice::Create),
        Some(_) => Err(Error::Conflict(ACCOUNT_HAS_THE_ADDRESS.into())),
    }
}

/// The answer when the provider's address belongs to an account not linked to the identity.
pub const ACCOUNT_HAS_THE_ADDRESS: &str = "an account with this email exists and is not linked \
     to this identity; its holder links them by signing in (password), starting the login at \
     authorize with that session's access token, and exchanging the code with the same token";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Email, UserStatus};

    fn settings() -> ProviderSettings {
        ProviderSettings {
            issuer: "https://idp.example.com".into(),
            authorization_url: "https://idp.example.com/auth".into(),
            token_url: "https://idp.example.com/token".into(),
            logout_url: String::new(),
            client_id: " accord ".into(),
            jwks_url: "https://idp.example.com/jwks".into(),
            userinfo_url: "https://idp.example.com/me".into(),
            validate_signature: true,
            disable_userinfo: false,
            default_scope: String::new(),
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
        }
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://login.microsoftonline.com/t/v2.0",
            "http://127.0.0.1:4000/auth",
            "http://[::1]:4000/auth",
            "http://localhost/auth",
        ] {
            assert!(check_provider_url("tokenUrl", ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/token",
            "/token",
            "ftp://idp.example.com/token",
            "https://user:pw@idp.example.com/token",
            "https://idp.example.com/token#x",
            "https://idp.example.com/to ken",
            "javascript:alert(1)",
            "",
        ] {
            assert!(check_provider_url("tokenUrl", bad, false).is_err(), "{bad}");
        }
        assert!(check_provider_url("tokenUrl", "http://idp.internal/token", true).is_ok());
    }

    #[test]
    fn settings_are_trimmed_and_checked() {
        let s = settings().validated(false).unwrap();
        assert_eq!(s.client_id, "accord");
        assert_eq!(s.default_scope, DEFAULT_SCOPE);
        let no_jwks = ProviderSettings {
            jwks_url: String::new(),
            ..settings()
        };
        assert!(no_jwks.clone().validated(false).is_err());
        // Without signature checks the JWKS is not needed.
        assert!(ProviderSettings {
            validate_signature: false,
            ..no_jwks
        }
        .validated(false)
        .is_ok());
        let no_userinfo = ProviderSettings {
            userinfo_url: String::new(),
            ..settings()
        };
        assert!(no_userinfo.clone().validated(false).is_err());
        assert!(ProviderSettings {
            disable_userinfo: true,
            ..no_userinfo
        }
        .validated(false)
        .is_ok());
        assert!(ProviderSettings {
            client_id: " ".into(),
            ..settings()
        }
        .validated(false)
        .is_err());
    }

    #[test]
    fn moving_any_endpoint_is_a_change_of_endpoints() {
        let before = settings();
        assert!(before.same_endpoints(&before.clone()));
        assert!(ProviderSettings {
            client_id: "other".into(),
            default_scope: "openid email".into(),
            ..settings()
        }
        .same_endpoints(&before));
        let moved: [fn(&mut ProviderSettings); 6] = [
            |s| s.issuer = "https://evil.example".into(),
            |s| s.authorization_url = "https://evil.example/auth".into(),
            |s| s.token_url = "https://evil.example/token".into(),
            |s| s.logout_url = "https://evil.example/logout".into(),
            |s| s.jwks_url = "https://evil.example/jwks".into(),
            |s| s.userinfo_url = "https://evil.example/me".into(),
        ];
        for change in moved {
            let mut s = settings();
            change(&mut s);
            assert!(!s.same_endpoints(&before), "{s:?}");
        }
    }

    #[test]
    fn scopes_start_with_openid_once() {
        assert_eq!(
            normalize_scope("email openid profile").unwrap(),
            "openid email profile"
        );
        assert_eq!(normalize_scope("  ").unwrap(), DEFAULT_SCOPE);
        assert_eq!(normalize_scope("openid").unwrap(), "openid");
        assert!(normalize_scope("email \"x\"").is_err());
    }

    #[test]
    fn token_auth_method_follows_discovery() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            TokenAuthMethod::from_supported(None).unwrap(),
            TokenAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            TokenAuthMethod::from_supported(Some(&list(&[
                "client_secret_post",
                "client_secret_basic"
            ])))
            .unwrap(),
            TokenAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            TokenAuthMethod::from_supported(Some(&list(&[
                "private_key_jwt",
                "client_secret_post"
            ])))
            .unwrap(),
            TokenAuthMethod::ClientSecretPost
        );
        assert!(TokenAuthMethod::from_supported(Some(&list(&["private_key_jwt"]))).is_err());
    }

    fn user(status: UserStatus) -> User {
        User::new(
            Some(Email::parse("a@example.com").unwrap()),
            status,
            Utc::now(),
        )
    }

    #[test]
    fn an_existing_account_is_never_taken_by_its_address() {
        let local = user(UserStatus::Enabled);
        let verified = ExternalClaims {
            subject: "s".into(),
            email_verified: true,
            ..Default::default()
        };
        let unverified = ExternalClaims {
            email_verified: false,
            ..verified.clone()
        };
        for claims in [&verified, &unverified] {
            assert_eq!(
                choose_account(None, None, claims).unwrap(),
                AccountChoice::Create
            );
            // Verified by the provider or not, subscriber or not: the address alone never links.
            assert!(matches!(
                choose_account(None, Some(&local), claims),
                Err(Error::Conflict(_))
            ));
            let waiting = user(UserStatus::WaitingForRegistration);
            assert!(matches!(
                choose_account(None, Some(&waiting), claims),
                Err(Error::Conflict(_))
            ));
        }
        // A link, once made, stands whatever the address says now.
        assert_eq!(
            choose_account(Some(&local), None, &unverified).unwrap(),
            AccountChoice::Linked(local.id)
        );
        let disabled = user(UserStatus::Disabled);
        assert!(matches!(
            choose_account(Some(&disabled), None, &verified),
            Err(Error::Unauthenticated(_))
        ));
    }

    fn login_started_by(owner: Option<UserId>) -> LoginState {
        LoginState {
            state_hash: "h".into(),
            organization_id: OrganizationId::new(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "https://app.example.com/cb".into(),
            expires_at: Utc::now(),
            started_by: owner,
        }
    }

    #[test]
    fn only_the_account_that_started_a_login_is_linked_by_it() {
        let (me, other) = (UserId::new(), UserId::new());
        let mine = login_started_by(Some(me));
        let theirs = login_started_by(Some(other));
        let anonymous = login_started_by(None);
        // (caller, login, outcome: Some(target) or None for refused)
        type Row<'a> = (
            Option<UserId>,
            Option<&'a LoginState>,
            Option<Option<UserId>>,
        );
        let table: [Row<'_>; 7] = [
            (Some(me), Some(&mine), Some(Some(me))),
            (Some(me), Some(&theirs), None),
            (Some(me), Some(&anonymous), None),
            (Some(me), None, None),
            (None, Some(&mine), Some(Some(me))),
            (None, Some(&anonymous), Some(None)),
            (None, None, Some(None)),
        ];
        for (caller, login, outcome) in table {
            let got = link_target(caller, login);
            match outcome {
                Some(target) => assert_eq!(got.unwrap(), target, "{caller:?} {login:?}"),
                None => assert!(
                    matches!(got, Err(Error::Forbidden(_))),
                    "{caller:?} {login:?}: {got:?}"
                ),
            }
        }
    }
}
