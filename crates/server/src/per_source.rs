//! Shares held per client source (an IPv4 address or an IPv6 /64, see
//! `accord_domain::address::source_group`): connection slots, sign-ins in flight. In
//! memory, per node: they bound what one client makes this process hold at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use accord_domain::address::source_group;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct PerSource {
    max: usize,
    sources: Mutex<HashMap<IpAddr, Source>>,
}

/// A source's shares, and how many holders and waiters it has (at 0 it is forgotten).
struct Source {
    users: usize,
    shares: Arc<Semaphore>,
}

/// One share, given back on drop.
pub struct Share {
    owner: Arc<PerSource>,
    source: IpAddr,
    permit: Option<OwnedSemaphorePermit>,
}

impl PerSource {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            sources: Mutex::new(HashMap::new()),
        })
    }

    /// A share for `peer`'s source, unless that source holds all of its shares already.
    pub fn try_take(self: &Arc<Self>, peer: IpAddr) -> Option<Share> {
        let mut share = self.enter(peer);
        let shares = self.shares_of(share.source);
        share.permit = Some(shares.try_acquire_owned().ok()?);
        Some(share)
    }

    /// A share for `peer`'s source, waiting for one of its own to be given back if it
    /// holds all of them: a burst from one source queues behind itself, not behind others.
    pub async fn take(self: &Arc<Self>, peer: IpAddr) -> Share {
        let mut share = self.enter(peer);
        let shares = self.shares_of(share.source);
        // The semaphore is never closed.
        share.permit = shares.acquire_owned().await.ok();
        share
    }

    /// Counts a holder or waiter (undone by dropping the share, even before it holds).
    fn enter(self: &Arc<Self>, peer: IpAddr) -> Share {
        let source = source_group(peer);
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources
            .entry(source)
            .or_insert_with(|| Source {
                users: 0,
                shares: Arc::new(Semaphore::new(self.max)),
            })
            .users += 1;
        Share {
            owner: Arc::clone(self),
            source,
            permit: None,
        }
    }

    fn shares_of(&self, source: IpAddr) -> Arc<Semaphore> {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&sources[&source].shares)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut sources = self.owner.sources.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(source) = sources.get_mut(&self.source) {
            source.users -= 1;
            if source.users == 0 {
                sources.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_source_gets_only_its_share() {
        let shares = PerSource::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let a1 = shares.try_take(a).unwrap();
        let _a2 = shares.try_take(a).unwrap();
        assert!(shares.try_take(a).is_none());
        let _b1 = shares.try_take(b).unwrap();
        let _b2 = shares
            .try_take("2001:db8:1:2:ffff::9".parse().unwrap())
            .unwrap();
        assert!(shares.try_take(b).is_none(), "the same /64");
        assert!(shares
            .try_take("2001:db8:1:3::1".parse().unwrap())
            .is_some());
        // A waiter gets the share given back.
        let waiter = tokio::spawn({
            let shares = Arc::clone(&shares);
            async move { shares.take(a).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(a1);
        let a3 = waiter.await.unwrap();
        assert!(shares.try_take(a).is_none());
        drop(a3);
        assert!(shares.try_take(a).is_some());
        // Sources with no holders are forgotten.
        drop(_b1);
        drop(_b2);
        drop(_a2);
        assert!(shares.sources.lock().unwrap().is_empty());
    }
}
