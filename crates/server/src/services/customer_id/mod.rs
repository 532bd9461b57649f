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

use crate::services::paging::ListCap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::address::source_group;
use accord_domain::customer_id::{
    parse_custom_attribute_name, value_of, Attribute, Attributes, Mandate, MandateType,
    OrganizationField, Party, Role, UserField,
};
use accord_domain::identity::{OrgRole, Password, User, UserStatus};
use accord_domain::{
    DelegationId, Error, MandateId, OrganizationId, OrganizationTypeId, RestClientId, Result,
    RoleId, RoleInvitationId, UserId,
};
use accord_store::{Mode, RestClientRecord, Search, SearchField, TreeNode, Tx};

use super::contention::retry_on_contention;
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

/// Adds an attribute with one value; an empty value leaves the attribute out.
fn push(attrs: &mut Attributes, name: &str, value: impl Into<String>) {
    let value = value.into();
    if !value.is_empty() {
        attrs.push(Attribute::new(name, vec![value]));
    }
}

/// Adds a reference to another entity: `<Attribute name="mandater" type="organization">`.
fn push_ref(attrs: &mut Attributes, name: &str, kind: &'static str, value: impl Into<String>) {
    attrs.push(Attribute {
        name: name.to_owned(),
        kind: Some(kind),
        values: vec![value.into()],
        entity: None,
    });
}

fn push_custom(attrs: &mut Attributes, custom: Vec<(String, String)>) {
    for (name, value) in custom {
        match attrs.iter_mut().find(|a| a.name == name) {
            Some(a) => a.values.push(value),
            None => attrs.push(Attribute::new(name, vec![value])),
        }
    }
}

/// What a search asks for, parsed by the facade from its query: prefix or exact
/// matching, the most results wanted (0: no limit), whether sub-organisations count, and
/// attribute criteria (name, value) all of which must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchCriteria {
    pub exact: bool,
    pub max_results: i64,
    pub recursive: bool,
    pub attributes: Vec<(String, String)>,
}

