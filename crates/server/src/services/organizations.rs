//! Organisations: types, profiles, role holders and subscription settings (subscribed
//! users: `subscribers.rs`; purposes and data attributes: `purposes.rs`). Every function decides who may call it (see
//! `docs/permissions.md`); an organisation's existence is not secret (any signed-in user
//! may read its profile), so a forbidden action on an existing one is 403.

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::identity::OrgRole;
use accord_domain::organization::{
    parse_http_url, subscribe_key_from_indices, OfferKind, Organization, OrganizationType, Purpose,
    SubscribeMethod, Template,
};
use accord_domain::{Error, OrganizationId, OrganizationTypeId, Result, UserId};
use accord_store::{Mode, Tx};

use super::{Actor, Services};

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
    /// Whether a download request's copy is released at once.
    pub data_export_at_once: Option<bool>,
}

/// What giving someone a role came to; either way the organisation as the caller sees it.
pub enum RoleChange {
    Granted(OrganizationView),
    /// The person was asked (or no one has the ID): they hold nothing yet.
    Offered(OrganizationView),
}

pub(super) const TEXT_MAX: usize = 1024;

pub(super) fn text(field: &str, raw: &str, max: usize) -> Result<String> {
    accord_domain::identity::parse_profile_text(field, raw, max)
}

pub(super) fn required(field: &str, raw: &str) -> Result<String> {
    let v = text(field, raw, 256)?;
    if v.is_empty() {
        return Err(Error::invalid(format!("{field} is required")));
    }
    Ok(v)
}

impl Services {
    pub(crate) fn random_subscribe_key(&self) -> String {
        use rand::Rng as _;
        let mut rng = rand::rngs::OsRng;
        let indices: [usize; 12] = std::array::from_fn(|_| rng.gen_range(0..36));
        subscribe_key_from_indices(&indices)
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
            tx.delete_image(*image).await?;
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
            return Err(super::shared::forbidden("change the settings"));
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
            if let Some(at_once) = patch.data_export_at_once {
                o.data_export_at_once = at_once;
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
            return Err(super::shared::forbidden("enable or disable subscriptions"));
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
            return Err(super::shared::forbidden("change the role holders"));
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
            return Err(super::shared::forbidden("change the role holders"));
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
}
