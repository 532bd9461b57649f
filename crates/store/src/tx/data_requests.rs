//! Data-subject requests: a person's queue with each organisation, an organisation's queue.

use accord_domain::data_request::{DataRequest, DataRequestState};

use super::prelude::*;

/// Which of an organisation's requests a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestsFilter {
    All,
    Open,
    Closed,
}

#[async_trait]
pub trait DataRequestsTx: Send {
    /// Refused (`Conflict`) when one of its kind is open for the person and organisation.
    async fn insert_data_request(&mut self, r: &DataRequest) -> Result<()>;
    async fn data_request_by_id(&mut self, id: DataRequestId) -> Result<Option<DataRequest>>;
    /// Writes its state, comment and times if it still stands in `was`; `false` when
    /// another step (the person's cancel, another answer) moved it meanwhile.
    async fn update_data_request(&mut self, r: &DataRequest, was: DataRequestState)
        -> Result<bool>;
    /// A person's requests with one organisation, newest first, strictly older than `before`.
    async fn data_requests_of(
        &mut self,
        user: UserId,
        org: OrganizationId,
        before: Option<DataRequestId>,
        limit: i64,
    ) -> Result<Vec<DataRequest>>;
    /// A person's open requests with one organisation (at most one of each kind).
    async fn open_data_requests_of(
        &mut self,
        user: UserId,
        org: OrganizationId,
    ) -> Result<Vec<DataRequest>>;
    /// An organisation's requests, newest first, strictly older than `before`.
    async fn organization_data_requests(
        &mut self,
        org: OrganizationId,
        filter: RequestsFilter,
        before: Option<DataRequestId>,
        limit: i64,
    ) -> Result<Vec<DataRequest>>;
}
