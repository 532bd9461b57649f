//! An organisation's layout: purposes and templates (data attributes); deleted ones are kept, not listed.

use super::prelude::*;
use accord_domain::purpose_version::PurposeVersion;

#[async_trait]
pub trait PurposesTx: Send {
    async fn insert_purpose(&mut self, p: &Purpose, at: DateTime<Utc>) -> Result<()>;
    async fn purposes_of(&mut self, org: OrganizationId) -> Result<Vec<Purpose>>;
    /// The counter every change to the organisation's layout increments; `None` if it
    /// does not exist.
    async fn layout_version(&mut self, org: OrganizationId) -> Result<Option<i64>>;
    /// Holds the organisation's layout until the unit of work ends: a change reads the
    /// layout as it stands and no other change lands in between (SQLite's writer is one
    /// already; PostgreSQL locks the organisation's row).
    async fn lock_layout(&mut self, org: OrganizationId) -> Result<()>;
    async fn update_purpose(&mut self, p: &Purpose) -> Result<()>;
    /// Records a version of a purpose's wording; one already recorded stays as it was.
    async fn insert_purpose_version(&mut self, v: &PurposeVersion) -> Result<()>;
    /// The recorded versions of one of the organisation's purposes, deleted or not, oldest
    /// first (none: it is at its first wording, or not the organisation's).
    async fn purpose_versions(
        &mut self,
        org: OrganizationId,
        purpose: PurposeId,
    ) -> Result<Vec<PurposeVersion>>;
    /// When each version after the first of the organisation's live purposes was
    /// published: (purpose, number, time).
    async fn version_times_of(
        &mut self,
        org: OrganizationId,
    ) -> Result<Vec<(PurposeId, i64, DateTime<Utc>)>>;
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
