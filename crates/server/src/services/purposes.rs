//! An organisation's purposes and data attributes (the spec's templates): public parts
//! of its profile; its Admin changes them.

use std::collections::HashMap;

use accord_domain::access::OrgAction;
use accord_domain::organization::{parse_http_url, LawfulBasis, Purpose, Template};
use accord_domain::purpose_version::{OutdatedConsent, PurposeVersion, PurposeWording, VersionRef};
use accord_domain::{AttributeId, Error, OrganizationId, PurposeId, Result, UserId};
use accord_store::{Mode, Tx};
use chrono::{DateTime, Utc};

use super::organizations::{required, text};
use super::{Actor, Services};

pub use accord_domain::consent_change::MAX_ATTRIBUTES_PER_PURPOSE;

/// A purpose as a client describes it (create and replace).
pub struct PurposeInput {
    pub name: String,
    pub description: String,
    pub lawful_basis: i64,
    pub policy_url: String,
    pub attribute_type: i64,
    pub jurisdiction: String,
    pub disclosure: String,
    pub industry_scope: String,
    pub restriction: String,
    pub shared_3pp: bool,
    /// `Stands` or `Lapses`; `None`: as it was (the default, `Stands`, for a new purpose).
    pub outdated_consent: Option<String>,
    /// The grace before an outdated consent lapses; `None`: as it was (30 days).
    pub reconsent_grace_days: Option<i64>,
}

/// What publishing a proposed wording would do (docs/consents.md, "Before publishing").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewordingImpact {
    /// The purpose's current version.
    pub version: i64,
    /// The version the proposal would publish; `None`: it alters no wording.
    pub next_version: Option<i64>,
    /// People holding a consent given under the current version: the proposal makes
    /// theirs outdated.
    pub holders_at_current: i64,
    /// People holding a consent given under an older version: outdated already.
    pub holders_at_older: i64,
}

impl RewordingImpact {
    /// People whose consent publishing would make outdated: none if nothing is reworded.
    pub fn would_outdate(&self) -> i64 {
        if self.next_version.is_some() {
            self.holders_at_current
        } else {
            0
        }
    }
}

pub struct TemplateInput {
    pub consent: String,
    pub purpose_ids: Vec<String>,
}

impl Services {
    /// The purpose a client describes; `existing` is the one it replaces, whose choice for
    /// outdated consents stays unless the body names another.
    fn purpose_from(
        &self,
        org: OrganizationId,
        id: PurposeId,
        p: PurposeInput,
        existing: Option<&Purpose>,
    ) -> Result<Purpose> {
        let was = existing.map(|e| e.outdated_consent).unwrap_or_default();
        let outdated_consent = match (&p.outdated_consent, p.reconsent_grace_days) {
            (None, None) => was,
            (policy, grace) => OutdatedConsent::parse(
                policy.as_deref().unwrap_or(was.as_str()),
                grace.unwrap_or(was.grace_days()),
            )?,
        };
        Ok(Purpose {
            id,
            organization_id: org,
            name: required("Name", &p.name)?,
            description: text("Description", &p.description, 4096)?,
            lawful_basis: LawfulBasis::from_id(p.lawful_basis)?,
            policy_url: if p.policy_url.trim().is_empty() {
                String::new()
            } else {
                parse_http_url("PolicyURL", &p.policy_url)?
            },
            attribute_type: p.attribute_type,
            jurisdiction: text("Jurisdiction", &p.jurisdiction, 256)?,
            disclosure: text("Disclosure", &p.disclosure, 256)?,
            industry_scope: text("IndustryScope", &p.industry_scope, 256)?,
            restriction: text("Restriction", &p.restriction, 256)?,
            shared_3pp: p.shared_3pp,
            version: 1,
            outdated_consent,
        })
    }

