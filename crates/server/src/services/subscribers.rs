//! An organisation's subscribed users: subscribing someone (or offering it), paging and
//! counting them, unsubscribing, anonymous (APIKey-only) users.

use accord_domain::access::OrgAction;
use accord_domain::identity::{User, UserStatus};
use accord_domain::organization::{FoundOrganization, OfferKind, SubscribeMethod};
use accord_domain::{Error, OrganizationId, OrganizationTypeId, Result, UserId};
use accord_store::Mode;

use super::identity::UserProfile;
use super::{Actor, Services};

/// What subscribing someone came to.
pub enum Subscription {
    Subscribed(Box<UserProfile>),
    /// The person was asked (or no one has the ID): nothing is subscribed yet.
    Offered,
}

/// One page of subscribed users, and the ID to continue after if more may follow.
pub struct UserPage {
    pub users: Vec<User>,
    pub next_start: Option<UserId>,
}

impl Services {
    /// Subscribes a user: individuals themselves (with the key when key-based). An Admin
    /// subscribes the people the organisation onboards itself (anonymous users it created,
    /// users homed in it); anyone else is offered the subscription and is subscribed once
    /// they accept (`Subscription::Offered`, whether or not the ID names anyone: the answer
    /// tells nothing about the person). Idempotent.
    pub async fn subscribe_user(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: Option<&str>,
        key: Option<&str>,
    ) -> Result<Subscription> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        let target = match user.filter(|u| !u.is_empty()) {
            Some(u) => u
                .parse::<UserId>()
                .map_err(|_| Error::invalid("userid is not a user ID"))?,
            None => me.user_id,
        };
        let by_admin = standing.may(OrgAction::Configure);
        if target != me.user_id && !by_admin {
            return Err(super::shared::forbidden("subscribe other users"));
        }
        if !org.enabled {
            return Err(Error::invalid(
                "this organisation does not accept subscriptions",
            ));
        }
        if target != me.user_id {
            let person = tx.user_by_id(target).await?;
            let own = person
                .as_ref()
                .is_some_and(|u| u.home_organization_id == Some(org.id));
            if !own {
                let mail = match &person {
                    Some(u) if !tx.is_subscribed(org.id, u.id).await? => {
                        self.offer(tx.as_mut(), &org, u, OfferKind::Subscription, me.user_id)
                            .await?
                    }
                    _ => None,
                };
                tx.commit().await?;
                self.mail_in_background(mail);
                return Ok(Subscription::Offered);
            }
        } else if org.subscribe_method == SubscribeMethod::KeyBased && !by_admin {
            let offered = key.unwrap_or("").trim();
            use subtle::ConstantTimeEq as _;
            if !bool::from(offered.as_bytes().ct_eq(org.subscribe_key.as_bytes())) {
                return Err(Error::invalid("invalid subscription key"));
            }
        }
        let user = tx
            .user_by_id(target)
            .await?
            .ok_or_else(|| Error::invalid("userid names no user"))?;
        self.subscribe_in(tx.as_mut(), &org, user.id, self.clock.now())
            .await?;
        let profile = self
            .profile_of(tx.as_mut(), user, target == me.user_id)
            .await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(Subscription::Subscribed(Box::new(profile)))
    }

    /// Keyset pagination over subscribers in ascending user ID order: `startid` is the
    /// last ID of the previous page; users subscribed meanwhile appear exactly once.
    pub async fn organization_users(
        &self,
        actor: &Actor,
        org: OrganizationId,
        limit: Option<i64>,
        start: Option<&str>,
    ) -> Result<UserPage> {
        let limit = super::paging::page_limit(limit)?;
        let after = match start.filter(|s| !s.is_empty()) {
            Some(s) => Some(
                s.parse::<UserId>()
                    .map_err(|_| Error::invalid("startid is not a user ID"))?,
            ),
            None => None,
        };
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ListUsers,
                "list the users",
            )
            .await?;
        // One more than asked tells whether another page follows.
        let mut users = tx.subscribers(org.id, after, limit + 1).await?;
        tx.commit().await?;
        let more = users.len() as i64 > limit;
        users.truncate(limit as usize);
        let next_start = if more {
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_start })
    }

    pub async fn organization_user_count(&self, actor: &Actor, org: OrganizationId) -> Result<i64> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::CountUsers,
                "count the users",
            )
            .await?;
        let n = tx.subscriber_count(org.id).await?;
        tx.commit().await?;
        self.log_read(
            org.id,
            "user_count",
            actor,
            "read the number of subscribed users",
        )
        .await?;
        Ok(n)
    }

    /// Ends a subscription: the user themselves, or an Admin of the organisation. The
    /// consent record goes with it (docs/consents.md).
    pub async fn unsubscribe_user(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: &str,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        let user: UserId = user
            .parse()
            .map_err(|_| Error::not_found("no such subscribed user"))?;
        if user != me.user_id && !standing.may(OrgAction::Configure) {
            // Whether someone else subscribes here is not the caller's business.
            return Err(Error::not_found("no such subscribed user"));
        }
        // The chain head first, as a consent change takes it: the record's deletion then
        // waits for (or precedes) any change in flight instead of deadlocking with it.
        tx.lock_chain_head(org.id).await?;
        if !tx.unsubscribe(org.id, user).await? {
            return Err(Error::not_found("no such subscribed user"));
        }
        // Whoever leaves takes their record with them: the organisation cannot write to it
        // any more, and a return starts from the purposes' defaults (the history stays).
        tx.delete_consent_record(org.id, user).await?;
        let now = self.clock.now();
        let data = serde_json::json!({"organisationID": org.id.to_string(), "userID": user.to_string(), "timestamp": now.to_rfc3339()});
        super::events::emit(
            tx.as_mut(),
            org.id,
            accord_domain::webhook::EventType::OrgUnsubscribed,
            data,
            now,
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(())
    }

    /// A user with no email or password, subscribed to the organisation, for data wallets
    /// and kiosks. It signs in with the APIKey created here (returned once, to the Admin).
    pub async fn create_anonymous_user(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<UserProfile> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "create anonymous users",
            )
            .await?;
        // Homed in the organisation: it onboarded them, so it may provision them.
        let user = User {
            apikey_revision: 1,
            apikey_issued_at: Some(now),
            home_organization_id: Some(org.id),
            ..User::new(None, UserStatus::Enabled, now)
        };
        tx.insert_user(&user).await?;
        tx.subscribe(org.id, user.id, now).await?;
        tx.ensure_consent(org.id, user.id, now).await?;
        // The creator needs the key to hand it to the wallet or kiosk.
        let mut profile = self.profile_of(tx.as_mut(), user.clone(), false).await?;
        profile.api_key = self.api_key_of(&user)?;
        tx.commit().await?;
        Ok(profile)
    }
}

