//! Who may act for whom: mandates, delegations and role invitations.

use super::prelude::*;

#[async_trait]
pub trait MandatesTx: Send {
    async fn insert_mandate(&mut self, m: &accord_domain::customer_id::Mandate) -> Result<()>;
    async fn delete_mandate(&mut self, id: MandateId) -> Result<bool>;
    /// Every mandate (the caller filters by scope); ascending ID.
    async fn mandates(&mut self) -> Result<Vec<accord_domain::customer_id::Mandate>>;
    /// A mandate to an email address becomes a mandate to the account that now holds it.
    async fn attach_mandates_to(&mut self, user: UserId, email_key: &str) -> Result<()>;
    async fn insert_delegation(&mut self, d: &accord_domain::customer_id::Delegation)
        -> Result<()>;
    async fn delete_delegation(&mut self, id: DelegationId) -> Result<bool>;
    /// Every delegation (the caller filters by scope); ascending ID.
    async fn delegations(&mut self) -> Result<Vec<accord_domain::customer_id::Delegation>>;
    async fn insert_role_invitation(
        &mut self,
        i: &accord_domain::customer_id::RoleInvitation,
        token_hash: &str,
    ) -> Result<()>;
    async fn delete_role_invitation(&mut self, id: RoleInvitationId) -> Result<bool>;
    /// Every role invitation (the caller filters by scope); ascending ID.
    async fn role_invitations(&mut self)
        -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
    async fn role_invitations_of(
        &mut self,
        user: UserId,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
    /// The invited user of the open invitation holding this token hash.
    async fn user_of_invitation_token(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>>;
    /// Moves the user's link to a new token (the old one stops working) and gives every
    /// unaccepted invitation of the user a new expiry (expired ones revive).
    async fn renew_invitations(
        &mut self,
        user: UserId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks the user's open invitations accepted and clears their tokens; returns them.
    async fn accept_invitations(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<accord_domain::customer_id::RoleInvitation>>;
}
