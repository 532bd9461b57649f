//! The consent rules: an attribute's computed status (defaults by lawful basis, expiry of
//! time-limited consents), a purpose's counts and summary, data-retention expiry, and the
//! hash chain that makes an organisation's consent history tamper-evident.

use chrono::{DateTime, Duration, Utc};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentValue {
    Allow,
    Disallow,
    AskMe,
}

impl ConsentValue {
    /// Case-insensitive; anything but Allow, Disallow or AskMe is 400.
    pub fn parse(raw: &str) -> Result<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Self::Allow),
            "disallow" => Ok(Self::Disallow),
            "askme" => Ok(Self::AskMe),
            _ => Err(Error::invalid(format!(
                "consented must be Allow, Disallow or AskMe, not {raw:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Disallow => "Disallow",
            Self::AskMe => "AskMe",
        }
    }
}

/// What was last recorded for one attribute of one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredConsent {
    pub value: ConsentValue,
    /// 0: no time limit. Otherwise the consent holds this many days from `changed_at`.
    pub days: i64,
    pub changed_at: DateTime<Utc>,
}

impl StoredConsent {
    /// When a time-limited consent stops holding.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        (self.days > 0).then(|| self.changed_at + Duration::days(self.days))
    }
}

/// How an attribute's consent reads now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComputedStatus {
    pub consent: ConsentValue,
    /// `None` reads as Go's zero time: never set, or set without a time limit.
    pub timestamp: Option<DateTime<Utc>>,
    pub days: i64,
    pub remaining: i64,
    /// A time-limited consent whose time is up (it reads Disallow).
    pub expired: bool,
}

/// Days must be a whole number, 0 or more.
pub fn parse_days(days: i64) -> Result<i64> {
    if (0..=36500).contains(&days) {
        Ok(days)
    } else {
        Err(Error::invalid(
            "days must be a whole number from 0 to 36500",
        ))
    }
}

/// Unset: Allow for lawful-usage purposes, else Disallow. A time-limited consent counts
/// down whole days from its change; at 0 remaining it reads Disallow.
pub fn compute_status(
    stored: Option<&StoredConsent>,
    lawful_usage: bool,
    now: DateTime<Utc>,
) -> ComputedStatus {
    let Some(s) = stored else {
        let consent = if lawful_usage {
            ConsentValue::Allow
        } else {
            ConsentValue::Disallow
        };
        return ComputedStatus {
            consent,
            timestamp: None,
            days: 0,
            remaining: 0,
            expired: false,
        };
    };
    if s.days == 0 {
        return ComputedStatus {
            consent: s.value,
            timestamp: None,
            days: 0,
            remaining: 0,
            expired: false,
        };
    }
    let elapsed = (now - s.changed_at).num_days().max(0);
    let remaining = s.days - elapsed;
    if remaining <= 0 {
        ComputedStatus {
            consent: ConsentValue::Disallow,
            timestamp: Some(s.changed_at),
            days: s.days,
            remaining: 0,
            expired: true,
        }
    } else {
        ComputedStatus {
            consent: s.value,
            timestamp: Some(s.changed_at),
            days: s.days,
            remaining,
            expired: false,
        }
    }
}

/// `Count`: the purpose's attributes, and how many read anything but Disallow.
pub fn count(statuses: &[ComputedStatus]) -> (i64, i64) {
    let consented = statuses
        .iter()
        .filter(|s| s.consent != ConsentValue::Disallow)
        .count();
    (statuses.len() as i64, consented as i64)
}

/// A purpose in one word: Allow if every attribute reads Allow, Disallow if every one
/// reads Disallow, AskMe for anything mixed. A purpose without attributes reads as its
/// default: Allow for lawful usage, else Disallow.
pub fn purpose_summary(statuses: &[ComputedStatus], lawful_usage: bool) -> ConsentValue {
    if statuses.is_empty() {
        return if lawful_usage {
            ConsentValue::Allow
        } else {
            ConsentValue::Disallow
        };
    }
    if statuses.iter().all(|s| s.consent == ConsentValue::Allow) {
        ConsentValue::Allow
    } else if statuses.iter().all(|s| s.consent == ConsentValue::Disallow) {
        ConsentValue::Disallow
    } else {
        ConsentValue::AskMe
    }
}

/// A purpose's `AllowAll` after a change: it has attributes, and every one reads Allow.
pub fn all_allowed<'a>(statuses: impl IntoIterator<Item = &'a ComputedStatus>) -> bool {
    let mut any = false;
    for s in statuses {
        if s.consent != ConsentValue::Allow {
            return false;
        }
        any = true;
    }
    any
}

