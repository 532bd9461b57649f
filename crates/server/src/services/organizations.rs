//! Organisations: types, profiles, role holders, subscription settings, subscribed users,
//! purposes and data attributes. Every function decides who may call it (see
//! `docs/permissions.md`); an organisation's existence is not secret (any signed-in user
//! may read its profile), so a forbidden action on an existing one is 403.

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::identity::{OrgRole, User, UserStatus};
use accord_domain::organization::{
    parse_http_url, subscribe_key_from_indices, LawfulBasis, OfferKind, Organization,
    OrganizationType, Purpose, SubscribeMethod, Template,
};
use accord_domain::{
    AttributeId, Error, OrganizationId, OrganizationTypeId, PurposeId, Result, UserId,
};
use accord_store::{Mode, Tx};

use super::identity::UserProfile;
use super::{Actor, Services, UserActor};

pub use accord_domain::consent_change::MAX_ATTRIBUTES_PER_PURPOSE;

/// An organisation with everything its wire object shows.
#[derive(Debug, Clone)]
pub struct OrganizationView {
    pub organization: Organization,
    pub org_type: Option<OrganizationType>,
    pub purposes: Vec<Purpose>,
    pub templates: Vec<Template>,
    /// Role holders; empty unless the caller may read the configuration.
    pub admins: Vec<(UserId, OrgRole)>,
    /// Whether the caller may see the subscription key.
    pub reveal_key: bool,
}

pub struct NewOrganization<'a> {
    pub name: &'a str,
    pub location: &'a str,
    pub type_id: &'a str,
    pub description: &'a str,
    pub eula_url: Option<&'a str>,
    pub hlc_support: bool,
}

#[derive(Default)]
pub struct OrganizationPatch<'a> {
    pub name: Option<&'a str>,
    pub location: Option<&'a str>,
    pub description: Option<&'a str>,
    pub policy_url: Option<&'a str>,
    /// (retention period in seconds, enabled)
    pub data_retention: Option<(i64, bool)>,
}

/// A purpose as a client describes it (create and replace).
pub struct PurposeInput {
    pub name: String,
    pub description: String,
    pub lawful_basis: i64,
    pub policy_url: String,
    pub attribute_type: i64,
    pub jurisdiction: String,
    pub disclosure: String,
    pub industry_scope: String,
    pub restriction: String,
    pub shared_3pp: bool,
}

pub struct TemplateInput {
    pub consent: String,
    pub purpose_ids: Vec<String>,
}

/// What subscribing someone came to.
pub enum Subscription {
    Subscribed(Box<UserProfile>),
    /// The person was asked (or no one has the ID): nothing is subscribed yet.
    Offered,
}

/// What giving someone a role came to; either way the organisation as the caller sees it.
pub enum RoleChange {
    Granted(OrganizationView),
    /// The person was asked (or no one has the ID): they hold nothing yet.
    Offered(OrganizationView),
}

/// One page of subscribed users, and the ID to continue after if more may follow.
pub struct UserPage {
    pub users: Vec<User>,
    pub next_start: Option<UserId>,
}

const TEXT_MAX: usize = 1024;

fn text(field: &str, raw: &str, max: usize) -> Result<String> {
    accord_domain::identity::parse_profile_text(field, raw, max)
}

fn required(field: &str, raw: &str) -> Result<String> {
    let v = text(field, raw, 256)?;
    if v.is_empty() {
        return Err(Error::invalid(format!("{field} is required")));
    }
    Ok(v)
}

fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("you may not {what} of this organisation"))
}

impl Services {
    pub(crate) fn random_subscribe_key(&self) -> String {
        use rand::Rng as _;
        let mut rng = rand::rngs::OsRng;
        let indices: [usize; 12] = std::array::from_fn(|_| rng.gen_range(0..36));
        subscribe_key_from_indices(&indices)
    }

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

    pub(crate) async fn organization_view(
        &self,
        tx: &mut dyn Tx,
        org: Organization,
        standing: &OrgStanding,
    ) -> Result<OrganizationView> {
        let org_type = match org.type_id {
            Some(t) => tx.org_type_by_id(t).await?,
            None => None,
        };
        let purposes = tx.purposes_of(org.id).await?;
        let templates = tx.templates_of(org.id).await?;
        let admins = if standing.may(OrgAction::ReadConfiguration) {
            tx.role_holders(org.id).await?
        } else {
            vec![]
        };
        Ok(OrganizationView {
            reveal_key: standing.may(OrgAction::ReadSubscribeKey),
            organization: org,
            org_type,
            purposes,
            templates,
            admins,
        })
    }

