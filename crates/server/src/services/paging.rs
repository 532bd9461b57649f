//! How lists answer: the iGrant lists page (`limit`, 50 by default, at most 500); the
//! CustomerID searches do not page, so their answers are capped whole.

use accord_domain::{Error, Result};

pub const PAGE_DEFAULT: i64 = 50;
pub const PAGE_MAX: i64 = 500;

/// The most entries a CustomerID search answers by default (`ACCORD_MAX_LIST`). The spec
/// lets `maxResults` be 0 ("no limit"); an answer that would hold more is refused with
/// advice to narrow the search, rather than loading and rendering a whole population.
pub const LIST_MAX: i64 = 10_000;

/// A search that does not page: asks the store for one more than the cap, then refuses
/// an answer that would exceed it. `max_results` 0 is the spec's "no limit".
#[derive(Debug, Clone, Copy)]
pub struct ListCap {
    pub cap: i64,
    pub max_results: i64,
}

impl ListCap {
    pub fn new(cap: i64, max_results: i64) -> Result<Self> {
        if !(0..=cap).contains(&max_results) {
            return Err(Error::invalid(format!(
                "maxResults must be a whole number from 0 (no limit) to {cap}"
            )));
        }
        Ok(Self { cap, max_results })
    }

    /// The row limit to ask the store for.
    pub fn query_limit(&self) -> i64 {
        if self.max_results == 0 {
            self.cap + 1
        } else {
            self.max_results
        }
    }

    /// The answer, or 400 when it holds more than the cap.
    pub fn answer<T>(&self, mut found: Vec<T>, what: &str) -> Result<Vec<T>> {
        if found.len() as i64 > self.cap {
            return Err(Error::invalid(format!(
                "the search matches more than {} {what}: narrow it with criteria, or set maxResults",
                self.cap
            )));
        }
        if self.max_results > 0 {
            found.truncate(self.max_results as usize);
        }
        Ok(found)
    }
}

/// The page size a caller asked for, or the default; 400 outside 1 to [`PAGE_MAX`].
pub fn page_limit(limit: Option<i64>) -> Result<i64> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if (1..=PAGE_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(format!("limit must be 1 to {PAGE_MAX}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert_eq!(page_limit(None).unwrap(), PAGE_DEFAULT);
        assert_eq!(page_limit(Some(PAGE_MAX)).unwrap(), PAGE_MAX);
        for bad in [0, -1, PAGE_MAX + 1, i64::MAX] {
            assert!(page_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn searches_are_capped_whole() {
        assert!(ListCap::new(3, 4).is_err() && ListCap::new(3, -1).is_err());
        let all = ListCap::new(3, 0).unwrap();
        assert_eq!(all.query_limit(), 4);
        assert_eq!(all.answer(vec![1, 2, 3], "users").unwrap(), [1, 2, 3]);
        let refused = all.answer(vec![1, 2, 3, 4], "users").unwrap_err();
        assert!(
            refused.to_string().contains("more than 3 users"),
            "{refused}"
        );
        let two = ListCap::new(3, 2).unwrap();
        assert_eq!(two.query_limit(), 2);
        assert_eq!(two.answer(vec![1, 2], "users").unwrap(), [1, 2]);
    }
}