    /// A purpose's versions, oldest first (whoever may read the organisation's purposes;
    /// a deleted purpose's stay readable: the consent history links to them). A purpose
    /// never reworded since versions began has one, its current wording.
    pub async fn purpose_versions(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
    ) -> Result<Vec<PurposeVersion>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        let versions = versions_of(tx.as_mut(), org.id, &[id]).await?;
        tx.commit().await?;
        if versions.is_empty() {
            return Err(Error::not_found("purpose not found"));
        }
        Ok(versions)
    }

    pub async fn purpose_version(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
        number: i64,
    ) -> Result<PurposeVersion> {
        self.purpose_versions(actor, org, id)
            .await?
            .into_iter()
            .find(|v| v.number == number)
            .ok_or_else(|| Error::not_found("version not found"))
    }

    /// What replacing the purpose with `input` would do, before it is done: whether it
    /// rewords the purpose and whose consents it would make outdated (Admin and Dpo: the
    /// counts are about people's consents).
    pub async fn rewording_impact(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
        input: PurposeInput,
    ) -> Result<RewordingImpact> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, _) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::ReadConsentsOfOthers,
                "count the consents of",
            )
            .await?;
        let templates = tx.templates_of(org.id).await?;
        let existing = live_purpose(tx.as_mut(), org.id, id).await?;
        let proposed = self.purpose_from(org.id, id, input, Some(&existing))?;
        let rewords =
            PurposeWording::of(&proposed, &templates) != PurposeWording::of(&existing, &templates);
        let (holders_at_current, holders_at_older) = if existing.lawful_basis.is_lawful_usage() {
            // Not resting on consent: nothing to outdate.
            (0, 0)
        } else {
            let holding = super::consents::holding(&existing, self.clock.now());
            tx.holder_counts(org.id, id, holding, existing.version)
                .await?
        };
        tx.commit().await?;
        Ok(RewordingImpact {
            version: existing.version,
            next_version: rewords.then_some(existing.version + 1),
            holders_at_current,
            holders_at_older,
        })
    }

    /// Purposes and templates are public parts of an organisation's profile.
    pub async fn purposes(&self, actor: &Actor, org: OrganizationId) -> Result<Vec<Purpose>> {
        Ok(self.organization(actor, org).await?.purposes)
    }

    pub async fn purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
    ) -> Result<Purpose> {
        self.purposes(actor, org)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| Error::not_found("purpose not found"))
    }

    pub async fn create_purposes(
        &self,
        actor: &Actor,
        org: OrganizationId,
        inputs: Vec<PurposeInput>,
    ) -> Result<Vec<Purpose>> {
        if inputs.is_empty() {
            return Err(Error::invalid("Purposes must list at least one purpose"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        let before = wordings_before(tx.as_mut(), org.id).await?;
        let mut created = vec![];
        for input in inputs {
            let p = self.purpose_from(org.id, PurposeId::new(), input, None)?;
            tx.insert_purpose(&p, now).await?;
            created.push(p);
        }
        self.publish_wordings(tx.as_mut(), org.id, &before, me.user_id, now)
            .await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("created {} purposes", created.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn replace_purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
        input: PurposeInput,
    ) -> Result<Purpose> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        let existing = live_purpose(tx.as_mut(), org.id, id).await?;
        let before = wordings_before(tx.as_mut(), org.id).await?;
        // The number as it stands now the layout is held (another change may have landed
        // since `existing` was read).
        let version = before
            .get(&existing.id)
            .map_or(existing.version, |(p, _)| p.version);
        let p = Purpose {
            version,
            ..self.purpose_from(org.id, existing.id, input, Some(&existing))?
        };
        tx.update_purpose(&p).await?;
        let p = self
            .publish_wordings(tx.as_mut(), org.id, &before, me.user_id, self.clock.now())
            .await?
            .remove(&p.id)
            .unwrap_or(p);
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("replaced purpose {}", p.id),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Deleted purposes stay in the database (consent history refers to them) but are no
    /// longer listed nor served by templates.
    pub async fn delete_purpose(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PurposeId,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the purposes",
            )
            .await?;
        if !tx.delete_purpose(org.id, id, self.clock.now()).await? {
            return Err(Error::not_found("purpose not found"));
        }
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("deleted purpose {id}"),
        )
        .await?;
        tx.commit().await
    }

    async fn template_from(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        id: AttributeId,
        t: TemplateInput,
    ) -> Result<Template> {
        let known: Vec<PurposeId> = tx
            .purposes_of(org)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let mut purpose_ids = vec![];
        for raw in &t.purpose_ids {
            let pid = raw.parse::<PurposeId>().ok().filter(|p| known.contains(p));
            let pid = pid.ok_or_else(|| {
                Error::invalid(format!(
                    "PurposeIDs: {raw:?} is no purpose of this organisation"
                ))
            })?;
            if !purpose_ids.contains(&pid) {
                purpose_ids.push(pid);
            }
        }
        // Every consent change may touch each attribute of a purpose: their number bounds
        // the work (and the ledger entries) one request can cause.
        let others = tx.templates_of(org).await?;
        for pid in &purpose_ids {
            let held = others
                .iter()
                .filter(|o| o.id != id && o.purpose_ids.contains(pid))
                .count();
            if held >= MAX_ATTRIBUTES_PER_PURPOSE {
                return Err(Error::invalid(format!(
                    "a purpose has at most {MAX_ATTRIBUTES_PER_PURPOSE} data attributes; \
                     {pid} has them all"
                )));
            }
        }
        Ok(Template {
            id,
            organization_id: org,
            consent: required("Consent", &t.consent)?,
            purpose_ids,
        })
    }

    pub async fn templates(&self, actor: &Actor, org: OrganizationId) -> Result<Vec<Template>> {
        Ok(self.organization(actor, org).await?.templates)
    }

    pub async fn template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
    ) -> Result<Template> {
        self.templates(actor, org)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("template not found"))
    }

    pub async fn create_templates(
        &self,
        actor: &Actor,
        org: OrganizationId,
        inputs: Vec<TemplateInput>,
    ) -> Result<Vec<Template>> {
        if inputs.is_empty() {
            return Err(Error::invalid("Templates must list at least one template"));
        }
        if inputs.len() > MAX_ATTRIBUTES_PER_PURPOSE {
            return Err(Error::invalid(format!(
                "at most {MAX_ATTRIBUTES_PER_PURPOSE} templates at once"
            )));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        let before = wordings_before(tx.as_mut(), org.id).await?;
        let mut created = vec![];
        for input in inputs {
            let t = self
                .template_from(tx.as_mut(), org.id, AttributeId::new(), input)
                .await?;
            tx.insert_template(&t, now).await?;
            created.push(t);
        }
        self.publish_wordings(tx.as_mut(), org.id, &before, me.user_id, now)
            .await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("created {} data attributes", created.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn replace_template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
        input: TemplateInput,
    ) -> Result<Template> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        let existing = tx
            .templates_of(org.id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("template not found"))?;
        let before = wordings_before(tx.as_mut(), org.id).await?;
        let t = self
            .template_from(tx.as_mut(), org.id, existing.id, input)
            .await?;
        tx.update_template(&t).await?;
        self.publish_wordings(tx.as_mut(), org.id, &before, me.user_id, self.clock.now())
            .await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("replaced data attribute {}", t.id),
        )
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn delete_template(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: AttributeId,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, me) = self
            .org_for(
                tx.as_mut(),
                actor,
                org,
                OrgAction::Configure,
                "change the templates",
            )
            .await?;
        let before = wordings_before(tx.as_mut(), org.id).await?;
        if !tx.delete_template(org.id, id, self.clock.now()).await? {
            return Err(Error::not_found("template not found"));
        }
        self.publish_wordings(tx.as_mut(), org.id, &before, me.user_id, self.clock.now())
            .await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!("deleted data attribute {id}"),
        )
        .await?;
        tx.commit().await
    }
}

