//! Group commit for consent changes ([`crate::Store::change_consent`]).
//!
//! Every change to a consent record extends its organisation's hash chain, so changes to
//! one organisation are serial by nature; committing each on its own costs one durable
//! commit (and, on PostgreSQL, one hold of the chain-head lock across it) per change. A
//! committer per node takes every change queued while the previous batch committed and
//! records them all in one transaction: each is decided in order against the record as
//! the batch left it, and each is answered only after the one commit that makes the whole
//! batch durable. A decision the service refuses writes nothing and is answered at once;
//! a database error rolls the batch back and every change in it is answered with it.
//!
//! This module is the backend-independent part (what a batch holds and how it decides);
//! each backend runs the loop on its own connection (`sqlite.rs`: a thread of its own with
//! an inline connection; `postgres.rs`: a task).

use std::collections::HashMap;

use accord_domain::consent::{HistoryEntry, StoredConsent};
use accord_domain::webhook::OutboxEvent;
use accord_domain::{AttributeId, ConsentId, Error, OrganizationId, PurposeId, Result, UserId};
use tokio::sync::{mpsc, oneshot};

use crate::{ChainHead, ConsentChangeState, ConsentRead, ConsentReadQuery, ConsentWrites};

/// The most changes one transaction records: bounds the wait of the last in a batch.
pub(crate) const MAX_BATCH: usize = 128;
/// Changes queued for the committer before senders wait (back-pressure).
pub(crate) const QUEUE: usize = 4096;

/// Decides a change: what to write, or why not. Runs on the committer, inside the
/// batch's transaction, so it must be quick and must not block: domain rules only.
pub type ConsentDecider = Box<dyn FnOnce(&ConsentChangeState) -> Result<ConsentWrites> + Send>;

/// One change to one consent record.
pub struct ConsentChangeJob {
    /// Whose record, changed by whom.
    pub query: ConsentReadQuery,
    /// The organisation's layout version the decider was prepared with; a change whose
    /// organisation has moved on is answered [`ConsentChangeOutcome::LayoutMoved`]
    /// without deciding.
    pub layout_version: i64,
    pub decide: ConsentDecider,
}

/// How a change ended, once its batch committed.
pub enum ConsentChangeOutcome {
    /// Recorded and durable. `read` is the state it was decided against.
    Written {
        read: Box<ConsentRead>,
        writes: Box<ConsentWrites>,
    },
    /// The organisation's layout is at this version now: prepare again and resubmit.
    LayoutMoved(i64),
}

/// A value row as written: the final value per (consent, purpose, attribute) of a batch.
#[derive(Debug, Clone)]
pub(crate) struct ValueRow {
    pub consent_id: ConsentId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub purpose_id: PurposeId,
    pub attribute_id: AttributeId,
    pub stored: StoredConsent,
}

pub(crate) struct Pending {
    job: Option<ConsentChangeJob>,
    /// Taken when the change is answered.
    reply: Option<oneshot::Sender<Result<ConsentChangeOutcome>>>,
}

impl Pending {
    fn reply(&mut self, answer: Result<ConsentChangeOutcome>) {
        if let Some(r) = self.reply.take() {
            // The caller may have gone (its request was cut): nothing to tell then.
            let _ = r.send(answer);
        }
    }
}

/// The sending side, held by the store.
pub(crate) struct ConsentCommitter {
    queue: mpsc::Sender<Pending>,
}

impl ConsentCommitter {
    pub(crate) fn new() -> (Self, mpsc::Receiver<Pending>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        (Self { queue }, rx)
    }

