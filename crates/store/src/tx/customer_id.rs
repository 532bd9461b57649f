//! CustomerID's view: REST clients, custom attributes, the organisation tree, searches and custom roles.

use super::prelude::*;

/// A back end allowed to call the CustomerID API.
#[derive(Clone)]
pub struct RestClientRecord {
    pub id: RestClientId,
    pub name: String,
    /// argon2id PHC string. Never logged.
    pub secret_hash: String,
    /// Bound to this organisation and its sub-organisations; `None`: everything.
    pub organization_id: Option<OrganizationId>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for RestClientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClientRecord")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A CustomerID search: `(attribute, value)` pairs, all of which must match.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub builtin: Vec<(SearchField, String)>,
    /// Custom attributes: (name, value).
    pub custom: Vec<(String, String)>,
    /// Exact (case-insensitive) or prefix matching.
    pub exact: bool,
    /// Only entities under these organisations (users: by home organisation).
    pub within: Option<Vec<OrganizationId>>,
    /// 0: no limit.
    pub max_results: i64,
}

/// Builtin attributes a search can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchField {
    UserId,
    UserFirstName,
    UserSurname,
    UserMobile,
    UserEmail,
    UserHomeOrganization,
    /// Matched exactly, by code.
    UserStatus,
    OrgId,
    OrgTechnicalName,
    OrgFriendlyName,
    OrgTypeName,
}

/// One organisation's place in the tree.
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub id: OrganizationId,
    pub parent_id: Option<OrganizationId>,
    pub technical_name: Option<String>,
    pub name: String,
}

#[async_trait]
pub trait CustomerIdTx: Send {
    async fn insert_rest_client(&mut self, c: &RestClientRecord) -> Result<()>;
    async fn rest_client_by_name(&mut self, name: &str) -> Result<Option<RestClientRecord>>;
    /// Every REST client, by name.
    async fn rest_clients(&mut self) -> Result<Vec<RestClientRecord>>;
    /// Replaces a client's secret; `false` if there is no such client.
    async fn set_rest_client_secret(&mut self, name: &str, secret_hash: &str) -> Result<bool>;
    /// Deletes a client; `false` if there is no such client.
    async fn delete_rest_client(&mut self, name: &str) -> Result<bool>;
    async fn user_custom_attributes(&mut self, user: UserId) -> Result<Vec<(String, String)>>;
    async fn organization_custom_attributes(
        &mut self,
        org: OrganizationId,
    ) -> Result<Vec<(String, String)>>;
    /// Every organisation's place in the tree (for entity names and sub-organisations).
    async fn organization_tree(&mut self) -> Result<Vec<TreeNode>>;
    async fn search_users(&mut self, search: &Search) -> Result<Vec<UserId>>;
    async fn search_organizations(&mut self, search: &Search) -> Result<Vec<OrganizationId>>;
    /// Writes the user's identity columns: email, name, phone, status, first name, surname,
    /// home organisation.
    async fn update_user_identity(&mut self, user: &User) -> Result<()>;
    /// Replaces the values of a user's custom attribute (no values: removes it).
    async fn set_user_attribute(
        &mut self,
        user: UserId,
        name: &str,
        values: &[String],
    ) -> Result<()>;
    /// Replaces the values of the named custom attributes (no values: removes it).
    async fn set_organization_attribute(
        &mut self,
        org: OrganizationId,
        name: &str,
        values: &[String],
    ) -> Result<()>;
    async fn insert_role(
        &mut self,
        role: &accord_domain::customer_id::Role,
        at: DateTime<Utc>,
    ) -> Result<()>;
    async fn delete_role(&mut self, id: RoleId) -> Result<bool>;
    /// Idempotent.
    async fn add_role_member(&mut self, role: RoleId, user: UserId) -> Result<()>;
    async fn remove_role_member(&mut self, role: RoleId, user: UserId) -> Result<bool>;
    /// Roles created through CustomerID, of every organisation.
    async fn custom_roles(&mut self) -> Result<Vec<accord_domain::customer_id::Role>>;
    /// IDs of the custom roles the user is a member of.
    async fn custom_roles_of(&mut self, user: UserId) -> Result<Vec<RoleId>>;
}
