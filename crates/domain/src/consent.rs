//! The consent rules: an attribute's computed status (defaults by lawful basis, expiry of
//! time-limited consents), a purpose's counts and summary, data-retention expiry, and the
//! hash chain that makes an organisation's consent history tamper-evident.

use chrono::{DateTime, Duration, Utc};

use crate::organization::Purpose;
use crate::purpose_version::{OutdatedConsent, VersionRef};
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
    /// The version of the purpose's wording the value was given under (values given
    /// before versions were recorded count as given under version 1).
    pub version: i64,
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
    /// The purpose's version the value was given under; `None` when never set.
    pub version: Option<i64>,
    /// Given under an older version of a consent-based purpose while reading as consent
    /// (or lapsed for it): the person is asked again.
    pub outdated: bool,
    /// When an outdated consent lapses (or lapsed), where the organisation chose so.
    pub lapses_at: Option<DateTime<Utc>>,
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
    let unset = ComputedStatus {
        consent: if lawful_usage {
            ConsentValue::Allow
        } else {
            ConsentValue::Disallow
        },
        timestamp: None,
        days: 0,
        remaining: 0,
        expired: false,
        version: None,
        outdated: false,
        lapses_at: None,
    };
    let Some(s) = stored else {
        return unset;
    };
    let set = ComputedStatus {
        consent: s.value,
        version: Some(s.version),
        ..unset
    };
    if s.days == 0 {
        return set;
    }
    let elapsed = (now - s.changed_at).num_days().max(0);
    let remaining = s.days - elapsed;
    ComputedStatus {
        consent: if remaining <= 0 {
            ConsentValue::Disallow
        } else {
            s.value
        },
        timestamp: Some(s.changed_at),
        days: s.days,
        remaining: remaining.max(0),
        expired: remaining <= 0,
        ..set
    }
}

