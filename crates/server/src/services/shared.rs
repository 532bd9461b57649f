//! What several areas of the services share, in one visible place: an organisation and
//! the caller's standing in it, the organisation's action log, a person's profile and
//! APIKey. Area files (`identity.rs`, `organizations.rs`, `consents.rs`, …) call their
//! own functions and these; a call from one area into another's private helpers does not
//! compile (inherent methods are private to their module), and the few public service
//! functions one area calls in another are listed in docs/ARCHITECTURE.md ("Services").

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::identity::User;
use accord_domain::organization::Organization;
use accord_domain::throttle::{ThrottlePolicy, ThrottleState};
use accord_domain::webhook::ActionLog;
use accord_domain::{Error, OrganizationId, Result, UserId};
use accord_store::Tx;
use chrono::{DateTime, Utc};

use super::actor::UserActor;
use super::identity::UserProfile;
use super::mail::OutgoingMail;
use super::{Actor, Services};

/// The refusal of an action the caller's standing does not allow.
pub(crate) fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("you may not {what} of this organisation"))
}

impl Services {
    /// The organisation and what the caller is to it; 404 if it does not exist.
    pub(crate) async fn standing_in(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<(Organization, OrgStanding, UserActor)> {
        let me = actor.user()?.clone();
        let org = tx
            .organization_by_id(org)
            .await?
            .ok_or_else(|| Error::not_found("organisation not found"))?;
        let roles = tx
            .role_grants_of(me.user_id)
            .await?
            .into_iter()
            .filter(|g| g.organization_id == org.id)
            .map(|g| g.role)
            .collect();
        Ok((
            org,
            OrgStanding {
                roles,
                platform_admin: me.is_platform_admin,
            },
            me,
        ))
    }

    /// Loads an organisation for an action the caller must be allowed.
    pub(crate) async fn org_for(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        org: OrganizationId,
        action: OrgAction,
        what: &str,
    ) -> Result<(Organization, UserActor)> {
        let (org, standing, me) = self.standing_in(tx, actor, org).await?;
        if !standing.may(action) {
            return Err(forbidden(what));
        }
        Ok((org, me))
    }

    /// Appends to the organisation's log inside the caller's unit of work.
    pub(crate) async fn log_action(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        kind: &str,
        actor: &str,
        message: &str,
    ) -> Result<()> {
        tx.insert_action_log(&self.action_log(org, kind, actor, message))
            .await
    }

    fn action_log(&self, org: OrganizationId, kind: &str, actor: &str, message: &str) -> ActionLog {
        ActionLog {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: org,
            kind: kind.to_owned(),
            actor_id: actor.to_owned(),
            message: message.to_owned(),
            created_at: self.clock.now(),
        }
    }

    /// For reads: the log entry gets a unit of work of its own.
    pub(crate) async fn log_read(
        &self,
        org: OrganizationId,
        kind: &str,
        actor: &Actor,
        message: &str,
    ) -> Result<()> {
        let actor_id = actor
            .user()
            .map(|u| u.user_id.to_string())
            .unwrap_or_default();
        self.store
            .append_action_log(&self.action_log(org, kind, &actor_id, message))
            .await
    }

    /// A user's profile with roles and subscriptions; the APIKey only for themselves.
    pub(crate) async fn profile_of(
        &self,
        tx: &mut dyn Tx,
        user: User,
        own: bool,
    ) -> Result<UserProfile> {
        let roles = tx.role_grants_of(user.id).await?;
        let orgs = tx.subscriptions_of(user.id).await?;
        let api_key = if own { self.api_key_of(&user)? } else { None };
        Ok(UserProfile {
            user,
            roles,
            orgs,
            api_key,
        })
    }

    pub(crate) fn api_key_of(&self, user: &User) -> Result<Option<String>> {
        user.apikey_issued_at
            .map(|at| self.tokens.api_key(user.id, user.apikey_revision, at))
            .transpose()
    }

    /// Subscribes a user (idempotent) with their empty consent record; the first time
    /// fires `org.subscribed`. A disabled organisation takes no new subscribers.
    pub(crate) async fn subscribe_in(
        &self,
        tx: &mut dyn Tx,
        org: &Organization,
        user: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let already = tx
            .subscriptions_of(user)
            .await?
            .iter()
            .any(|s| s.organization.id == org.id);
        if already {
            return Ok(());
        }
        if !org.enabled {
            return Err(Error::invalid(
                "this organisation does not accept subscriptions",
            ));
        }
        if tx.subscribe(org.id, user, now).await? {
            let data = serde_json::json!({"organisationID": org.id.to_string(), "userID": user.to_string(), "timestamp": now.to_rfc3339()});
            super::events::emit(
                tx,
                org.id,
                accord_domain::webhook::EventType::OrgSubscribed,
                data,
                now,
            )
            .await?;
        }
        tx.ensure_consent(org.id, user, now).await.map(|_| ())
    }

    /// Sends a mail in the background: a failure is logged, not answered (what it tells
    /// stands elsewhere too: an offer among the notifications, an invitation to resend),
    /// and the answer's timing does not tell whether a mail went out.
    pub(crate) fn mail_in_background(&self, mail: Option<OutgoingMail>) {
        let Some(mail) = mail else { return };
        let mailer = std::sync::Arc::clone(&self.mailer);
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                tracing::error!(error = ?e, "mail failed");
            }
        });
    }

    /// A few mails of a kind per target address and window (`key` names both), silently:
    /// nobody floods a mailbox through us. Counts this one; `false` when over.
    pub(crate) async fn mail_allowed(
        &self,
        tx: &mut dyn Tx,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (state, verdict) = tx
            .throttle_state(key, &ThrottleState::fresh(now))
            .await?
            .attempt(now, &ThrottlePolicy::ACCOUNT);
        tx.put_throttle_state(key, &state).await?;
        Ok(verdict.is_ok())
    }
}
