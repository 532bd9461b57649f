//! The consent history: an individual's and an organisation's (newest first,
//! keyset-paginated), the ledger's verification and signed checkpoints, receipts.

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::consent::HistoryEntry;
use accord_domain::ledger::{check_value, ChainVerifier, Checkpoint, LedgerProblem};
use accord_domain::{AttributeId, Error, OrganizationId, PurposeId, Result, UserId};
use accord_store::{HistoryFilter, Mode};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::layouts::OrgLayout;
use super::paging::page_limit;
use super::{Actor, Services};

pub struct HistoryQuery<'a> {
    pub organization: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub from: Option<&'a str>,
    pub until: Option<&'a str>,
    pub limit: Option<i64>,
    pub start: Option<&'a str>,
}

pub struct HistoryPage {
    pub entries: Vec<NamedEntry>,
    pub next_start: Option<String>,
}

/// A history entry with the names of what it is about, as they read now; an organisation,
/// purpose or attribute deleted since shows its ID.
pub struct NamedEntry {
    pub entry: HistoryEntry,
    pub organization: String,
    pub purpose: String,
    pub attribute: String,
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

/// The names an entry is about, from its organisation's layout (its IDs where gone).
fn named(entry: HistoryEntry, layout: Option<&OrgLayout>) -> NamedEntry {
    let organization = layout.map_or_else(
        || entry.organization_id.clone(),
        |l| l.organization.name.clone(),
    );
    let purpose_id = entry.purpose_id.parse::<PurposeId>().ok();
    let attribute_id = entry.attribute_id.parse::<AttributeId>().ok();
    let purpose = layout
        .and_then(|l| l.purposes.iter().find(|p| Some(p.id) == purpose_id))
        .map_or_else(|| entry.purpose_id.clone(), |p| p.name.clone());
    let attribute = layout
        .and_then(|l| l.templates.iter().find(|t| Some(t.id) == attribute_id))
        .map_or_else(|| entry.attribute_id.clone(), |t| t.consent.clone());
    NamedEntry {
        entry,
        organization,
        purpose,
        attribute,
    }
}

/// Entries (and current values) read per unit of work while verifying: memory stays the
/// same however long the ledger.
const LEDGER_PAGE: i64 = 1000;

/// Checkpoints one verification accepts.
const MAX_CHECKPOINTS: usize = 1000;

impl Services {
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
        self.own_consent_history(actor, q).await
    }

    /// `GET /v1/user/consenthistory`: the caller's own, without naming them.
    pub async fn own_consent_history(
        &self,
        actor: &Actor,
        q: HistoryQuery<'_>,
    ) -> Result<HistoryPage> {
        let me = actor.user()?;
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

    /// Every entry of a person's history with one organisation, newest first, each with
    /// its signed receipt (the person's copy of their data).
    pub(super) async fn whole_history(
        &self,
        user: UserId,
        org: OrganizationId,
    ) -> Result<Vec<(NamedEntry, String)>> {
        let mut all = vec![];
        let mut before = None;
        loop {
            let page = self
                .history_page(HistoryFilter {
                    user: Some(user),
                    organization: Some(org),
                    purpose: None,
                    from: None,
                    until: None,
                    before,
                    limit: LEDGER_PAGE,
                })
                .await?;
            for named in page.entries {
                let receipt = self.tokens.consent_receipt(&named.entry)?;
                all.push((named, receipt));
            }
            match page.next_start {
                Some(next) => before = Some(next),
                None => return Ok(all),
            }
        }
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
        let mut layouts = HashMap::new();
        for e in &entries {
            if let Ok(org) = e.organization_id.parse::<OrganizationId>() {
                if let std::collections::hash_map::Entry::Vacant(slot) = layouts.entry(org) {
                    slot.insert(self.layout(org, 0).await.ok());
                }
            }
        }
        let entries = entries
            .into_iter()
            .map(|entry| {
                let layout = entry
                    .organization_id
                    .parse::<OrganizationId>()
                    .ok()
                    .and_then(|org| layouts.get(&org).cloned().flatten());
                named(entry, layout.as_deref())
            })
            .collect();
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
        let mut tx = self.store.begin(Mode::Read).await?;
        let org = existing_organization(tx.as_mut(), org).await?;
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
        self.sign_checkpoint(org.id, head)
    }

    /// The same for `accord admin ledger-checkpoint` (whoever runs the CLI).
    pub async fn consent_ledger_checkpoint_unchecked(&self, org: &str) -> Result<LedgerCheckpoint> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let org = existing_organization(tx.as_mut(), org).await?;
        let (head, _) = tx.chain_end(org).await?;
        tx.commit().await?;
        self.sign_checkpoint(org, head)
    }

    fn sign_checkpoint(
        &self,
        org: OrganizationId,
        head: Option<(i64, String)>,
    ) -> Result<LedgerCheckpoint> {
        let (seq, hash) = head.unwrap_or((0, accord_domain::consent::GENESIS.to_owned()));
        let at = self.clock.now();
        let token = self.tokens.ledger_checkpoint(org, seq, &hash, at)?;
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

/// The organisation the command line names, if it exists (the operator's commands).
async fn existing_organization(tx: &mut dyn accord_store::Tx, org: &str) -> Result<OrganizationId> {
    let not_found = || Error::not_found("organisation not found");
    let org: OrganizationId = org.parse().map_err(|_| not_found())?;
    tx.organization_by_id(org).await?.ok_or_else(not_found)?;
    Ok(org)
}
