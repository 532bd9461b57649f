//! Permissions and consents: reading and changing an individual's consents, the
//! tamper-evident history, receipts, and who consented.
//!
//! | operation | who may |
//! |---|---|
//! | read a consent record, its purposes and statuses | the individual; Admin and Dpo of the organisation |
//! | change consents | the individual; an Admin of the organisation (recorded as acting on their behalf) |
//! | the individual's history, a receipt | the individual (receipts also Admin and Dpo of the entry's organisation) |
//! | the organisation's history and its verification | Admin and Dpo |
//! | consented users | Admin, Dpo and Developer |
//!
//! Anyone else: 404 — whose consents exist is nobody else's business.

use std::collections::HashMap;
use std::sync::Arc;

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::consent::{
    compute_status, count, parse_days, purpose_summary, retention_expiry, ChangedBy,
    ComputedStatus, ConsentValue, HistoryEntry, StoredConsent,
};
use accord_domain::consent_change::{self, RecordState};
use accord_domain::identity::User;
use accord_domain::ledger::{check_value, ChainVerifier, Checkpoint, LedgerProblem};
use accord_domain::organization::{Organization, Purpose, Template};
use accord_domain::Clock;
use accord_domain::{AttributeId, Error, OrganizationId, PurposeId, Result, UserId};
use accord_store::{
    ConsentChangeJob, ConsentChangeOutcome, ConsentChangeState, ConsentRead, ConsentReadQuery,
    ConsentWrites, HistoryFilter, Mode,
};
use chrono::{DateTime, Utc};

use super::layouts::OrgLayout;
use super::organizations::UserPage;
use super::paging::page_limit;
use super::{Actor, Credential, Services};

#[derive(Debug, Clone)]
pub struct AttributeConsent {
    pub attribute: Arc<Template>,
    pub status: ComputedStatus,
}

#[derive(Debug, Clone)]
pub struct PurposeConsents {
    pub purpose: Arc<Purpose>,
    pub attributes: Vec<AttributeConsent>,
    pub total: i64,
    pub consented: i64,
    pub retention_expiry: String,
}

#[derive(Debug, Clone)]
pub struct ConsentRecord {
    pub id: String,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub purposes: Vec<PurposeConsents>,
}

impl ConsentRecord {
    pub fn purpose(&self, id: PurposeId) -> Option<&PurposeConsents> {
        self.purposes.iter().find(|p| p.purpose.id == id)
    }
}

/// Where a purpose of a consent record is: the path of the consent endpoints.
#[derive(Debug, Clone, Copy)]
pub struct ConsentPath<'a> {
    pub org: &'a str,
    pub user: &'a str,
    pub consent: &'a str,
    pub purpose: &'a str,
}

/// A recorded change and its signed receipt.
pub struct ConsentChange {
    pub entry: HistoryEntry,
    pub receipt: String,
}

/// How the caller stands towards one person's consents with one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Own,
    Admin,
    Dpo,
}

pub struct HistoryQuery<'a> {
    pub organization: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub from: Option<&'a str>,
    pub until: Option<&'a str>,
    pub limit: Option<i64>,
    pub start: Option<&'a str>,
}

pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    pub next_start: Option<String>,
}

pub struct LedgerReport {
    /// Entries verified (before the problem, if one was found).
    pub entries: u64,
    /// The first problem found: the chain, then the head, then current values.
    pub problem: Option<LedgerProblem>,
    /// Signed checkpoints and receipts given and checked against the ledger.
    pub checkpoints: usize,
}

/// A signed checkpoint of a ledger's head.
pub struct LedgerCheckpoint {
    pub seq: i64,
    pub hash: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub token: String,
}

/// Entries (and current values) read per unit of work while verifying: memory stays the
/// same however long the ledger.
const LEDGER_PAGE: i64 = 1000;
/// Checkpoints one verification accepts.
const MAX_CHECKPOINTS: usize = 1000;

fn not_found() -> Error {
    Error::not_found("consent not found")
}

/// How the caller stands towards one person's record: their own, or an Admin's or Dpo's
/// of the organisation; 404 for anyone else.
fn access_to(own: bool, standing: &OrgStanding) -> Result<Access> {
    if own {
        Ok(Access::Own)
    } else if standing.may(OrgAction::ChangeConsentsOfOthers) {
        Ok(Access::Admin)
    } else if standing.may(OrgAction::ReadConsentsOfOthers) {
        Ok(Access::Dpo)
    } else {
        Err(not_found())
    }
}

