//! The operator's daily work, for `accord admin …` (docs/operations.md, "The operator's
//! command line"). Whoever runs the command line with the database's address is trusted
//! as the operator: these functions take no caller.

use accord_domain::identity::{Email, Password, User, UserStatus};
use accord_domain::organization::Organization;
use accord_domain::{Error, OrganizationId, Result};
use accord_store::{Mode, RestClientRecord, SigningKeyRecord};

use super::Services;

/// Organisations read per page while listing them all.
const ORGANIZATIONS_PAGE: i64 = 500;

impl Services {
    /// Every REST client, by name (their secrets' hashes stay inside).
    pub async fn rest_clients(&self) -> Result<Vec<RestClientRecord>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let clients = tx.rest_clients().await?;
        tx.commit().await?;
        Ok(clients)
    }

    /// Gives a client a new secret. The old one goes at once from the database; a node
    /// that verified it within the last minute accepts it until its cache forgets it
    /// (a minute at most).
    pub async fn rotate_rest_client(&self, name: &str, secret: &str) -> Result<()> {
        let secret = Password::new_for(secret, None)
            .map_err(|_| Error::invalid("the secret must be 8 to 1024 characters"))?;
        let hash = self.passwords.hash(&secret).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if !tx.set_rest_client_secret(name, &hash).await? {
            return Err(no_client(name));
        }
        tx.commit().await
    }

    /// Deletes a client: refused everywhere within a minute (each node's cache of verified
    /// credentials), at once on nodes that had not verified it lately.
    pub async fn revoke_rest_client(&self, name: &str) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        if !tx.delete_rest_client(name).await? {
            return Err(no_client(name));
        }
        tx.commit().await
    }

    pub async fn platform_admins(&self) -> Result<Vec<User>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let admins = tx.platform_admins().await?;
        tx.commit().await?;
        Ok(admins)
    }

    /// Takes the platform-administrator flag from the account at `email` (it stays an
    /// ordinary account).
    pub async fn demote_platform_admin(&self, email: &str) -> Result<User> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let user = account_at(tx.as_mut(), email).await?;
        if !user.is_platform_admin {
            return Err(Error::invalid(format!(
                "{email} is not a platform administrator"
            )));
        }
        tx.set_platform_admin(user.id, false).await?;
        tx.commit().await?;
        Ok(User {
            is_platform_admin: false,
            ..user
        })
    }

    pub async fn find_user(&self, email: &str) -> Result<User> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let user = account_at(tx.as_mut(), email).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Disables or enables the account at `email`. A disabled account's every credential
    /// (access token, APIKey, session cookie, REST facade) is refused from its next request
    /// on, on every node: each request reads the account's status.
    pub async fn set_user_enabled(&self, email: &str, enabled: bool) -> Result<User> {
        let status = if enabled {
            UserStatus::Enabled
        } else {
            UserStatus::Disabled
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        let user = account_at(tx.as_mut(), email).await?;
        tx.set_user_status(user.id, status).await?;
        tx.commit().await?;
        Ok(User { status, ..user })
    }

    /// Every organisation, by ID.
    pub async fn all_organizations(&self) -> Result<Vec<Organization>> {
        let mut all: Vec<Organization> = vec![];
        loop {
            let after: Option<OrganizationId> = all.last().map(|o| o.id);
            let mut tx = self.store.begin(Mode::Read).await?;
            let page = tx.organizations_page(after, ORGANIZATIONS_PAGE).await?;
            tx.commit().await?;
            let last = (page.len() as i64) < ORGANIZATIONS_PAGE;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }
}

fn no_client(name: &str) -> Error {
    Error::not_found(format!("no REST client is named {name:?}"))
}

async fn account_at(tx: &mut dyn accord_store::Tx, email: &str) -> Result<User> {
    let key = Email::parse(email)?.key();
    tx.user_by_email_key(&key)
        .await?
        .ok_or_else(|| Error::not_found(format!("no account has the address {email}")))
}

/// How a rotation of the sealing key went ([`Services::reseal_secrets`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Sealed again under the current key.
    pub resealed: usize,
    /// Already under it.
    pub current: usize,
}

/// The signing keys' states, for `accord admin list-signing-keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningKeyState {
    /// The newest live key: it signs.
    Signs,
    /// Live, older: it still admits what it signed.
    Verifies,
    Retired,
    Compromised,
}