/// Results one search answers at most.
const SEARCH_LIMIT: i64 = 50;

impl Services {
    /// `GET /v1/organizations/search?name=`: organisations open for subscriptions whose
    /// name contains the text (any case), by name, at most 50; whether the caller
    /// subscribes to each. Any signed-in person (they look for whom to subscribe to).
    pub async fn search_organizations(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<Vec<FoundOrganization>> {
        let me = actor.user()?.user_id;
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name is required"));
        }
        if name.chars().count() > 256 {
            return Err(Error::invalid("name: at most 256 characters"));
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let found = tx.organizations_named_like(name, me, SEARCH_LIMIT).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// `GET /v1/users/{userID}/organizations` (`typeID` to filter): the organisations the
    /// caller subscribes to, each as they see it. Only the caller (anyone else: 404).
    pub async fn my_organizations(
        &self,
        actor: &Actor,
        named: &str,
        type_id: Option<&str>,
    ) -> Result<Vec<super::organizations::OrganizationView>> {
        let me = actor.user()?.user_id;
        if named.parse::<UserId>().ok() != Some(me) {
            return Err(Error::not_found("user not found"));
        }
        let type_id = type_id
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<OrganizationTypeId>()
                    .map_err(|_| Error::invalid("typeID is not an organisation type ID"))
            })
            .transpose()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let mut views = vec![];
        for s in tx.subscriptions_of(me).await? {
            if type_id.is_some_and(|t| s.organization.type_id != Some(t)) {
                continue;
            }
            let (org, standing, _) = self
                .standing_in(tx.as_mut(), actor, s.organization.id)
                .await?;
            views.push(self.organization_view(tx.as_mut(), org, &standing).await?);
        }
        tx.commit().await?;
        Ok(views)
    }
}

impl Services {
    /// `POST /v1/user/organizations/{orgID}/eula`: the subscriber accepts the
    /// organisation's EULA as it reads now (`Orgs[].EulaAccepted` until it changes).
    pub async fn accept_eula(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<super::identity::UserProfile> {
        let me = actor.user()?.user_id;
        let mut tx = self.store.begin(Mode::Write).await?;
        let not_found = || Error::not_found("you do not subscribe to this organisation");
        let org = tx.organization_by_id(org).await?.ok_or_else(not_found)?;
        if org.eula_url.is_empty() {
            return Err(Error::invalid("this organisation has no EULA"));
        }
        if !tx
            .accept_eula(org.id, me, &org.eula_url, self.clock.now())
            .await?
        {
            return Err(not_found());
        }
        let profile = self.own_profile(tx.as_mut(), me).await?;
        tx.commit().await?;
        Ok(profile)
    }
}