    pub(crate) async fn submit(&self, job: ConsentChangeJob) -> Result<ConsentChangeOutcome> {
        let (reply, answer) = oneshot::channel();
        let gone = || Error::internal("the consent committer has stopped");
        self.queue
            .send(Pending {
                job: Some(job),
                reply: Some(reply),
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The changes queued now, the first awaited (async side).
pub(crate) async fn next_batch(rx: &mut mpsc::Receiver<Pending>) -> Option<Vec<Pending>> {
    let first = rx.recv().await?;
    Some(drain(rx, first))
}

/// The jobs queued now, the first awaited on a thread outside the runtime (the consent
/// committer's, and SQLite's batched writer's: [`crate::sqlite_writer`]).
pub(crate) fn next_batch_blocking<T>(rx: &mut mpsc::Receiver<T>) -> Option<Vec<T>> {
    let first = rx.blocking_recv()?;
    Some(drain(rx, first))
}

fn drain<T>(rx: &mut mpsc::Receiver<T>, first: T) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
    batch
}

/// One batch being decided: the jobs, the chain heads it holds, what it will write.
pub(crate) struct Batch {
    pending: Vec<Pending>,
    next: usize,
    heads: HashMap<OrganizationId, Option<ChainHead>>,
    webhook_events: HashMap<OrganizationId, Vec<String>>,
    moved: HashMap<OrganizationId, ChainHead>,
    /// Final value rows, and where each (consent, purpose, attribute) is among them.
    pub values: Vec<ValueRow>,
    value_index: HashMap<(ConsentId, PurposeId, AttributeId), usize>,
    pub history: Vec<HistoryEntry>,
    pub outbox: Vec<OutboxEvent>,
    written: Vec<(usize, ConsentChangeOutcome)>,
}

impl Batch {
    pub(crate) fn new(pending: Vec<Pending>) -> Self {
        Self {
            pending,
            next: 0,
            heads: HashMap::new(),
            webhook_events: HashMap::new(),
            moved: HashMap::new(),
            values: vec![],
            value_index: HashMap::new(),
            history: vec![],
            outbox: vec![],
            written: vec![],
        }
    }

    /// The organisations whose chain heads the batch needs, in one order for every node
    /// (PostgreSQL locks them in this order, so two nodes' batches cannot deadlock).
    pub(crate) fn organizations(&self) -> Vec<OrganizationId> {
        let mut orgs: Vec<OrganizationId> = self
            .pending
            .iter()
            .filter_map(|p| p.job.as_ref().map(|j| j.query.organization))
            .collect();
        orgs.sort_by_key(|o| o.0);
        orgs.dedup();
        orgs
    }

    /// What the batch holds of an organisation: its chain head (locked), and the events
    /// its webhooks listen to (`subscribed_events` of each enabled one).
    pub(crate) fn hold_organization(
        &mut self,
        org: OrganizationId,
        head: Option<ChainHead>,
        subscribed_events: Vec<String>,
    ) {
        self.heads.insert(org, head);
        let mut events: Vec<String> = subscribed_events
            .iter()
            .flat_map(|e| e.split_whitespace())
            .map(str::to_owned)
            .collect();
        events.sort();
        events.dedup();
        self.webhook_events.insert(org, events);
    }

    /// The queries of the changes left to decide, in order: read each (or all at once),
    /// then [`Batch::decide_next`] with each read in turn.
    pub(crate) fn queries(&self) -> Vec<ConsentReadQuery> {
        self.pending[self.next..]
            .iter()
            .filter_map(|p| p.job.as_ref().map(|j| j.query.clone()))
            .collect()
    }

    /// Decides the next change against `read` (as the database has it inside the batch's
    /// transaction): applies the batch's earlier changes to it, checks the layout
    /// version, runs the decider and keeps what it writes. A refusal is answered now.
    pub(crate) fn decide_next(&mut self, read: Option<ConsentRead>) {
        let at = self.next;
        self.next += 1;
        let pending = &mut self.pending[at];
        let Some(job) = pending.job.take() else {
            return;
        };
        let mut read = read;
        if let Some(r) = read.as_mut() {
            if let Some(version) = r.layout_version.filter(|v| *v != job.layout_version) {
                self.written
                    .push((at, ConsentChangeOutcome::LayoutMoved(version)));
                return;
            }
            if let Some(id) = r.consent_id {
                for row in self.values.iter().filter(|v| v.consent_id == id) {
                    let key = (row.purpose_id, row.attribute_id);
                    match r.values.iter_mut().find(|(p, a, _)| (*p, *a) == key) {
                        Some(v) => v.2 = row.stored,
                        None => r.values.push((key.0, key.1, row.stored)),
                    }
                }
            }
        }
        let org = job.query.organization;
        let head = self
            .moved
            .get(&org)
            .cloned()
            .or_else(|| self.heads.get(&org).cloned().flatten());
        let state = ConsentChangeState {
            read,
            head,
            webhook_events: self.webhook_events.get(&org).cloned().unwrap_or_default(),
        };
        // A decider that panics (a bug) refuses its own change; the committer goes on.
        let decide = job.decide;
        let decided = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decide(&state)))
            .unwrap_or_else(|_| Err(Error::internal("the consent decider panicked")))
            .and_then(|writes| {
                check_continues(state.head.as_ref(), &writes.history)?;
                Ok(writes)
            });
        let writes = match decided {
            Ok(w) => w,
            Err(e) => {
                pending.reply(Err(e));
                return;
            }
        };
        let Some(read) = state.read else {
            pending.reply(Err(Error::internal("a change decided without a reader")));
            return;
        };
        if let Some(last) = writes.history.last() {
            self.moved.insert(
                org,
                ChainHead {
                    seq: last.seq,
                    hash: last.hash.clone(),
                },
            );
        }
        for (purpose, attribute, stored) in &writes.values {
            let key = (writes.consent_id, *purpose, *attribute);
            let row = ValueRow {
                consent_id: writes.consent_id,
                organization_id: writes.organization_id,
                user_id: writes.user_id,
                purpose_id: *purpose,
                attribute_id: *attribute,
                stored: *stored,
            };
            match self.value_index.get(&key) {
                Some(&i) => self.values[i] = row,
                None => {
                    self.value_index.insert(key, self.values.len());
                    self.values.push(row);
                }
            }
        }
        self.history.extend(writes.history.iter().cloned());
        self.outbox.extend(writes.outbox.iter().cloned());
        self.written.push((
            at,
            ConsentChangeOutcome::Written {
                read: Box::new(read),
                writes: Box::new(writes),
            },
        ));
    }

    /// The chain heads the batch moved, to store before committing.
    pub(crate) fn moved_heads(&self) -> impl Iterator<Item = (&OrganizationId, &ChainHead)> {
        self.moved.iter()
    }

    /// Answers every change: what it was decided to, once `committed` says the batch is
    /// durable; the batch's error otherwise (also to changes it never reached).
    pub(crate) fn answer(mut self, committed: Result<()>) {
        // A batch the database aborted to break a deadlock wrote nothing: each change may
        // be sent again, and hears so (503), not that the server failed.
        let contention = match &committed {
            Err(Error::Contention(why)) => Some(why.clone()),
            _ => None,
        };
        // Debug keeps an internal error's cause (for the log; responses never show it).
        let failure = committed.err().map(|e| format!("{e:?}"));
        let not_recorded = |e: &str| match &contention {
            Some(why) => Error::Contention(why.clone()),
            None => Error::internal(format!("the change was not recorded: {e}")),
        };
        for (at, outcome) in self.written.drain(..) {
            self.pending[at].reply(match &failure {
                None => Ok(outcome),
                Some(e) => Err(not_recorded(e)),
            });
        }
        let e = failure.as_deref().unwrap_or("the batch ended before it");
        for p in &mut self.pending {
            p.reply(Err(not_recorded(e)));
        }
    }
}

/// History entries must follow the head they were decided against, one sequence number
/// each: the ledger's one invariant, checked where the batch is assembled.
fn check_continues(head: Option<&ChainHead>, history: &[HistoryEntry]) -> Result<()> {
    let mut prev = match (head, history.is_empty()) {
        (_, true) => return Ok(()),
        (Some(h), false) => h.clone(),
        (None, false) => return Err(Error::internal("history entries for a missing chain")),
    };
    for e in history {
        if e.seq != prev.seq + 1 || e.prev_hash != prev.hash {
            return Err(Error::internal("history entries do not continue the chain"));
        }
        prev = ChainHead {
            seq: e.seq,
            hash: e.hash.clone(),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_domain::consent::{ChangedBy, ConsentValue, GENESIS};
    use accord_domain::identity::UserStatus;
    use chrono::Utc;

    fn org() -> OrganizationId {
        OrganizationId(uuid::Uuid::from_u128(7))
    }

    fn query() -> ConsentReadQuery {
        ConsentReadQuery {
            caller: UserId(uuid::Uuid::from_u128(1)),
            session: None,
            organization: org(),
            user: UserId(uuid::Uuid::from_u128(1)),
        }
    }

    fn read(values: Vec<(PurposeId, AttributeId, StoredConsent)>) -> ConsentRead {
        ConsentRead {
            caller_status: UserStatus::Enabled,
            caller_is_platform_admin: false,
            caller_api_key: None,
            session: None,
            layout_version: Some(3),
            caller_roles: vec![],
            consent_id: Some(consent()),
            values,
        }
    }

    fn consent() -> ConsentId {
        ConsentId(uuid::Uuid::from_u128(10))
    }

    fn purpose() -> PurposeId {
        PurposeId(uuid::Uuid::from_u128(20))
    }

    fn attribute() -> AttributeId {
        AttributeId(uuid::Uuid::from_u128(30))
    }

    /// The ledger entry of a change of the test attribute, hashed.
    fn entry(
        seq: i64,
        prev_hash: &str,
        old_value: Option<ConsentValue>,
        new_value: ConsentValue,
    ) -> HistoryEntry {
        let mut e = HistoryEntry {
            id: uuid::Uuid::now_v7().to_string(),
            seq,
            organization_id: org().to_string(),
            user_id: "u".into(),
            consent_id: consent().to_string(),
            purpose_id: purpose().to_string(),
            attribute_id: attribute().to_string(),
            actor_id: "u".into(),
            changed_by: ChangedBy::Individual,
            old_value,
            new_value,
            days: 0,
            at: Utc::now(),
            wording: None,
            prev_hash: prev_hash.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// A decider that sets the attribute to `value` with one chained entry, and reports
    /// what it saw as the attribute's value.
    fn setting(
        value: ConsentValue,
        layout_version: i64,
        seen: std::sync::Arc<std::sync::Mutex<Vec<Option<ConsentValue>>>>,
    ) -> (Pending, oneshot::Receiver<Result<ConsentChangeOutcome>>) {
        let decide: ConsentDecider = Box::new(move |state| {
            let read = state.read.as_ref().expect("read");
            let old = read
                .values
                .iter()
                .find(|(p, a, _)| (*p, *a) == (purpose(), attribute()))
                .map(|(_, _, s)| s.value);
            seen.lock().unwrap().push(old);
            let head = state.head.clone().expect("head");
            let entry = entry(head.seq + 1, &head.hash, old, value);
            Ok(ConsentWrites {
                consent_id: consent(),
                organization_id: org(),
                user_id: UserId(uuid::Uuid::from_u128(1)),
                values: vec![(
                    purpose(),
                    attribute(),
                    StoredConsent {
                        value,
                        days: 0,
                        changed_at: Utc::now(),
                        version: 1,
                    },
                )],
                history: vec![entry],
                outbox: vec![],
            })
        });
        let (reply, answer) = oneshot::channel();
        let job = ConsentChangeJob {
            query: query(),
            layout_version,
            decide,
        };
        (
            Pending {
                job: Some(job),
                reply: Some(reply),
            },
            answer,
        )
    }

    fn genesis() -> Option<ChainHead> {
        Some(ChainHead {
            seq: 0,
            hash: GENESIS.into(),
        })
    }

    #[test]
    fn later_changes_see_earlier_ones_of_the_same_batch_and_the_chain_moves_once() {
        let seen = Default::default();
        let (a, mut answer_a) = setting(ConsentValue::Allow, 3, std::sync::Arc::clone(&seen));
        let (b, mut answer_b) = setting(ConsentValue::Disallow, 3, std::sync::Arc::clone(&seen));
        let mut batch = Batch::new(vec![a, b]);
        assert_eq!(batch.organizations(), vec![org()]);
        batch.hold_organization(org(), genesis(), vec![]);
        for _ in batch.queries() {
            // The database still says nothing was ever set: the batch has not written.
            batch.decide_next(Some(read(vec![])));
        }
        assert_eq!(*seen.lock().unwrap(), vec![None, Some(ConsentValue::Allow)]);
        // One row per attribute (the last value), one entry per change, chained.
        assert_eq!(batch.values.len(), 1);
        assert_eq!(batch.values[0].stored.value, ConsentValue::Disallow);
        assert_eq!(batch.history.len(), 2);
        assert_eq!(batch.history[1].prev_hash, batch.history[0].hash);
        let heads: Vec<_> = batch.moved_heads().map(|(_, h)| h.seq).collect();
        assert_eq!(heads, vec![2]);
        // Nobody is answered before the commit.
        assert!(answer_a.try_recv().is_err());
        batch.answer(Ok(()));
        assert!(matches!(
            answer_a.try_recv(),
            Ok(Ok(ConsentChangeOutcome::Written { .. }))
        ));
        assert!(matches!(
            answer_b.try_recv(),
            Ok(Ok(ConsentChangeOutcome::Written { .. }))
        ));
    }

    #[test]
    fn a_failed_commit_answers_every_change_with_its_error() {
        // A deadlock broken against the batch is contention (nothing written, try again);
        // any other failure, "not recorded".
        for (failure, contention) in [
            (Error::internal("disk full"), false),
            (Error::Contention("deadlock".into()), true),
        ] {
            let seen = Default::default();
            let (a, mut answer_a) = setting(ConsentValue::Allow, 3, std::sync::Arc::clone(&seen));
            let (b, mut answer_b) = setting(ConsentValue::Allow, 3, std::sync::Arc::clone(&seen));
            let mut batch = Batch::new(vec![a, b]);
            batch.hold_organization(org(), genesis(), vec![]);
            // The first is decided, the second never reached (the database failed first).
            batch.decide_next(Some(read(vec![])));
            batch.answer(Err(failure));
            for answer in [&mut answer_a, &mut answer_b] {
                match answer.try_recv() {
                    Ok(Err(Error::Internal(cause))) if !contention => {
                        assert!(cause.0.contains("not recorded"), "{}", cause.0)
                    }
                    Ok(Err(Error::Contention(_))) if contention => {}
                    _ => panic!("expected the batch's error (contention: {contention})"),
                }
            }
        }
    }

    #[test]
    fn a_moved_layout_or_a_refusal_writes_nothing() {
        let seen = Default::default();
        let (stale, mut answer_stale) =
            setting(ConsentValue::Allow, 2, std::sync::Arc::clone(&seen));
        let (refused_reply, mut answer_refused) = oneshot::channel();
        let refused = Pending {
            job: Some(ConsentChangeJob {
                query: query(),
                layout_version: 3,
                decide: Box::new(|_| Err(Error::Forbidden("no".into()))),
            }),
            reply: Some(refused_reply),
        };
        let mut batch = Batch::new(vec![stale, refused]);
        batch.hold_organization(org(), genesis(), vec![]);
        batch.decide_next(Some(read(vec![])));
        batch.decide_next(Some(read(vec![])));
        assert!(
            seen.lock().unwrap().is_empty(),
            "a stale change is not decided"
        );
        assert!(batch.values.is_empty() && batch.history.is_empty() && batch.outbox.is_empty());
        assert_eq!(batch.moved_heads().count(), 0);
        // A refusal is answered at once, before any commit.
        assert!(matches!(
            answer_refused.try_recv(),
            Ok(Err(Error::Forbidden(_)))
        ));
        batch.answer(Ok(()));
        assert!(matches!(
            answer_stale.try_recv(),
            Ok(Ok(ConsentChangeOutcome::LayoutMoved(3)))
        ));
    }

    #[test]
    fn a_change_is_told_which_events_the_organisations_webhooks_listen_to() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let told = std::sync::Arc::clone(&seen);
        let (reply, _answer) = oneshot::channel();
        let pending = Pending {
            job: Some(ConsentChangeJob {
                query: query(),
                layout_version: 3,
                decide: Box::new(move |state| {
                    told.lock().unwrap().extend(state.webhook_events.clone());
                    Ok(ConsentWrites {
                        consent_id: consent(),
                        organization_id: org(),
                        user_id: UserId(uuid::Uuid::from_u128(1)),
                        values: vec![],
                        history: vec![],
                        outbox: vec![],
                    })
                }),
            }),
            reply: Some(reply),
        };
        let mut batch = Batch::new(vec![pending]);
        batch.hold_organization(
            org(),
            genesis(),
            vec![
                "consent.disallowed consent.allowed".into(),
                "consent.allowed".into(),
            ],
        );
        batch.decide_next(Some(read(vec![])));
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                "consent.allowed".to_owned(),
                "consent.disallowed".to_owned()
            ]
        );
    }

    #[test]
    fn a_panicking_decider_refuses_its_change_and_the_batch_goes_on() {
        let seen = Default::default();
        let (reply, mut answer_panicked) = oneshot::channel();
        let panicking = Pending {
            job: Some(ConsentChangeJob {
                query: query(),
                layout_version: 3,
                decide: Box::new(|_| panic!("a bug")),
            }),
            reply: Some(reply),
        };
        let (fine, mut answer_fine) = setting(ConsentValue::Allow, 3, std::sync::Arc::clone(&seen));
        let mut batch = Batch::new(vec![panicking, fine]);
        batch.hold_organization(org(), genesis(), vec![]);
        batch.decide_next(Some(read(vec![])));
        batch.decide_next(Some(read(vec![])));
        assert!(matches!(
            answer_panicked.try_recv(),
            Ok(Err(Error::Internal(_)))
        ));
        assert_eq!(batch.history.len(), 1);
        batch.answer(Ok(()));
        assert!(matches!(
            answer_fine.try_recv(),
            Ok(Ok(ConsentChangeOutcome::Written { .. }))
        ));
    }

    #[test]
    fn entries_that_do_not_continue_the_head_are_refused() {
        let head = ChainHead {
            seq: 5,
            hash: "h5".into(),
        };
        let mut e = entry(6, "h5", None, ConsentValue::Allow);
        assert!(check_continues(Some(&head), std::slice::from_ref(&e)).is_ok());
        e.seq = 7;
        assert!(check_continues(Some(&head), std::slice::from_ref(&e)).is_err());
        e.seq = 6;
        e.prev_hash = "other".into();
        assert!(check_continues(Some(&head), std::slice::from_ref(&e)).is_err());
        assert!(check_continues(None, &[e]).is_err());
    }
}
