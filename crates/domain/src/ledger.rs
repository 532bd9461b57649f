//! Verifying an organisation's consent ledger: the hash chain of its history entries,
//! the chain's head, the current values against the entries that set them, and signed
//! checkpoints kept outside the database (docs/consents.md, "The ledger").
//!
//! The chain is fed in sequence, one entry at a time, so verification holds only the
//! previous hash however long the ledger is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::consent::{HistoryEntry, GENESIS};

/// What kind of edit verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// An entry's content does not hash to its recorded hash.
    Altered,
    /// An entry does not link to its predecessor: entries reordered, replaced or inserted.
    Unlinked,
    /// A gap in the sequence: entries removed.
    Missing,
    /// A position repeated or gone back: an entry inserted.
    Inserted,
    /// The newest entries removed: the head (or a checkpoint) is past the ledger's end.
    Truncated,
    /// The head disagrees with the last entry, or entries lie beyond it.
    Head,
    /// A current value disagrees with the latest entry for its attribute.
    Value,
    /// The ledger disagrees with a signed checkpoint at the same position: rewritten.
    Rewritten,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Altered => "altered",
            Self::Unlinked => "unlinked",
            Self::Missing => "missing",
            Self::Inserted => "inserted",
            Self::Truncated => "truncated",
            Self::Head => "head",
            Self::Value => "value",
            Self::Rewritten => "rewritten",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerProblem {
    pub kind: ProblemKind,
    /// The position where it shows.
    pub seq: i64,
    /// The entry there, when there is one and it could be read.
    pub entry: Option<HistoryEntry>,
    pub detail: String,
}

/// A row of the ledger as stored: an entry, or one whose fields cannot even be read (a
/// value that is no consent value): altered.
#[derive(Debug, Clone)]
pub enum LedgerRow {
    Entry(Box<HistoryEntry>),
    Unreadable { seq: i64 },
}

impl LedgerRow {
    pub fn seq(&self) -> i64 {
        match self {
            Self::Entry(e) => e.seq,
            Self::Unreadable { seq } => *seq,
        }
    }
}

/// A signed statement that the ledger had `hash` at position `seq` (a checkpoint, or a
/// receipt: both name a position and its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
}

/// Walks the chain in sequence; stops at the first problem.
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    entries: u64,
    checkpoints: BTreeMap<i64, String>,
    problem: Option<LedgerProblem>,
}

impl ChainVerifier {
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS.to_owned(),
            entries: 0,
            checkpoints: checkpoints
                .iter()
                .map(|c| (c.seq, c.hash.clone()))
                .collect(),
            problem: None,
        }
    }

    /// The next row in sequence order; false once a problem is found (feed no more).
    pub fn feed(&mut self, row: &LedgerRow) -> bool {
        if self.problem.is_some() {
            return false;
        }
        let seq = row.seq();
        let expected = self.next_seq;
        let entry = match row {
            LedgerRow::Entry(e) => Some(&**e),
            LedgerRow::Unreadable { .. } => None,
        };
        let found = |kind, detail: String| LedgerProblem {
            kind,
            seq,
            entry: entry.cloned(),
            detail,
        };
        let problem = if seq > expected {
            // Named at the first missing position.
            Some(LedgerProblem {
                seq: expected,
                ..found(
                    ProblemKind::Missing,
                    format!(
                        "the entries at positions {expected} to {} are missing",
                        seq - 1
                    ),
                )
            })
        } else if seq < expected {
            Some(found(
                ProblemKind::Inserted,
                format!(
                    "position {seq} appears again after position {}",
                    expected - 1
                ),
            ))
        } else {
            match entry {
                None => Some(found(
                    ProblemKind::Altered,
                    "the entry holds a value no consent change can".into(),
                )),
                Some(e) if e.prev_hash != self.prev_hash => Some(found(
                    ProblemKind::Unlinked,
                    "the entry does not link to its predecessor".into(),
                )),
                Some(e) if e.compute_hash() != e.hash => Some(found(
                    ProblemKind::Altered,
                    "the entry's content does not hash to its recorded hash".into(),
                )),
                Some(e) => match self.checkpoints.get(&seq) {
                    Some(signed) if *signed != e.hash => Some(found(
                        ProblemKind::Rewritten,
                        "the entry differs from a signed checkpoint of this position".into(),
                    )),
                    _ => None,
                },
            }
        };
        if let Some(p) = problem {
            self.problem = Some(p);
            return false;
        }
        if let Some(e) = entry {
            self.prev_hash.clone_from(&e.hash);
        }
        self.next_seq += 1;
        self.entries += 1;
        true
    }

    /// The verdict, given the chain's head (position and hash) as stored, and the highest
    /// position stored (read with the head, in one snapshot).
    pub fn finish(self, head: Option<(i64, String)>, highest: Option<i64>) -> LedgerVerdict {
        let entries = self.entries;
        if let Some(problem) = self.problem {
            return LedgerVerdict {
                entries,
                problem: Some(problem),
            };
        }
        let last = self.next_seq - 1;
        let problem = |kind, seq, detail: String| LedgerVerdict {
            entries,
            problem: Some(LedgerProblem {
                kind,
                seq,
                entry: None,
                detail,
            }),
        };
        let (head_seq, head_hash) = head.unwrap_or((0, GENESIS.to_owned()));
        if head_seq > last {
            return problem(
                ProblemKind::Truncated,
                last + 1,
                format!("the ledger ends at position {last}, but its head is at {head_seq}"),
            );
        }
        if let Some((&seq, _)) = self.checkpoints.range(last + 1..).next() {
            return problem(
                ProblemKind::Truncated,
                last + 1,
                format!("the ledger ends at position {last}, before a signed checkpoint at {seq}"),
            );
        }
        if head_seq < last || highest.is_some_and(|h| h > head_seq) {
            return problem(
                ProblemKind::Head,
                head_seq + 1,
                format!("entries lie beyond the head (position {head_seq})"),
            );
        }
        if head_hash != self.prev_hash {
            return problem(
                ProblemKind::Head,
                head_seq,
                "the head's hash differs from the last entry's".into(),
            );
        }
        LedgerVerdict {
            entries,
            problem: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerVerdict {
    /// Entries verified before any problem.
    pub entries: u64,
    pub problem: Option<LedgerProblem>,
}

/// What the latest entry (not counting expiry records) says an attribute was set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedValue {
    pub seq: i64,
    pub value: String,
    pub days: i64,
    pub at: DateTime<Utc>,
    /// The purpose's version the entry names; `None` in format-1 entries (version 1).
    pub version: Option<i64>,
}

/// A current value as stored, beside what the ledger recorded for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentValue {
    pub consent_id: String,
    pub purpose_id: String,
    pub attribute_id: String,
    pub value: String,
    pub days: i64,
    pub changed_at: DateTime<Utc>,
    /// The purpose's version the value was given under.
    pub version: i64,
    pub recorded: Option<RecordedValue>,
}

