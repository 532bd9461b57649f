//! Federated login through an organisation's own OpenID Connect provider: the provider's
//! settings and their rules, the short-lived state of a login in progress, and how an
//! outside identity becomes an Accord account. See `docs/federation.md`.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};
use crate::identity::{User, UserStatus};
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
    /// Not linked yet; a local account has the address and may be linked to it.
    LinkExisting(UserId),
    /// Not linked, no account has the address (or the provider gave none): a new account.
    Create,
}

/// An account that already has the address the provider gave.
pub struct SameEmailAccount<'a> {
    pub user: &'a User,
    /// Subscribed to, or holding a role in, the organisation whose provider this is.
    pub connected_to_organization: bool,
}

/// The linking rule. An existing account is taken over only on the provider's word that
/// the address is verified, and only if the account already belongs to this
/// organisation's circle: a provider is configured by one organisation's Admin, who must
/// not be able to sign in as anyone else's user by claiming their address.
pub fn choose_account(
    linked: Option<&User>,
    same_email: Option<SameEmailAccount<'_>>,
    claims: &ExternalClaims,
) -> Result<AccountChoice> {
    if let Some(u) = linked {
        return if u.status.may_log_in() {
            Ok(AccountChoice::Linked(u.id))
        } else {
            Err(Error::Unauthenticated("this account is disabled".into()))
        };
    }
    let Some(existing) = same_email else {
        return Ok(AccountChoice::Create);
    };
    let u = existing.user;
    if !(u.status.may_log_in() || u.status == UserStatus::WaitingForRegistration) {
        return Err(Error::Unauthenticated("this account is disabled".into()));
    }
    let link_refused = |why: &str| {
        Err(Error::Conflict(format!(
            "an account with this email exists and {why}; sign in with its password and \
             exchange the code with that session's access token to link the two"
        )))
    };
    if !claims.email_verified {
        link_refused("the identity provider did not verify the address (email_verified)")
    } else if u.is_platform_admin || !existing.connected_to_organization {
        link_refused("it is not one of this organisation's users")
    } else {
        Ok(AccountChoice::LinkExisting(u.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Email;

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
    fn an_existing_account_is_linked_only_on_a_verified_address_of_the_organisation() {
        let local = user(UserStatus::Enabled);
        let same = |u, connected| {
            Some(SameEmailAccount {
                user: u,
                connected_to_organization: connected,
            })
        };
        let verified = ExternalClaims {
            subject: "s".into(),
            email_verified: true,
            ..Default::default()
        };
        let unverified = ExternalClaims {
            email_verified: false,
            ..verified.clone()
        };
        assert_eq!(
            choose_account(None, None, &unverified).unwrap(),
            AccountChoice::Create
        );
        assert_eq!(
            choose_account(None, same(&local, true), &verified).unwrap(),
            AccountChoice::LinkExisting(local.id)
        );
        assert!(matches!(
            choose_account(None, same(&local, true), &unverified),
            Err(Error::Conflict(_))
        ));
        // Another organisation's provider may not vouch for this organisation's users.
        assert!(matches!(
            choose_account(None, same(&local, false), &verified),
            Err(Error::Conflict(_))
        ));
        let mut admin = user(UserStatus::Enabled);
        admin.is_platform_admin = true;
        assert!(matches!(
            choose_account(None, same(&admin, true), &verified),
            Err(Error::Conflict(_))
        ));
        // A link, once made, stands whatever the address says now.
        assert_eq!(
            choose_account(Some(&local), None, &unverified).unwrap(),
            AccountChoice::Linked(local.id)
        );
        // An invited account may be completed through the provider.
        let waiting = user(UserStatus::WaitingForRegistration);
        assert_eq!(
            choose_account(None, same(&waiting, true), &verified).unwrap(),
            AccountChoice::LinkExisting(waiting.id)
        );
        let disabled = user(UserStatus::Disabled);
        assert!(matches!(
            choose_account(Some(&disabled), None, &verified),
            Err(Error::Unauthenticated(_))
        ));
        assert!(matches!(
            choose_account(None, same(&disabled, true), &verified),
            Err(Error::Unauthenticated(_))
        ));
    }
}