    // ---- organisation types (platform admins write; anyone reads) ----

    pub async fn organization_types(&self) -> Result<Vec<OrganizationType>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let types = tx.org_types().await?;
        tx.commit().await?;
        Ok(types)
    }

    pub async fn organization_type(&self, id: OrganizationTypeId) -> Result<OrganizationType> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let t = tx
            .org_type_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("organisation type not found"))?;
        tx.commit().await?;
        Ok(t)
    }

    fn require_platform_admin(actor: &Actor) -> Result<()> {
        let standing = OrgStanding::platform(actor.user()?.is_platform_admin);
        if standing.may(OrgAction::ManageOrganizationTypes) {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "only platform administrators manage organisation types".into(),
            ))
        }
    }

    pub async fn create_organization_type(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<OrganizationType> {
        Self::require_platform_admin(actor)?;
        let t = OrganizationType {
            id: OrganizationTypeId::new(),
            name: required("type", name)?,
            image_id: None,
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.insert_org_type(&t, self.clock.now()).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn rename_organization_type(
        &self,
        actor: &Actor,
        id: OrganizationTypeId,
        name: &str,
    ) -> Result<OrganizationType> {
        Self::require_platform_admin(actor)?;
        let name = required("type", name)?;
        let mut t = self.organization_type(id).await?;
        t.name = name;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.update_org_type(&t).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn delete_organization_type(
        &self,
        actor: &Actor,
        id: OrganizationTypeId,
    ) -> Result<()> {
        Self::require_platform_admin(actor)?;
        let t = self.organization_type(id).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if tx.org_type_in_use(t.id).await? {
            return Err(Error::Conflict("organisations still have this type".into()));
        }
        tx.delete_org_type(t.id).await?;
        if let Some(image) = &t.image_id {
            tx.delete_image(image).await?;
        }
        tx.commit().await
    }

    // ---- organisations ----

    /// Registers an organisation; the caller becomes its Admin.
    pub async fn create_organization(
        &self,
        actor: &Actor,
        input: NewOrganization<'_>,
    ) -> Result<OrganizationView> {
        let me = actor.user()?;
        let type_id: OrganizationTypeId = input
            .type_id
            .parse()
            .map_err(|_| Error::invalid("typeid names no organisation type"))?;
        let org = Organization {
            name: required("name", input.name)?,
            location: text("location", input.location, 256)?,
            description: text("description", input.description, TEXT_MAX)?,
            type_id: Some(type_id),
            eula_url: input
                .eula_url
                .filter(|u| !u.is_empty())
                .map(|u| parse_http_url("eulaurl", u))
                .transpose()?
                .unwrap_or_default(),
            hlc_support: input.hlc_support,
            ..Organization::new(self.clock.now())
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        let creator = tx
            .user_by_id(me.user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("account no longer exists".into()))?;
        // The creator becomes its Admin, and an anonymous (APIKey-only) user holds no role
        // by any path.
        if creator.email.is_none() {
            return Err(Error::Forbidden(
                "an anonymous user cannot hold an organisation role, so cannot create one".into(),
            ));
        }
        if tx.org_type_by_id(type_id).await?.is_none() {
            return Err(Error::invalid("typeid names no organisation type"));
        }
        tx.insert_organization(&org).await?;
        tx.grant_role(org.id, me.user_id, OrgRole::Admin).await?;
        let standing = OrgStanding {
            roles: vec![OrgRole::Admin],
            platform_admin: me.is_platform_admin,
        };
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Any signed-in user may read an organisation's profile (to decide whether to
    /// subscribe); its key and role holders only those who may read its configuration.
    pub async fn organization(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<OrganizationView> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Applies `change` to an organisation the caller may configure, and saves it.
    async fn configure(
        &self,
        actor: &Actor,
        org: OrganizationId,
        what: &str,
        change: impl FnOnce(&mut Organization) -> Result<()> + Send,
    ) -> Result<OrganizationView> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (mut org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::Configure) {
            return Err(forbidden("change the settings"));
        }
        change(&mut org)?;
        tx.update_organization(&org).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            what,
        )
        .await?;
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_organization(
        &self,
        actor: &Actor,
        org: OrganizationId,
        patch: OrganizationPatch<'_>,
    ) -> Result<OrganizationView> {
        let name = patch.name.map(|n| required("name", n)).transpose()?;
        let location = patch
            .location
            .map(|l| text("location", l, 256))
            .transpose()?;
        let description = patch
            .description
            .map(|d| text("description", d, TEXT_MAX))
            .transpose()?;
        let policy_url = patch
            .policy_url
            .map(|u| {
                if u.trim().is_empty() {
                    Ok(String::new())
                } else {
                    parse_http_url("policyurl", u)
                }
            })
            .transpose()?;
        let retention = patch.data_retention;
        if retention.is_some_and(|(period, _)| !(0..=100 * 365 * 86400).contains(&period)) {
            return Err(Error::invalid(
                "RetentionPeriod must be 0 to 100 years, in seconds",
            ));
        }
        self.configure(actor, org, "updated the organisation's profile", move |o| {
            if let Some(v) = name {
                o.name = v;
            }
            if let Some(v) = location {
                o.location = v;
            }
            if let Some(v) = description {
                o.description = v;
            }
            if let Some(v) = policy_url {
                o.policy_url = v;
            }
            if let Some((period, enabled)) = retention {
                o.retention_period_secs = period;
                o.retention_enabled = enabled;
            }
            Ok(())
        })
        .await
    }

    pub async fn set_eula_url(
        &self,
        actor: &Actor,
        org: OrganizationId,
        url: Option<&str>,
    ) -> Result<OrganizationView> {
        let url = url
            .map(|u| parse_http_url("eulaurl", u))
            .transpose()?
            .unwrap_or_default();
        let what = if url.is_empty() {
            "deleted the EULA URL"
        } else {
            "set the EULA URL"
        };
        self.configure(actor, org, what, move |o| {
            o.eula_url = url;
            Ok(())
        })
        .await
    }

    pub async fn subscribe_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<(String, SubscribeMethod)> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ReadSubscribeKey,
                "read the subscription key",
            )
            .await?;
        tx.commit().await?;
        Ok((org.subscribe_key, org.subscribe_method))
    }

    /// A new key, for key-based organisations only (400 otherwise).
    pub async fn renew_subscribe_key(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<(String, SubscribeMethod)> {
        let key = self.random_subscribe_key();
        let view = self
            .configure(actor, org, "renewed the subscription key", move |o| {
                if o.subscribe_method != SubscribeMethod::KeyBased {
                    return Err(Error::invalid("the subscription method is not key based"));
                }
                o.subscribe_key = key;
                Ok(())
            })
            .await?;
        Ok((
            view.organization.subscribe_key,
            view.organization.subscribe_method,
        ))
    }

    pub async fn subscribe_method(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<SubscribeMethod> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ReadConfiguration,
                "read the settings",
            )
            .await?;
        tx.commit().await?;
        Ok(org.subscribe_method)
    }

    /// Key-based: a fresh key; any other method: no key.
    pub async fn set_subscribe_method(
        &self,
        actor: &Actor,
        org: OrganizationId,
        method: i64,
    ) -> Result<()> {
        let method = SubscribeMethod::from_id(method)?;
        let key = self.random_subscribe_key();
        self.configure(
            actor,
            org,
            &format!("set the subscription method to {}", method.name()),
            move |o| {
                o.subscribe_method = method;
                o.subscribe_key = if method == SubscribeMethod::KeyBased {
                    key
                } else {
                    String::new()
                };
                Ok(())
            },
        )
        .await
        .map(|_| ())
    }

    pub async fn subscription_enabled(&self, actor: &Actor, org: OrganizationId) -> Result<bool> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ReadConfiguration,
                "read the settings",
            )
            .await?;
        tx.commit().await?;
        Ok(org.enabled)
    }

    /// Opens or closes an organisation to subscriptions: its Admin, or a platform admin.
    pub async fn set_subscription_enabled(
        &self,
        actor: &Actor,
        org: OrganizationId,
        enabled: bool,
    ) -> Result<OrganizationView> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (mut org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::ToggleSubscription) {
            return Err(forbidden("enable or disable subscriptions"));
        }
        org.enabled = enabled;
        tx.update_organization(&org).await?;
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        self.log_action(
            tx.as_mut(),
            view.organization.id,
            "configuration",
            &me.user_id.to_string(),
            if enabled {
                "enabled subscriptions"
            } else {
                "disabled subscriptions"
            },
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    // ---- role holders ----

    pub async fn organization_admins(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<Vec<(UserId, OrgRole)>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ReadConfiguration,
                "read the role holders",
            )
            .await?;
        let holders = tx.role_holders(org.id).await?;
        tx.commit().await?;
        Ok(holders)
    }

    /// Gives a role: to the organisation's own people (homed in it through CustomerID) or
    /// the caller themselves at once; anyone else is offered it and holds it once they
    /// accept (`RoleChange::Offered`). The Admin decides; a platform admin only for an
    /// organisation left without an Admin (to offer someone the role).
    pub async fn add_organization_admin(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: &str,
        role: i64,
    ) -> Result<RoleChange> {
        let role = OrgRole::from_id(role)
            .ok_or_else(|| Error::invalid("roleid must be 1 (Admin), 2 (Dpo) or 3 (Developer)"))?;
        let user: UserId = user
            .parse()
            .map_err(|_| Error::invalid("userid is not a user ID"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        let orphaned = !tx
            .role_holders(org.id)
            .await?
            .iter()
            .any(|(_, r)| *r == OrgRole::Admin);
        let appointing =
            standing.may(OrgAction::AppointAdmin) && orphaned && role == OrgRole::Admin;
        if !standing.may(OrgAction::Configure) && !appointing {
            return Err(forbidden("change the role holders"));
        }
        let Some(target) = tx.user_by_id(user).await? else {
            // Nobody to ask: the same answer as when someone is asked.
            let view = self.organization_view(tx.as_mut(), org, &standing).await?;
            tx.commit().await?;
            return Ok(RoleChange::Offered(view));
        };
        if target.email.is_none() {
            return Err(Error::invalid(
                "an anonymous user cannot hold an organisation role",
            ));
        }
        let own = target.id == me.user_id || target.home_organization_id == Some(org.id);
        if !own || appointing {
            let mail = self
                .offer(
                    tx.as_mut(),
                    &org,
                    &target,
                    OfferKind::Role(role),
                    me.user_id,
                )
                .await?;
            let view = self.organization_view(tx.as_mut(), org, &standing).await?;
            tx.commit().await?;
            self.mail_in_background(mail);
            return Ok(RoleChange::Offered(view));
        }
        tx.grant_role(org.id, user, role).await?;
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        self.log_action(
            tx.as_mut(),
            view.organization.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("gave user {user} the role {}", role.id()),
        )
        .await?;
        tx.commit().await?;
        Ok(RoleChange::Granted(view))
    }

    /// Removes every role of `user` in the organisation; the last Admin stays (400).
    pub async fn remove_organization_admin(
        &self,
        actor: &Actor,
        org: OrganizationId,
        user: &str,
    ) -> Result<OrganizationView> {
        let user: UserId = user
            .parse()
            .map_err(|_| Error::invalid("userid names no role holder"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::Configure) {
            return Err(forbidden("change the role holders"));
        }
        let holders = tx.role_holders(org.id).await?;
        let admins: Vec<UserId> = holders
            .iter()
            .filter(|(_, r)| *r == OrgRole::Admin)
            .map(|(u, _)| *u)
            .collect();
        if admins == [user] {
            return Err(Error::invalid(
                "the last Admin of an organisation cannot be removed",
            ));
        }
        if !tx.revoke_roles(org.id, user).await? {
            return Err(Error::invalid(
                "userid names no role holder of this organisation",
            ));
        }
        // The caller may have removed themselves: what they see now is as a non-member.
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org.id).await?;
        let view = self.organization_view(tx.as_mut(), org, &standing).await?;
        self.log_action(
            tx.as_mut(),
            view.organization.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("removed the roles of user {user}"),
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    // ---- subscribed users ----

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
            return Err(forbidden("subscribe other users"));
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
            super::webhooks::emit(
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
        super::webhooks::emit(
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

    // ---- purposes and templates ----

    fn purpose_from(&self, org: OrganizationId, id: PurposeId, p: PurposeInput) -> Result<Purpose> {
        Ok(Purpose {
            id,
            organization_id: org,
            name: required("Name", &p.name)?,
            description: text("Description", &p.description, 4096)?,
            lawful_basis: LawfulBasis::from_id(p.lawful_basis)?,
            policy_url: if p.policy_url.trim().is_empty() {
                String::new()
            } else {
                parse_http_url("PolicyURL", &p.policy_url)?
            },
            attribute_type: p.attribute_type,
            jurisdiction: text("Jurisdiction", &p.jurisdiction, 256)?,
            disclosure: text("Disclosure", &p.disclosure, 256)?,
            industry_scope: text("IndustryScope", &p.industry_scope, 256)?,
            restriction: text("Restriction", &p.restriction, 256)?,
            shared_3pp: p.shared_3pp,
        })
    }

    /// Purposes and templates are public parts of an organisation's profile.
    pub async fn purposes(&self, actor: &Actor, org: OrganizationId) -> Result<Vec<Purpose>> {
        Ok(self.organization(actor, org).await?.purposes)
    }

    pub async fn purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
    ) -> Result<Purpose> {
        self.purposes(actor, org)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::not_found("purpose not found"))
    }

    pub async fn create_purposes(
        &self,
        actor: &Actor,
        org: OrganizationId,
        inputs: Vec<PurposeInput>,
    ) -> Result<Vec<Purpose>> {
        if inputs.is_empty() {
            return Err(Error::invalid("Purposes must list at least one purpose"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        let mut created = vec![];
        for input in inputs {
            let p = self.purpose_from(org.id, PurposeId::new(), input)?;
            tx.insert_purpose(&p, now).await?;
            created.push(p);
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("created {} purposes", created.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn replace_purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
        input: PurposeInput,
    ) -> Result<Purpose> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        let existing = tx
            .purposes_of(org.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::not_found("purpose not found"))?;
        let p = self.purpose_from(org.id, existing.id, input)?;
        tx.update_purpose(&p).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("replaced purpose {}", p.id),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Deleted purposes stay in the database (consent history refers to them) but are no
    /// longer listed nor served by templates.
    pub async fn delete_purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        if !tx.delete_purpose(org.id, id, self.clock.now()).await? {
            return Err(Error::not_found("purpose not found"));
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("deleted purpose {id}"),
        )
        .await?;
        tx.commit().await
    }

    async fn template_from(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        id: AttributeId,
        t: TemplateInput,
    ) -> Result<Template> {
        let known: Vec<PurposeId> = tx
            .purposes_of(org)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let mut purpose_ids = vec![];
        for raw in &t.purpose_ids {
            let pid = raw.parse::<PurposeId>().ok().filter(|p| known.contains(p));
            let pid = pid.ok_or_else(|| {
                Error::invalid(format!(
                    "PurposeIDs: {raw:?} is no purpose of this organisation"
                ))
            })?;
            if !purpose_ids.contains(&pid) {
                purpose_ids.push(pid);
            }
        }
        // Every consent change may touch each attribute of a purpose: their number bounds
        // the work (and the ledger entries) one request can cause.
        let others = tx.templates_of(org).await?;
        for pid in &purpose_ids {
            let held = others
                .iter()
                .filter(|o| o.id != id && o.purpose_ids.contains(pid))
                .count();
            if held >= MAX_ATTRIBUTES_PER_PURPOSE {
                return Err(Error::invalid(format!(
                    "a purpose has at most {MAX_ATTRIBUTES_PER_PURPOSE} data attributes; \
                     {pid} has them all"
                )));
            }
        }
        Ok(Template {
            id,
            organization_id: org,
            consent: required("Consent", &t.consent)?,
            purpose_ids,
        })
    }

    pub async fn templates(&self, actor: &Actor, org: OrganizationId) -> Result<Vec<Template>> {
        Ok(self.organization(actor, org).await?.templates)
    }

    pub async fn template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
    ) -> Result<Template> {
        self.templates(actor, org)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("template not found"))
    }

    pub async fn create_templates(
        &self,
        actor: &Actor,
        org: OrganizationId,
        inputs: Vec<TemplateInput>,
    ) -> Result<Vec<Template>> {
        if inputs.is_empty() {
            return Err(Error::invalid("Templates must list at least one template"));
        }
        if inputs.len() > MAX_ATTRIBUTES_PER_PURPOSE {
            return Err(Error::invalid(format!(
                "at most {MAX_ATTRIBUTES_PER_PURPOSE} templates at once"
            )));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        let mut created = vec![];
        for input in inputs {
            let t = self
                .template_from(tx.as_mut(), org.id, AttributeId::new(), input)
                .await?;
            tx.insert_template(&t, now).await?;
            created.push(t);
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("created {} data attributes", created.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn replace_template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
        input: TemplateInput,
    ) -> Result<Template> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        let existing = tx
            .templates_of(org.id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("template not found"))?;
        let t = self
            .template_from(tx.as_mut(), org.id, existing.id, input)
            .await?;
        tx.update_template(&t).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("replaced data attribute {}", t.id),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn delete_template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        if !tx.delete_template(org.id, id, self.clock.now()).await? {
            return Err(Error::not_found("template not found"));
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("deleted data attribute {id}"),
        )
        .await?;
        tx.commit().await
    }
}
