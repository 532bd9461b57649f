//! How a person gets in and stays in: sign-in attempts (throttled per account and per
//! source, counted before the hash), sessions and their tokens, the liveness of a signed
//! credential, and closing every other door when a credential changes. Used by the
//! password login (`identity.rs`), federated login (`federation.rs`), CustomerID's REST
//! clients and the consent path, so it is its own module rather than part of one of them.

use std::net::IpAddr;

use accord_domain::address::source_group;
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::throttle::{ThrottlePolicy, ThrottleState};
use accord_domain::{Error, Result, SessionId, UserId};
use accord_store::{Mode, Tx};
use chrono::{DateTime, Duration, Utc};

use super::identity::TokenPair;
use super::tokens::{random_secret, secret_hash};
use super::Services;

pub(crate) use accord_domain::session::{live, refused};

/// A sign-in attempt counted before its secret is checked ([`Services::begin_sign_in`]);
/// holds one of its source's sign-ins in flight until dropped.
pub(crate) struct SignInAttempt {
    address_key: String,
    account_key: Option<String>,
    _in_flight: crate::per_source::Share,
    /// Set by [`Services::sign_in_succeeded`]; an attempt dropped without it counts as a
    /// failure (`/metrics`).
    succeeded: std::sync::atomic::AtomicBool,
    failures: prometheus_client::metrics::counter::Counter,
}

impl Drop for SignInAttempt {
    fn drop(&mut self) {
        if !*self.succeeded.get_mut() {
            self.failures.inc();
        }
    }
}

impl Services {
    /// Counts an attempt against `key` (every attempt, not only failures): 429 once over.
    pub(crate) async fn charge(&self, key: &str, policy: &ThrottlePolicy) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (state, verdict) = tx
            .throttle_state(key, &ThrottleState::fresh(now))
            .await?
            .attempt(now, policy);
        tx.put_throttle_state(key, &state).await?;
        tx.commit().await?;
        verdict.map_err(|retry_after_secs| {
            // The key's kind (`register:…` → `register`), never the key.
            self.metrics
                .throttled(key.split_once(':').map_or(key, |(kind, _)| kind));
            Error::TooManyRequests { retry_after_secs }
        })
    }

    /// Before any secret is checked: takes one of the source's sign-ins in flight (waiting
    /// for one if it has them all: a burst from one source queues behind itself), and
    /// counts the attempt against the source address and, if given, the account (or
    /// client) key, refusing (429) if either is locked or this locks it.
    /// Success gives the address's count back ([`Self::sign_in_succeeded`]); a failure
    /// leaves it counted, so at most the limit's number of secrets are checked per window.
    pub(crate) async fn begin_sign_in(
        &self,
        source: IpAddr,
        kind: crate::metrics::SignInKind,
        account_key: Option<String>,
    ) -> Result<SignInAttempt> {
        let in_flight = self.sign_ins_in_flight.take(source).await;
        let attempt = SignInAttempt {
            address_key: format!("address:{}", source_group(source)),
            account_key,
            _in_flight: in_flight,
            succeeded: false.into(),
            failures: self.metrics.sign_in_failures(kind),
        };
        let now = self.clock.now();
        let fresh = ThrottleState::fresh(now);
        let mut tx = self.store.begin(Mode::Write).await?;
        let (address, mut verdict) = tx
            .throttle_state(&attempt.address_key, &fresh)
            .await?
            .attempt(now, &self.address_policy());
        tx.put_throttle_state(&attempt.address_key, &address)
            .await?;
        let mut throttle = "sign_in_address";
        if let (Ok(()), Some(key)) = (verdict, &attempt.account_key) {
            let (account, account_verdict) = tx
                .throttle_state(key, &fresh)
                .await?
                .attempt(now, &ThrottlePolicy::ACCOUNT);
            tx.put_throttle_state(key, &account).await?;
            verdict = account_verdict;
            throttle = "sign_in_account";
        }
        tx.commit().await?;
        verdict.map_err(|retry_after_secs| {
            self.metrics.throttled(throttle);
            Error::TooManyRequests { retry_after_secs }
        })?;
        Ok(attempt)
    }

    /// How many failed sign-ins (password, federated, REST client) one source address may
    /// make per window before it is locked out.
    pub(crate) fn address_policy(&self) -> ThrottlePolicy {
        ThrottlePolicy::per_address(self.config.failures_per_address)
    }

    /// A sign-in succeeded, in `tx`: the source's attempt is given back and the attempts
    /// counted against its account (or client) are forgotten.
    pub(crate) async fn sign_in_succeeded(
        &self,
        tx: &mut dyn Tx,
        attempt: &SignInAttempt,
    ) -> Result<()> {
        let now = self.clock.now();
        let fresh = ThrottleState::fresh(now);
        let address = tx.throttle_state(&attempt.address_key, &fresh).await?;
        tx.put_throttle_state(&attempt.address_key, &address.refund())
            .await?;
        if let Some(key) = &attempt.account_key {
            tx.put_throttle_state(key, &fresh).await?;
        }
        attempt
            .succeeded
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// `client_id` says how the session began: empty for a password login, `idp:<org>`
    /// through an organisation's identity provider.
    pub(crate) async fn open_session(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        now: DateTime<Utc>,
        client_id: &str,
    ) -> Result<TokenPair> {
        let refresh_ttl =
            Duration::from_std(self.config.refresh_token_ttl).map_err(Error::internal)?;
        let session = Session {
            id: SessionId::new(),
            user_id: user,
            client_id: client_id.to_owned(),
            created_at: now,
            expires_at: now + refresh_ttl,
            revoked_at: None,
        };
        tx.insert_session(&session).await?;
        self.issue_tokens(tx, &session, now).await
    }

    /// A new access token and a new refresh token for the session. The session's lifetime
    /// is fixed at login (like an SSO session maximum): refreshing does not extend it.
    pub(crate) async fn issue_tokens(
        &self,
        tx: &mut dyn Tx,
        session: &Session,
        now: DateTime<Utc>,
    ) -> Result<TokenPair> {
        let refresh_token = random_secret();
        tx.insert_refresh_token(&RefreshTokenRecord {
            token_hash: secret_hash(&refresh_token),
            session_id: session.id,
            expires_at: session.expires_at,
            used_at: None,
        })
        .await?;
        self.token_pair(session, refresh_token, now)
    }

    /// The answer of a login or a refresh: a fresh access token beside the refresh token
    /// stored for the session.
    pub(crate) fn token_pair(
        &self,
        session: &Session,
        refresh_token: String,
        now: DateTime<Utc>,
    ) -> Result<TokenPair> {
        let session_left = (session.expires_at - now).num_seconds().max(0);
        let expires_in = (self.config.access_token_ttl.as_secs() as i64).min(session_left);
        Ok(TokenPair {
            access_token: self
                .tokens
                .access_token(session.user_id, session.id, now, expires_in)?,
            expires_in,
            refresh_token,
            refresh_expires_in: session_left,
        })
    }

    /// A password was set (changed, reset, or set by a REST client or an administrator):
    /// every other way into the account closes. Every session but `keep` (the caller's
    /// own, when they changed it themselves) ends, and with them their refresh tokens;
    /// the APIKey is revoked (a kiosk or wallet gets a new one with
    /// `POST /v1/user/apikey`); every outstanding reset and verification token is void.
    pub(crate) async fn close_other_doors(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        tx.revoke_sessions_of_user(user, now, keep).await?;
        tx.revoke_apikey(user).await?;
        tx.void_password_resets(user).await?;
        tx.void_email_verifications(user).await
    }
}
