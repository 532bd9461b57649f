//! Who is calling. The HTTP layer turns credentials into an [`Actor`]; services decide
//! what that actor may do.

use accord_domain::{Error, Result, SessionId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User(UserActor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActor {
    pub user_id: UserId,
    /// The session the access token belongs to; `None` when the caller used an APIKey.
    pub session_id: Option<SessionId>,
    pub is_platform_admin: bool,
}

impl Actor {
    /// The calling user, or 401 for an anonymous caller.
    pub fn user(&self) -> Result<&UserActor> {
        match self {
            Actor::User(u) => Ok(u),
            Actor::Anonymous => Err(Error::Unauthenticated("authentication required".into())),
        }
    }
}
