//! The operator's daily work, for `accord admin …` (docs/operations.md, "The operator's
//! command line"). Whoever runs the command line with the database's address is trusted
//! as the operator: these functions take no caller.

use accord_domain::identity::{Email, Password, User, UserStatus};
use accord_domain::organization::Organization;
use accord_domain::{Error, OrganizationId, Result};
use accord_store::{Mode, RestClientRecord};

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