/// `DataRetention.Expiry`: when retention is on, the purpose needs consent and something
/// is consented, the latest change plus the retention period, as iGrant.io wrote it
/// (`2020-11-14 03:03:10 +0000 UTC`); otherwise empty.
pub fn retention_expiry(
    retention_enabled: bool,
    retention_period_secs: i64,
    lawful_usage: bool,
    statuses: &[ComputedStatus],
    latest_change: Option<DateTime<Utc>>,
) -> String {
    let consented = statuses.iter().any(|s| s.consent != ConsentValue::Disallow);
    match latest_change {
        Some(at) if retention_enabled && !lawful_usage && consented => (at
            + Duration::seconds(retention_period_secs))
        .format("%Y-%m-%d %H:%M:%S +0000 UTC")
        .to_string(),
        _ => String::new(),
    }
}

/// Who changed a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    /// The individual, for themselves.
    Individual,
    /// An Admin of the organisation, on the individual's behalf (e.g. consent given on paper).
    OrganisationAdmin,
    /// Accord itself (a time-limited consent expiring).
    System,
}

impl ChangedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::OrganisationAdmin => "organisation_admin",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "individual" => Self::Individual,
            "organisation_admin" => Self::OrganisationAdmin,
            _ => Self::System,
        }
    }
}

/// One entry of an organisation's consent history, in the form that is hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: String,
    pub seq: i64,
    pub organization_id: String,
    pub user_id: String,
    pub consent_id: String,
    pub purpose_id: String,
    pub attribute_id: String,
    pub actor_id: String,
    pub changed_by: ChangedBy,
    /// `None`: the attribute had never been set.
    pub old_value: Option<ConsentValue>,
    pub new_value: ConsentValue,
    pub days: i64,
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the first entry's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl HistoryEntry {
    /// SHA-256 over the previous hash and every field, in a fixed, unambiguous layout:
    /// `len:field`, joined by `|`. Fed to the hasher piece by piece: the consent
    /// committer hashes every change, and verification every entry.
    pub fn compute_hash(&self) -> String {
        use sha2::Digest as _;
        use std::io::Write as _;
        let [seq, days, at] =
            [self.seq, self.days, self.at.timestamp_millis()].map(|n| n.to_string());
        let fields = [
            "accord-consent-v1",
            &self.prev_hash,
            &seq,
            &self.id,
            &self.organization_id,
            &self.user_id,
            &self.consent_id,
            &self.purpose_id,
            &self.attribute_id,
            &self.actor_id,
            self.changed_by.as_str(),
            self.old_value.map_or("", ConsentValue::as_str),
            self.new_value.as_str(),
            &days,
            &at,
        ];
        let mut hasher = sha2::Sha256::new();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                hasher.update(b"|");
            }
            // Writing into a hasher cannot fail.
            let _ = write!(hasher, "{}:", field.len());
            hasher.update(field.as_bytes());
        }
        format!("{:x}", hasher.finalize())
    }
}