/// One of the organisation's live purposes; 404 for any other.
async fn live_purpose(tx: &mut dyn Tx, org: OrganizationId, id: PurposeId) -> Result<Purpose> {
    tx.purposes_of(org)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| Error::not_found("purpose not found"))
}

/// The versions of the organisation's `purposes` (deleted ones' too), oldest first per
/// purpose; a live purpose never reworded since versions began has one, its current
/// wording (recorded when it is first reworded).
pub(super) async fn versions_of(
    tx: &mut dyn Tx,
    org: OrganizationId,
    purposes: &[PurposeId],
) -> Result<Vec<PurposeVersion>> {
    let mut found = vec![];
    let mut current = None;
    for &id in purposes {
        let stored = tx.purpose_versions(org, id).await?;
        if !stored.is_empty() {
            found.extend(stored);
            continue;
        }
        if current.is_none() {
            current = Some(wordings(tx, org).await?);
        }
        if let Some((p, wording)) = current.as_ref().and_then(|c| c.get(&id)) {
            found.push(PurposeVersion::new(id, p.version, wording, None, None));
        }
    }
    Ok(found)
}

/// The version `number` of a purpose as a ledger entry names it; `None` when it was never
/// recorded (a purpose deleted before its first version was).
pub(super) async fn version_ref(
    tx: &mut dyn Tx,
    org: OrganizationId,
    purpose: PurposeId,
    number: i64,
) -> Result<Option<VersionRef>> {
    Ok(versions_of(tx, org, &[purpose])
        .await?
        .into_iter()
        .find(|v| v.number == number)
        .map(|v| VersionRef {
            number,
            hash: v.hash,
        }))
}

