//! CustomerID organisation writes: create (POST100), update, delete.

use super::*;

impl Services {
    async fn type_named(&self, tx: &mut dyn Tx, name: &str) -> Result<Option<OrganizationTypeId>> {
        if name.is_empty() {
            return Ok(None);
        }
        let t = tx
            .org_type_by_name(name)
            .await?
            .ok_or_else(|| Error::invalid(format!("no organization type {name:?}")))?;
        Ok(Some(t.id))
    }

    fn sibling_clash(
        tree: &[TreeNode],
        parent: Option<OrganizationId>,
        name: &str,
        except: Option<OrganizationId>,
    ) -> bool {
        tree.iter().any(|n| {
            n.parent_id == parent
                && Some(n.id) != except
                && n.technical_name
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(name))
        })
    }

    /// POST100 Create Organization. A bound client creates only below its organisation.
    pub async fn cid_create_organization(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<OrganizationId> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let mut org = accord_domain::organization::Organization::new(now);
        let mut custom = vec![];
        for (name, values) in grouped(params) {
            match name.as_str() {
                "friendlyName" => {
                    org.name = accord_domain::identity::parse_profile_text(
                        "friendlyName",
                        single(&name, &values)?,
                        256,
                    )?
                }
                "technicalName" => {
                    org.technical_name = Some(technical_name(single(&name, &values)?)?)
                }
                "parentOrganizationId" => {
                    let parent: OrganizationId = single(&name, &values)?.parse().map_err(|_| {
                        Error::parent_not_found("parentOrganizationId is not an organization ID")
                    })?;
                    if !tree.iter().any(|n| n.id == parent)
                        || scope.as_ref().is_some_and(|s| !s.contains(&parent))
                    {
                        return Err(Error::parent_not_found(
                            "parentOrganizationId names no organization you can see",
                        ));
                    }
                    org.parent_id = Some(parent);
                }
                "organizationType" | "organizationClass" => {
                    org.type_id = self
                        .type_named(tx.as_mut(), single(&name, &values)?)
                        .await?
                }
                _ => custom.push((parse_custom_attribute_name(&name)?, values)),
            }
        }
        if org.name.is_empty() {
            return Err(Error::invalid("friendlyName is required"));
        }
        if scope.is_some() && org.parent_id.is_none() {
            return Err(Error::Forbidden(
                "a client bound to an organization creates organizations below it only".into(),
            ));
        }
        if let Some(t) = &org.technical_name {
            if Self::sibling_clash(&tree, org.parent_id, t, None) {
                return Err(Error::Conflict(format!(
                    "an organization named {t:?} exists there"
                )));
            }
        }
        tx.insert_organization(&org).await?;
        for (name, values) in &custom {
            tx.set_organization_attribute(org.id, name, values).await?;
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &actor_label(actor),
            "created through CustomerID",
        )
        .await?;
        tx.commit().await?;
        Ok(org.id)
    }

    /// PUT Update Organization: defined attributes are replaced, an empty value removes
    /// the attribute, a missing attribute is left as it is.
    pub async fn cid_update_organization(
        &self,
        actor: &Actor,
        id: &str,
        params: &[(String, String)],
    ) -> Result<OrganizationId> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let id: OrganizationId = id.parse().map_err(|_| not_found("organization"))?;
        if scope.as_ref().is_some_and(|s| !s.contains(&id)) {
            return Err(not_found("organization"));
        }
        let mut org = tx
            .organization_by_id(id)
            .await?
            .ok_or_else(|| not_found("organization"))?;
        for (name, values) in grouped(params) {
            let empty = values.iter().all(|v| v.trim().is_empty());
            match name.as_str() {
                "friendlyName" if empty => {
                    return Err(Error::invalid("friendlyName cannot be removed"))
                }
                "friendlyName" => {
                    org.name = accord_domain::identity::parse_profile_text(
                        "friendlyName",
                        single(&name, &values)?,
                        256,
                    )?
                }
                "technicalName" => {
                    org.technical_name = if empty {
                        None
                    } else {
                        Some(technical_name(single(&name, &values)?)?)
                    }
                }
                "parentOrganizationId" if empty => {
                    if scope.is_some() {
                        return Err(Error::Forbidden(
                            "a bound client cannot move an organization out of its tree".into(),
                        ));
                    }
                    org.parent_id = None;
                }
                "parentOrganizationId" => {
                    let parent: OrganizationId = single(&name, &values)?.parse().map_err(|_| {
                        Error::parent_not_found("parentOrganizationId is not an organization ID")
                    })?;
                    let visible = tree.iter().any(|n| n.id == parent)
                        && scope.as_ref().is_none_or(|s| s.contains(&parent));
                    if !visible {
                        return Err(Error::parent_not_found(
                            "parentOrganizationId names no organization you can see",
                        ));
                    }
                    if subtree(&tree, id).contains(&parent) {
                        return Err(Error::invalid(
                            "parentOrganizationId must be outside this organization's subtree",
                        ));
                    }
                    org.parent_id = Some(parent);
                }
                "organizationType" | "organizationClass" => {
                    org.type_id = self
                        .type_named(
                            tx.as_mut(),
                            if empty { "" } else { single(&name, &values)? },
                        )
                        .await?
                }
                _ => {
                    let name = parse_custom_attribute_name(&name)?;
                    let values: Vec<String> = if empty { vec![] } else { values };
                    tx.set_organization_attribute(id, &name, &values).await?;
                }
            }
        }
        if let Some(t) = &org.technical_name {
            if Self::sibling_clash(&tree, org.parent_id, t, Some(id)) {
                return Err(Error::Conflict(format!(
                    "an organization named {t:?} exists there"
                )));
            }
        }
        tx.update_organization(&org).await?;
        self.log_action(
            tx.as_mut(),
            id,
            "configuration",
            &actor_label(actor),
            "updated through CustomerID",
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// DELETE Organization: only a leaf (no sub-organizations); its users lose their home
    /// organization; its consent history stays. A bound client cannot delete its own root.
    /// Run again when a deadlock aborted it (see [`retry_on_contention`]).
    pub async fn cid_delete_organization(&self, actor: &Actor, id: &str) -> Result<OrganizationId> {
        retry_on_contention(|| self.delete_organization_once(actor, id)).await
    }

    async fn delete_organization_once(&self, actor: &Actor, id: &str) -> Result<OrganizationId> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let id: OrganizationId = id.parse().map_err(|_| not_found("organization"))?;
        if !tree.iter().any(|n| n.id == id) || scope.as_ref().is_some_and(|s| !s.contains(&id)) {
            return Err(not_found("organization"));
        }
        if let Actor::RestClient(RestClientActor {
            organization: Some(root),
            ..
        }) = actor
        {
            if *root == id {
                return Err(Error::Forbidden(
                    "a client cannot delete the organization it is bound to".into(),
                ));
            }
        }
        if tree.iter().any(|n| n.parent_id == Some(id)) {
            return Err(Error::invalid(
                "the organization has sub-organizations: delete them first",
            ));
        }
        tx.delete_organization(id).await?;
        // Its own log goes with it; the parent's records the deletion.
        if let Some(parent) = tree.iter().find(|n| n.id == id).and_then(|n| n.parent_id) {
            self.log_action(
                tx.as_mut(),
                parent,
                "configuration",
                &actor_label(actor),
                &format!("deleted sub-organization {id} through CustomerID"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }
}
