//! Units of work the database aborted to break a deadlock are run again.
//!
//! PostgreSQL locks a parent row before the rows its deletion cascades into, while other
//! units of work lock a child row and then refer to its parent (the webhook worker saves a
//! delivery, then writes its organisation's log). When both meet, PostgreSQL aborts one.
//! The aborted one wrote nothing and the other is through a moment later, so a deletion
//! runs again instead of answering an error for what was only bad timing.

use std::future::Future;

use accord_domain::{Error, Result};

/// Runs after the first, at most: a third deadlock in a row is no longer bad timing.
const RUNS_AFTER_CONTENTION: u32 = 2;

/// Runs `unit` until it is not aborted by contention, up to the bound. Only for a unit of
/// one transaction: an aborted run must have left nothing behind.
pub(crate) async fn retry_on_contention<T, F, Fut>(mut unit: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut runs_left = RUNS_AFTER_CONTENTION;
    loop {
        match unit().await {
            Err(Error::Contention(why)) if runs_left > 0 => {
                runs_left -= 1;
                tracing::info!(%why, "the database aborted a unit of work; running it again");
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    async fn aborted_first(times: u32, runs: &AtomicU32) -> Result<u32> {
        let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
        if run <= times {
            Err(Error::Contention("deadlock".into()))
        } else {
            Ok(run)
        }
    }

    #[tokio::test]
    async fn a_contended_unit_runs_again_up_to_the_bound() {
        let runs = AtomicU32::new(0);
        let done = retry_on_contention(|| aborted_first(2, &runs)).await;
        assert_eq!(
            done.unwrap(),
            3,
            "two aborted runs, then the third goes through"
        );

        let runs = AtomicU32::new(0);
        let done = retry_on_contention(|| aborted_first(5, &runs)).await;
        assert!(matches!(done, Err(Error::Contention(_))));
        assert_eq!(runs.load(Ordering::SeqCst), 1 + RUNS_AFTER_CONTENTION);
    }

    #[tokio::test]
    async fn other_errors_are_not_run_again() {
        let runs = AtomicU32::new(0);
        let done: Result<()> = retry_on_contention(|| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(Error::Conflict("exists".into()))
        })
        .await;
        assert!(matches!(done, Err(Error::Conflict(_))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
