//! CustomerID user writes: create, update (PUT semantics), delete.

use super::*;

/// Parameters that hand the account to someone else or take it from its holder.
const TAKEOVER_PARAMETERS: [&str; 5] = ["password", "email", "login", "status", "organizationId"];

impl Services {
    /// A user write goes to the action log of the user's home organisation (a user with
    /// none belongs to no organisation's log).
    async fn log_user_write(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        user: &User,
        what: &str,
    ) -> Result<()> {
        match user.home_organization_id {
            Some(org) => {
                self.log_action(
                    tx,
                    org,
                    "configuration",
                    &actor_label(actor),
                    &format!("{what} user {}", user.id),
                )
                .await
            }
            None => Ok(()),
        }
    }

    /// A bound client manages the people of its subtree, not their standing elsewhere: it
    /// may not set the password or email of, disable, re-home or delete a user who is a
    /// platform admin or holds a role, a subscription, a mandate or a delegation outside
    /// its subtree (403). Whoever could would sign in as them and act there.
    async fn refuse_reach_outside(
        &self,
        tx: &mut dyn Tx,
        user: &User,
        scope: &Scope,
    ) -> Result<()> {
        let Some(inside) = scope else {
            return Ok(());
        };
        let outside = |org: &OrganizationId| !inside.contains(org);
        let mut reaches = user.is_platform_admin
            || tx
                .role_grants_of(user.id)
                .await?
                .iter()
                .any(|g| outside(&g.organization_id))
            || tx
                .subscriptions_of(user.id)
                .await?
                .iter()
                .any(|s| outside(&s.organization.id));
        if !reaches {
            let held = tx.custom_roles_of(user.id).await?;
            reaches = tx
                .custom_roles()
                .await?
                .iter()
                .any(|r| held.contains(&r.id) && outside(&r.organization_id));
        }
        if !reaches {
            let me = Party::User(user.id);
            let mandates = tx.mandates().await?;
            let delegated: Vec<MandateId> = tx
                .delegations()
                .await?
                .iter()
                .filter(|d| d.delegate == user.id || d.delegator == user.id)
                .map(|d| d.mandate_id)
                .collect();
            for m in mandates
                .iter()
                .filter(|m| m.mandater == me || m.mandatee == me || delegated.contains(&m.id))
            {
                for party in [&m.mandater, &m.mandatee] {
                    if *party != me && !self.party_visible(tx, scope, party).await? {
                        reaches = true;
                    }
                }
            }
        }
        if reaches {
            return Err(Error::Forbidden(
                "the user holds a role, subscription, mandate or delegation outside your \
                 organizations (or is a platform administrator): only an unbound client may \
                 change their credentials, status or home, or delete them"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Applies user parameters (create or PUT semantics) to `user`; returns the custom
    /// attributes to write and a new password, if one was given.
    async fn apply_user_params(
        &self,
        tx: &mut dyn Tx,
        user: &mut User,
        params: &[(String, String)],
        scope: &Scope,
        tree: &[TreeNode],
    ) -> Result<(Vec<(String, Vec<String>)>, Option<Password>)> {
        let mut custom = vec![];
        let mut password = None;
        for (name, values) in grouped(params) {
            let empty = values.iter().all(|v| v.trim().is_empty());
            let text = |field: &str, max: usize| -> Result<String> {
                if empty {
                    Ok(String::new())
                } else {
                    accord_domain::identity::parse_profile_text(field, single(field, &values)?, max)
                }
            };
            match name.as_str() {
                "firstname" => user.first_name = text("firstname", 128)?,
                "surname" => user.surname = text("surname", 128)?,
                "mobile" => user.phone = text("mobile", 64)?,
                "email" | "login" if empty => {
                    return Err(Error::invalid("email cannot be removed"))
                }
                "email" | "login" => {
                    let email = accord_domain::identity::Email::parse(single(&name, &values)?)?;
                    if let Some(other) = tx.user_by_email_key(&email.key()).await? {
                        if other.id != user.id {
                            return Err(Error::Conflict("a user with this email exists".into()));
                        }
                    }
                    user.email = Some(email);
                }
                "organizationId" if empty => {
                    if scope.is_some() {
                        return Err(Error::Forbidden(
                            "a bound client keeps its users within its organizations".into(),
                        ));
                    }
                    user.home_organization_id = None;
                }
                "organizationId" => {
                    let org: OrganizationId = single(&name, &values)?.parse().map_err(|_| {
                        Error::parent_not_found("organizationId is not an organization ID")
                    })?;
                    let visible = tree.iter().any(|n| n.id == org)
                        && scope.as_ref().is_none_or(|s| s.contains(&org));
                    if !visible {
                        return Err(Error::parent_not_found(
                            "organizationId names no organization you can see",
                        ));
                    }
                    user.home_organization_id = Some(org);
                }
                "status" => user.status = UserStatus::parse_search(single(&name, &values)?)?,
                "password" => {
                    password = Some(Password::new_for(
                        single(&name, &values)?,
                        user.email.as_ref(),
                    )?)
                }
                "id" | "cn" | "organization" | "organizationEntityName" | "emailVerified" => {
                    return Err(Error::invalid(format!(
                        "{name} is derived and cannot be set"
                    )))
                }
                _ => custom.push((
                    parse_custom_attribute_name(&name)?,
                    if empty { vec![] } else { values },
                )),
            }
        }
        // The iGrant facade's Name follows CustomerID's names when they are set.
        let full = format!("{} {}", user.first_name, user.surname)
            .trim()
            .to_owned();
        if !full.is_empty() {
            user.name = full;
        }
        Ok((custom, password))
    }

    /// Create User: `email` (required), `firstname`, `surname`, `mobile`, `organizationId`
    /// (the home organization; required for a bound client), `status` (default enabled),
    /// `password`, custom attributes.
    pub async fn cid_create_user(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<UserId> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let mut user = User::new(None, UserStatus::Enabled, now);
        let (custom, password) = self
            .apply_user_params(tx.as_mut(), &mut user, params, &scope, &tree)
            .await?;
        tx.commit().await?;
        if user.email.is_none() {
            return Err(Error::invalid("email is required"));
        }
        if scope.is_some() && user.home_organization_id.is_none() {
            return Err(Error::invalid(
                "organizationId is required for a client bound to an organization",
            ));
        }
        if let Some(p) = &password {
            user.password_hash = Some(self.passwords.hash(p).await?);
        }
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.insert_user(&user).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("a user with this email exists".into()),
            other => other,
        })?;
        for (name, values) in &custom {
            tx.set_user_attribute(user.id, name, values).await?;
        }
        self.log_user_write(tx.as_mut(), actor, &user, "created")
            .await?;
        tx.commit().await?;
        Ok(user.id)
    }

    /// Update User (PUT): defined attributes replaced, empty values remove, missing stay.
    pub async fn cid_update_user(
        &self,
        actor: &Actor,
        id: &str,
        params: &[(String, String)],
    ) -> Result<UserId> {
        self.require_visible_user(actor, id).await?;
        let id: UserId = id.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let mut user = tx.user_by_id(id).await?.ok_or_else(|| not_found("user"))?;
        let takes_over = params
            .iter()
            .any(|(name, _)| TAKEOVER_PARAMETERS.contains(&name.as_str()));
        if takes_over {
            self.refuse_reach_outside(tx.as_mut(), &user, &scope)
                .await?;
        }
        let email_before = user.email.clone();
        let (custom, password) = self
            .apply_user_params(tx.as_mut(), &mut user, params, &scope, &tree)
            .await?;
        tx.commit().await?;
        let email_changed =
            user.email.as_ref().map(|e| e.key()) != email_before.as_ref().map(|e| e.key());
        let hash = match &password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.update_user_identity(&user).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("a user with this email exists".into()),
            other => other,
        })?;
        let now = self.clock.now();
        if let Some(h) = &hash {
            tx.set_password_hash(id, h).await?;
            self.close_other_doors(tx.as_mut(), id, None, now).await?;
        }
        if email_changed {
            // A reset or verification link mailed to the old address must not outlive it,
            // and the new address is unproven until its holder follows a link.
            tx.void_password_resets(id).await?;
            tx.void_email_verifications(id).await?;
            tx.set_email_verified(id, None).await?;
        }
        for (name, values) in &custom {
            tx.set_user_attribute(id, name, values).await?;
        }
        if !user.status.may_log_in() {
            // A disabled or locked account loses its sessions at once.
            tx.revoke_sessions_of_user(id, self.clock.now(), None)
                .await?;
        }
        self.log_user_write(tx.as_mut(), actor, &user, "updated")
            .await?;
        tx.commit().await?;
        if email_changed {
            self.address_changed(id, email_before.as_ref().map(|e| e.as_str()))
                .await;
        }
        Ok(id)
    }

