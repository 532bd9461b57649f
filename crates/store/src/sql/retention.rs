//! Deleting what has outlived its retention period.

use super::prelude::*;

#[async_trait]
impl RetentionTx for Uow {
    async fn sweep(&mut self, what: Sweep, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        // A batch at a time, by primary key: no statement holds its table for long.
        let sql = match what {
            Sweep::EndedSessions => {
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 \
                 OR (revoked_at IS NOT NULL AND revoked_at < $1) LIMIT $2)"
            }
            Sweep::QuietThrottles => {
                "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE window_start < $1 \
                 AND (locked_until IS NULL OR locked_until < $1) LIMIT $2)"
            }
            Sweep::ProcessedOutbox => {
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE processed_at IS NOT NULL \
                 AND processed_at < $1 LIMIT $2)"
            }
            Sweep::FinishedDeliveries => {
                "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE status IN ('delivered', 'failed') AND created_at < $1 LIMIT $2)"
            }
            Sweep::OrganizationLogs => {
                "DELETE FROM organization_logs WHERE id IN (SELECT id FROM organization_logs WHERE created_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredResetTokens => {
                "DELETE FROM password_reset_tokens WHERE token_hash IN \
                 (SELECT token_hash FROM password_reset_tokens WHERE expires_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredLoginStates => {
                "DELETE FROM federated_login_states WHERE state_hash IN \
                 (SELECT state_hash FROM federated_login_states WHERE expires_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredEmailVerifications => {
                "DELETE FROM email_verifications WHERE token_hash IN \
                 (SELECT token_hash FROM email_verifications WHERE expires_at < $1 LIMIT $2)"
            }
            Sweep::CancelledDataRequests => {
                "DELETE FROM data_requests WHERE id IN (SELECT id FROM data_requests WHERE state = 8 \
                 AND closed_at < $1 LIMIT $2)"
            }
            Sweep::AnsweredDataRequests => {
                "DELETE FROM data_requests WHERE id IN (SELECT id FROM data_requests WHERE state IN (6, 7) \
                 AND closed_at < $1 LIMIT $2)"
            }
        };
        self.execute(sqlx::query(sql).bind(to_ms(before)).bind(limit))
            .await
    }
}
