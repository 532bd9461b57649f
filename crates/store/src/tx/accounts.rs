//! Accounts: users, the proof of their addresses, password resets and sign-in throttling.

use super::prelude::*;

#[async_trait]
pub trait AccountsTx: Send {
    async fn insert_user(&mut self, user: &User) -> Result<()>;
    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>>;
    async fn user_by_email_key(&mut self, email_key: &str) -> Result<Option<User>>;
    async fn update_user_profile(&mut self, id: UserId, name: &str, phone: &str) -> Result<()>;
    /// The language the person is written to in.
    async fn set_user_language(&mut self, id: UserId, language: Language) -> Result<()>;
    /// The device that receives the user's push notifications (`Client` of the User).
    async fn set_push_client(&mut self, id: UserId, token: &str, client_type: i64) -> Result<()>;
    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()>;
    async fn set_last_visit(&mut self, id: UserId, at: DateTime<Utc>) -> Result<()>;
    async fn set_apikey(
        &mut self,
        id: UserId,
        revision: i64,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Ends the user's APIKey, if one is issued (the revision moves on, so the old key
    /// never works again).
    async fn revoke_apikey(&mut self, id: UserId) -> Result<()>;
    async fn set_platform_admin(&mut self, id: UserId, is_admin: bool) -> Result<()>;
    /// Every platform administrator, by address.
    async fn platform_admins(&mut self) -> Result<Vec<User>>;
    async fn set_user_status(&mut self, id: UserId, status: UserStatus) -> Result<()>;
    /// Deletes the account and, by cascade, its sessions and tokens. `false` if absent.
    async fn delete_user(&mut self, id: UserId) -> Result<bool>;
    async fn insert_password_reset(
        &mut self,
        token_hash: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// When the account's current address was proven (`None`: not, or not since it changed).
    async fn set_email_verified(&mut self, user: UserId, at: Option<DateTime<Utc>>) -> Result<()>;
    async fn insert_email_verification(
        &mut self,
        token_hash: &str,
        user: UserId,
        email_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses a verification token once: its account and the address it was mailed to, if
    /// it had not expired.
    async fn take_email_verification(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>>;
    /// Records a request to change the address to `new_email`, proven by the token mailed
    /// to it.
    async fn insert_email_change(
        &mut self,
        token_hash: &str,
        user: UserId,
        new_email: &str,
        new_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses an address-change token once: its account and the new address, if unexpired.
    async fn take_email_change(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>>;
    async fn void_email_verifications(&mut self, user: UserId) -> Result<()>;
    /// Voids every outstanding reset token of the user (a credential or address changed).
    async fn void_password_resets(&mut self, user: UserId) -> Result<()>;
    /// Uses a reset token once: the user it belongs to if it was unused and unexpired.
    async fn consume_password_reset(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>>;
    /// The key's state, created as `fresh` if absent, locked for this unit of work.
    async fn throttle_state(&mut self, key: &str, fresh: &ThrottleState) -> Result<ThrottleState>;
    async fn put_throttle_state(&mut self, key: &str, state: &ThrottleState) -> Result<()>;
}
