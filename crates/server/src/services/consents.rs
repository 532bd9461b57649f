//! Permissions and consents: reading and changing an individual's consents, and who
//! consented. Who may do what in this area (the history, its verification and receipts
//! live in `consent_history.rs`):
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
    count, parse_days, purpose_summary, retention_expiry, versioned_status, ComputedStatus,
    ConsentValue, HistoryEntry, StoredConsent,
};
use accord_domain::consent_change;
use accord_domain::identity::User;
use accord_domain::organization::{Organization, Purpose, Template};
use accord_domain::purpose_version::OutdatedConsent;
use accord_domain::{AttributeId, ConsentId, Error, OrganizationId, PurposeId, Result, UserId};
use accord_store::{
    ConsentChangeJob, ConsentChangeOutcome, ConsentRead, ConsentReadQuery, ConsentWrites,
    HoldersQuery, Holding, Mode,
};
use chrono::{DateTime, Utc};

use super::layouts::OrgLayout;
use super::paging::page_limit;
use super::subscribers::UserPage;
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
    pub id: ConsentId,
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
pub struct ConsentPath {
    pub org: OrganizationId,
    pub user: UserId,
    pub consent: ConsentId,
    pub purpose: PurposeId,
}

/// An organisation as its individuals see it, with one person's record there.
pub struct OrganizationConsents {
    pub organization: Organization,
    /// The organisation type's name; empty when it has none.
    pub type_name: String,
    pub record: ConsentRecord,
}

/// A recorded change and its signed receipt.
pub struct ConsentChange {
    pub entry: HistoryEntry,
    pub receipt: String,
}

type Values = HashMap<(PurposeId, AttributeId), StoredConsent>;

