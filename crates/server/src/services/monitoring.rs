//! `/metrics` for the operator's monitoring (docs/operations.md, "Metrics"). It is no
//! one's data and no facade's: it answers only the bearer of the operator's metrics token
//! (`ACCORD_METRICS_TOKEN`), and is not there at all without one.

use accord_domain::{Error, Result};
use accord_store::Mode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Services;
use crate::metrics::Levels;

impl Services {
    /// Every series in the Prometheus text format, for the bearer of the metrics token.
    /// `NotFound` when no token is configured; `Unauthenticated` for any other token.
    pub async fn scrape_metrics(&self, presented: Option<&str>) -> Result<String> {
        let Some(token) = self.config.metrics_token.as_deref() else {
            return Err(Error::not_found("no such page"));
        };
        // Digests first, so the comparison takes as long whatever the lengths.
        let matches: bool = Sha256::digest(presented.unwrap_or_default().as_bytes())
            .ct_eq(&Sha256::digest(token.as_bytes()))
            .into();
        if !matches {
            return Err(Error::Unauthenticated(
                "the metrics token is required".into(),
            ));
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let queue = tx.delivery_queue().await?;
        let ledger_entries = tx.ledger_entries().await?;
        tx.commit().await?;
        Ok(self.metrics.render(&Levels {
            now: self.clock.now(),
            queue,
            ledger_entries,
            pools: self.store.pool_use(),
            hashing: self.passwords.queue(),
        }))
    }
}
