//! Sessions and the refresh tokens that extend them.

use super::prelude::*;

#[async_trait]
pub trait SessionsTx: Send {
    async fn insert_session(&mut self, session: &Session) -> Result<()>;
    async fn session_by_id(&mut self, id: SessionId) -> Result<Option<Session>>;
    /// The user's sessions neither revoked nor expired at `now`, newest first (at most
    /// `limit`).
    async fn live_sessions_of(
        &mut self,
        user: UserId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Session>>;
    async fn revoke_session(&mut self, id: SessionId, at: DateTime<Utc>) -> Result<()>;
    /// Revokes every session of the user but `except` (the caller's own, when it stays).
    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: DateTime<Utc>,
        except: Option<SessionId>,
    ) -> Result<()>;
    /// Whether any refresh token of the session was used: its access token came from a
    /// refresh, not from the sign-in itself.
    async fn session_was_refreshed(&mut self, session: SessionId) -> Result<bool>;
    async fn insert_refresh_token(&mut self, token: &RefreshTokenRecord) -> Result<()>;
    async fn refresh_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>>;
    /// A refresh token with its session and the session's account, in one statement (a
    /// page's cookie is looked up on every page).
    async fn session_by_refresh_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, Session, User)>>;
    /// Marks a refresh token used; `false` if it already was (someone raced us: a reuse).
    async fn mark_refresh_token_used(
        &mut self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
}
