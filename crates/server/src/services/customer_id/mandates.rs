//! CustomerID mandates: a mandater grants a mandatee a role, optionally for a period.

use super::roles::RoleRef;
use super::*;

/// Which mandates a list asks for.
#[derive(Debug, Clone, Copy)]
pub enum MandateList<'a> {
    All,
    GivenByOrganization(&'a str),
    ReceivedByOrganization(&'a str),
    GivenByUser(&'a str),
    ReceivedByUser(&'a str),
}

/// `2026-01-31T10:00:00Z`, or a date (its start).
fn parse_instant(field: &str, raw: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            Error::invalid(format!(
                "{field} must be a date (2026-01-31) or an RFC 3339 time"
            ))
        })
}

/// Characters kept as they are in an `entityName` (RFC 3986 unreserved).
const ENTITY_NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The spec's GET111 sample, in its order (`id`, `type`, `entityName`, `name`,
/// `assigneeEmail`, typed `mandater`/`mandatee`/`role`), then ours: `validFrom`,
/// `validUntil`, `status`. `name` is the mandatee's display name, `entityName` the same
/// percent-encoded, as the sample shows.
pub(super) fn mandate_attributes(
    m: &Mandate,
    mandatee_name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Attributes {
    let mut a: Attributes = vec![];
    push(&mut a, "id", m.id.to_string());
    push(&mut a, "type", m.kind.as_str());
    push(
        &mut a,
        "entityName",
        percent_encoding::utf8_percent_encode(mandatee_name, ENTITY_NAME).to_string(),
    );
    push(&mut a, "name", mandatee_name);
    push(
        &mut a,
        "assigneeEmail",
        m.assignee_email.clone().unwrap_or_default(),
    );
    for (name, party) in [("mandater", &m.mandater), ("mandatee", &m.mandatee)] {
        match party {
            Party::Organization(o) => push_ref(&mut a, name, "organization", o.to_string()),
            Party::User(u) => push_ref(&mut a, name, "user", u.to_string()),
            Party::Email(_) => {} // not registered yet: `assigneeEmail` says who
        }
    }
    push_ref(&mut a, "role", "role", m.role_id.to_string());
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    push(&mut a, "validFrom", time(m.valid_from));
    push(&mut a, "validUntil", time(m.valid_until));
    push(&mut a, "status", m.status(now));
    a
}

/// How a user is named to others: first name and surname, else the iGrant name, else
/// the email address.
fn display_name(u: &User) -> String {
    let full = format!("{} {}", u.first_name, u.surname).trim().to_owned();
    if !full.is_empty() {
        full
    } else if !u.name.is_empty() {
        u.name.clone()
    } else {
        u.email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()
    }
}

impl Services {
    /// Whether the caller may see a party: organisations in scope, users whose home
    /// organisation is in scope. Unbound callers see all.
    pub(super) async fn party_visible(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        party: &Party,
    ) -> Result<bool> {
        let Some(scope) = scope else { return Ok(true) };
        Ok(match party {
            Party::Organization(o) => scope.contains(o),
            Party::User(u) => tx
                .user_by_id(*u)
                .await?
                .and_then(|u| u.home_organization_id)
                .is_some_and(|h| scope.contains(&h)),
            Party::Email(_) => false,
        })
    }

    /// The display name of a party: an organisation's name, a user's, or the address.
    pub(super) async fn party_name(
        &self,
        tx: &mut dyn Tx,
        tree: &[TreeNode],
        party: &Party,
    ) -> Result<String> {
        Ok(match party {
            Party::Organization(o) => tree
                .iter()
                .find(|n| n.id == *o)
                .map(|n| n.name.clone())
                .unwrap_or_default(),
            Party::User(u) => tx
                .user_by_id(*u)
                .await?
                .map(|u| display_name(&u))
                .unwrap_or_default(),
            Party::Email(e) => e.clone(),
        })
    }

    /// Create Mandate: `type` (OrgToPer, PerToPer, OrgToOrg, PerToOrg), `mandater`, and
    /// `mandatee` or `assigneeEmail` (a person not registered yet), `role`, `validFrom`,
    /// `validUntil`. The mandater must be visible to the caller; an organisation grants
    /// only its own roles.
    pub async fn cid_create_mandate(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<String> {
        let p = SingleParams::parse(
            params,
            &[
                "type",
                "mandater",
                "mandatee",
                "assigneeEmail",
                "role",
                "validFrom",
                "validUntil",
            ],
        )?;
        let required = |k: &str| p.required(k).map(str::to_owned);
        let kind = MandateType::parse(&required("type")?)?;
        let valid_from = p
            .get("validFrom")
            .map(|v| parse_instant("validFrom", v))
            .transpose()?;
        let valid_until = p
            .get("validUntil")
            .map(|v| parse_instant("validUntil", v))
            .transpose()?;
        if let (Some(f), Some(u)) = (valid_from, valid_until) {
            if f >= u {
                return Err(Error::invalid("validFrom must be before validUntil"));
            }
        }
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org_party = |raw: &str, field: &str| -> Result<Party> {
            let o: OrganizationId = raw
                .parse()
                .map_err(|_| Error::bad_reference(format!("{field} is not an organization ID")))?;
            if !tree.iter().any(|n| n.id == o) {
                return Err(Error::bad_reference(format!(
                    "{field} names no organization"
                )));
            }
            Ok(Party::Organization(o))
        };
        let mandater = if kind.mandater_is_organization() {
            org_party(&required("mandater")?, "mandater")?
        } else {
            let u: UserId = required("mandater")?
                .parse()
                .map_err(|_| Error::bad_reference("mandater is not a user ID"))?;
            tx.user_by_id(u)
                .await?
                .ok_or_else(|| Error::bad_reference("mandater names no user"))?;
            Party::User(u)
        };
        if !self.party_visible(tx.as_mut(), &scope, &mandater).await? {
            return Err(Error::bad_reference("mandater names nobody you can see"));
        }
        let mut assignee_email = None;
        let mandatee = if kind.mandatee_is_organization() {
            org_party(&required("mandatee")?, "mandatee")?
        } else if let Some(id) = p.get("mandatee") {
            let u: UserId = id
                .parse()
                .map_err(|_| Error::bad_reference("mandatee is not a user ID"))?;
            // A user outside the caller's reach is named by address, not by ID.
            let party = Party::User(u);
            if tx.user_by_id(u).await?.is_none()
                || !self.party_visible(tx.as_mut(), &scope, &party).await?
            {
                return Err(Error::bad_reference(
                    "mandatee names nobody you can see (name a person outside by assigneeEmail)",
                ));
            }
            party
        } else {
            let email = accord_domain::identity::Email::parse(&required("assigneeEmail")?)?;
            assignee_email = Some(email.as_str().to_owned());
            // The account that has proven the address is the mandatee at once; otherwise the
            // mandate waits for whoever proves it (docs/security.md).
            match tx.user_by_email_key(&email.key()).await? {
                Some(u) if u.email_verified_at.is_some() => Party::User(u.id),
                _ => Party::Email(email.as_str().to_owned()),
            }
        };
        let role: RoleId = required("role")?.parse().map_err(Error::as_reference)?;
        let role_org = match self
            .role_ref(tx.as_mut(), actor, role)
            .await
            .map_err(Error::as_reference)?
        {
            RoleRef::Builtin(_, org) => org,
            RoleRef::Custom(r) => r.organization_id,
        };
        if let Party::Organization(o) = &mandater {
            if *o != role_org {
                return Err(Error::invalid("an organization grants its own roles only"));
            }
        }
        let m = Mandate {
            id: MandateId::new(),
            kind,
            mandater,
            mandatee,
            role_id: role,
            assignee_email,
            valid_from,
            valid_until,
            created_at: self.clock.now(),
        };
        tx.insert_mandate(&m).await?;
        self.log_action(
            tx.as_mut(),
            role_org,
            "configuration",
            &actor_label(actor),
            &format!("created mandate {}", m.id),
        )
        .await?;
        tx.commit().await?;
        Ok(m.id.to_string())
    }

    /// Delete Mandate: the caller must see its mandater.
    pub async fn cid_delete_mandate(&self, actor: &Actor, id: MandateId) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let m = tx
            .mandates()
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| not_found("mandate"))?;
        if !self.party_visible(tx.as_mut(), &scope, &m.mandater).await? {
            return Err(not_found("mandate"));
        }
        tx.delete_mandate(id).await?;
        let log_org = match &m.mandater {
            Party::Organization(o) => Some(*o),
            Party::User(u) => tx
                .user_by_id(*u)
                .await?
                .and_then(|u| u.home_organization_id),
            Party::Email(_) => None,
        };
        if let Some(org) = log_org {
            self.log_action(
                tx.as_mut(),
                org,
                "configuration",
                &actor_label(actor),
                &format!("withdrew mandate {id}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    /// GET111: one mandate visible to the caller. `entities`: its mandater, mandatee and
    /// role as entities in place of their IDs — those the caller may see; the others stay
    /// IDs.
    pub async fn cid_mandate(&self, actor: &Actor, id: &str, entities: bool) -> Result<Attributes> {
        let mut mandate = self
            .cid_mandates(actor, MandateList::All)
            .await?
            .into_iter()
            .find(|a| value_of(a, "id") == Some(id))
            .ok_or_else(|| not_found("mandate"))?;
        if !entities {
            return Ok(mandate);
        }
        for a in mandate.iter_mut() {
            let (Some(kind), Some(id)) = (a.kind, a.first().map(str::to_owned)) else {
                continue;
            };
            let entity = match kind {
                "organization" => self
                    .cid_organization(actor, &id)
                    .await
                    .map(|e| ("Organization", e)),
                "user" => self.cid_user(actor, &id).await.map(|e| ("User", e)),
                _ => match id.parse() {
                    Ok(role) => self.cid_role(actor, role).await.map(|e| ("Role", e)),
                    Err(e) => Err(e),
                },
            };
            match entity {
                Ok(e) => a.entity = Some(e),
                Err(Error::NotFound(_)) => {} // outside the caller's scope: the ID only
                Err(e) => return Err(e),
            }
        }
        Ok(mandate)
    }

    /// GET110/118–121: mandates visible to the caller (through either party).
    pub async fn cid_mandates(
        &self,
        actor: &Actor,
        list: MandateList<'_>,
    ) -> Result<Vec<Attributes>> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let org_in_view = |raw: &str| -> Result<OrganizationId> {
            let o: OrganizationId = raw.parse().map_err(|_| not_found("organization"))?;
            if !tree.iter().any(|n| n.id == o) || scope.as_ref().is_some_and(|s| !s.contains(&o)) {
                return Err(not_found("organization"));
            }
            Ok(o)
        };
        let wanted: Box<dyn Fn(&Mandate) -> bool + Send> = match list {
            MandateList::All => Box::new(|_| true),
            MandateList::GivenByOrganization(o) => {
                let o = org_in_view(o)?;
                Box::new(move |m| m.mandater == Party::Organization(o))
            }
            MandateList::ReceivedByOrganization(o) => {
                let o = org_in_view(o)?;
                Box::new(move |m| m.mandatee == Party::Organization(o))
            }
            MandateList::GivenByUser(u) | MandateList::ReceivedByUser(u) => {
                tx.commit().await?;
                self.require_visible_user(actor, u).await?;
                tx = self.store.begin(Mode::Read).await?;
                let u: UserId = u.parse().map_err(|_| not_found("user"))?;
                if matches!(list, MandateList::GivenByUser(_)) {
                    Box::new(move |m| m.mandater == Party::User(u))
                } else {
                    Box::new(move |m| m.mandatee == Party::User(u))
                }
            }
        };
        let mut out = vec![];
        for m in tx.mandates().await? {
            if !wanted(&m) {
                continue;
            }
            let mandatee_visible = self.party_visible(tx.as_mut(), &scope, &m.mandatee).await?;
            let visible =
                mandatee_visible || self.party_visible(tx.as_mut(), &scope, &m.mandater).await?;
            if !visible {
                continue;
            }
            // A mandatee outside the caller's reach shows only as the address the mandate
            // was given to: not their ID, name, or whether they registered.
            let m = if mandatee_visible {
                m
            } else {
                Mandate {
                    mandatee: Party::Email(m.assignee_email.clone().unwrap_or_default()),
                    ..m
                }
            };
            let name = self.party_name(tx.as_mut(), &tree, &m.mandatee).await?;
            out.push(mandate_attributes(&m, &name, now));
        }
        tx.commit().await?;
        Ok(out)
    }
}