/// A current value must be what the latest change recorded: value, time limit, time and
/// the version it was given under (a value moved to a newer version would pass for a
/// current consent: docs/consents.md, "Outdated consents").
pub fn check_value(v: &CurrentValue) -> Option<LedgerProblem> {
    let what = format!(
        "attribute {} of purpose {} in consent {}",
        v.attribute_id, v.purpose_id, v.consent_id
    );
    match &v.recorded {
        None => Some(LedgerProblem {
            kind: ProblemKind::Value,
            seq: 0,
            entry: None,
            detail: format!("{what} has a value ({}) no entry records", v.value),
        }),
        Some(r)
            if r.value != v.value
                || r.days != v.days
                || r.at != v.changed_at
                || r.version.unwrap_or(1) != v.version =>
        {
            Some(LedgerProblem {
                kind: ProblemKind::Value,
                seq: r.seq,
                entry: None,
                detail: format!(
                    "{what} reads {} ({} days, version {}), but its latest entry recorded {} ({} days, version {})",
                    v.value,
                    v.days,
                    v.version,
                    r.value,
                    r.days,
                    r.version.unwrap_or(1)
                ),
            })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{ChangedBy, ConsentValue};
    use chrono::TimeZone;

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
                    new_value: if seq % 2 == 0 {
                        ConsentValue::Allow
                    } else {
                        ConsentValue::Disallow
                    },
                    days: 0,
                    at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                    // Two entries of format 1, then format 2: every check below runs
                    // across the change of format, as a real ledger does.
                    wording: (seq > 2).then(|| crate::purpose_version::VersionRef {
                        number: seq,
                        hash: format!("sha256:{seq}"),
                    }),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.compute_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(
        entries: &[LedgerRow],
        head: Option<(i64, String)>,
        checkpoints: &[Checkpoint],
    ) -> LedgerVerdict {
        let mut v = ChainVerifier::new(checkpoints);
        for e in entries {
            if !v.feed(e) {
                break;
            }
        }
        let highest = entries.iter().map(LedgerRow::seq).max();
        v.finish(head, highest)
    }

    fn rows(entries: &[HistoryEntry]) -> Vec<LedgerRow> {
        entries
            .iter()
            .map(|e| LedgerRow::Entry(Box::new(e.clone())))
            .collect()
    }

    fn head_of(entries: &[HistoryEntry]) -> Option<(i64, String)> {
        entries.last().map(|e| (e.seq, e.hash.clone()))
    }

    fn kind(v: &LedgerVerdict) -> Option<(ProblemKind, i64)> {
        v.problem.as_ref().map(|p| (p.kind, p.seq))
    }

    #[test]
    fn an_intact_ledger_verifies() {
        let c = chain(5);
        let v = verify(&rows(&c), head_of(&c), &[]);
        assert_eq!((v.entries, v.problem), (5, None));
        assert_eq!(verify(&[], None, &[]).problem, None, "an empty ledger");
    }

    #[test]
    fn every_kind_of_edit_is_named_at_its_position() {
        let c = chain(6);
        let head = head_of(&c);
        // Altered content.
        let mut altered = c.clone();
        altered[2].new_value = ConsentValue::AskMe;
        assert_eq!(
            kind(&verify(&rows(&altered), head.clone(), &[])),
            Some((ProblemKind::Altered, 3))
        );
        // Altered and re-hashed: the next entry no longer links to it.
        altered[2].hash = altered[2].compute_hash();
        assert_eq!(
            kind(&verify(&rows(&altered), head.clone(), &[])),
            Some((ProblemKind::Unlinked, 4))
        );
        // Removed from the middle.
        let mut removed = c.clone();
        removed.remove(3);
        assert_eq!(
            kind(&verify(&rows(&removed), head.clone(), &[])),
            Some((ProblemKind::Missing, 4))
        );
        // Inserted (a position repeated).
        let mut inserted = c.clone();
        inserted.insert(2, c[1].clone());
        assert_eq!(
            kind(&verify(&rows(&inserted), head.clone(), &[])),
            Some((ProblemKind::Inserted, 2))
        );
        // Reordered: two entries swap positions.
        let mut reordered = c.clone();
        reordered.swap(1, 2);
        reordered[1].seq = 2;
        reordered[2].seq = 3;
        assert_eq!(
            kind(&verify(&rows(&reordered), head.clone(), &[])),
            Some((ProblemKind::Unlinked, 2))
        );
        // The newest entries removed: the head is past the end.
        assert_eq!(
            kind(&verify(&rows(&c[..4]), head.clone(), &[])),
            Some((ProblemKind::Truncated, 5))
        );
        // Entries beyond the head; a head whose hash differs.
        assert_eq!(
            kind(&verify(&rows(&c), head_of(&c[..5]), &[])),
            Some((ProblemKind::Head, 6))
        );
        assert_eq!(
            kind(&verify(&rows(&c), Some((6, "x".into())), &[])),
            Some((ProblemKind::Head, 6))
        );
        // An unreadable row.
        let mut unreadable = rows(&c);
        unreadable[1] = LedgerRow::Unreadable { seq: 2 };
        assert_eq!(
            kind(&verify(&unreadable, head.clone(), &[])),
            Some((ProblemKind::Altered, 2))
        );
    }

    #[test]
    fn a_chain_rewritten_with_its_head_is_caught_by_a_checkpoint() {
        let c = chain(6);
        let checkpoint = Checkpoint {
            seq: 4,
            hash: c[3].hash.clone(),
        };
        // Entry 3 changed and everything after re-hashed, the head too: only the
        // checkpoint kept outside shows it.
        let mut rewritten = c.clone();
        rewritten[2].new_value = ConsentValue::Allow;
        let mut prev = rewritten[1].hash.clone();
        for e in &mut rewritten[2..] {
            e.prev_hash = prev;
            e.hash = e.compute_hash();
            prev = e.hash.clone();
        }
        let head = head_of(&rewritten);
        assert_eq!(verify(&rows(&rewritten), head.clone(), &[]).problem, None);
        assert_eq!(
            kind(&verify(
                &rows(&rewritten),
                head,
                std::slice::from_ref(&checkpoint)
            )),
            Some((ProblemKind::Rewritten, 4))
        );
        // Cut back before the checkpoint, head and all.
        assert_eq!(
            kind(&verify(&rows(&c[..3]), head_of(&c[..3]), &[checkpoint])),
            Some((ProblemKind::Truncated, 4))
        );
    }

    #[test]
    fn current_values_must_match_their_latest_entry() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut v = CurrentValue {
            consent_id: "c".into(),
            purpose_id: "p".into(),
            attribute_id: "a".into(),
            value: "Disallow".into(),
            days: 0,
            changed_at: at,
            version: 2,
            recorded: Some(RecordedValue {
                seq: 7,
                value: "Disallow".into(),
                days: 0,
                at,
                version: Some(2),
            }),
        };
        assert_eq!(check_value(&v), None);
        v.version = 3;
        assert_eq!(
            check_value(&v).map(|p| (p.kind, p.seq)),
            Some((ProblemKind::Value, 7)),
            "a value moved to a newer version than it was given under"
        );
        v.version = 1;
        if let Some(r) = v.recorded.as_mut() {
            r.version = None;
        }
        assert_eq!(check_value(&v), None, "format 1 counts as version 1");
        v.value = "Allow".into();
        assert_eq!(
            check_value(&v).map(|p| (p.kind, p.seq)),
            Some((ProblemKind::Value, 7))
        );
        v.recorded = None;
        assert_eq!(check_value(&v).map(|p| p.kind), Some(ProblemKind::Value));
    }
}
