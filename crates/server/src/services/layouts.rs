//! Organisations' layouts — their settings, type name, purposes and templates — cached
//! per node.
//! Every consent read needs one and they change rarely; the store counts every change
//! (`layout_version`, incremented in the changing unit of work), the read statement
//! returns the current count, and a layout older than that is read again. So a change
//! made through any node is seen by every node's next read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accord_domain::OrganizationId;

/// Layouts kept before the cache starts over (a bound, not a tuning knob: a layout is a
/// few KiB, and organisations with readers come back within one read).
const MAX_CACHED: usize = 10_000;

pub use accord_domain::organization::OrgLayout;

#[derive(Default)]
pub struct Layouts(Mutex<HashMap<OrganizationId, Arc<OrgLayout>>>);

impl Layouts {
    pub fn get(&self, org: OrganizationId) -> Option<Arc<OrgLayout>> {
        self.0.lock().expect("layouts").get(&org).cloned()
    }

    /// Keeps the newer of the cached and the given layout.
    pub fn put(&self, org: OrganizationId, layout: Arc<OrgLayout>) {
        let mut map = self.0.lock().expect("layouts");
        if map.len() >= MAX_CACHED && !map.contains_key(&org) {
            map.clear();
        }
        match map.get(&org) {
            Some(cached) if cached.version >= layout.version => {}
            _ => {
                map.insert(org, layout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(version: i64) -> Arc<OrgLayout> {
        Arc::new(OrgLayout::new(
            version,
            accord_domain::organization::Organization::new(chrono::Utc::now()),
            String::new(),
            vec![],
            vec![],
            vec![],
        ))
    }

    #[test]
    fn the_newer_layout_stays() {
        let cache = Layouts::default();
        let org = OrganizationId::new();
        cache.put(org, layout(3));
        cache.put(org, layout(2));
        assert_eq!(
            cache.get(org).unwrap().version,
            3,
            "an older read does not replace a newer one"
        );
        cache.put(org, layout(4));
        assert_eq!(cache.get(org).unwrap().version, 4);
        assert!(cache.get(OrganizationId::new()).is_none());
    }
}