/// A record as it reads at `now`: every purpose with every attribute it names, each
/// attribute's status computed from its stored value (or its absence) and the version it
/// was given under.
fn assemble(
    layout: &OrgLayout,
    values: &Values,
    user: UserId,
    consent: ConsentId,
    now: DateTime<Utc>,
) -> ConsentRecord {
    let org = &layout.organization;
    let purposes = layout
        .purposes
        .iter()
        .map(|purpose| {
            let lawful = purpose.lawful_basis.is_lawful_usage();
            let published = |number| layout.published(purpose.id, number);
            let mut latest: Option<DateTime<Utc>> = None;
            let attributes: Vec<AttributeConsent> = layout
                .templates
                .iter()
                .filter(|t| t.purpose_ids.contains(&purpose.id))
                .map(|t| {
                    let stored = values.get(&(purpose.id, t.id));
                    if let Some(s) = stored {
                        latest = latest.max(Some(s.changed_at));
                    }
                    AttributeConsent {
                        attribute: Arc::clone(t),
                        status: versioned_status(stored, purpose, published, now),
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
        id: consent,
        organization_id: org.id,
        user_id: user,
        purposes,
    }
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
            &self.layout,
            &values,
            self.writes.user_id,
            self.writes.consent_id,
            now,
        );
        (record, self.changes)
    }
}

fn not_found() -> Error {
    consent_change::consent_not_found()
}

/// Which of a consent-based purpose's consents are held at `now`: where its outdated
/// consents lapse, those outdated longer than the grace are not.
pub(super) fn holding(purpose: &Purpose, now: DateTime<Utc>) -> Holding {
    Holding {
        now,
        lapsed_before: match purpose.outdated_consent {
            OutdatedConsent::Stands => None,
            OutdatedConsent::Lapses { grace_days } => {
                Some(now - chrono::Duration::days(grace_days))
            }
        },
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
        org: OrganizationId,
        user: UserId,
        consent: Option<ConsentId>,
    ) -> Result<ConsentRecord> {
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
            .ok_or_else(|| super::sign_in::refused(credential))?;
        super::sign_in::live(
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
        consent_change::consent_access(user == credential.user(), &standing)?;
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
        Ok(assemble(&layout, &values, user, id, now))
    }

    /// A person's own record with an organisation as it reads now, for their copy of
    /// their data; `None` when they have none there. The caller's credential was checked
    /// when it became an `Actor`.
    pub(super) async fn own_record(
        &self,
        me: &super::actor::UserActor,
        org: OrganizationId,
    ) -> Result<Option<ConsentRecord>> {
        let read = self
            .store
            .consent_read(&ConsentReadQuery {
                caller: me.user_id,
                session: me.session_id,
                organization: org,
                user: me.user_id,
            })
            .await?;
        let Some((version, id, values)) =
            read.and_then(|r| Some((r.layout_version?, r.consent_id?, r.values)))
        else {
            return Ok(None);
        };
        let layout = self.layout(org, version).await?;
        let values: Values = values.into_iter().map(|(p, a, s)| ((p, a), s)).collect();
        Ok(Some(assemble(
            &layout,
            &values,
            me.user_id,
            id,
            self.clock.now(),
        )))
    }

    /// The organisation's layout at `version` or later: from this node's cache, or read
    /// (and cached) when the cache has an older one.
    pub(super) async fn layout(&self, org: OrganizationId, version: i64) -> Result<Arc<OrgLayout>> {
        if let Some(l) = self.layouts.get(org).filter(|l| l.version >= version) {
            return Ok(l);
        }
        let mut tx = self.store.begin(Mode::Read).await?;
        let version = tx.layout_version(org).await?.ok_or_else(not_found)?;
        let organization = tx.organization_by_id(org).await?.ok_or_else(not_found)?;
        let type_name = match organization.type_id {
            Some(t) => tx.org_type_by_id(t).await?.map(|t| t.name),
            None => None,
        };
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
        let published = tx.version_times_of(org).await?;
        tx.commit().await?;
        let layout = Arc::new(OrgLayout::new(
            version,
            organization,
            type_name.unwrap_or_default(),
            purposes,
            templates,
            published,
        ));
        self.layouts.put(org, Arc::clone(&layout));
        Ok(layout)
    }

    pub async fn purpose_consents(
        &self,
        credential: &Credential,
        at: &ConsentPath,
    ) -> Result<(ConsentRecord, PurposeConsents)> {
        let record = self
            .consents(credential, at.org, at.user, Some(at.consent))
            .await?;
        let p = record
            .purpose(at.purpose)
            .cloned()
            .ok_or_else(|| Error::not_found("purpose not found"))?;
        Ok((record, p))
    }

    /// Allow if every attribute reads Allow, Disallow if every one reads Disallow, else AskMe.
    pub async fn purpose_status(
        &self,
        credential: &Credential,
        at: &ConsentPath,
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
        at: &ConsentPath,
        attributes: Option<Vec<String>>,
        value: ConsentValue,
        days: i64,
    ) -> Result<RecordedChange> {
        let days = parse_days(days)?;
        let ConsentPath { org, user, .. } = *at;
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
        let trace = crate::telemetry::current_trace();
        for _ in 0..3 {
            let request = consent_change::ChangeRequest {
                credential: *credential,
                organization: org,
                user,
                consent: at.consent,
                purpose: at.purpose,
                attributes: attributes.clone(),
                value,
                days,
                layout: layout.clone(),
                trace: trace.clone(),
            };
            let clock = Arc::clone(&self.clock);
            let job = ConsentChangeJob {
                query: ConsentReadQuery {
                    caller: credential.user(),
                    session: credential.session(),
                    organization: org,
                    user,
                },
                layout_version: layout.as_ref().map_or(-1, |l| l.version),
                // The batch runs the domain's decision and nothing else of ours.
                decide: Box::new(move |state| {
                    let new_id = || uuid::Uuid::now_v7().to_string();
                    consent_change::decide_request(&request, state, clock.now(), new_id)
                }),
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
        at: &ConsentPath,
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
        at: &ConsentPath,
        attributes: Vec<String>,
        value: &str,
    ) -> Result<(ConsentRecord, Vec<ConsentChange>)> {
        let value = ConsentValue::parse(value)?;
        let recorded = self
            .change(credential, at, Some(attributes), value, 0)
            .await?;
        Ok(recorded.into_record(self.clock.now()))
    }

    /// `POST /v1/UpdateAllConsents/{userID}` (iGrant.io's SDKs): every attribute of every
    /// purpose of the record, no time limit; one recorded change per purpose.
    pub async fn set_all_consents(
        &self,
        credential: &Credential,
        org: OrganizationId,
        user: UserId,
        value: &str,
    ) -> Result<ConsentRecord> {
        let value = ConsentValue::parse(value)?;
        let record = self.consents(credential, org, user, None).await?;
        for p in record.purposes.iter().filter(|p| !p.attributes.is_empty()) {
            let at = ConsentPath {
                org,
                user,
                consent: record.id,
                purpose: p.purpose.id,
            };
            self.change(credential, &at, None, value, 0).await?;
        }
        self.consents(credential, org, user, None).await
    }

    /// What iGrant.io's SDKs read first (`GetUserOrgsAndConsents`): the organisation, the
    /// name of its type, and the person's consent record there.
    pub async fn organization_consents(
        &self,
        credential: &Credential,
        org: OrganizationId,
        user: UserId,
    ) -> Result<OrganizationConsents> {
        let record = self.consents(credential, org, user, None).await?;
        // The layout the read just used (or a newer one): its type name is as current.
        let layout = self.layout(org, 0).await?;
        Ok(OrganizationConsents {
            organization: layout.organization.clone(),
            type_name: layout.type_name.clone(),
            record,
        })
    }

    /// `POST …/purposes/{purposeID}/status`: every attribute of the purpose, no time limit.
    pub async fn set_purpose_consent(
        &self,
        credential: &Credential,
        at: &ConsentPath,
        value: &str,
    ) -> Result<(ConsentRecord, Vec<ConsentChange>)> {
        let value = ConsentValue::parse(value)?;
        let recorded = self.change(credential, at, None, value, 0).await?;
        Ok(recorded.into_record(self.clock.now()))
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
            let query = HoldersQuery {
                purpose: purpose.id,
                attribute,
                holding: holding(purpose, self.clock.now()),
                given_below: None,
                after,
                limit: limit + 1,
            };
            tx.consented_users(org.id, &query).await?
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