type Values = HashMap<(PurposeId, AttributeId), StoredConsent>;

/// A record as it reads at `now`: every purpose with every attribute it names, each
/// attribute's status computed from its stored value (or its absence).
fn assemble(
    org: &Organization,
    purposes: &[Arc<Purpose>],
    templates: &[Arc<Template>],
    values: &Values,
    user: UserId,
    consent: &str,
    now: DateTime<Utc>,
) -> ConsentRecord {
    let purposes = purposes
        .iter()
        .map(|purpose| {
            let lawful = purpose.lawful_basis.is_lawful_usage();
            let mut latest: Option<DateTime<Utc>> = None;
            let attributes: Vec<AttributeConsent> = templates
                .iter()
                .filter(|t| t.purpose_ids.contains(&purpose.id))
                .map(|t| {
                    let stored = values.get(&(purpose.id, t.id));
                    if let Some(s) = stored {
                        latest = latest.max(Some(s.changed_at));
                    }
                    AttributeConsent {
                        attribute: Arc::clone(t),
                        status: compute_status(stored, lawful, now),
                    }
                })
                .collect();
            let statuses: Vec<ComputedStatus> = attributes.iter().map(|a| a.status).collect();
            let (total, consented) = count(&statuses);
            let retention_expiry = retention_expiry(
                org.retention_enabled,
                org.retention_period_secs,
                lawful,
                &statuses,
                latest,
            );
            PurposeConsents {
                purpose: Arc::clone(purpose),
                attributes,
                total,
                consented,
                retention_expiry,
            }
        })
        .collect();
    ConsentRecord {
        id: consent.to_owned(),
        organization_id: org.id,
        user_id: user,
        purposes,
    }
}

fn id_of<T: std::str::FromStr>(raw: &str) -> Result<T> {
    raw.parse().map_err(|_| not_found())
}

/// `2026-01-31T10:00:00Z`, or a date (`2026-01-31`: its start, or its end for `until`).
fn parse_time(field: &str, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        Error::invalid(format!(
            "{field} must be a date (2026-01-31) or an RFC 3339 time"
        ))
    })?;
    let time = if end_of_day {
        date.and_hms_milli_opt(23, 59, 59, 999)
    } else {
        date.and_hms_opt(0, 0, 0)
    };
    Ok(time
        .ok_or_else(|| Error::invalid(format!("{field} is out of range")))?
        .and_utc())
}

/// A change as submitted to the committer: everything [`decide_change`] needs, owned.
struct ChangeRequest {
    credential: Credential,
    organization: OrganizationId,
    user: UserId,
    consent: String,
    purpose: String,
    /// `None`: every attribute of the purpose.
    attributes: Option<Vec<String>>,
    value: ConsentValue,
    days: i64,
    /// `None` when the organisation was not found while preparing.
    layout: Option<Arc<OrgLayout>>,
    clock: Arc<dyn Clock>,
}

