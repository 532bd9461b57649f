//! Who is calling. The HTTP layer turns credentials into an [`Actor`]; services decide
//! what that actor may do.

use accord_domain::{Error, OrganizationId, Result, SessionId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User(UserActor),
    /// A back end calling the CustomerID API with HTTP Basic.
    RestClient(RestClientActor),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestClientActor {
    pub id: accord_domain::RestClientId,
    pub name: String,
    /// Sees and changes only this organisation and its sub-organisations; `None`: all.
    pub organization: Option<OrganizationId>,
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
            Actor::RestClient(_) => Err(Error::Forbidden(
                "REST clients use the CustomerID API".into(),
            )),
        }
    }
}

pub use accord_domain::session::Credential;