impl SigningKeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signs => "signs",
            Self::Verifies => "verifies",
            Self::Retired => "retired",
            Self::Compromised => "compromised",
        }
    }
}

impl Services {
    /// Every signing key with its state, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<(SigningKeyRecord, SigningKeyState)>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let keys = tx.signing_keys().await?;
        tx.commit().await?;
        let newest = super::tokens::signing_key_of(&keys).map(|k| k.id.clone());
        Ok(keys
            .into_iter()
            .map(|k| {
                let state = if k.compromised {
                    SigningKeyState::Compromised
                } else if k.retired_at.is_some() {
                    SigningKeyState::Retired
                } else if Some(&k.id) == newest.as_ref() {
                    SigningKeyState::Signs
                } else {
                    SigningKeyState::Verifies
                };
                (k, state)
            })
            .collect())
    }

    /// A new signing key, which signs from now on: on every node within
    /// [`tokens::KEY_RELOAD`](super::tokens::KEY_RELOAD). The older keys go on admitting
    /// what they signed until retired.
    pub async fn rotate_signing_key(&self) -> Result<SigningKeyRecord> {
        let key = super::tokens::new_signing_key(self.clock.now())?;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.lock_signing_keys().await?;
        tx.insert_signing_key(&key).await?;
        tx.commit().await?;
        Ok(key)
    }

    /// Retires a key: it admits no one from then on (on every node within
    /// [`tokens::KEY_RELOAD`](super::tokens::KEY_RELOAD)), its private half is erased, and
    /// its receipts and checkpoints still verify. Refused for the key that signs (rotate
    /// first), and, unless `compromised`, while an access token it signed may be unexpired
    /// (`access_token_ttl` and the nodes' reload after its successor came). A compromised
    /// key is retired at once and not even its receipts are vouched for any more.
    pub async fn retire_signing_key(
        &self,
        id: &str,
        compromised: bool,
        access_token_ttl: std::time::Duration,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.lock_signing_keys().await?;
        let keys = tx.signing_keys().await?;
        let key = keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| Error::not_found(format!("no signing key {id}")))?;
        if super::tokens::signing_key_of(&keys).is_some_and(|n| n.id == key.id) {
            return Err(Error::invalid(format!(
                "{id} is the key that signs: rotate-signing-key first"
            )));
        }
        if !compromised && key.retired_at.is_none() {
            // It signed until the next key came and every node had read it.
            let replaced_at = keys
                .iter()
                .filter(|k| (k.created_at, &k.id) > (key.created_at, &key.id))
                .map(|k| k.created_at)
                .min()
                .unwrap_or(now);
            let lapse = chrono::Duration::from_std(access_token_ttl + super::tokens::KEY_RELOAD)
                .map_err(Error::internal)?;
            let safe_from = replaced_at + lapse;
            if now < safe_from {
                return Err(Error::invalid(format!(
                    "access tokens {id} signed may be live until {}: retire it then, \
                     or with --compromised now (ending them and every APIKey it signed)",
                    safe_from.to_rfc3339()
                )));
            }
        }
        tx.retire_signing_key(id, now, compromised).await?;
        tx.commit().await
    }

    /// Seals every stored secret again under the key that seals now (after the operator
    /// set a new `ACCORD_SECRET_KEY`, with the old one as `ACCORD_SECRET_KEY_PREVIOUS`).
    /// One unit of work: all or nothing; a secret no known key opens fails it, naming its
    /// organisation.
    pub async fn reseal_secrets(&self) -> Result<Resealed> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let mut done = Resealed::default();
        for (org, sealed) in tx.sealed_client_secrets().await? {
            if sealed.is_empty() || self.sealer.is_current(&sealed) {
                done.current += 1;
                continue;
            }
            let plain = self.sealer.open(&sealed, &org.to_string()).map_err(|e| {
                Error::invalid(format!(
                    "organisation {org}'s OpenID client secret does not open ({e:?}): \
                     give the key it was sealed under as ACCORD_SECRET_KEY_PREVIOUS"
                ))
            })?;
            let again = self.sealer.seal(&plain, &org.to_string())?;
            tx.set_sealed_client_secret(org, &again).await?;
            done.resealed += 1;
        }
        tx.commit().await?;
        Ok(done)
    }
}
