//! The CustomerID view of Accord's users and organisations (docs/customerid.md).
//!
//! | caller | sees and changes |
//! |---|---|
//! | REST client bound to an organisation | that organisation, its sub-organisations, and users whose home organisation is one of them |
//! | unbound REST client, platform admin (Bearer) | everything |
//! | anyone else | 401 (no credentials) or 403 |
//!
//! Outside a bound client's scope everything is "not found": a client learns nothing
//! about other organisations.

use std::time::{Duration, Instant};

use std::collections::HashMap;

use accord_domain::customer_id::{
    parse_custom_attribute_name, Attributes, Mandate, MandateType, OrganizationField, Party, Role,
    UserField,
};
use accord_domain::identity::{OrgRole, Password, User, UserStatus};
use accord_domain::{Error, OrganizationId, Result, UserId};
use accord_store::{Mode, RestClientRecord, Search, SearchField, TreeNode, Tx};

use super::tokens::secret_hash;
use super::{Actor, RestClientActor, Services};

const CACHE_TTL: Duration = Duration::from_secs(60);

/// Which organisations a caller may see: `None` = all.
type Scope = Option<Vec<OrganizationId>>;

fn not_found(what: &str) -> Error {
    Error::not_found(format!("{what} not found"))
}

/// Every organisation under `root`, itself included.
fn subtree(tree: &[TreeNode], root: OrganizationId) -> Vec<OrganizationId> {
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            tree.iter()
                .filter(|n| n.parent_id == Some(parent))
                .map(|n| n.id),
        );
        i += 1;
    }
    out
}

/// `Parent/Child`: technical names (the ID where none was set) from the root down.
fn entity_name(tree: &[TreeNode], id: OrganizationId) -> String {
    let mut parts = vec![];
    let mut current = Some(id);
    while let Some(c) = current {
        let Some(node) = tree.iter().find(|n| n.id == c) else {
            break;
        };
        parts.push(
            node.technical_name
                .clone()
                .unwrap_or_else(|| node.id.to_string()),
        );
        current = node.parent_id;
        if parts.len() > 64 {
            break; // a cycle would be a bug; never loop forever over one
        }
    }
    parts.reverse();
    parts.join("/")
}

fn push(attrs: &mut Attributes, name: &str, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        attrs.push((name.to_owned(), vec![value]));
    }
}

fn push_custom(attrs: &mut Attributes, custom: Vec<(String, String)>) {
    for (name, value) in custom {
        match attrs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => attrs.push((name, vec![value])),
        }
    }
}

/// Query parameters of a search, parsed: `exactMatch`, `maxResults`, `recursive`, and
/// attribute criteria.
struct Criteria {
    exact: bool,
    max_results: i64,
    recursive: bool,
    attributes: Vec<(String, String)>,
}

fn criteria(params: &[(String, String)], allowed_flags: &[&str]) -> Result<Criteria> {
    let mut c = Criteria {
        exact: false,
        max_results: 0,
        recursive: false,
        attributes: vec![],
    };
    let bool_of = |name: &str, v: &str| match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid(format!("{name} must be true or false"))),
    };
    for (name, value) in params {
        if c.attributes.iter().any(|(n, _)| n == name) {
            return Err(Error::invalid(format!("{name} given twice")));
        }
        match name.as_str() {
            "exactMatch" if allowed_flags.contains(&"exactMatch") => {
                c.exact = bool_of(name, value)?
            }
            "recursive" if allowed_flags.contains(&"recursive") => {
                c.recursive = bool_of(name, value)?
            }
            "maxResults" => {
                c.max_results = value
                    .parse()
                    .ok()
                    .filter(|n: &i64| *n >= 0)
                    .ok_or_else(|| Error::invalid("maxResults must be a whole number, 0 or more"))?
            }
            _ => c.attributes.push((name.clone(), value.clone())),
        }
    }
    Ok(c)
}