    /// Delete User: the account and its personal data; never an organization's last Admin.
    /// Run again when a deadlock aborted it (see [`retry_on_contention`]).
    pub async fn cid_delete_user(&self, actor: &Actor, id: &str) -> Result<UserId> {
        retry_on_contention(|| self.delete_user_once(actor, id)).await
    }

    async fn delete_user_once(&self, actor: &Actor, id: &str) -> Result<UserId> {
        self.require_visible_user(actor, id).await?;
        let id: UserId = id.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        if let Some(user) = tx.user_by_id(id).await? {
            self.refuse_reach_outside(tx.as_mut(), &user, &scope)
                .await?;
        }
        for grant in tx.role_grants_of(id).await? {
            if grant.role == OrgRole::Admin {
                let admins = tx
                    .role_holders(grant.organization_id)
                    .await?
                    .iter()
                    .filter(|(_, r)| *r == OrgRole::Admin)
                    .count();
                if admins == 1 {
                    return Err(Error::Conflict(format!(
                        "the user is the last Admin of organization {}",
                        grant.organization_id
                    )));
                }
            }
        }
        if let Some(user) = tx.user_by_id(id).await? {
            self.log_user_write(tx.as_mut(), actor, &user, "deleted")
                .await?;
        }
        tx.delete_user(id).await?;
        tx.commit().await?;
        Ok(id)
    }
}
