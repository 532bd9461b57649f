//! Accounts, login, sessions, APIKeys and passwords.
//!
//! | operation | who may |
//! |---|---|
//! | register, login, refresh, forgot, confirm reset | anyone (throttled where it guesses) |
//! | logout | the holder of the refresh token, or of the session's access token |
//! | read/update/delete own account, APIKey, change password | the user themselves |

use std::net::IpAddr;

use accord_domain::address::source_group;
use accord_domain::identity::{
    parse_profile_text, Email, Language, Password, RoleGrant, User, UserStatus, NAME_MAX_CHARS,
    PHONE_MAX_CHARS,
};
use accord_domain::organization::SubscribedOrg;
use accord_domain::session::Rotation;
use accord_domain::throttle::ThrottlePolicy;
use accord_domain::{Error, Result, UserId};
use accord_store::{Mode, Tx};
use chrono::{DateTime, Duration, Utc};

use super::mail::Letter;
use super::sign_in::{live, refused};
use super::tokens::{random_secret, secret_hash};
use super::{Actor, Credential, Services, UserActor};

/// A user as the caller may see them, with what the wire formats show beside the account.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub user: User,
    pub roles: Vec<RoleGrant>,
    /// Organisations the user subscribes to.
    pub orgs: Vec<SubscribedOrg>,
    /// Only when the profile is the caller's own.
    pub api_key: Option<String>,
}

#[derive(Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

pub struct Registration<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
    /// Where the request came from (throttled per address); `None` from the CLI.
    pub source: Option<IpAddr>,
    /// The language the person registered in (the page's; `None` through the API).
    pub language: Option<Language>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// Any enabled user.
    User,
    /// Only organisation role holders and platform admins.
    OrganisationAdmin,
}

pub struct PasswordChange<'a> {
    pub current_password: Option<&'a str>,
    pub new_password: &'a str,
}

const INVALID_CREDENTIALS: &str = "invalid username or password";

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.into())
}

/// iGrant.io's server's answer to an invalid or expired access token.
const ACCESS_TOKEN_REFUSED: &str = "Invalid token, Authorization failed";

impl Services {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Creates an individual's account, unverified, and mails a link to prove the address.
    /// An address held already answers 409, also when a REST client created its account
    /// waiting for registration (status 5): that account is not handed to whoever registers
    /// first; its invitation link is mailed to the address instead (docs/security.md).
    /// Throttled per source address.
    pub async fn register(self: &std::sync::Arc<Self>, r: Registration<'_>) -> Result<UserProfile> {
        let email = Email::parse(r.username)?;
        let password = Password::new_for(r.password, Some(&email))?;
        let name = parse_profile_text("name", r.name, NAME_MAX_CHARS)?;
        let phone = parse_profile_text("phone", r.phone, PHONE_MAX_CHARS)?;
        if let Some(source) = r.source {
            self.charge(
                &format!("register:{}", source_group(source)),
                &ThrottlePolicy::per_address(self.config.registrations_per_address),
            )
            .await?;
        }
        let hash = self.passwords.hash(&password).await?;
        let now = self.now();
        let user = User {
            name,
            phone,
            password_hash: Some(hash),
            language: r.language,
            ..User::new(Some(email), UserStatus::Enabled, now)
        };
        let taken = || Error::Conflict("an account with this username already exists".into());
        let key = user.email.as_ref().map(|e| e.key()).unwrap_or_default();
        let mut tx = self.store.begin(Mode::Write).await?;
        if let Some(existing) = tx.user_by_email_key(&key).await? {
            if existing.status == UserStatus::WaitingForRegistration {
                self.reinvite_waiting(tx, &existing).await?;
            }
            return Err(taken());
        }
        tx.insert_user(&user).await.map_err(|e| match e {
            Error::Conflict(_) => taken(),
            other => other,
        })?;
        tx.commit().await?;
        self.mail_email_verification(user.id);
        Ok(UserProfile {
            user,
            roles: vec![],
            orgs: vec![],
            api_key: None,
        })
    }

