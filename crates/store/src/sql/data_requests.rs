//! Data-subject requests.

use accord_domain::data_request::{DataRequest, DataRequestKind, DataRequestState};

use super::prelude::*;
use crate::tx::{DataRequestsTx, RequestsFilter};

const COLUMNS: &str =
    "id, organization_id, user_id, kind, state, comment, requested_at, updated_at, closed_at";

fn from_row(row: &DbRow) -> Result<DataRequest> {
    let bad = |what: &str| accord_domain::Error::internal(format!("a data request's {what}"));
    Ok(DataRequest {
        id: row.id("id")?,
        organization_id: row.id("organization_id")?,
        user_id: row.id("user_id")?,
        kind: DataRequestKind::from_id(row.col("kind")?).ok_or_else(|| bad("kind"))?,
        state: DataRequestState::from_id(row.col("state")?).ok_or_else(|| bad("state"))?,
        comment: row.col("comment")?,
        requested_at: row.time("requested_at")?,
        updated_at: row.time("updated_at")?,
        closed_at: row.opt_time("closed_at")?,
    })
}

#[async_trait]
impl DataRequestsTx for Uow {
    async fn insert_data_request(&mut self, r: &DataRequest) -> Result<()> {
        self.execute(
            sqlx::query(&format!(
                "INSERT INTO data_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(r.id.to_string())
            .bind(r.organization_id.to_string())
            .bind(r.user_id.to_string())
            .bind(r.kind.id())
            .bind(r.state.id())
            .bind(&r.comment)
            .bind(to_ms(r.requested_at))
            .bind(to_ms(r.updated_at))
            .bind(r.closed_at.map(to_ms)),
        )
        .await
        .map(|_| ())
    }

    async fn data_request_by_id(&mut self, id: DataRequestId) -> Result<Option<DataRequest>> {
        self.fetch_optional(
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM data_requests WHERE id = $1"
            ))
            .bind(id.to_string()),
        )
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }

    async fn update_data_request(
        &mut self,
        r: &DataRequest,
        was: DataRequestState,
    ) -> Result<bool> {
        self.execute(
            sqlx::query(
                "UPDATE data_requests SET state = $1, comment = $2, updated_at = $3, closed_at = $4 \
                 WHERE id = $5 AND state = $6",
            )
            .bind(r.state.id())
            .bind(&r.comment)
            .bind(to_ms(r.updated_at))
            .bind(r.closed_at.map(to_ms))
            .bind(r.id.to_string())
            .bind(was.id()),
        )
        .await
        .map(|n| n > 0)
    }

    async fn data_requests_of(
        &mut self,
        user: UserId,
        org: OrganizationId,
        before: Option<DataRequestId>,
        limit: i64,
    ) -> Result<Vec<DataRequest>> {
        let rows = self
            .fetch_all(
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM data_requests WHERE user_id = $1 AND organization_id = $2 \
                     AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
                ))
                .bind(user.to_string())
                .bind(org.to_string())
                .bind(before.map(|b| b.to_string()).unwrap_or_default())
                .bind(limit),
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn open_data_requests_of(
        &mut self,
        user: UserId,
        org: OrganizationId,
    ) -> Result<Vec<DataRequest>> {
        let rows = self
            .fetch_all(
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM data_requests WHERE user_id = $1 AND organization_id = $2 \
                     AND state IN (1, 2) ORDER BY id"
                ))
                .bind(user.to_string())
                .bind(org.to_string()),
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    async fn organization_data_requests(
        &mut self,
        org: OrganizationId,
        filter: RequestsFilter,
        before: Option<DataRequestId>,
        limit: i64,
    ) -> Result<Vec<DataRequest>> {
        let states = match filter {
            RequestsFilter::All => "",
            RequestsFilter::Open => "AND state IN (1, 2)",
            RequestsFilter::Closed => "AND state NOT IN (1, 2)",
        };
        let rows = self
            .fetch_all(
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM data_requests WHERE organization_id = $1 {states} \
                     AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
                ))
                .bind(org.to_string())
                .bind(before.map(|b| b.to_string()).unwrap_or_default())
                .bind(limit),
            )
            .await?;
        rows.iter().map(from_row).collect()
    }
}
