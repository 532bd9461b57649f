//! Sign-in through an organisation's OpenID provider: providers, logins in progress, linked identities.

use super::prelude::*;

#[async_trait]
pub trait FederationTx: Send {
    async fn identity_provider(&mut self, org: OrganizationId) -> Result<Option<IdentityProvider>>;
    /// `Conflict` when the organisation already has one.
    async fn insert_identity_provider(&mut self, provider: &IdentityProvider) -> Result<()>;
    /// `false` when the organisation has none.
    async fn update_identity_provider(&mut self, provider: &IdentityProvider) -> Result<bool>;
    /// Every provider's sealed client secret, by organisation (to re-seal them all).
    async fn sealed_client_secrets(&mut self) -> Result<Vec<(OrganizationId, String)>>;
    async fn set_sealed_client_secret(&mut self, org: OrganizationId, sealed: &str) -> Result<()>;
    async fn delete_identity_provider(&mut self, org: OrganizationId) -> Result<bool>;
    /// Stores a login in progress, purging those expired before `now`.
    async fn insert_login_state(&mut self, state: &LoginState, now: DateTime<Utc>) -> Result<()>;
    /// Removes and returns a login in progress: a state works once.
    async fn take_login_state(&mut self, state_hash: &str) -> Result<Option<LoginState>>;
    async fn external_identity_user(
        &mut self,
        org: OrganizationId,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>>;
    async fn insert_external_identity(&mut self, identity: &ExternalIdentity) -> Result<()>;
    /// Unlinks every outside identity of the account.
    async fn delete_external_identities_of(&mut self, user: UserId) -> Result<()>;
}
