//! Login sessions and the refresh tokens that extend them.

use chrono::{DateTime, Utc};

use crate::{SessionId, UserId};

/// Every access token names its session; revoking the session revokes them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub client_id: String,
    pub created_at: DateTime<Utc>,
    /// The session ends when its last refresh token could no longer be used.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A refresh token as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub session_id: SessionId,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_session_is_active_until_it_expires_or_is_revoked() {
        let now = Utc::now();
        let mut s = Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            client_id: String::new(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
        };
        assert!(s.is_active(now));
        assert!(!s.is_active(now + Duration::hours(1)));
        s.revoked_at = Some(now);
        assert!(!s.is_active(now));
    }
}
