//! Retention: every table that grows with use has a rule and a sweep (docs/operations.md,
//! "Retention"). The consent ledger is never swept: it is the proof.

use accord_domain::Result;
use accord_store::{Mode, Sweep};
use chrono::{DateTime, Duration, Utc};

use super::Services;

/// How often a node sweeps (by the injected clock).
const SWEEP_EVERY: Duration = Duration::minutes(10);
/// Rows deleted per statement.
const SWEEP_BATCH: i64 = 5000;
/// Throttle rows are kept through two quiet windows (15 minutes each) after their window
/// and lockout end: the rule that forgives earlier lockouts after the same time.
const THROTTLE_QUIET: Duration = Duration::minutes(30);
/// Processed outbox events are kept a day (a look back at what was fanned out).
const OUTBOX_KEPT: Duration = Duration::days(1);
/// A cancelled data request is kept a month: the person's look back at what they withdrew.
const CANCELLED_REQUEST_KEPT: Duration = Duration::days(30);
/// An answered data request is kept three years: the organisation's record that it
/// answered (GDPR Art. 5(2), accountability), as long as a complaint about it may come.
const ANSWERED_REQUEST_KEPT: Duration = Duration::days(3 * 365);

impl Services {
    /// Sweeps if this node has not for [`SWEEP_EVERY`]; called by the background worker.
    pub(crate) async fn sweep_if_due(&self) -> Result<()> {
        let now = self.clock.now();
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| now - at < SWEEP_EVERY) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.sweep_retention(now).await
    }

    /// Deletes everything past its rule, a batch at a time.
    pub async fn sweep_retention(&self, now: DateTime<Utc>) -> Result<()> {
        let days = |d: std::time::Duration| Duration::from_std(d).unwrap_or(Duration::days(36_500));
        for what in Sweep::ALL {
            let before = match what {
                Sweep::EndedSessions
                | Sweep::ExpiredResetTokens
                | Sweep::ExpiredLoginStates
                | Sweep::ExpiredEmailVerifications => now,
                Sweep::QuietThrottles => now - THROTTLE_QUIET,
                Sweep::ProcessedOutbox => now - OUTBOX_KEPT,
                Sweep::FinishedDeliveries => now - days(self.config.delivery_retention),
                Sweep::OrganizationLogs => now - days(self.config.log_retention),
                Sweep::CancelledDataRequests => now - CANCELLED_REQUEST_KEPT,
                Sweep::AnsweredDataRequests => now - ANSWERED_REQUEST_KEPT,
            };
            let mut deleted = 0;
            loop {
                let mut tx = self.store.begin(Mode::Write).await?;
                let n = tx.sweep(what, before, SWEEP_BATCH).await?;
                tx.commit().await?;
                deleted += n;
                if n < SWEEP_BATCH as u64 {
                    break;
                }
            }
            if deleted > 0 {
                tracing::info!(sweep = ?what, deleted, "retention sweep");
            }
        }
        Ok(())
    }
}
