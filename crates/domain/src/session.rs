//! Login sessions and the refresh tokens that extend them.

use chrono::{DateTime, Utc};

use crate::identity::UserStatus;
use crate::{Error, Result, SessionId, UserId};

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

/// How recently a password sign-in must have happened for its session to change the
/// password without the current one (the spec's `{"password"}` body).
pub const FRESH_SIGN_IN: chrono::Duration = chrono::Duration::minutes(10);

impl Session {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    /// Whether the session began with a password (not through an organisation's identity
    /// provider).
    pub fn from_password(&self) -> bool {
        self.client_id.is_empty()
    }

    /// The "recent login" proof that stands in for the current password: a password
    /// sign-in of this very session, within [`FRESH_SIGN_IN`], whose access token is the
    /// sign-in's own (`refreshed`: a refresh token of the session was used, so whoever
    /// holds it may only have held a refresh token). Never a federated session or an
    /// APIKey (which has no session).
    pub fn proves_recent_password(&self, refreshed: bool, now: DateTime<Utc>) -> bool {
        self.is_active(now)
            && self.from_password()
            && !refreshed
            && now - self.created_at <= FRESH_SIGN_IN
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

/// What presenting a refresh token finds, as stored: the token, its session, and the
/// status of the session's account (`None` where the session or account is gone).
#[derive(Debug, Clone)]
pub struct RefreshState {
    pub record: RefreshTokenRecord,
    pub session: Option<Session>,
    pub user_status: Option<UserStatus>,
}

/// What presenting a refresh token leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Unknown token, or its session or account can no longer be used: nothing changes.
    Refused,
    /// The token was rotated already, so it leaked: its whole session is revoked.
    Reused { session_id: SessionId },
    /// The session goes on: the token is spent, and a successor with the session's
    /// expiry takes its place.
    Rotated { session: Session },
}

impl Rotation {
    /// The rule of refreshing, applied to what the store found for the presented token.
    pub fn judge(state: Option<&RefreshState>, now: DateTime<Utc>) -> Self {
        let Some(state) = state else {
            return Self::Refused;
        };
        if state.record.used_at.is_some() {
            return Self::Reused {
                session_id: state.record.session_id,
            };
        }
        match (&state.session, state.user_status) {
            (Some(session), Some(status)) if session.is_active(now) && status.may_log_in() => {
                Self::Rotated {
                    session: session.clone(),
                }
            }
            _ => Self::Refused,
        }
    }
}

/// A bearer credential whose signature has been checked but not yet its liveness (the
/// session not revoked or expired, the APIKey not rotated, the account enabled). Read
/// paths that fetch everything in one statement check liveness in that same statement
/// (`Services::consents`) instead of a round trip of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AccessToken { user: UserId, session: SessionId },
    ApiKey { user: UserId, revision: i64 },
}

impl Credential {
    pub fn user(&self) -> UserId {
        match self {
            Credential::AccessToken { user, .. } | Credential::ApiKey { user, .. } => *user,
        }
    }

    pub fn session(&self) -> Option<SessionId> {
        match self {
            Credential::AccessToken { session, .. } => Some(*session),
            Credential::ApiKey { .. } => None,
        }
    }
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.into())
}

pub fn refused(credential: &Credential) -> Error {
    unauthenticated(match credential {
        Credential::AccessToken { .. } => "session expired or revoked",
        Credential::ApiKey { .. } => "APIKey revoked or rotated",
    })
}

/// Whether a signed credential is still good, from what the database says of its
/// account (status, the APIKey's revision if one is issued) and session: the one rule,
/// whichever way those facts were read.
pub fn live(
    credential: &Credential,
    status: UserStatus,
    api_key: Option<i64>,
    session: Option<&Session>,
    now: DateTime<Utc>,
) -> Result<()> {
    let good = status.may_log_in()
        && match credential {
            Credential::AccessToken { user, .. } => {
                session.is_some_and(|s| s.is_active(now) && s.user_id == *user)
            }
            Credential::ApiKey { revision, .. } => api_key == Some(*revision),
        };
    if good {
        Ok(())
    } else {
        Err(refused(credential))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// A session started at `now` that lasts an hour.
    fn hour_long_session(now: DateTime<Utc>) -> Session {
        Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            client_id: String::new(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
        }
    }

    #[test]
    fn a_session_is_active_until_it_expires_or_is_revoked() {
        let now = Utc::now();
        let mut s = hour_long_session(now);
        assert!(s.is_active(now));
        assert!(!s.is_active(now + Duration::hours(1)));
        s.revoked_at = Some(now);
        assert!(!s.is_active(now));
    }

    #[test]
    fn a_refresh_rotates_once_and_a_reuse_revokes() {
        let now = Utc::now();
        let session = hour_long_session(now);
        let mut state = RefreshState {
            record: RefreshTokenRecord {
                token_hash: "h".into(),
                session_id: session.id,
                expires_at: session.expires_at,
                used_at: None,
            },
            session: Some(session.clone()),
            user_status: Some(UserStatus::Enabled),
        };
        assert_eq!(Rotation::judge(None, now), Rotation::Refused);
        assert_eq!(
            Rotation::judge(Some(&state), now),
            Rotation::Rotated {
                session: session.clone()
            }
        );
        state.user_status = Some(UserStatus::Locked);
        assert_eq!(Rotation::judge(Some(&state), now), Rotation::Refused);
        state.user_status = None;
        assert_eq!(Rotation::judge(Some(&state), now), Rotation::Refused);
        state.user_status = Some(UserStatus::Enabled);
        assert_eq!(
            Rotation::judge(Some(&state), now + Duration::hours(1)),
            Rotation::Refused
        );
        state.session = None;
        assert_eq!(Rotation::judge(Some(&state), now), Rotation::Refused);
        state.record.used_at = Some(now);
        assert_eq!(
            Rotation::judge(Some(&state), now),
            Rotation::Reused {
                session_id: session.id
            }
        );
    }

    #[test]
    fn only_a_fresh_password_sign_in_stands_in_for_the_current_password() {
        let now = Utc::now();
        let password = Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            client_id: String::new(),
            created_at: now - Duration::minutes(2),
            expires_at: now + Duration::hours(10),
            revoked_at: None,
        };
        // (session, refreshed, at, proves)
        let federated = Session {
            client_id: "idp:0190a7c8-0000-7000-8000-000000000000".into(),
            ..password.clone()
        };
        let revoked = Session {
            revoked_at: Some(now),
            ..password.clone()
        };
        let table = [
            (&password, false, now, true),
            (&password, true, now, false),
            (&password, false, now + Duration::minutes(9), false),
            (&password, false, now + Duration::minutes(7), true),
            (&federated, false, now, false),
            (&revoked, false, now, false),
        ];
        for (session, refreshed, at, proves) in table {
            assert_eq!(
                session.proves_recent_password(refreshed, at),
                proves,
                "{session:?} refreshed {refreshed} at {at}"
            );
        }
    }
}
