//! Deleting what has outlived its retention period.

use super::prelude::*;

/// What a retention sweep deletes, each older than the cut-off it is given
/// (docs/operations.md, "Retention").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Sessions expired or revoked (their refresh tokens go with them).
    EndedSessions,
    /// Throttle rows whose window and lockout both ended.
    QuietThrottles,
    /// Outbox events already fanned out.
    ProcessedOutbox,
    /// Webhook deliveries delivered or given up.
    FinishedDeliveries,
    OrganizationLogs,
    ExpiredResetTokens,
    ExpiredLoginStates,
    ExpiredEmailVerifications,
    /// Data requests the person cancelled.
    CancelledDataRequests,
    /// Data requests the organisation answered.
    AnsweredDataRequests,
}

impl Sweep {
    pub const ALL: [Sweep; 10] = [
        Sweep::EndedSessions,
        Sweep::QuietThrottles,
        Sweep::ProcessedOutbox,
        Sweep::FinishedDeliveries,
        Sweep::OrganizationLogs,
        Sweep::ExpiredResetTokens,
        Sweep::ExpiredLoginStates,
        Sweep::ExpiredEmailVerifications,
        Sweep::CancelledDataRequests,
        Sweep::AnsweredDataRequests,
    ];
}

#[async_trait]
pub trait RetentionTx: Send {
    /// Deletes up to `limit` rows of one kind older than `before`; the number deleted.
    async fn sweep(&mut self, what: Sweep, before: DateTime<Utc>, limit: i64) -> Result<u64>;
}