impl Services {
    /// `accord admin add-rest-client`: a new REST client, optionally bound to an organisation.
    pub async fn add_rest_client(
        &self,
        name: &str,
        secret: &str,
        organization: Option<&str>,
    ) -> Result<RestClientId> {
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
        let id = RestClientId::new();
        tx.insert_rest_client(&RestClientRecord {
            id,
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
    /// A REST client's Basic credentials, throttled as logins are: every attempt counts
    /// against the client's name from that source address before the secret is checked (a
    /// success starts the count afresh), and failures against the source address, which
    /// logins share (429 once over). Credentials verified lately are taken from the cache,
    /// uncounted.
    pub async fn authenticate_rest_client(
        &self,
        name: &str,
        secret: &str,
        source: std::net::IpAddr,
    ) -> Result<Actor> {
        let key = secret_hash(&format!("{}:{name}:{secret}", name.len()));
        if let Some(client) = self.cached_rest_client(&key)? {
            return Ok(Actor::RestClient(client));
        }
        let flight = Arc::clone(
            self.rest_client_inflight
                .lock()
                .map_err(Error::internal)?
                .entry(key.clone())
                .or_default(),
        );
        let outcome = {
            let _one_at_a_time = flight.lock().await;
            match self.cached_rest_client(&key)? {
                Some(client) => Ok(Actor::RestClient(client)),
                None => self.verify_rest_client(&key, name, secret, source).await,
            }
        };
        let mut inflight = self.rest_client_inflight.lock().map_err(Error::internal)?;
        if Arc::strong_count(&flight) <= 2 {
            inflight.remove(&key);
        }
        outcome
    }

    fn cached_rest_client(&self, key: &str) -> Result<Option<RestClientActor>> {
        Ok(self
            .rest_client_cache
            .lock()
            .map_err(Error::internal)?
            .get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(client, _)| client.clone()))
    }

    async fn verify_rest_client(
        &self,
        key: &str,
        name: &str,
        secret: &str,
        source: std::net::IpAddr,
    ) -> Result<Actor> {
        // Per client *and* address: nobody locks a back end out from elsewhere by knowing
        // its name; guessing from many addresses meets the per-address limit of each.
        let client_key = format!("restclient:{name}@{}", source_group(source));
        let attempt = self
            .begin_sign_in(
                source,
                crate::metrics::SignInKind::rest_client,
                Some(client_key),
            )
            .await?;
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
                let mut tx = self.store.begin(Mode::Write).await?;
                self.sign_in_succeeded(tx.as_mut(), &attempt).await?;
                tx.commit().await?;
                let client = RestClientActor {
                    id: r.id,
                    name: r.name,
                    organization: r.organization_id,
                };
                let mut cache = self.rest_client_cache.lock().map_err(Error::internal)?;
                cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                cache.insert(key.to_owned(), (client.clone(), Instant::now()));
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
            Actor::User(u)
                if OrgStanding::platform(u.is_platform_admin).may(OrgAction::UseCustomerIdApi) =>
            {
                None
            }
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
        // Custom attributes sit where the spec's GET105 sample has `ssn`.
        push_custom(&mut a, tx.user_custom_attributes(user.id).await?);
        if let Some(home) = user.home_organization_id {
            if let Some(node) = tree.iter().find(|n| n.id == home) {
                push(&mut a, "organization", node.name.clone());
                push(&mut a, "organizationEntityName", entity_name(tree, home));
            }
            push(&mut a, "organizationId", home.to_string());
        }
        push(&mut a, "status", user.status.display_name());
        push(
            &mut a,
            "emailVerified",
            if user.email_verified_at.is_some() {
                "TRUE"
            } else {
                "FALSE"
            },
        );
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

    /// The search for users, and the organisations their home must be among when the
    /// criteria name the home organisation by `organization` or `organizationEntityName`
    /// (resolved against the tree, as those names are).
    fn user_search(
        c: &SearchCriteria,
        tree: &[TreeNode],
        scope: Scope,
        limit: i64,
    ) -> Result<Search> {
        let mut search = Search {
            exact: c.exact,
            max_results: limit,
            within: scope,
            ..Search::default()
        };
        let matches = |candidate: &str, value: &str| {
            let (candidate, value) = (candidate.to_lowercase(), value.to_lowercase());
            if c.exact {
                candidate == value
            } else {
                candidate.starts_with(&value)
            }
        };
        for (name, value) in &c.attributes {
            let homes: Option<Vec<OrganizationId>> = match UserField::parse(name) {
                Some(UserField::Organization) => Some(
                    tree.iter()
                        .filter(|n| matches(&n.name, value))
                        .map(|n| n.id)
                        .collect(),
                ),
                Some(UserField::OrganizationEntityName) => Some(
                    tree.iter()
                        .filter(|n| matches(&entity_name(tree, n.id), value))
                        .map(|n| n.id)
                        .collect(),
                ),
                _ => None,
            };
            if let Some(homes) = homes {
                search.within = Some(match search.within.take() {
                    Some(w) => w.into_iter().filter(|o| homes.contains(o)).collect(),
                    None => homes,
                });
                continue;
            }
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
                        UserField::Status
                        | UserField::Organization
                        | UserField::OrganizationEntityName => unreachable!("matched above"),
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
    pub async fn cid_users(&self, actor: &Actor, c: &SearchCriteria) -> Result<Vec<UserId>> {
        let cap = ListCap::new(self.config.max_list, c.max_results)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let search = Self::user_search(c, &tree, scope, cap.query_limit())?;
        let ids = tx.search_users(&search).await?;
        tx.commit().await?;
        cap.answer(ids, "users")
    }

    /// GET113: users whose home organisation is `org` (or, `recursive=true`, under it).
    pub async fn cid_organization_users(
        &self,
        actor: &Actor,
        org: &str,
        c: &SearchCriteria,
    ) -> Result<Vec<UserId>> {
        let cap = ListCap::new(self.config.max_list, c.max_results)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org: OrganizationId = org.parse().map_err(|_| not_found("organization"))?;
        if !tree.iter().any(|n| n.id == org) || scope.as_ref().is_some_and(|s| !s.contains(&org)) {
            return Err(not_found("organization"));
        }
        let homes = if c.recursive {
            subtree(&tree, org)
        } else {
            vec![org]
        };
        let search = Self::user_search(c, &tree, Some(homes), cap.query_limit())?;
        let ids = tx.search_users(&search).await?;
        tx.commit().await?;
        cap.answer(ids, "users")
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
        c: &SearchCriteria,
    ) -> Result<Vec<OrganizationId>> {
        let cap = ListCap::new(self.config.max_list, c.max_results)?;
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
        // Entity names are matched after the query, so only without one may it stop early.
        if entity_filter.is_none() {
            search.max_results = cap.query_limit();
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
        cap.answer(ids, "organizations")
    }
}

/// The parameters of a write that takes one value per name from a closed list: a name
/// outside the list, or given twice, is 400.
struct SingleParams(HashMap<String, String>);

impl SingleParams {
    fn parse(params: &[(String, String)], allowed: &[&str]) -> Result<Self> {
        let mut p = HashMap::new();
        for (key, values) in grouped(params) {
            if !allowed.contains(&key.as_str()) {
                return Err(Error::invalid(format!("unknown parameter {key:?}")));
            }
            let value = single(&key, &values)?.trim().to_owned();
            p.insert(key, value);
        }
        Ok(Self(p))
    }

    /// The value, if given and not empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error::invalid(format!("{name} is required")))
    }
}

/// Groups repeated parameters: a custom attribute given twice has two values.
/// Parameters grouped by name, names in order of first appearance; linear in their number
/// (a search per parameter made 60,000 of them hold a thread for seconds).
fn grouped(params: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = vec![];
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, value) in params {
        match index.get(name.as_str()) {
            Some(&i) => out[i].1.push(value.clone()),
            None => {
                index.insert(name, out.len());
                out.push((name.clone(), vec![value.clone()]));
            }
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

mod delegations;
mod invitations;
mod mandates;
mod organizations;
mod roles;
mod users;
pub use delegations::DelegationList;
pub use invitations::{Accepted, InvitationList, Reinvited};
pub use mandates::MandateList;

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
}
