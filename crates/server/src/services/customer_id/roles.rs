//! CustomerID roles: the iGrant roles of each organisation and roles created here.

use super::*;

impl Services {
    /// Every role the caller may see: the iGrant roles of each organisation in scope, and
    /// the roles created there through CustomerID.
    async fn cid_visible_roles(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
    ) -> Result<(Vec<Role>, Vec<TreeNode>)> {
        let (scope, tree) = self.cid_scope(tx, actor).await?;
        let in_scope = |org: OrganizationId| scope.as_ref().is_none_or(|s| s.contains(&org));
        let mut roles: Vec<Role> = tree
            .iter()
            .filter(|n| in_scope(n.id))
            .flat_map(|n| {
                [OrgRole::Admin, OrgRole::Dpo, OrgRole::Developer].map(|r| r.role_of(n.id))
            })
            .collect();
        roles.extend(
            tx.custom_roles()
                .await?
                .into_iter()
                .filter(|r| in_scope(r.organization_id)),
        );
        roles.sort_by_key(|r| r.id);
        Ok((roles, tree))
    }

    /// GET108: the roles the caller may see.
    pub async fn cid_roles(&self, actor: &Actor) -> Result<Vec<String>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (roles, _) = self.cid_visible_roles(tx.as_mut(), actor).await?;
        tx.commit().await?;
        Ok(roles.into_iter().map(|r| r.id.to_string()).collect())
    }

    /// GET109: a role's `name` and `entityName` (`<organisation entity name>/<ROLE NAME>`).
    pub async fn cid_role(&self, actor: &Actor, id: RoleId) -> Result<Attributes> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (roles, tree) = self.cid_visible_roles(tx.as_mut(), actor).await?;
        tx.commit().await?;
        let role = roles
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found("role"))?;
        // The spec's GET109 sample (`name`, `entityName`), then ours.
        let mut a: Attributes = vec![];
        push(&mut a, "name", role.name.clone());
        push(
            &mut a,
            "entityName",
            format!("{}/{}", entity_name(&tree, role.organization_id), role.name),
        );
        push(&mut a, "id", role.id.to_string());
        push(&mut a, "organizationId", role.organization_id.to_string());
        Ok(a)
    }

    /// GET117: the roles a user is a member of (within the caller's scope).
    pub async fn cid_user_roles(&self, actor: &Actor, user: &str) -> Result<Vec<String>> {
        // The user must be visible to the caller, as for GET105.
        self.require_visible_user(actor, user).await?;
        let user: UserId = user.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (visible, _) = self.cid_visible_roles(tx.as_mut(), actor).await?;
        let mut ids: Vec<RoleId> = tx
            .role_grants_of(user)
            .await?
            .into_iter()
            .map(|g| g.role.role_of(g.organization_id).id)
            .collect();
        ids.extend(tx.custom_roles_of(user).await?);
        tx.commit().await?;
        ids.retain(|id| visible.iter().any(|r| r.id == *id));
        let mut ids: Vec<String> = ids.iter().map(RoleId::to_string).collect();
        ids.sort();
        Ok(ids)
    }
}

/// Which kind of role an ID names.
pub(super) enum RoleRef {
    /// An iGrant role of an organisation (members in `organization_roles`).
    Builtin(OrgRole, OrganizationId),
    /// A role created through CustomerID (members in `role_members`).
    Custom(Role),
}

fn role_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.contains('/')
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid(
            "name must be 1 to 64 characters, without '/'",
        ))
    }
}

