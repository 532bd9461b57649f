//! Organisations, their types and the roles people hold in them.

use super::prelude::*;

#[async_trait]
pub trait OrganizationsTx: Send {
    async fn role_grants_of(&mut self, id: UserId) -> Result<Vec<RoleGrant>>;
    async fn insert_org_type(&mut self, t: &OrganizationType, at: DateTime<Utc>) -> Result<()>;
    async fn org_type_by_id(&mut self, id: OrganizationTypeId) -> Result<Option<OrganizationType>>;
    async fn org_types(&mut self) -> Result<Vec<OrganizationType>>;
    async fn update_org_type(&mut self, t: &OrganizationType) -> Result<()>;
    async fn delete_org_type(&mut self, id: OrganizationTypeId) -> Result<bool>;
    async fn org_type_in_use(&mut self, id: OrganizationTypeId) -> Result<bool>;
    async fn insert_organization(&mut self, org: &Organization) -> Result<()>;
    async fn organization_by_id(&mut self, id: OrganizationId) -> Result<Option<Organization>>;
    /// A page of every organisation, by ID, strictly after `after`.
    async fn organizations_page(
        &mut self,
        after: Option<OrganizationId>,
        limit: i64,
    ) -> Result<Vec<Organization>>;
    /// Writes every mutable column of `org`.
    async fn update_organization(&mut self, org: &Organization) -> Result<()>;
    async fn grant_role(&mut self, org: OrganizationId, user: UserId, role: OrgRole) -> Result<()>;
    /// Removes every role the user holds in the organisation; `false` if there was none.
    async fn revoke_roles(&mut self, org: OrganizationId, user: UserId) -> Result<bool>;
    async fn role_holders(&mut self, org: OrganizationId) -> Result<Vec<(UserId, OrgRole)>>;
    /// Deletes an organisation; its users lose their home organisation. `false` if absent.
    async fn delete_organization(&mut self, org: OrganizationId) -> Result<bool>;
    async fn org_type_by_name(&mut self, name: &str) -> Result<Option<OrganizationType>>;
    /// Organisations open for subscriptions whose name contains `fragment` (any case;
    /// `%`, `_` and `\\` literal), by name, at most `limit`; whether `caller` subscribes.
    async fn organizations_named_like(
        &mut self,
        fragment: &str,
        caller: UserId,
        limit: i64,
    ) -> Result<Vec<FoundOrganization>>;
    /// Records a QR code for subscribing to the organisation (`purpose` `None`) or for one
    /// of its purposes; generating it again keeps one.
    async fn put_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    async fn has_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<bool>;
    /// `false` if there was none.
    async fn delete_qr_code(
        &mut self,
        org: OrganizationId,
        purpose: Option<PurposeId>,
    ) -> Result<bool>;
    /// Removes one iGrant role of a user in an organisation; `false` if not held.
    async fn revoke_role(
        &mut self,
        org: OrganizationId,
        user: UserId,
        role: OrgRole,
    ) -> Result<bool>;
}