/// Decides a consent change against the record as it stands in the committing
/// transaction: the caller's credential and standing (the same rules as a read) here,
/// then the consent rule itself (`accord_domain::consent_change::decide`). Runs on the
/// store's committer, so it only computes: no I/O, no signing.
fn decide_change(req: &ChangeRequest, state: &ConsentChangeState) -> Result<ConsentWrites> {
    let now = req.clock.now();
    let read = state
        .read
        .as_ref()
        .ok_or_else(|| super::identity::refused(&req.credential))?;
    super::identity::live(
        &req.credential,
        read.caller_status,
        read.caller_api_key,
        read.session.as_ref(),
        now,
    )?;
    read.layout_version.ok_or_else(not_found)?;
    let standing = OrgStanding {
        roles: read.caller_roles.clone(),
        platform_admin: read.caller_is_platform_admin,
    };
    let access = access_to(req.user == req.credential.user(), &standing)?;
    let consent = read.consent_id.as_deref().ok_or_else(not_found)?;
    if consent != req.consent {
        return Err(not_found());
    }
    let changed_by = match access {
        Access::Own => ChangedBy::Individual,
        Access::Admin => ChangedBy::OrganisationAdmin,
        Access::Dpo => {
            return Err(Error::Forbidden(
                "a Dpo reads consents but does not change them".into(),
            ))
        }
    };
    let layout = req.layout.as_deref().ok_or_else(not_found)?;
    let purpose_id = id_of(&req.purpose)?;
    let purpose = layout
        .purposes
        .iter()
        .find(|p| p.id == purpose_id)
        .ok_or_else(|| Error::not_found("purpose not found"))?;
    let templates: Vec<&Template> = layout.templates.iter().map(|t| &**t).collect();
    let head = state.head.as_ref().ok_or_else(not_found)?;
    let actor_id = req.credential.user().to_string();
    let decision = consent_change::decide(
        &consent_change::ConsentChange {
            organization: req.organization,
            user: req.user,
            consent_id: consent,
            purpose,
            templates: &templates,
            attributes: req.attributes.as_deref(),
            value: req.value,
            days: req.days,
            changed_by,
            actor_id: &actor_id,
        },
        &RecordState {
            values: &read.values,
            head_seq: head.seq,
            head_hash: &head.hash,
            listened: &state.webhook_events,
        },
        now,
        || uuid::Uuid::now_v7().to_string(),
    )?;
    // Queued only when a webhook listens: fanning an event out to nobody costs a durable
    // write per change for nothing (docs/webhooks.md).
    let outbox = match decision.announce {
        Some(event) => decision
            .history
            .iter()
            .map(|entry| {
                super::webhooks::outbox_event(
                    req.organization,
                    event,
                    super::webhooks::consent_event_data(entry),
                    now,
                )
            })
            .collect(),
        None => vec![],
    };
    Ok(ConsentWrites {
        consent_id: consent.to_owned(),
        organization_id: req.organization,
        user_id: req.user,
        values: decision.values,
        history: decision.history,
        outbox,
    })
}

/// A recorded change: the layout and the record it was decided against, what it wrote,
/// and its entries with their receipts.
struct RecordedChange {
    layout: Arc<OrgLayout>,
    read: Box<ConsentRead>,
    writes: Box<ConsentWrites>,
    changes: Vec<ConsentChange>,
}

impl RecordedChange {
    /// The record as the change left it, and the changes.
    fn into_record(self, now: DateTime<Utc>) -> (ConsentRecord, Vec<ConsentChange>) {
        let mut values: Values = self
            .read
            .values
            .into_iter()
            .map(|(p, a, s)| ((p, a), s))
            .collect();
        values.extend(self.writes.values.into_iter().map(|(p, a, s)| ((p, a), s)));
        let record = assemble(
            &self.layout.organization,
            &self.layout.purposes,
            &self.layout.templates,
            &values,
            self.writes.user_id,
            &self.writes.consent_id,
            now,
        );
        (record, self.changes)
    }
}

impl Services {
    /// The consent record of a subscribed (or formerly subscribed) user.
    ///
    /// The read path every consent read takes, so it is lean: one statement fetches what
    /// changes per request (the caller's session and account, their roles here, the
    /// record and its values, the organisation's layout version) and checks nothing a
    /// unit of work would add; the organisation's layout comes from the node's cache,
    /// reloaded when its version moves (BENCHMARKS.md).
    pub async fn consents(
        &self,
        credential: &Credential,
        org: &str,
        user: &str,
        consent: Option<&str>,
    ) -> Result<ConsentRecord> {
        let org = id_of(org)?;
        let user: UserId = user.parse().map_err(|_| not_found())?;
        let now = self.clock.now();
        let read = self
            .store
            .consent_read(&ConsentReadQuery {
                caller: credential.user(),
                session: credential.session(),
                organization: org,
                user,
            })
            .await?
            .ok_or_else(|| super::identity::refused(credential))?;
        super::identity::live(
            credential,
            read.caller_status,
            read.caller_api_key,
            read.session.as_ref(),
            now,
        )?;
        let version = read.layout_version.ok_or_else(not_found)?;
        let standing = OrgStanding {
            roles: read.caller_roles,
            platform_admin: read.caller_is_platform_admin,
        };
        access_to(user == credential.user(), &standing)?;
        let id = read.consent_id.ok_or_else(not_found)?;
        if consent.is_some_and(|c| c != id) {
            return Err(not_found());
        }
        let layout = self.layout(org, version).await?;
        let values: Values = read
            .values
            .into_iter()
            .map(|(p, a, s)| ((p, a), s))
            .collect();
        Ok(assemble(
            &layout.organization,
            &layout.purposes,
            &layout.templates,
            &values,
            user,
            &id,
            now,
        ))
    }

