//! A person's copy of what Accord holds about them for one organisation (GDPR Art. 15,
//! in the machine-readable form of Art. 20), released by a download request
//! (docs/data-rights.md, "The copy").

use accord_domain::data_request::DataRequest;
use accord_domain::identity::{OrgRole, User};
use accord_domain::organization::Organization;
use accord_domain::purpose_version::PurposeVersion;
use accord_domain::{DataRequestId, Error, OrganizationId, PurposeId, Result};
use accord_store::Mode;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use super::consent_history::NamedEntry;
use super::consents::ConsentRecord;
use super::{Actor, Services};

/// Everything the copy holds, read when the person fetches it.
pub struct DataExport {
    pub generated_at: DateTime<Utc>,
    /// The download request that released it.
    pub request: DataRequest,
    pub organization: Organization,
    /// The person's account as the organisation sees it (its subscriber list shows it).
    pub profile: User,
    /// When they subscribed, if they are subscribed now.
    pub subscribed_since: Option<DateTime<Utc>>,
    /// The roles they hold in the organisation.
    pub roles: Vec<OrgRole>,
    /// Their consent record there as it reads now; `None` when they have none.
    pub record: Option<ConsentRecord>,
    /// Every recorded change of their consents there, newest first, with its signed
    /// receipt.
    pub history: Vec<(NamedEntry, String)>,
    /// Every request they made to the organisation, newest first.
    pub requests: Vec<DataRequest>,
    /// The versions of purposes their consents and history name: the words they agreed
    /// to, by purpose and number.
    pub versions: Vec<PurposeVersion>,
}

/// Requests read per round while gathering them all.
const REQUESTS_PAGE: i64 = 500;

impl Services {
    /// `GET …/data-download/{dataReqID}/export`: the person's own copy, once the request
    /// released it (`DataRequest::export_released`); anyone else's request is 404.
    pub async fn data_export(
        &self,
        actor: &Actor,
        named: Option<&str>,
        org: OrganizationId,
        id: DataRequestId,
    ) -> Result<DataExport> {
        let me = actor.user()?;
        let me_id = super::data_requests::the_caller(actor, named)?;
        let not_found = || Error::not_found("data request not found");
        let mut tx = self.store.begin(Mode::Read).await?;
        let request = tx
            .data_request_by_id(id)
            .await?
            .filter(|r| r.user_id == me_id && r.organization_id == org)
            .filter(|r| r.kind == accord_domain::data_request::DataRequestKind::Download)
            .ok_or_else(not_found)?;
        let (organization, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !request.export_released(organization.data_export_at_once) {
            return Err(Error::invalid(
                "this copy is not released yet: the organisation releases it when it answers the request",
            ));
        }
        let profile = tx.user_by_id(me_id).await?.ok_or_else(not_found)?;
        let subscribed_since = tx.subscribed_since(org, me_id).await?;
        let mut requests = vec![];
        loop {
            let before = requests.last().map(|r: &DataRequest| r.id);
            let page = tx
                .data_requests_of(me_id, org, before, REQUESTS_PAGE)
                .await?;
            let last = (page.len() as i64) < REQUESTS_PAGE;
            requests.extend(page);
            if last {
                break;
            }
        }
        tx.commit().await?;
        let record = self.own_record(me, org).await?;
        let history = self.whole_history(me_id, org).await?;
        let versions = self.versions_named(org, record.as_ref(), &history).await?;
        Ok(DataExport {
            generated_at: self.clock.now(),
            request,
            organization,
            profile,
            subscribed_since,
            roles: standing.roles,
            record,
            history,
            requests,
            versions,
        })
    }

    /// Every version the record's values and the history's entries were given under.
    async fn versions_named(
        &self,
        org: OrganizationId,
        record: Option<&ConsentRecord>,
        history: &[(NamedEntry, String)],
    ) -> Result<Vec<PurposeVersion>> {
        let mut named: BTreeSet<(PurposeId, i64)> = BTreeSet::new();
        for p in record.iter().flat_map(|r| &r.purposes) {
            for a in &p.attributes {
                if let Some(n) = a.status.version {
                    named.insert((p.purpose.id, n));
                }
            }
        }
        for (n, _) in history {
            let e = &n.entry;
            if let (Some(w), Ok(purpose)) = (&e.wording, e.purpose_id.parse::<PurposeId>()) {
                named.insert((purpose, w.number));
            }
        }
        let purposes: Vec<PurposeId> = named
            .iter()
            .map(|(p, _)| *p)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut tx = self.store.begin(Mode::Read).await?;
        let versions = super::purposes::versions_of(tx.as_mut(), org, &purposes).await?;
        tx.commit().await?;
        Ok(versions
            .into_iter()
            .filter(|v| named.contains(&(v.purpose_id, v.number)))
            .collect())
    }
}