impl Services {
    /// `accord admin add-rest-client`: a new REST client, optionally bound to an organisation.
    pub async fn add_rest_client(
        &self,
        name: &str,
        secret: &str,
        organization: Option<&str>,
    ) -> Result<String> {
        let name = accord_domain::identity::parse_profile_text("name", name, 128)?;
        if name.is_empty() || name.contains(':') {
            return Err(Error::invalid(
                "the client name must be non-empty and without ':' (HTTP Basic)",
            ));
        }
        let secret = Password::new_for(secret, None)
            .map_err(|_| Error::invalid("the secret must be 8 to 1024 characters"))?;
        let organization = organization
            .map(|o| {
                o.parse::<OrganizationId>()
                    .map_err(|_| Error::invalid("--organization is not an organisation ID"))
            })
            .transpose()?;
        let hash = self.passwords.hash(&secret).await?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if let Some(org) = organization {
            tx.organization_by_id(org)
                .await?
                .ok_or_else(|| Error::invalid("--organization names no organisation"))?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        tx.insert_rest_client(&RestClientRecord {
            id: id.clone(),
            name,
            secret_hash: hash,
            organization_id: organization,
            created_at: self.clock.now(),
        })
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("a REST client with this name exists".into()),
            other => other,
        })?;
        tx.commit().await?;
        Ok(id)
    }

    /// HTTP Basic credentials of a REST client. Successful verifications are remembered for
    /// a minute, so a busy back end does not cost an argon2 hash per request.
    pub async fn authenticate_rest_client(&self, name: &str, secret: &str) -> Result<Actor> {
        let key = secret_hash(&format!("{}:{name}:{secret}", name.len()));
        if let Some((client, at)) = self
            .rest_client_cache
            .lock()
            .map_err(Error::internal)?
            .get(&key)
            .cloned()
        {
            if at.elapsed() < CACHE_TTL {
                return Ok(Actor::RestClient(client));
            }
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let record = tx.rest_client_by_name(name).await?;
        tx.commit().await?;
        let offered = Password::offered(secret)?;
        let verified = self
            .passwords
            .verify(&offered, record.as_ref().map(|r| r.secret_hash.as_str()))
            .await?;
        match record {
            Some(r) if verified.ok => {
                let client = RestClientActor {
                    id: r.id,
                    name: r.name,
                    organization: r.organization_id,
                };
                let mut cache = self.rest_client_cache.lock().map_err(Error::internal)?;
                cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                cache.insert(key, (client.clone(), Instant::now()));
                Ok(Actor::RestClient(client))
            }
            _ => Err(Error::Unauthenticated("invalid client credentials".into())),
        }
    }

    async fn cid_scope(&self, tx: &mut dyn Tx, actor: &Actor) -> Result<(Scope, Vec<TreeNode>)> {
        let tree = tx.organization_tree().await?;
        let scope = match actor {
            Actor::RestClient(RestClientActor {
                organization: Some(org),
                ..
            }) => Some(subtree(&tree, *org)),
            Actor::RestClient(_) => None,
            Actor::User(u) if u.is_platform_admin => None,
            Actor::User(_) => {
                return Err(Error::Forbidden(
                    "only REST clients and platform administrators use the CustomerID API".into(),
                ))
            }
            Actor::Anonymous => {
                return Err(Error::Unauthenticated("authentication required".into()))
            }
        };
        Ok((scope, tree))
    }

    async fn cid_user_attributes(
        &self,
        tx: &mut dyn Tx,
        user: &User,
        tree: &[TreeNode],
    ) -> Result<Attributes> {
        let mut a: Attributes = vec![];
        push(&mut a, "id", user.id.to_string());
        push(&mut a, "firstname", user.first_name.clone());
        push(&mut a, "surname", user.surname.clone());
        push(&mut a, "mobile", user.phone.clone());
        push(&mut a, "cn", user.id.to_string());
        let email = user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        push(&mut a, "login", email.clone());
        push(&mut a, "email", email);
        if let Some(home) = user.home_organization_id {
            if let Some(node) = tree.iter().find(|n| n.id == home) {
                push(&mut a, "organization", node.name.clone());
                push(&mut a, "organizationEntityName", entity_name(tree, home));
            }
            push(&mut a, "organizationId", home.to_string());
        }
        push(&mut a, "status", user.status.display_name());
        push_custom(&mut a, tx.user_custom_attributes(user.id).await?);
        Ok(a)
    }

    async fn cid_org_attributes(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        tree: &[TreeNode],
    ) -> Result<Attributes> {
        let o = tx
            .organization_by_id(org)
            .await?
            .ok_or_else(|| not_found("organization"))?;
        let type_name = match o.type_id {
            Some(t) => tx
                .org_type_by_id(t)
                .await?
                .map(|t| t.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        let mut a: Attributes = vec![];
        push(&mut a, "id", o.id.to_string());
        push(&mut a, "entityName", entity_name(tree, o.id));
        push(
            &mut a,
            "technicalName",
            o.technical_name.clone().unwrap_or_else(|| o.id.to_string()),
        );
        push(&mut a, "friendlyName", o.name.clone());
        push(&mut a, "organizationClass", type_name.clone());
        push(&mut a, "organizationType", type_name);
        push(
            &mut a,
            "parentOrganizationId",
            o.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        );
        push_custom(&mut a, tx.organization_custom_attributes(o.id).await?);
        Ok(a)
    }

    /// GET105: one user, as attributes.
    pub async fn cid_user(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (user, tree) = self.visible_user(tx.as_mut(), actor, id).await?;
        let a = self.cid_user_attributes(tx.as_mut(), &user, &tree).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// The user, if the caller may see them (404 otherwise), with the organisation tree.
    async fn visible_user(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        id: &str,
    ) -> Result<(User, Vec<TreeNode>)> {
        let (scope, tree) = self.cid_scope(tx, actor).await?;
        let id: UserId = id.parse().map_err(|_| not_found("user"))?;
        let user = tx.user_by_id(id).await?.ok_or_else(|| not_found("user"))?;
        if let Some(scope) = &scope {
            if !user
                .home_organization_id
                .is_some_and(|h| scope.contains(&h))
            {
                return Err(not_found("user"));
            }
        }
        Ok((user, tree))
    }

    /// 404 unless the caller may see the user.
    async fn require_visible_user(&self, actor: &Actor, id: &str) -> Result<UserId> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (user, _) = self.visible_user(tx.as_mut(), actor, id).await?;
        tx.commit().await?;
        Ok(user.id)
    }

    fn user_search(c: &Criteria) -> Result<Search> {
        let mut search = Search {
            exact: c.exact,
            max_results: c.max_results,
            ..Search::default()
        };
        for (name, value) in &c.attributes {
            match UserField::parse(name) {
                Some(UserField::Status) => search.builtin.push((
                    SearchField::UserStatus,
                    UserStatus::parse_search(value)?.code().to_string(),
                )),
                Some(field) => {
                    let f = match field {
                        UserField::Id => SearchField::UserId,
                        UserField::FirstName => SearchField::UserFirstName,
                        UserField::Surname => SearchField::UserSurname,
                        UserField::Mobile => SearchField::UserMobile,
                        UserField::Email | UserField::Login => SearchField::UserEmail,
                        UserField::OrganizationId => SearchField::UserHomeOrganization,
                        UserField::Status => unreachable!("matched above"),
                    };
                    search.builtin.push((f, value.clone()));
                }
                None => search
                    .custom
                    .push((parse_custom_attribute_name(name)?, value.clone())),
            }
        }
        Ok(search)
    }

    /// GET104: users matching every criterion (prefix matching unless `exactMatch=true`).
    pub async fn cid_users(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<Vec<UserId>> {
        let c = criteria(params, &["exactMatch"])?;
        let mut search = Self::user_search(&c)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        search.within = scope;
        let ids = tx.search_users(&search).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// GET113: users whose home organisation is `org` (or, `recursive=true`, under it).
    pub async fn cid_organization_users(
        &self,
        actor: &Actor,
        org: &str,
        params: &[(String, String)],
    ) -> Result<Vec<UserId>> {
        let c = criteria(params, &["recursive", "exactMatch"])?;
        let mut search = Self::user_search(&c)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org: OrganizationId = org.parse().map_err(|_| not_found("organization"))?;
        if !tree.iter().any(|n| n.id == org) || scope.as_ref().is_some_and(|s| !s.contains(&org)) {
            return Err(not_found("organization"));
        }
        search.within = Some(if c.recursive {
            subtree(&tree, org)
        } else {
            vec![org]
        });
        let ids = tx.search_users(&search).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// GET107: one organisation, as attributes.
    pub async fn cid_organization(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let id: OrganizationId = id.parse().map_err(|_| not_found("organization"))?;
        if scope.as_ref().is_some_and(|s| !s.contains(&id)) {
            return Err(not_found("organization"));
        }
        let a = self.cid_org_attributes(tx.as_mut(), id, &tree).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// GET106: organisations matching every criterion.
    pub async fn cid_organizations(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<Vec<OrganizationId>> {
        let c = criteria(params, &["exactMatch"])?;
        let mut search = Search {
            exact: c.exact,
            max_results: 0,
            ..Search::default()
        };
        let mut entity_filter: Option<String> = None;
        for (name, value) in &c.attributes {
            match OrganizationField::parse(name) {
                Some(OrganizationField::EntityName) => entity_filter = Some(value.to_lowercase()),
                Some(OrganizationField::Id) => {
                    search.builtin.push((SearchField::OrgId, value.clone()))
                }
                Some(OrganizationField::TechnicalName) => search
                    .builtin
                    .push((SearchField::OrgTechnicalName, value.clone())),
                Some(OrganizationField::FriendlyName) => search
                    .builtin
                    .push((SearchField::OrgFriendlyName, value.clone())),
                Some(OrganizationField::OrganizationType) => search
                    .builtin
                    .push((SearchField::OrgTypeName, value.clone())),
                None => search
                    .custom
                    .push((parse_custom_attribute_name(name)?, value.clone())),
            }
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        search.within = scope;
        let mut ids = tx.search_organizations(&search).await?;
        tx.commit().await?;
        // Entity names are paths, computed from the tree rather than stored.
        if let Some(wanted) = entity_filter {
            ids.retain(|id| {
                let name = entity_name(&tree, *id).to_lowercase();
                if c.exact {
                    name == wanted
                } else {
                    name.starts_with(&wanted)
                }
            });
        }
        if c.max_results > 0 {
            ids.truncate(c.max_results as usize);
        }
        Ok(ids)
    }
}

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
    pub async fn cid_role(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (roles, tree) = self.cid_visible_roles(tx.as_mut(), actor).await?;
        tx.commit().await?;
        let role = roles
            .into_iter()
            .find(|r| r.id.to_string() == id)
            .ok_or_else(|| not_found("role"))?;
        let mut a: Attributes = vec![];
        push(&mut a, "id", role.id.to_string());
        push(&mut a, "name", role.name.clone());
        push(
            &mut a,
            "entityName",
            format!("{}/{}", entity_name(&tree, role.organization_id), role.name),
        );
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
        let mut ids: Vec<String> = tx
            .role_grants_of(user)
            .await?
            .into_iter()
            .map(|g| g.role.role_of(g.organization_id).id.to_string())
            .collect();
        ids.extend(tx.custom_roles_of(user).await?);
        tx.commit().await?;
        ids.retain(|id| visible.iter().any(|r| r.id.to_string() == *id));
        ids.sort();
        Ok(ids)
    }
}

/// Groups repeated parameters: a custom attribute given twice has two values.
fn grouped(params: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    for (name, value) in params {
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.clone()),
            None => out.push((name.clone(), vec![value.clone()])),
        }
    }
    out
}

fn single<'a>(name: &str, values: &'a [String]) -> Result<&'a str> {
    match values {
        [one] => Ok(one.trim()),
        _ => Err(Error::invalid(format!("{name} takes one value"))),
    }
}

fn technical_name(raw: &str) -> Result<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && !raw.contains('/')
        && !raw.chars().any(char::is_control);
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Error::invalid(
            "technicalName must be 1 to 128 characters, without '/'",
        ))
    }
}