/// Each listed purpose with its wording before a change, the layout held until the unit
/// of work ends: two Admins changing one organisation at once on PostgreSQL would
/// otherwise both number their version from the same one.
async fn wordings_before(
    tx: &mut dyn Tx,
    org: OrganizationId,
) -> Result<HashMap<PurposeId, (Purpose, PurposeWording)>> {
    tx.lock_layout(org).await?;
    wordings(tx, org).await
}

/// Each listed purpose with its wording now.
async fn wordings(
    tx: &mut dyn Tx,
    org: OrganizationId,
) -> Result<HashMap<PurposeId, (Purpose, PurposeWording)>> {
    let purposes = tx.purposes_of(org).await?;
    let templates = tx.templates_of(org).await?;
    Ok(purposes
        .into_iter()
        .map(|p| {
            let w = PurposeWording::of(&p, &templates);
            (p.id, (p, w))
        })
        .collect())
}

impl Services {
    /// After a change to an organisation's purposes or attributes: a new purpose records
    /// its first version; one whose wording changed gets the next number (its previous
    /// wording recorded first, if it predates versions) and queues asking again those who
    /// consented under an older one; a change that alters nothing is no version. Answers
    /// the purposes that were reworded, as they now are.
    async fn publish_wordings(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        before: &HashMap<PurposeId, (Purpose, PurposeWording)>,
        author: UserId,
        now: DateTime<Utc>,
    ) -> Result<HashMap<PurposeId, Purpose>> {
        let mut reworded = HashMap::new();
        for (id, (p, wording)) in wordings(tx, org).await? {
            match before.get(&id) {
                None => {
                    tx.insert_purpose_version(&PurposeVersion::new(
                        id,
                        p.version,
                        &wording,
                        Some(now),
                        Some(author),
                    ))
                    .await?;
                }
                Some((old, old_wording)) if *old_wording != wording => {
                    tx.insert_purpose_version(&PurposeVersion::new(
                        id,
                        old.version,
                        old_wording,
                        None,
                        None,
                    ))
                    .await?;
                    let next = Purpose {
                        version: old.version + 1,
                        ..p
                    };
                    tx.update_purpose(&next).await?;
                    tx.insert_purpose_version(&PurposeVersion::new(
                        id,
                        next.version,
                        &wording,
                        Some(now),
                        Some(author),
                    ))
                    .await?;
                    reworded.insert(id, next);
                }
                Some(_) => {}
            }
        }
        for p in reworded.values() {
            if p.lawful_basis.is_lawful_usage() {
                continue;
            }
            // A few mailings per organisation and window: an Admin rewording again and
            // again cannot flood everyone's mailbox through us (the notifications and
            // events still go out).
            let mail = self
                .mail_allowed(tx, &format!("reconsent:{org}"), now)
                .await?;
            tx.insert_reconsent_job(org, p.id, p.version, mail, now)
                .await?;
        }
        Ok(reworded)
    }
}