/// An attribute's status with its purpose's versions applied (docs/consents.md,
/// "Outdated consents"): a value of a consent-based purpose given under an older version,
/// that still reads as consent, is outdated. Where the organisation chose that outdated
/// consents lapse, it reads as the purpose's default from `grace_days` after the version
/// that outdated it was published (`published`: when a version of the purpose was).
pub fn versioned_status(
    stored: Option<&StoredConsent>,
    purpose: &Purpose,
    published: impl Fn(i64) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ComputedStatus {
    let lawful = purpose.lawful_basis.is_lawful_usage();
    let mut status = compute_status(stored, lawful, now);
    let Some(s) = stored else {
        return status;
    };
    if lawful || s.version >= purpose.version || status.consent == ConsentValue::Disallow {
        return status;
    }
    status.outdated = true;
    if let OutdatedConsent::Lapses { grace_days } = purpose.outdated_consent {
        // Outdated since the next version after the one it was given under.
        if let Some(since) = published(s.version + 1) {
            let at = since + Duration::days(grace_days);
            status.lapses_at = Some(at);
            if now >= at {
                status.consent = ConsentValue::Disallow;
            }
        }
    }
    status
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
    /// The purpose's version the change was made under; `None` only in entries written
    /// before versions existed (entry format 1).
    pub wording: Option<VersionRef>,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of the first entry's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl HistoryEntry {
    /// SHA-256 over the previous hash and every field, in a fixed, unambiguous layout:
    /// `len:field`, joined by `|`. Fed to the hasher piece by piece: the consent
    /// committer hashes every change, and verification every entry.
    ///
    /// The layout is versioned by its first field rather than history rewritten: format 1
    /// (`accord-consent-v1`) is every entry written before versions existed; format 2
    /// (`accord-consent-v2`) adds the purpose's version and the hash of its wording.
    pub fn compute_hash(&self) -> String {
        use sha2::Digest as _;
        use std::io::Write as _;
        let [seq, days, at] =
            [self.seq, self.days, self.at.timestamp_millis()].map(|n| n.to_string());
        let version = self.wording.as_ref().map(|w| w.number.to_string());
        let common: [&str; 14] = [
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
        let format = match &self.wording {
            None => "accord-consent-v1",
            Some(_) => "accord-consent-v2",
        };
        let wording = self
            .wording
            .as_ref()
            .zip(version.as_deref())
            .map(|(w, number)| [number, w.hash.as_str()]);
        let fields = std::iter::once(format)
            .chain(common)
            .chain(wording.into_iter().flatten());
        let mut hasher = sha2::Sha256::new();
        for (i, field) in fields.enumerate() {
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
            version: 1,
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
            version: 1,
        };
        let st = compute_status(Some(&forever), false, t0() + Duration::days(9999));
        assert_eq!(
            (st.consent, st.timestamp, st.remaining, st.expired),
            (ConsentValue::AskMe, None, 0, false)
        );
        assert_eq!(forever.expires_at(), None);
    }

    /// Given under version 1 of a purpose now at version 3 (version 2 published at t0):
    /// outdated; standing, or lapsing `grace_days` after t0 as the organisation chose.
    #[test]
    fn an_outdated_consent_stands_or_lapses_as_the_organisation_chose() {
        use crate::organization::LawfulBasis;
        let purpose = |outdated_consent, lawful_basis| Purpose {
            id: crate::PurposeId::new(),
            organization_id: crate::OrganizationId::new(),
            name: "Marketing".into(),
            description: String::new(),
            lawful_basis,
            policy_url: String::new(),
            attribute_type: 0,
            jurisdiction: String::new(),
            disclosure: String::new(),
            industry_scope: String::new(),
            restriction: String::new(),
            shared_3pp: false,
            version: 3,
            outdated_consent,
        };
        let given = |value, version| StoredConsent {
            value,
            days: 0,
            changed_at: t0() - Duration::days(10),
            version,
        };
        let published = |n: i64| match n {
            2 => Some(t0()),
            3 => Some(t0() + Duration::days(5)),
            _ => None,
        };
        let lapses = purpose(
            OutdatedConsent::Lapses { grace_days: 7 },
            LawfulBasis::Consent,
        );
        let at = |stored: &StoredConsent, p: &Purpose, days: i64| {
            versioned_status(Some(stored), p, published, t0() + Duration::days(days))
        };
        let old = given(ConsentValue::Allow, 1);
        let s = at(&old, &lapses, 6);
        assert_eq!(
            (s.consent, s.version, s.outdated, s.lapses_at),
            (
                ConsentValue::Allow,
                Some(1),
                true,
                Some(t0() + Duration::days(7))
            ),
            "within the grace, counted from the first version after it"
        );
        let s = at(&old, &lapses, 7);
        assert_eq!(
            (s.consent, s.outdated),
            (ConsentValue::Disallow, true),
            "lapsed: the purpose's default"
        );
        // Given under version 2: outdated since version 3, five days later.
        assert_eq!(
            at(&given(ConsentValue::AskMe, 2), &lapses, 7).consent,
            ConsentValue::AskMe
        );
        assert_eq!(
            at(&given(ConsentValue::AskMe, 2), &lapses, 12).consent,
            ConsentValue::Disallow
        );
        // Where it stands, it holds however long, and is still outdated.
        let stands = purpose(OutdatedConsent::Stands, LawfulBasis::Consent);
        let s = at(&old, &stands, 1000);
        assert_eq!(
            (s.consent, s.outdated, s.lapses_at),
            (ConsentValue::Allow, true, None)
        );
        // Current, refused, or not resting on consent: nothing to ask again.
        assert!(!at(&given(ConsentValue::Allow, 3), &lapses, 100).outdated);
        assert!(!at(&given(ConsentValue::Disallow, 1), &lapses, 100).outdated);
        let lawful = purpose(
            OutdatedConsent::Lapses { grace_days: 0 },
            LawfulBasis::LegalObligation,
        );
        assert_eq!(
            (
                at(&old, &lawful, 100).consent,
                at(&old, &lawful, 100).outdated
            ),
            (ConsentValue::Allow, false)
        );
        // Unset stays the default, with no version.
        let unset = versioned_status(None, &lapses, published, t0());
        assert_eq!(
            (unset.consent, unset.version),
            (ConsentValue::Disallow, None)
        );
    }

    #[test]
    fn counts_and_summaries() {
        let st = |v| ComputedStatus {
            consent: v,
            ..compute_status(None, false, t0())
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
            ..compute_status(None, false, t0())
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
                    wording: None,
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

    /// Format 2 names the purpose's version; an older entry keeps format 1 and still
    /// verifies after it, and a version stripped from or added to an entry breaks it.
    /// (Expected value from Python's hashlib over the documented layout.)
    #[test]
    fn the_second_entry_format_covers_the_version_and_the_first_still_verifies() {
        let mut entries = chain(2);
        entries[1].wording = Some(VersionRef {
            number: 3,
            hash: format!("sha256:{}", "ab".repeat(32)),
        });
        entries[1].hash = entries[1].compute_hash();
        assert_eq!(
            entries[1].hash,
            "dd76357d8c5a56ef82c1b702f7835eaabbfc5e67431582c8a3ce2a855d129656"
        );
        assert!(first_broken(&entries).is_none(), "formats 1 and 2 chain");
        let mut stripped = entries.clone();
        stripped[1].wording = None;
        assert_eq!(first_broken(&stripped).map(|e| e.seq), Some(2));
        let mut renumbered = entries.clone();
        if let Some(w) = renumbered[1].wording.as_mut() {
            w.number = 2;
        }
        assert_eq!(first_broken(&renumbered).map(|e| e.seq), Some(2));
        let mut claimed = entries;
        claimed[0].wording = claimed[1].wording.clone();
        assert_eq!(first_broken(&claimed).map(|e| e.seq), Some(1));
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