    /// The organisation's layout at `version` or later: from this node's cache, or read
    /// (and cached) when the cache has an older one.
    async fn layout(&self, org: OrganizationId, version: i64) -> Result<Arc<OrgLayout>> {
        if let Some(l) = self.layouts.get(org).filter(|l| l.version >= version) {
            return Ok(l);
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let version = tx.layout_version(org).await?.ok_or_else(not_found)?;
        let organization = tx.organization_by_id(org).await?.ok_or_else(not_found)?;
        let purposes = tx
            .purposes_of(org)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        let templates = tx
            .templates_of(org)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        tx.commit().await?;
        let layout = Arc::new(OrgLayout {
            version,
            organization,
            purposes,
            templates,
        });
        self.layouts.put(org, Arc::clone(&layout));
        Ok(layout)
    }

    pub async fn purpose_consents(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
    ) -> Result<(ConsentRecord, PurposeConsents)> {
        let record = self
            .consents(credential, at.org, at.user, Some(at.consent))
            .await?;
        let p = record
            .purpose(id_of(at.purpose)?)
            .cloned()
            .ok_or_else(|| Error::not_found("purpose not found"))?;
        Ok((record, p))
    }

    /// Allow if every attribute reads Allow, Disallow if every one reads Disallow, else AskMe.
    pub async fn purpose_status(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
    ) -> Result<ConsentValue> {
        let (_, p) = self.purpose_consents(credential, at).await?;
        let statuses: Vec<ComputedStatus> = p.attributes.iter().map(|a| a.status).collect();
        Ok(purpose_summary(
            &statuses,
            p.purpose.lawful_basis.is_lawful_usage(),
        ))
    }

    /// Records consents for attributes of one purpose through the store's group
    /// committer: the values, their history entries (chained) and their events commit
    /// together, decided against the record as it stands in the committing transaction
    /// ([`decide_change`]), and the call returns once that commit is durable. Receipts are
    /// signed afterwards, outside the batch.
    async fn change(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
        attributes: Option<Vec<String>>,
        value: ConsentValue,
        days: i64,
    ) -> Result<RecordedChange> {
        let days = parse_days(days)?;
        let org = id_of(at.org)?;
        let user: UserId = at.user.parse().map_err(|_| not_found())?;
        let mut layout = match self.layouts.get(org) {
            Some(l) => Some(l),
            // Unknown organisation: the committer's decision says so, after the caller's
            // credential is checked (a revoked token is 401 whatever it names).
            None => match self.layout(org, 0).await {
                Ok(l) => Some(l),
                Err(Error::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
        };
        // A layout change between preparing and deciding sends the change back once or
        // twice; more means the organisation is being edited without pause.
        for _ in 0..3 {
            let request = ChangeRequest {
                credential: *credential,
                organization: org,
                user,
                consent: at.consent.to_owned(),
                purpose: at.purpose.to_owned(),
                attributes: attributes.clone(),
                value,
                days,
                layout: layout.clone(),
                clock: Arc::clone(&self.clock),
            };
            let job = ConsentChangeJob {
                query: ConsentReadQuery {
                    caller: credential.user(),
                    session: credential.session(),
                    organization: org,
                    user,
                },
                layout_version: layout.as_ref().map_or(-1, |l| l.version),
                decide: Box::new(move |state| decide_change(&request, state)),
            };
            match self.store.change_consent(job).await? {
                ConsentChangeOutcome::Written { read, writes } => {
                    self.work.notify_one();
                    let changes = writes
                        .history
                        .iter()
                        .map(|entry| {
                            Ok(ConsentChange {
                                receipt: self.tokens.consent_receipt(entry)?,
                                entry: entry.clone(),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    return Ok(RecordedChange {
                        layout: layout
                            .ok_or_else(|| Error::internal("recorded without a layout"))?,
                        read,
                        writes,
                        changes,
                    });
                }
                ConsentChangeOutcome::LayoutMoved(version) => {
                    layout = Some(self.layout(org, version).await?);
                }
            }
        }
        Err(Error::Conflict(
            "the organisation's purposes changed while recording; try again".into(),
        ))
    }

    pub async fn set_attribute_consent(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
        attribute: &str,
        value: &str,
        days: i64,
    ) -> Result<ConsentChange> {
        let value = ConsentValue::parse(value)?;
        let mut recorded = self
            .change(
                credential,
                at,
                Some(vec![attribute.to_owned()]),
                value,
                days,
            )
            .await?;
        recorded
            .changes
            .pop()
            .ok_or_else(|| Error::internal("no change recorded"))
    }

    /// `PATCH …/purposes/{purposeID}`: several attributes, no time limit.
    pub async fn set_attributes_consent(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
        attributes: Vec<String>,
        value: &str,
    ) -> Result<(ConsentRecord, Vec<ConsentChange>)> {
        let value = ConsentValue::parse(value)?;
        let recorded = self
            .change(credential, at, Some(attributes), value, 0)
            .await?;
        Ok(recorded.into_record(self.clock.now()))
    }

    /// `POST …/purposes/{purposeID}/status`: every attribute of the purpose, no time limit.
    pub async fn set_purpose_consent(
        &self,
        credential: &Credential,
        at: &ConsentPath<'_>,
        value: &str,
    ) -> Result<(ConsentRecord, Vec<ConsentChange>)> {
        let value = ConsentValue::parse(value)?;
        let recorded = self.change(credential, at, None, value, 0).await?;
        Ok(recorded.into_record(self.clock.now()))
    }

    /// The caller's own consent history (newest first, keyset-paginated by entry ID).
    pub async fn my_consent_history(
        &self,
        actor: &Actor,
        user: &str,
        q: HistoryQuery<'_>,
    ) -> Result<HistoryPage> {
        let me = actor.user()?;
        if user.parse::<UserId>().ok() != Some(me.user_id) {
            return Err(Error::not_found("user not found"));
        }
        let filter = HistoryFilter {
            user: Some(me.user_id),
            ..self.history_filter(&q)?
        };
        self.history_page(filter).await
    }

    /// An organisation's consent history: Admin and Dpo.
    pub async fn organization_consent_history(
        &self,
        actor: &Actor,
        org: OrganizationId,
        q: HistoryQuery<'_>,
    ) -> Result<HistoryPage> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        tx.commit().await?;
        require_admin_or_dpo(&standing)?;
        let filter = HistoryFilter {
            organization: Some(org.id),
            ..self.history_filter(&HistoryQuery {
                organization: None,
                ..q
            })?
        };
        self.history_page(filter).await
    }

    fn history_filter(&self, q: &HistoryQuery<'_>) -> Result<HistoryFilter> {
        fn id<T: std::str::FromStr>(field: &str, raw: Option<&str>) -> Result<Option<T>> {
            raw.filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse()
                        .map_err(|_| Error::invalid(format!("{field} is not an ID")))
                })
                .transpose()
        }
        Ok(HistoryFilter {
            user: None,
            organization: id("orgid", q.organization)?,
            purpose: id("purposeid", q.purpose)?,
            from: q
                .from
                .filter(|s| !s.is_empty())
                .map(|s| parse_time("startDate", s, false))
                .transpose()?,
            until: q
                .until
                .filter(|s| !s.is_empty())
                .map(|s| parse_time("endDate", s, true))
                .transpose()?,
            before: q.start.filter(|s| !s.is_empty()).map(str::to_owned),
            limit: page_limit(q.limit)?,
        })
    }

    async fn history_page(&self, mut filter: HistoryFilter) -> Result<HistoryPage> {
        let limit = filter.limit;
        filter.limit += 1;
        let mut tx = self.store.begin(Mode::Read).await?;
        let mut entries = tx.history(&filter).await?;
        tx.commit().await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        let next_start = if more {
            entries.last().map(|e| e.id.clone())
        } else {
            None
        };
        Ok(HistoryPage {
            entries,
            next_start,
        })
    }

    /// Verifies the organisation's ledger (docs/consents.md, "The ledger"): every entry's
    /// link and hash, the head, every current value against its latest entry, and each
    /// signed checkpoint or receipt given (kept outside the database). Admin and Dpo.
    pub async fn verify_consent_ledger(
        &self,
        actor: &Actor,
        org: OrganizationId,
        checkpoints: &[String],
    ) -> Result<LedgerReport> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_admin_or_dpo(&standing)?;
        tx.commit().await?;
        self.verify_ledger_of(org.id, checkpoints).await
    }

    /// The same check for `accord admin verify-consent-ledger` (whoever runs the CLI).
    pub async fn verify_consent_ledger_unchecked(
        &self,
        org: &str,
        checkpoints: &[String],
    ) -> Result<LedgerReport> {
        let org: OrganizationId = org
            .parse()
            .map_err(|_| Error::not_found("organisation not found"))?;
        let mut tx = self.store.begin(Mode::Read).await?;
        tx.organization_by_id(org)
            .await?
            .ok_or_else(|| Error::not_found("organisation not found"))?;
        tx.commit().await?;
        self.verify_ledger_of(org, checkpoints).await
    }

    async fn verify_ledger_of(
        &self,
        org: OrganizationId,
        checkpoints: &[String],
    ) -> Result<LedgerReport> {
        if checkpoints.len() > MAX_CHECKPOINTS {
            return Err(Error::invalid(format!(
                "at most {MAX_CHECKPOINTS} checkpoints at once"
            )));
        }
        let mut signed = vec![];
        for (i, token) in checkpoints.iter().enumerate() {
            match self.tokens.ledger_statement(token) {
                Some((of, seq, hash)) if of == org.to_string() => {
                    signed.push(Checkpoint { seq, hash })
                }
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "checkpoint {} is of another organisation's ledger",
                        i + 1
                    )))
                }
                None => {
                    return Err(Error::invalid(format!(
                        "checkpoint {} is not a checkpoint or receipt this server signed",
                        i + 1
                    )))
                }
            }
        }
        let _only_one = self.ledger_verifications.begin(org)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (head, highest) = tx.chain_end(org).await?;
        tx.commit().await?;
        // Up to the head read first: entries committed meanwhile are not this run's.
        let end = head.as_ref().map_or(0, |h| h.0).max(highest.unwrap_or(0));
        let mut verifier = ChainVerifier::new(&signed);
        let mut after = 0;
        'chain: while after < end {
            let mut tx = self.store.begin(Mode::Read).await?;
            let page = tx.chain_page(org, after, LEDGER_PAGE).await?;
            tx.commit().await?;
            let Some(last) = page.last() else { break };
            after = last.seq();
            for row in page.iter().filter(|r| r.seq() <= end) {
                if !verifier.feed(row) {
                    break 'chain;
                }
            }
        }
        let verdict = verifier.finish(head, highest);
        let mut report = LedgerReport {
            entries: verdict.entries,
            problem: verdict.problem,
            checkpoints: signed.len(),
        };
        if report.problem.is_none() {
            report.problem = self.first_value_problem(org).await?;
        }
        Ok(report)
    }

    /// The first current value that is not what its latest entry recorded.
    async fn first_value_problem(&self, org: OrganizationId) -> Result<Option<LedgerProblem>> {
        let mut after = (String::new(), String::new(), String::new());
        loop {
            let mut tx = self.store.begin(Mode::Read).await?;
            let page = tx.current_values_page(org, &after, LEDGER_PAGE).await?;
            tx.commit().await?;
            if let Some(problem) = page.iter().find_map(check_value) {
                return Ok(Some(problem));
            }
            match page.last() {
                Some(v) if page.len() as i64 == LEDGER_PAGE => {
                    after = (
                        v.consent_id.clone(),
                        v.purpose_id.clone(),
                        v.attribute_id.clone(),
                    )
                }
                _ => return Ok(None),
            }
        }
    }

    /// A signed checkpoint of the organisation's ledger as it stands. Admin and Dpo.
    pub async fn consent_ledger_checkpoint(
        &self,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<LedgerCheckpoint> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_admin_or_dpo(&standing)?;
        let (head, _) = tx.chain_end(org.id).await?;
        tx.commit().await?;
        let (seq, hash) = head.unwrap_or((0, accord_domain::consent::GENESIS.to_owned()));
        let at = self.clock.now();
        let token = self.tokens.ledger_checkpoint(org.id, seq, &hash, at)?;
        Ok(LedgerCheckpoint {
            seq,
            hash,
            at,
            token,
        })
    }

    /// A history entry's signed receipt: for the individual, and the Admin and Dpo of its
    /// organisation.
    pub async fn consent_receipt(
        &self,
        actor: &Actor,
        user: &str,
        entry: &str,
    ) -> Result<(HistoryEntry, String)> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let e = tx
            .history_entry(entry)
            .await?
            .filter(|e| e.user_id == user)
            .ok_or_else(|| Error::not_found("history entry not found"))?;
        let me = actor.user()?;
        if e.user_id != me.user_id.to_string() {
            let (_, standing, _) = self
                .standing_in(tx.as_mut(), actor, e.organization_id.parse()?)
                .await?;
            if !standing.may(OrgAction::ReadConsentHistory) {
                return Err(Error::not_found("history entry not found"));
            }
        }
        tx.commit().await?;
        let receipt = self.tokens.consent_receipt(&e)?;
        Ok((e, receipt))
    }

    /// Users who consent to a purpose (or one of its attributes): all subscribers for a
    /// lawful-usage purpose. Admin, Dpo and Developer.
    pub async fn consented_users(
        &self,
        actor: &Actor,
        org: OrganizationId,
        purpose: &str,
        attribute: Option<&str>,
        limit: Option<i64>,
        start: Option<&str>,
    ) -> Result<UserPage> {
        let limit = page_limit(limit)?;
        let after = start
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<UserId>()
                    .map_err(|_| Error::invalid("startid is not a user ID"))
            })
            .transpose()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::ListConsentingUsers) {
            return Err(Error::Forbidden(
                "you may not read who consents to this organisation".into(),
            ));
        }
        let purpose: PurposeId = purpose.parse()?;
        let purposes = tx.purposes_of(org.id).await?;
        let purpose = purposes
            .iter()
            .find(|p| p.id == purpose)
            .ok_or_else(|| Error::not_found("purpose not found"))?;
        let attribute = match attribute {
            Some(a) => {
                let a: Option<AttributeId> = a.parse().ok();
                let templates = tx.templates_of(org.id).await?;
                let t = templates
                    .iter()
                    .find(|t| Some(t.id) == a && t.purpose_ids.contains(&purpose.id))
                    .ok_or_else(|| Error::not_found("attribute not found in this purpose"))?;
                Some(t.id)
            }
            None => None,
        };
        let mut users: Vec<User> = if purpose.lawful_basis.is_lawful_usage() {
            tx.subscribers(org.id, after, limit + 1).await?
        } else {
            tx.consented_users(
                org.id,
                purpose.id,
                attribute,
                self.clock.now(),
                after,
                limit + 1,
            )
            .await?
        };
        tx.commit().await?;
        if !standing.may(OrgAction::ReadPersonalData) {
            for u in &mut users {
                u.name.clear();
                u.phone.clear();
                u.email = None;
            }
        }
        let what = match attribute {
            Some(a) => format!(
                "read the users consenting to attribute {a} of purpose {}",
                purpose.id
            ),
            None => format!("read the users consenting to purpose {}", purpose.id),
        };
        self.log_read(org.id, "consented_users", actor, &what)
            .await?;
        let more = users.len() as i64 > limit;
        users.truncate(limit as usize);
        let next_start = if more {
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next_start })
    }
}

fn require_admin_or_dpo(standing: &OrgStanding) -> Result<()> {
    if standing.may(OrgAction::ReadConsentHistory) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the Admin and the Dpo read the consent history".into(),
        ))
    }
}

/// Ledger verifications running on this node, by organisation: one at a time each (a
/// verification reads the whole ledger; a second one at once would only double the work).
#[derive(Default)]
pub struct RunningVerifications(std::sync::Mutex<std::collections::HashSet<OrganizationId>>);

/// The organisation's verification in progress; ends on drop.
pub struct VerificationRunning<'a> {
    running: &'a RunningVerifications,
    org: OrganizationId,
}

impl RunningVerifications {
    fn begin(&self, org: OrganizationId) -> Result<VerificationRunning<'_>> {
        let mut running = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(org) {
            return Err(Error::TooManyRequests {
                retry_after_secs: 5,
            });
        }
        Ok(VerificationRunning { running: self, org })
    }
}

impl Drop for VerificationRunning<'_> {
    fn drop(&mut self) {
        let mut running = self.running.0.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.org);
    }
}