fn actor_label(actor: &Actor) -> String {
    match actor {
        Actor::RestClient(c) => format!("rest-client:{}", c.name),
        Actor::User(u) => u.user_id.to_string(),
        Actor::Anonymous => String::new(),
    }
}

impl Services {
    async fn type_named(&self, tx: &mut dyn Tx, name: &str) -> Result<Option<OrganizationId>> {
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
        let mut org = accord_domain::organization::Organization {
            id: OrganizationId::new(),
            name: String::new(),
            location: String::new(),
            description: String::new(),
            type_id: None,
            enabled: false,
            policy_url: String::new(),
            eula_url: String::new(),
            cover_image_id: None,
            logo_image_id: None,
            hlc_support: false,
            subscribe_method: accord_domain::organization::SubscribeMethod::Undefined,
            subscribe_key: String::new(),
            retention_period_secs: 0,
            retention_enabled: false,
            created_at: now,
            technical_name: None,
            parent_id: None,
        };
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
                        Error::invalid("parentOrganizationId is not an organization ID")
                    })?;
                    if !tree.iter().any(|n| n.id == parent)
                        || scope.as_ref().is_some_and(|s| !s.contains(&parent))
                    {
                        return Err(Error::invalid(
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
                        Error::invalid("parentOrganizationId is not an organization ID")
                    })?;
                    let visible = tree.iter().any(|n| n.id == parent)
                        && scope.as_ref().is_none_or(|s| s.contains(&parent));
                    if !visible || subtree(&tree, id).contains(&parent) {
                        return Err(Error::invalid("parentOrganizationId must be a visible organization outside this one's subtree"));
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
    pub async fn cid_delete_organization(&self, actor: &Actor, id: &str) -> Result<OrganizationId> {
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
        tx.commit().await?;
        Ok(id)
    }
}

impl Services {
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
                    let org: OrganizationId = single(&name, &values)?
                        .parse()
                        .map_err(|_| Error::invalid("organizationId is not an organization ID"))?;
                    let visible = tree.iter().any(|n| n.id == org)
                        && scope.as_ref().is_none_or(|s| s.contains(&org));
                    if !visible {
                        return Err(Error::invalid(
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
                "id" | "cn" | "organization" | "organizationEntityName" => {
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
        let mut user = User {
            id: UserId::new(),
            email: None,
            name: String::new(),
            phone: String::new(),
            password_hash: None,
            status: UserStatus::Enabled,
            is_platform_admin: false,
            image_id: None,
            last_visit: None,
            apikey_revision: 0,
            apikey_issued_at: None,
            client_token: String::new(),
            client_type: 0,
            created_at: now,
            first_name: String::new(),
            surname: String::new(),
            home_organization_id: None,
        };
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
        let (custom, password) = self
            .apply_user_params(tx.as_mut(), &mut user, params, &scope, &tree)
            .await?;
        tx.commit().await?;
        let hash = match &password {
            Some(p) => Some(self.passwords.hash(p).await?),
            None => None,
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.update_user_identity(&user).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict("a user with this email exists".into()),
            other => other,
        })?;
        if let Some(h) = &hash {
            tx.set_password_hash(id, h).await?;
        }
        for (name, values) in &custom {
            tx.set_user_attribute(id, name, values).await?;
        }
        if !user.status.may_log_in() {
            // A disabled or locked account loses its sessions at once.
            tx.revoke_sessions_of_user(id, self.clock.now(), None)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Delete User: the account and its personal data; never an organization's last Admin.
    pub async fn cid_delete_user(&self, actor: &Actor, id: &str) -> Result<UserId> {
        self.require_visible_user(actor, id).await?;
        let id: UserId = id.parse().map_err(|_| not_found("user"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
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
        tx.delete_user(id).await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// Which kind of role an ID names.
enum RoleRef {
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
    async fn role_ref(&self, tx: &mut dyn Tx, actor: &Actor, id: &str) -> Result<RoleRef> {
        let (roles, _) = self.cid_visible_roles(tx, actor).await?;
        let role = roles
            .into_iter()
            .find(|r| r.id.to_string() == id)
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
            id: uuid::Uuid::now_v7(),
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
    pub async fn cid_delete_role(&self, actor: &Actor, id: &str) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        match self.role_ref(tx.as_mut(), actor, id).await? {
            RoleRef::Builtin(..) => Err(Error::invalid(
                "the roles Admin, Dpo and Developer belong to every organization",
            )),
            RoleRef::Custom(role) => {
                tx.delete_role(&role.id.to_string()).await?;
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
    pub async fn cid_assign_role(&self, actor: &Actor, user: &str, role: &str) -> Result<String> {
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
                tx.add_role_member(&r.id.to_string(), user).await?;
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
        Ok(role.to_owned())
    }

    /// Remove Role: never the last Admin of an organisation.
    pub async fn cid_unassign_role(&self, actor: &Actor, user: &str, role: &str) -> Result<String> {
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
            RoleRef::Custom(r) => (
                r.organization_id,
                tx.remove_role_member(&r.id.to_string(), user).await?,
            ),
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
        Ok(role.to_owned())
    }
}

/// Which mandates a list asks for.
#[derive(Debug, Clone, Copy)]
pub enum MandateList<'a> {
    All,
    GivenByOrganization(&'a str),
    ReceivedByOrganization(&'a str),
    GivenByUser(&'a str),
    ReceivedByUser(&'a str),
}

/// `2026-01-31T10:00:00Z`, or a date (its start).
fn parse_instant(field: &str, raw: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            Error::invalid(format!(
                "{field} must be a date (2026-01-31) or an RFC 3339 time"
            ))
        })
}

fn mandate_attributes(m: &Mandate, now: chrono::DateTime<chrono::Utc>) -> Attributes {
    let mut a: Attributes = vec![];
    push(&mut a, "id", m.id.to_string());
    push(&mut a, "type", m.kind.as_str());
    match &m.mandater {
        Party::Organization(o) => push(&mut a, "mandaterOrganizationId", o.to_string()),
        Party::User(u) => push(&mut a, "mandaterUserId", u.to_string()),
        Party::Email(e) => push(&mut a, "mandaterEmail", e.clone()),
    }
    match &m.mandatee {
        Party::Organization(o) => push(&mut a, "mandateeOrganizationId", o.to_string()),
        Party::User(u) => push(&mut a, "mandateeUserId", u.to_string()),
        Party::Email(e) => push(&mut a, "assigneeEmail", e.clone()),
    }
    push(&mut a, "roleId", m.role_id.clone());
    push(
        &mut a,
        "validFrom",
        m.valid_from
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
    );
    push(
        &mut a,
        "validUntil",
        m.valid_until
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
    );
    push(&mut a, "status", m.status(now));
    a
}

impl Services {
    /// Whether the caller may see a party: organisations in scope, users whose home
    /// organisation is in scope. Unbound callers see all.
    async fn party_visible(&self, tx: &mut dyn Tx, scope: &Scope, party: &Party) -> Result<bool> {
        let Some(scope) = scope else { return Ok(true) };
        Ok(match party {
            Party::Organization(o) => scope.contains(o),
            Party::User(u) => tx
                .user_by_id(*u)
                .await?
                .and_then(|u| u.home_organization_id)
                .is_some_and(|h| scope.contains(&h)),
            Party::Email(_) => false,
        })
    }

    /// Create Mandate: `type` (OrgToPer, PerToPer, OrgToOrg, PerToOrg), `mandater`, and
    /// `mandatee` or `assigneeEmail` (a person not registered yet), `role`, `validFrom`,
    /// `validUntil`. The mandater must be visible to the caller; an organisation grants
    /// only its own roles.
    pub async fn cid_create_mandate(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<String> {
        let mut p: HashMap<String, String> = HashMap::new();
        for (key, values) in grouped(params) {
            match key.as_str() {
                "type" | "mandater" | "mandatee" | "assigneeEmail" | "role" | "validFrom"
                | "validUntil" => {
                    p.insert(key.clone(), single(&key, &values)?.to_owned());
                }
                other => return Err(Error::invalid(format!("unknown parameter {other:?}"))),
            }
        }
        let required = |k: &str| {
            p.get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| Error::invalid(format!("{k} is required")))
        };
        let kind = MandateType::parse(&required("type")?)?;
        let valid_from = p
            .get("validFrom")
            .filter(|v| !v.is_empty())
            .map(|v| parse_instant("validFrom", v))
            .transpose()?;
        let valid_until = p
            .get("validUntil")
            .filter(|v| !v.is_empty())
            .map(|v| parse_instant("validUntil", v))
            .transpose()?;
        if let (Some(f), Some(u)) = (valid_from, valid_until) {
            if f >= u {
                return Err(Error::invalid("validFrom must be before validUntil"));
            }
        }
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org_party = |raw: &str, field: &str| -> Result<Party> {
            let o: OrganizationId = raw
                .parse()
                .map_err(|_| Error::invalid(format!("{field} is not an organization ID")))?;
            if !tree.iter().any(|n| n.id == o) {
                return Err(Error::invalid(format!("{field} names no organization")));
            }
            Ok(Party::Organization(o))
        };
        let mandater = if kind.mandater_is_organization() {
            org_party(&required("mandater")?, "mandater")?
        } else {
            let u: UserId = required("mandater")?
                .parse()
                .map_err(|_| Error::invalid("mandater is not a user ID"))?;
            tx.user_by_id(u)
                .await?
                .ok_or_else(|| Error::invalid("mandater names no user"))?;
            Party::User(u)
        };
        if !self.party_visible(tx.as_mut(), &scope, &mandater).await? {
            return Err(Error::invalid("mandater names nobody you can see"));
        }
        let mandatee = if kind.mandatee_is_organization() {
            org_party(&required("mandatee")?, "mandatee")?
        } else if let Some(id) = p.get("mandatee").filter(|v| !v.is_empty()) {
            let u: UserId = id
                .parse()
                .map_err(|_| Error::invalid("mandatee is not a user ID"))?;
            tx.user_by_id(u)
                .await?
                .ok_or_else(|| Error::invalid("mandatee names no user"))?;
            Party::User(u)
        } else {
            let email = accord_domain::identity::Email::parse(&required("assigneeEmail")?)?;
            // Someone registered with that email is the mandatee already.
            match tx.user_by_email_key(&email.key()).await? {
                Some(u) => Party::User(u.id),
                None => Party::Email(email.as_str().to_owned()),
            }
        };
        let role = required("role")?;
        let role_org = match self.role_ref(tx.as_mut(), actor, &role).await? {
            RoleRef::Builtin(_, org) => org,
            RoleRef::Custom(r) => r.organization_id,
        };
        if let Party::Organization(o) = &mandater {
            if *o != role_org {
                return Err(Error::invalid("an organization grants its own roles only"));
            }
        }
        let m = Mandate {
            id: uuid::Uuid::now_v7(),
            kind,
            mandater,
            mandatee,
            role_id: role,
            valid_from,
            valid_until,
            created_at: self.clock.now(),
        };
        tx.insert_mandate(&m).await?;
        self.log_action(
            tx.as_mut(),
            role_org,
            "configuration",
            &actor_label(actor),
            &format!("created mandate {}", m.id),
        )
        .await?;
        tx.commit().await?;
        Ok(m.id.to_string())
    }

    /// Delete Mandate: the caller must see its mandater.
    pub async fn cid_delete_mandate(&self, actor: &Actor, id: &str) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let m = tx
            .mandates()
            .await?
            .into_iter()
            .find(|m| m.id.to_string() == id)
            .ok_or_else(|| not_found("mandate"))?;
        if !self.party_visible(tx.as_mut(), &scope, &m.mandater).await? {
            return Err(not_found("mandate"));
        }
        tx.delete_mandate(id).await?;
        tx.commit().await?;
        Ok(id.to_owned())
    }

    /// GET111: one mandate visible to the caller.
    pub async fn cid_mandate(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        self.cid_mandates(actor, MandateList::All)
            .await?
            .into_iter()
            .find(|a| {
                a.iter()
                    .any(|(n, v)| n == "id" && v.first().map(String::as_str) == Some(id))
            })
            .ok_or_else(|| not_found("mandate"))
    }

    /// GET110/118–121: mandates visible to the caller (through either party).
    pub async fn cid_mandates(
        &self,
        actor: &Actor,
        list: MandateList<'_>,
    ) -> Result<Vec<Attributes>> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org_in_view = |raw: &str| -> Result<OrganizationId> {
            let o: OrganizationId = raw.parse().map_err(|_| not_found("organization"))?;
            if !tree.iter().any(|n| n.id == o) || scope.as_ref().is_some_and(|s| !s.contains(&o)) {
                return Err(not_found("organization"));
            }
            Ok(o)
        };
        let wanted: Box<dyn Fn(&Mandate) -> bool + Send> = match list {
            MandateList::All => Box::new(|_| true),
            MandateList::GivenByOrganization(o) => {
                let o = org_in_view(o)?;
                Box::new(move |m| m.mandater == Party::Organization(o))
            }
            MandateList::ReceivedByOrganization(o) => {
                let o = org_in_view(o)?;
                Box::new(move |m| m.mandatee == Party::Organization(o))
            }
            MandateList::GivenByUser(u) | MandateList::ReceivedByUser(u) => {
                tx.commit().await?;
                self.require_visible_user(actor, u).await?;
                tx = self.store.begin(Mode::Read).await?;
                let u: UserId = u.parse().map_err(|_| not_found("user"))?;
                if matches!(list, MandateList::GivenByUser(_)) {
                    Box::new(move |m| m.mandater == Party::User(u))
                } else {
                    Box::new(move |m| m.mandatee == Party::User(u))
                }
            }
        };
        let mut out = vec![];
        for m in tx.mandates().await? {
            if !wanted(&m) {
                continue;
            }
            let visible = self.party_visible(tx.as_mut(), &scope, &m.mandater).await?
                || self.party_visible(tx.as_mut(), &scope, &m.mandatee).await?;
            if visible {
                out.push(mandate_attributes(&m, now));
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u128, parent: Option<u128>, name: &str) -> TreeNode {
        TreeNode {
            id: OrganizationId(uuid::Uuid::from_u128(id)),
            parent_id: parent.map(|p| OrganizationId(uuid::Uuid::from_u128(p))),
            technical_name: Some(name.to_owned()),
            name: name.to_owned(),
        }
    }

    #[test]
    fn entity_names_are_paths_and_subtrees_include_descendants() {
        let tree = vec![
            node(1, None, "5555555-6"),
            node(2, Some(1), "1234567-1"),
            node(3, Some(2), "Sales"),
            node(4, None, "Other"),
        ];
        let id = |n| OrganizationId(uuid::Uuid::from_u128(n));
        assert_eq!(entity_name(&tree, id(3)), "5555555-6/1234567-1/Sales");
        assert_eq!(subtree(&tree, id(1)), vec![id(1), id(2), id(3)]);
        assert_eq!(subtree(&tree, id(4)), vec![id(4)]);
    }

    #[test]
    fn criteria_parse_flags_and_refuse_duplicates() {
        let p = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let c = criteria(
            &p(&[("exactMatch", "TRUE"), ("maxResults", "5"), ("email", "a@")]),
            &["exactMatch"],
        )
        .unwrap();
        assert!(c.exact && c.max_results == 5 && c.attributes.len() == 1);
        assert!(criteria(&p(&[("maxResults", "-1")]), &[]).is_err());
        assert!(criteria(&p(&[("exactMatch", "yes")]), &["exactMatch"]).is_err());
        assert!(criteria(&p(&[("email", "a"), ("email", "b")]), &[]).is_err());
    }
}