    /// Password login. Unknown user, wrong password and a disabled account all answer the
    /// same 401 after the same amount of work.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        source: IpAddr,
        kind: LoginKind,
    ) -> Result<(UserProfile, TokenPair)> {
        let email_key = username.trim().to_lowercase();
        let attempt = self
            .begin_sign_in(
                source,
                crate::metrics::SignInKind::password,
                Some(format!("account:{email_key}")),
            )
            .await?;

        let password = Password::offered(password)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let user = tx.user_by_email_key(&email_key).await?;
        tx.commit().await?;
        let verified = self
            .passwords
            .verify(
                &password,
                user.as_ref().and_then(|u| u.password_hash.as_deref()),
            )
            .await?;
        let user = match user {
            Some(u) if verified.ok && u.status.may_log_in() => u,
            _ => return Err(unauthenticated(INVALID_CREDENTIALS)),
        };
        let new_hash = if verified.needs_rehash {
            Some(self.passwords.hash(&password).await?)
        } else {
            None
        };

        let now = self.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let roles = tx.role_grants_of(user.id).await?;
        if kind == LoginKind::OrganisationAdmin && roles.is_empty() && !user.is_platform_admin {
            tx.commit().await?;
            return Err(unauthenticated("not an organisation administrator"));
        }
        if kind == LoginKind::OrganisationAdmin {
            let mut orgs: Vec<_> = roles.iter().map(|g| g.organization_id).collect();
            orgs.dedup();
            for org in orgs {
                self.log_action(
                    tx.as_mut(),
                    org,
                    "admin_login",
                    &user.id.to_string(),
                    "admin login",
                )
                .await?;
            }
        }
        self.sign_in_succeeded(tx.as_mut(), &attempt).await?;
        if let Some(hash) = &new_hash {
            tx.set_password_hash(user.id, hash).await?;
        }
        tx.set_last_visit(user.id, now).await?;
        let tokens = self.open_session(tx.as_mut(), user.id, now, "").await?;
        let mut user = user;
        user.last_visit = Some(now);
        let profile = self.profile_of(tx.as_mut(), user, true).await?;
        tx.commit().await?;
        Ok((profile, tokens))
    }

    /// Rotates a refresh token. Presenting one that was already rotated means it leaked:
    /// the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair> {
        let now = self.now();
        let successor = random_secret();
        let rotation = self
            .store
            .rotate_refresh_token(&secret_hash(refresh_token), &secret_hash(&successor), now)
            .await?;
        match rotation {
            Rotation::Refused => Err(unauthenticated("invalid refresh token")),
            Rotation::Reused { session_id } => {
                tracing::warn!(session = %session_id, "refresh token reused: session revoked");
                Err(unauthenticated(
                    "refresh token already used: session revoked",
                ))
            }
            Rotation::Rotated { session } => self.token_pair(&session, successor, now),
        }
    }

    /// Ends the session a refresh token belongs to, or else the caller's own session.
    pub async fn logout(&self, actor: &Actor, refresh_token: Option<&str>) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let from_token = match refresh_token.filter(|t| !t.is_empty()) {
            Some(t) => tx
                .refresh_token_by_hash(&secret_hash(t))
                .await?
                .map(|r| r.session_id),
            None => None,
        };
        let from_actor = match actor {
            Actor::User(UserActor { session_id, .. }) => *session_id,
            Actor::Anonymous | Actor::RestClient(_) => None,
        };
        let Some(session) = from_token.or(from_actor) else {
            return Err(Error::invalid("refreshtoken does not name a session"));
        };
        tx.revoke_session(session, now).await?;
        tx.commit().await
    }

    /// An access token whose signature and expiry are valid; its session is not checked.
    /// Refused in iGrant.io's server's words: its iOS SDK refreshes its token on exactly
    /// this message, and on no other.
    pub async fn signed_access_token(&self, token: &str) -> Result<Credential> {
        let access = |t: &str| {
            let (user, session) = self.tokens.access_credential(t)?;
            Some(Credential::AccessToken { user, session })
        };
        self.signed_by_any_key(token, access)
            .await
            .ok_or_else(|| unauthenticated(ACCESS_TOKEN_REFUSED))
    }

    /// An APIKey whose signature is valid; its revision is not checked. An access token
    /// sent under this scheme is taken as what it is: iGrant.io's Java SDK sends its
    /// login's token as `ApiKey <access_token>`.
    pub async fn signed_api_key(&self, key: &str) -> Result<Credential> {
        let either = |k: &str| match self.tokens.api_key_credential(k) {
            Some((user, revision)) => Some(Credential::ApiKey { user, revision }),
            None => {
                let (user, session) = self.tokens.access_credential(k)?;
                Some(Credential::AccessToken { user, session })
            }
        };
        self.signed_by_any_key(key, either)
            .await
            .ok_or_else(|| unauthenticated("invalid APIKey"))
    }

    /// `read` of a token; when it fails because the token names a key this node has not
    /// read yet (rotated in on another node), read again after reading the keys, at most
    /// once per [`tokens::UNKNOWN_KEY_RELOAD`](super::tokens::UNKNOWN_KEY_RELOAD) whatever
    /// such tokens arrive. Only a refused token pays for looking at its key.
    async fn signed_by_any_key(
        &self,
        token: &str,
        read: impl Fn(&str) -> Option<Credential>,
    ) -> Option<Credential> {
        if let Some(found) = read(token) {
            return Some(found);
        }
        if !self.tokens.names_unknown_key(token) {
            return None;
        }
        let (store, now) = (self.store.as_ref(), self.clock.now());
        match self
            .tokens
            .refresh(store, now, super::tokens::UNKNOWN_KEY_RELOAD)
            .await
        {
            Ok(true) => read(token),
            Ok(false) => None,
            Err(e) => {
                tracing::warn!(error = ?e, "signing keys not reloaded");
                None
            }
        }
    }

    /// Turns a bearer access token into the calling user; 401 unless its session is live.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<Actor> {
        self.authenticate(self.signed_access_token(token).await?)
            .await
    }

    /// Turns an APIKey into the calling user; 401 once the key is rotated or revoked.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Actor> {
        self.authenticate(self.signed_api_key(key).await?).await
    }

    /// The person a page session belongs to: the cookie carries the session's refresh
    /// token, looked up (never rotated: the browser is its only holder) while unused and
    /// unexpired; the session and account must be live, as for an access token, so
    /// signing out and revocation end the page session and the API's at once.
    pub async fn web_session(&self, secret: &str) -> Result<Actor> {
        let refused = || unauthenticated("not signed in");
        // One statement: the token, its session and the account (a page costs what its
        // API call costs; BENCHMARKS.md, "The pages beside the API").
        let now = self.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let found = tx.session_by_refresh_token(&secret_hash(secret)).await?;
        tx.commit().await?;
        let (_, session, user) = found
            .filter(|(t, _, _)| t.used_at.is_none() && t.expires_at > now)
            .ok_or_else(refused)?;
        let credential = Credential::AccessToken {
            user: user.id,
            session: session.id,
        };
        let key = user.apikey_issued_at.map(|_| user.apikey_revision);
        live(&credential, user.status, key, Some(&session), now)?;
        Ok(Actor::User(UserActor {
            user_id: user.id,
            session_id: Some(session.id),
            is_platform_admin: user.is_platform_admin,
        }))
    }

    async fn authenticate(&self, credential: Credential) -> Result<Actor> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let user = tx.user_by_id(credential.user()).await?;
        let session = match credential.session() {
            Some(id) => tx.session_by_id(id).await?,
            None => None,
        };
        tx.commit().await?;
        let user = user.ok_or_else(|| refused(&credential))?;
        let key = user.apikey_issued_at.map(|_| user.apikey_revision);
        live(&credential, user.status, key, session.as_ref(), self.now())?;
        Ok(Actor::User(UserActor {
            user_id: user.id,
            session_id: credential.session(),
            is_platform_admin: user.is_platform_admin,
        }))
    }

    pub(super) async fn own_profile(&self, tx: &mut dyn Tx, id: UserId) -> Result<UserProfile> {
        // The actor was authenticated moments ago; an account gone since is simply gone.
        let user = tx
            .user_by_id(id)
            .await?
            .ok_or_else(|| unauthenticated("account no longer exists"))?;
        self.profile_of(tx, user, true).await
    }

    pub async fn my_profile(&self, actor: &Actor) -> Result<UserProfile> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        tx.commit().await?;
        Ok(profile)
    }

    /// Changes the caller's name and/or phone; absent fields stay as they are.
    pub async fn update_my_profile(
        &self,
        actor: &Actor,
        name: Option<&str>,
        phone: Option<&str>,
        language: Option<Language>,
    ) -> Result<UserProfile> {
        let me = actor.user()?;
        let name = name
            .map(|n| parse_profile_text("name", n, NAME_MAX_CHARS))
            .transpose()?;
        let phone = phone
            .map(|p| parse_profile_text("phone", p, PHONE_MAX_CHARS))
            .transpose()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let current = self.own_profile(tx.as_mut(), me.user_id).await?;
        let name = name.unwrap_or(current.user.name);
        let phone = phone.unwrap_or(current.user.phone);
        tx.update_user_profile(me.user_id, &name, &phone).await?;
        if let Some(language) = language {
            tx.set_user_language(me.user_id, language).await?;
        }
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        tx.commit().await?;
        Ok(profile)
    }

    /// `POST /v1/user/register/ios` and `…/android`: the device that receives the caller's
    /// push notifications (iGrant.io's `Client`: type 1 iOS, 2 Android).
    pub async fn register_push_client(
        &self,
        actor: &Actor,
        token: &str,
        client_type: i64,
    ) -> Result<UserProfile> {
        let me = actor.user()?.user_id;
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::invalid("devicetoken is required"));
        }
        if token.len() > 4096 || token.chars().any(char::is_control) {
            return Err(Error::invalid(
                "devicetoken: at most 4096 bytes, no control characters",
            ));
        }
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.set_push_client(me, token, client_type).await?;
        let profile = self.own_profile(tx.as_mut(), me).await?;
        tx.commit().await?;
        Ok(profile)
    }

    /// The right to erasure: the account and everything personal hanging off it go; every
    /// session dies with it (by cascade).
    /// Run again when a deadlock aborted it (the deletion cascades into every table that
    /// refers to users: see [`super::contention`]).
    pub async fn delete_my_account(&self, actor: &Actor) -> Result<()> {
        super::contention::retry_on_contention(|| self.delete_my_account_once(actor)).await
    }

    /// The caller's live sessions, newest first (the 50 newest): where they are signed in.
    /// The account page's facts in one read: the profile and the live sessions.
    pub async fn my_profile_and_sessions(
        &self,
        actor: &Actor,
    ) -> Result<(UserProfile, Vec<accord_domain::session::Session>)> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        let sessions = tx.live_sessions_of(me.user_id, self.now(), 50).await?;
        tx.commit().await?;
        Ok((profile, sessions))
    }

    /// Ends one of the caller's own sessions (anyone else's: 404).
    pub async fn end_my_session(
        &self,
        actor: &Actor,
        session: accord_domain::SessionId,
    ) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        match tx.session_by_id(session).await? {
            Some(s) if s.user_id == me.user_id => {
                tx.revoke_session(session, self.now()).await?;
                tx.commit().await
            }
            _ => Err(Error::not_found("session not found")),
        }
    }

    /// The account holder's current password, asked again before a step a session alone
    /// may not take (a new password, a new address, deletion, a linked sign-in).
    pub(super) async fn confirm_current_password(&self, user: &User, password: &str) -> Result<()> {
        let offered = Password::offered(password)?;
        if self
            .passwords
            .verify(&offered, user.password_hash.as_deref())
            .await?
            .ok
        {
            Ok(())
        } else {
            Err(unauthenticated("current password is wrong"))
        }
    }

    /// The account page's deletion: the current password confirms it (a session left
    /// open on a shared computer is not enough to erase the account).
    pub async fn delete_my_account_confirmed(&self, actor: &Actor, password: &str) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        tx.commit().await?;
        self.confirm_current_password(&profile.user, password)
            .await?;
        self.delete_my_account(actor).await
    }

    async fn delete_my_account_once(&self, actor: &Actor) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        // Erasure is not held hostage by a role: an organisation whose last Admin leaves is
        // closed to configuration until a platform admin offers the role to someone.
        if !tx.delete_user(me.user_id).await? {
            return Err(unauthenticated("account no longer exists"));
        }
        tx.commit().await
    }

    /// Creates the caller's APIKey, or replaces it (the old one stops working at once).
    pub async fn rotate_my_api_key(&self, actor: &Actor) -> Result<String> {
        let me = actor.user()?;
        let now = self.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        let revision = profile.user.apikey_revision + 1;
        tx.set_apikey(me.user_id, revision, Some(now)).await?;
        tx.commit().await?;
        self.tokens.api_key(me.user_id, revision, now)
    }

    pub async fn my_api_key(&self, actor: &Actor) -> Result<String> {
        self.my_profile(actor)
            .await?
            .api_key
            .ok_or_else(|| Error::not_found("no APIKey: create one with POST /v1/user/apikey"))
    }

    pub async fn revoke_my_api_key(&self, actor: &Actor) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        tx.set_apikey(me.user_id, profile.user.apikey_revision + 1, None)
            .await?;
        tx.commit().await
    }

    /// Changes the caller's password. With `currentpassword`, it must be right. Without it
    /// (the spec's `{"password"}` body) the caller must hold the access token a password
    /// login gave in the last 10 minutes (`Session::proves_recent_password`). Every other
    /// way into the account closes ([`Self::close_other_doors`]).
    pub async fn change_my_password(
        &self,
        actor: &Actor,
        change: PasswordChange<'_>,
    ) -> Result<()> {
        let me = actor.user()?;
        let now = self.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        let session = match me.session_id {
            Some(id) => tx.session_by_id(id).await?,
            None => None,
        };
        let refreshed = match &session {
            Some(s) => tx.session_was_refreshed(s.id).await?,
            None => false,
        };
        tx.commit().await?;
        let user = profile.user;
        match change.current_password {
            Some(current) => self.confirm_current_password(&user, current).await?,
            None => {
                if !session.is_some_and(|s| s.proves_recent_password(refreshed, now)) {
                    return Err(Error::invalid(
                        "currentpassword is required (without it, only the access token of a password login of the last 10 minutes, not refreshed, may change the password)",
                    ));
                }
            }
        }
        let password = Password::new_for(change.new_password, user.email.as_ref())?;
        let hash = self.passwords.hash(&password).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.set_password_hash(user.id, &hash).await?;
        self.close_other_doors(tx.as_mut(), user.id, me.session_id, now)
            .await?;
        tx.commit().await
    }

    /// Starts a password reset. Answers the same, at once, whether or not the account
    /// exists: the lookup, the token and the mail happen in the background.
    pub fn forgot_password(self: &std::sync::Arc<Self>, username: &str) {
        let this = std::sync::Arc::clone(self);
        let email_key = username.trim().to_lowercase();
        tokio::spawn(async move {
            if let Err(e) = this.send_password_reset(&email_key).await {
                tracing::error!(error = ?e, "password reset mail failed");
            }
        });
    }

    async fn send_password_reset(&self, email_key: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        // At most a few reset mails per account per window: no mail bombing through us.
        let allowed = self
            .mail_allowed(tx.as_mut(), &format!("reset:{email_key}"), now)
            .await?;
        let user = tx.user_by_email_key(email_key).await?;
        let (Some(user), true) = (user, allowed) else {
            return tx.commit().await;
        };
        let Some(email) = user.email.as_ref().filter(|_| user.status.may_log_in()) else {
            return tx.commit().await;
        };
        let token = random_secret();
        let ttl = Duration::from_std(self.config.password_reset_ttl).map_err(Error::internal)?;
        tx.insert_password_reset(&secret_hash(&token), user.id, now + ttl)
            .await?;
        tx.commit().await?;
        let link = self.config.password_reset_link.replace("{token}", &token);
        let minutes = ttl.num_minutes();
        let l = Letter::new(user.language, "mail-reset-subject");
        let t = l.t;
        let mail = l
            .say(t.get("mail-reset-intro"))
            .say(t.with("mail-reset-action", "minutes", minutes))
            .act("mail-reset-button", &link)
            .code("mail-reset-code", &token)
            .close(t.get("mail-reset-closing"))
            .to(email.as_str(), vec![link.clone(), token.clone()]);
        self.mailer.send(mail).await
    }

    /// Sets a new password with a reset token (once), and closes every other way into the
    /// account: sessions, APIKey, other reset tokens.
    pub async fn confirm_password_reset(&self, token: &str, new_password: &str) -> Result<()> {
        let invalid = || Error::invalid("invalid or expired reset token");
        let hash = secret_hash(token);
        let now = self.now();
        // Validate the new password before consuming the token, so a typo does not burn it.
        let mut tx = self.store.begin(Mode::Write).await?;
        let user_id = tx
            .consume_password_reset(&hash, now)
            .await?
            .ok_or_else(invalid)?;
        let user = tx.user_by_id(user_id).await?.ok_or_else(invalid)?;
        drop(tx); // rolled back: the token stays usable while we hash
        let password = Password::new_for(new_password, user.email.as_ref())?;
        let password_hash = self.passwords.hash(&password).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if tx.consume_password_reset(&hash, now).await? != Some(user_id) {
            return Err(invalid());
        }
        tx.set_password_hash(user_id, &password_hash).await?;
        self.close_other_doors(tx.as_mut(), user_id, None, now)
            .await?;
        if let Some(email) = &user.email {
            // The mail reached the address's owner. If it was never proven, whoever
            // registered it may not have been them: outside identities linked meanwhile go
            // too, and the owner now holds the account alone.
            if user.email_verified_at.is_none() {
                tx.delete_external_identities_of(user_id).await?;
            }
            self.address_proven(tx.as_mut(), user_id, &email.key(), now)
                .await?;
        }
        tx.commit().await
    }

    /// `accord admin add-platform-admin`: creates the account, or promotes an existing one
    /// (whose password is then left as it is). Returns whether it was created.
    pub async fn add_platform_admin(
        self: &std::sync::Arc<Self>,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<(UserId, bool)> {
        let email_parsed = Email::parse(email)?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if let Some(existing) = tx.user_by_email_key(&email_parsed.key()).await? {
            tx.set_platform_admin(existing.id, true).await?;
            tx.commit().await?;
            return Ok((existing.id, false));
        }
        drop(tx);
        let profile = self
            .register(Registration {
                username: email,
                password,
                name,
                phone: "",
                source: None,
                language: None,
            })
            .await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.set_platform_admin(profile.user.id, true).await?;
        tx.commit().await?;
        Ok((profile.user.id, true))
    }
}
