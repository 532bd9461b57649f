//! An organisation's layout: purposes and templates (data attributes); deleted ones are kept, not listed.

use super::prelude::*;

#[async_trait]
pub trait PurposesTx: Send {
    async fn insert_purpose(&mut self, p: &Purpose, at: DateTime<Utc>) -> Result<()>;
    async fn purposes_of(&mut self, org: OrganizationId) -> Result<Vec<Purpose>>;
    /// The counter every change to the organisation's layout increments; `None` if it
    /// does not exist.
    async fn layout_version(&mut self, org: OrganizationId) -> Result<Option<i64>>;
    async fn update_purpose(&mut self, p: &Purpose) -> Result<()>;
    async fn delete_purpose(
        &mut self,
        org: OrganizationId,
        id: PurposeId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn insert_template(&mut self, t: &Template, at: DateTime<Utc>) -> Result<()>;
    async fn templates_of(&mut self, org: OrganizationId) -> Result<Vec<Template>>;
    async fn update_template(&mut self, t: &Template) -> Result<()>;
    async fn delete_template(
        &mut self,
        org: OrganizationId,
        id: AttributeId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
}