impl Services {
    /// A role the caller may see, by ID (404 otherwise).
    pub(super) async fn role_ref(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        id: RoleId,
    ) -> Result<RoleRef> {
        let (roles, _) = self.cid_visible_roles(tx, actor).await?;
        let role = roles
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found("role"))?;
        for builtin in [OrgRole::Admin, OrgRole::Dpo, OrgRole::Developer] {
            if builtin.role_of(role.organization_id).id == role.id {
                return Ok(RoleRef::Builtin(builtin, role.organization_id));
            }
        }
        Ok(RoleRef::Custom(role))
    }

    /// Create Role: `name` and `organizationId`; unique in the organisation (the iGrant
    /// role names included).
    pub async fn cid_create_role(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<String> {
        let mut name = None;
        let mut org = None;
        for (key, values) in grouped(params) {
            match key.as_str() {
                "name" => name = Some(role_name(single(&key, &values)?)?),
                "organizationId" => {
                    org = Some(
                        single(&key, &values)?
                            .parse::<OrganizationId>()
                            .map_err(|_| {
                                Error::invalid("organizationId is not an organization ID")
                            })?,
                    )
                }
                other => return Err(Error::invalid(format!("unknown parameter {other:?}"))),
            }
        }
        let (name, org) = match (name, org) {
            (Some(n), Some(o)) => (n, o),
            _ => return Err(Error::invalid("name and organizationId are required")),
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        if !tree.iter().any(|n| n.id == org) || scope.as_ref().is_some_and(|s| !s.contains(&org)) {
            return Err(Error::invalid(
                "organizationId names no organization you can see",
            ));
        }
        let taken = ["Admin", "Dpo", "Developer"]
            .iter()
            .any(|b| b.eq_ignore_ascii_case(&name))
            || tx
                .custom_roles()
                .await?
                .iter()
                .any(|r| r.organization_id == org && r.name.eq_ignore_ascii_case(&name));
        if taken {
            return Err(Error::Conflict(format!(
                "the organization has a role named {name:?}"
            )));
        }
        let role = Role {
            id: RoleId::new(),
            organization_id: org,
            name,
        };
        tx.insert_role(&role, self.clock.now()).await?;
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor_label(actor),
            &format!("created role {}", role.name),
        )
        .await?;
        tx.commit().await?;
        Ok(role.id.to_string())
    }

    /// Delete Role: roles created through CustomerID only (the iGrant roles are part of
    /// every organisation: 400).
    pub async fn cid_delete_role(&self, actor: &Actor, id: RoleId) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        match self.role_ref(tx.as_mut(), actor, id).await? {
            RoleRef::Builtin(..) => Err(Error::invalid(
                "the roles Admin, Dpo and Developer belong to every organization",
            )),
            RoleRef::Custom(role) => {
                tx.delete_role(role.id).await?;
                self.log_action(
                    tx.as_mut(),
                    role.organization_id,
                    "configuration",
                    &actor_label(actor),
                    &format!("deleted role {}", role.name),
                )
                .await?;
                tx.commit().await?;
                Ok(role.id.to_string())
            }
        }
    }

    /// Assign Role: the user (visible to the caller, not anonymous) becomes a member.
    /// The iGrant roles give the same rights as `POST /v1/organizations/{id}/admins`.
    pub async fn cid_assign_role(&self, actor: &Actor, user: &str, role: RoleId) -> Result<String> {
        self.require_visible_user(actor, user).await?;
        let user: UserId = user.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let target = tx
            .user_by_id(user)
            .await?
            .ok_or_else(|| not_found("user"))?;
        if target.email.is_none() {
            return Err(Error::invalid("an anonymous user cannot hold a role"));
        }
        let (org, label) = match self.role_ref(tx.as_mut(), actor, role).await? {
            RoleRef::Builtin(r, org) => {
                tx.grant_role(org, user, r).await?;
                (org, r.name().to_owned())
            }
            RoleRef::Custom(r) => {
                tx.add_role_member(r.id, user).await?;
                (r.organization_id, r.name)
            }
        };
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor_label(actor),
            &format!("gave user {user} the role {label}"),
        )
        .await?;
        tx.commit().await?;
        Ok(role.to_string())
    }

    /// Remove Role: never the last Admin of an organisation.
    pub async fn cid_unassign_role(
        &self,
        actor: &Actor,
        user: &str,
        role: RoleId,
    ) -> Result<String> {
        self.require_visible_user(actor, user).await?;
        let user: UserId = user.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, removed) = match self.role_ref(tx.as_mut(), actor, role).await? {
            RoleRef::Builtin(r, org) => {
                if r == OrgRole::Admin {
                    let admins: Vec<UserId> = tx
                        .role_holders(org)
                        .await?
                        .into_iter()
                        .filter(|(_, x)| *x == OrgRole::Admin)
                        .map(|(u, _)| u)
                        .collect();
                    if admins == [user] {
                        return Err(Error::invalid(
                            "the last Admin of an organization cannot be removed",
                        ));
                    }
                }
                (org, tx.revoke_role(org, user, r).await?)
            }
            RoleRef::Custom(r) => (r.organization_id, tx.remove_role_member(r.id, user).await?),
        };
        if !removed {
            return Err(not_found("role membership"));
        }
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor_label(actor),
            &format!("removed role {role} from user {user}"),
        )
        .await?;
        tx.commit().await?;
        Ok(role.to_string())
    }
}