/// The first entry (in sequence) whose link or hash is wrong, if any.
pub fn first_broken(entries: &[HistoryEntry]) -> Option<&HistoryEntry> {
    let mut prev = GENESIS.to_owned();
    for (expected_seq, e) in (1..).zip(entries) {
        if e.seq != expected_seq || e.prev_hash != prev || e.compute_hash() != e.hash {
            return Some(e);
        }
        prev = e.hash.clone();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn values_parse_case_insensitively_and_nothing_else() {
        assert_eq!(ConsentValue::parse("ALLOW").unwrap(), ConsentValue::Allow);
        assert_eq!(ConsentValue::parse("askMe").unwrap(), ConsentValue::AskMe);
        assert_eq!(
            ConsentValue::parse(" disallow ").unwrap(),
            ConsentValue::Disallow
        );
        for bad in ["", "yes", "Allowed", "ask me", "1"] {
            assert!(ConsentValue::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_days(-1).is_err());
        assert_eq!(parse_days(30).unwrap(), 30);
    }

    #[test]
    fn allow_all_needs_attributes_and_every_one_allowed() {
        let status = |consent| ComputedStatus {
            consent,
            ..compute_status(None, false, t0())
        };
        assert!(!all_allowed(&[]), "a purpose without attributes");
        assert!(all_allowed(&[
            status(ConsentValue::Allow),
            status(ConsentValue::Allow)
        ]));
        assert!(!all_allowed(&[
            status(ConsentValue::Allow),
            status(ConsentValue::AskMe)
        ]));
        assert!(!all_allowed(&[status(ConsentValue::Disallow)]));
    }

    #[test]
    fn unset_attributes_default_by_lawful_basis() {
        let consent = compute_status(None, false, t0());
        assert_eq!(
            (consent.consent, consent.timestamp, consent.days),
            (ConsentValue::Disallow, None, 0)
        );
        assert_eq!(
            compute_status(None, true, t0()).consent,
            ConsentValue::Allow
        );
    }

    #[test]
    fn time_limited_consent_counts_down_then_expires() {
        let s = StoredConsent {
            value: ConsentValue::Allow,
            days: 3,
            changed_at: t0(),
        };
        let at = |h: i64| compute_status(Some(&s), false, t0() + Duration::hours(h));
        assert_eq!((at(0).consent, at(0).remaining), (ConsentValue::Allow, 3));
        assert_eq!(at(0).timestamp, Some(t0()));
        assert_eq!(at(23).remaining, 3, "whole days elapsed");
        assert_eq!(at(24).remaining, 2);
        assert_eq!((at(71).consent, at(71).remaining), (ConsentValue::Allow, 1));
        let expired = at(72);
        assert_eq!(
            (expired.consent, expired.remaining, expired.expired),
            (ConsentValue::Disallow, 0, true)
        );
        assert_eq!(expired.days, 3);
        assert_eq!(s.expires_at(), Some(t0() + Duration::days(3)));
        // Without a time limit nothing counts down and the timestamp reads as zero.
        let forever = StoredConsent {
            value: ConsentValue::AskMe,
            days: 0,
            changed_at: t0(),
        };
        let st = compute_status(Some(&forever), false, t0() + Duration::days(9999));
        assert_eq!(
            (st.consent, st.timestamp, st.remaining, st.expired),
            (ConsentValue::AskMe, None, 0, false)
        );
        assert_eq!(forever.expires_at(), None);
    }

    #[test]
    fn counts_and_summaries() {
        let st = |v| ComputedStatus {
            consent: v,
            timestamp: None,
            days: 0,
            remaining: 0,
            expired: false,
        };
        use ConsentValue::*;
        assert_eq!(
            count(&[st(Allow), st(AskMe), st(Disallow), st(Allow)]),
            (4, 3)
        );
        assert_eq!(purpose_summary(&[st(Allow), st(Allow)], false), Allow);
        assert_eq!(
            purpose_summary(&[st(Disallow), st(Disallow)], true),
            Disallow
        );
        assert_eq!(purpose_summary(&[st(Allow), st(Disallow)], false), AskMe);
        assert_eq!(purpose_summary(&[st(AskMe)], false), AskMe);
        assert_eq!(purpose_summary(&[], true), Allow);
        assert_eq!(purpose_summary(&[], false), Disallow);
    }

    #[test]
    fn retention_expiry_format_and_conditions() {
        let st = |v| ComputedStatus {
            consent: v,
            timestamp: None,
            days: 0,
            remaining: 0,
            expired: false,
        };
        let allow = [st(ConsentValue::Allow)];
        let at = Utc.with_ymd_and_hms(2020, 11, 4, 3, 3, 10).unwrap();
        assert_eq!(
            retention_expiry(true, 864000, false, &allow, Some(at)),
            "2020-11-14 03:03:10 +0000 UTC"
        );
        assert_eq!(retention_expiry(false, 864000, false, &allow, Some(at)), "");
        assert_eq!(
            retention_expiry(true, 864000, true, &allow, Some(at)),
            "",
            "lawful usage keeps no retention clock"
        );
        assert_eq!(
            retention_expiry(true, 864000, false, &[st(ConsentValue::Disallow)], Some(at)),
            ""
        );
        assert_eq!(retention_expiry(true, 864000, false, &allow, None), "");
    }

    fn chain(n: i64) -> Vec<HistoryEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = HistoryEntry {
                    id: format!("e{seq}"),
                    seq,
                    organization_id: "o".into(),
                    user_id: "u".into(),
                    consent_id: "c".into(),
                    purpose_id: "p".into(),
                    attribute_id: "a".into(),
                    actor_id: "u".into(),
                    changed_by: ChangedBy::Individual,
                    old_value: None,
                    new_value: ConsentValue::Allow,
                    days: 0,
                    at: t0() + Duration::seconds(seq),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    /// Every ledger recorded so far was hashed in this layout: a change to it would make
    /// them all fail verification. (Expected values computed outside Rust, with Python's
    /// hashlib over the documented layout.)
    #[test]
    fn the_hash_layout_is_stable() {
        let entries = chain(2);
        assert_eq!(
            entries[0].hash,
            "1997b5c3ae5c5dc21af86b6b6dcf1527a81f2118532f88b6e27917eab8588ae2"
        );
        assert_eq!(
            entries[1].hash,
            "87eda1df0ddf4b86dad754a98c60aaef9ad42977509addc4ac90a80b6788a675"
        );
    }

    #[test]
    fn the_chain_verifies_and_any_edit_breaks_it_at_that_entry() {
        let good = chain(5);
        assert!(first_broken(&good).is_none());
        let mut edited = good.clone();
        edited[2].new_value = ConsentValue::Disallow;
        assert_eq!(first_broken(&edited).map(|e| e.seq), Some(3));
        let mut removed = good.clone();
        removed.remove(1);
        assert_eq!(first_broken(&removed).map(|e| e.seq), Some(3));
        let mut rehashed = good.clone();
        rehashed[1].days = 7;
        rehashed[1].hash = rehashed[1].compute_hash();
        assert_eq!(
            first_broken(&rehashed).map(|e| e.seq),
            Some(3),
            "a recomputed hash breaks the next link"
        );
    }
}
