//! The consent rule: what one change to a person's consent record writes. Pure: the
//! record as it stands, the change and the time in; the new values, their chained
//! history entries and whether to announce them out. Who may make the change is decided
//! before (the service's access rules); how it is written, after (the store's batch).

use chrono::{DateTime, Utc};

use crate::access::{OrgAction, OrgStanding};
use crate::consent::{versioned_status, ChangedBy, ConsentValue, HistoryEntry, StoredConsent};
use crate::identity::OrgRole;
use crate::organization::OrgLayout;
use crate::organization::{Purpose, Template};
use crate::purpose_version::VersionRef;
use crate::session::Credential;
use crate::session::Session;
use crate::webhook::{EventType, OutboxEvent};
use crate::{AttributeId, ConsentId, Error, OrganizationId, PurposeId, Result, UserId};
use std::sync::Arc;

/// Data attributes (templates) one purpose may have, and one change may name.
pub const MAX_ATTRIBUTES_PER_PURPOSE: usize = 100;

/// A change, as asked for.
pub struct ConsentChange<'a> {
    pub organization: OrganizationId,
    pub user: UserId,
    pub consent_id: ConsentId,
    pub purpose: &'a Purpose,
    /// The purpose's version the person is answering (the layout's current one).
    pub wording: &'a VersionRef,
    /// When a version of the purpose was published (an outdated value that lapsed read
    /// its default before the change).
    pub published: &'a dyn Fn(i64) -> Option<DateTime<Utc>>,
    /// Every attribute of the organisation; those of `purpose` are the candidates.
    pub templates: &'a [&'a Template],
    /// The attributes named, as sent; `None`: every attribute of the purpose.
    pub attributes: Option<&'a [String]>,
    pub value: ConsentValue,
    pub days: i64,
    pub changed_by: ChangedBy,
    pub actor_id: &'a str,
}

/// The record and the organisation's chain as the change finds them.
pub struct RecordState<'a> {
    /// The values set so far: (purpose, attribute, stored).
    pub values: &'a [(PurposeId, AttributeId, StoredConsent)],
    /// The chain head: the last entry's position and hash.
    pub head_seq: i64,
    pub head_hash: &'a str,
    /// Event types an enabled webhook of the organisation listens to.
    pub listened: &'a [String],
}

/// What the change writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConsentDecision {
    /// (purpose, attribute, value) to set on the record.
    pub values: Vec<(PurposeId, AttributeId, StoredConsent)>,
    /// One entry per attribute, chained after the head in order.
    pub history: Vec<HistoryEntry>,
    /// The event each entry announces, when a webhook listens to it.
    pub announce: Option<EventType>,
}

/// Decides a change: the attributes it touches (each once), what each read before (an
/// expired time-limited consent read Disallow; an unset one its purpose's default), the
/// new values, and one hash-chained history entry per attribute. `new_id` names entries.
pub fn decide(
    change: &ConsentChange<'_>,
    record: &RecordState<'_>,
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> String,
) -> Result<ConsentDecision> {
    let purpose = change.purpose;
    let in_purpose = || {
        change
            .templates
            .iter()
            .copied()
            .filter(|t| t.purpose_ids.contains(&purpose.id))
    };
    let targets: Vec<&Template> = match change.attributes {
        None => in_purpose().collect(),
        Some([]) => {
            return Err(Error::invalid(
                "consentattributes must name at least one attribute",
            ))
        }
        Some(ids) if ids.len() > MAX_ATTRIBUTES_PER_PURPOSE => {
            return Err(Error::invalid(format!(
                "consentattributes names at most {MAX_ATTRIBUTES_PER_PURPOSE} attributes"
            )))
        }
        Some(ids) => ids
            .iter()
            .enumerate()
            // Each attribute once, however often it is named.
            .filter(|(i, raw)| !ids[..*i].contains(raw))
            .map(|(_, raw)| {
                in_purpose()
                    .find(|t| t.id.to_string() == *raw)
                    .ok_or_else(|| {
                        Error::not_found(format!("attribute {raw:?} not found in this purpose"))
                    })
            })
            .collect::<Result<_>>()?,
    };
    let event = EventType::for_consent(change.value);
    let mut decision = ConsentDecision {
        announce: record
            .listened
            .iter()
            .any(|e| e == event.as_str())
            .then_some(event),
        ..ConsentDecision::default()
    };
    let (mut seq, mut prev_hash) = (record.head_seq, record.head_hash.to_owned());
    for target in targets {
        let old = record
            .values
            .iter()
            .find(|(p, a, _)| *p == purpose.id && *a == target.id)
            .map(|(_, _, stored)| {
                versioned_status(Some(stored), purpose, change.published, now).consent
            });
        decision.values.push((
            purpose.id,
            target.id,
            StoredConsent {
                value: change.value,
                days: change.days,
                changed_at: now,
                version: change.wording.number,
            },
        ));
        seq += 1;
        let mut entry = HistoryEntry {
            id: new_id(),
            seq,
            organization_id: change.organization.to_string(),
            user_id: change.user.to_string(),
            consent_id: change.consent_id.to_string(),
            purpose_id: purpose.id.to_string(),
            attribute_id: target.id.to_string(),
            actor_id: change.actor_id.to_owned(),
            changed_by: change.changed_by,
            old_value: old,
            new_value: change.value,
            days: change.days,
            at: now,
            wording: Some(change.wording.clone()),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        prev_hash = entry.hash.clone();
        decision.history.push(entry);
    }
    Ok(decision)
}

// ---- What a change is decided against, and what it writes (the consent committer's
// batch hands these over; the store re-exports them) ----

/// Everything a consent read or change needs that changes per request, read in one
/// statement: the caller's account and session, their roles in the organisation, the
/// organisation's layout version, the record and its values.
#[derive(Debug, Clone)]
pub struct ConsentRead {
    pub caller_status: crate::identity::UserStatus,
    pub caller_is_platform_admin: bool,
    /// The revision of the caller's APIKey, if one is issued.
    pub caller_api_key: Option<i64>,
    pub session: Option<Session>,
    /// `None` when the organisation does not exist.
    pub layout_version: Option<i64>,
    /// The caller's roles in the organisation (Admin and Dpo are the ones a read needs).
    pub caller_roles: Vec<OrgRole>,
    pub consent_id: Option<ConsentId>,
    /// (purpose, attribute, value) of the record.
    pub values: Vec<(PurposeId, AttributeId, StoredConsent)>,
}

/// The head of an organisation's consent ledger: the last entry's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// What a change is decided against: the record and its reader as they stand inside the
/// batch (earlier changes of the same batch applied), and the organisation's chain head.
pub struct ConsentChangeState {
    /// `None` when the caller's account does not exist.
    pub read: Option<ConsentRead>,
    /// `None` when the organisation does not exist.
    pub head: Option<ChainHead>,
    /// The event types an enabled webhook of the organisation subscribes to, as of the
    /// batch: an event nobody listens to need not be queued.
    pub webhook_events: Vec<String>,
}

/// What a decided change writes. History entries must continue the chain head they were
/// decided against, in order.
#[derive(Debug, Clone)]
pub struct ConsentWrites {
    pub consent_id: ConsentId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    /// (purpose, attribute, value) set on the record.
    pub values: Vec<(PurposeId, AttributeId, StoredConsent)>,
    pub history: Vec<HistoryEntry>,
    pub outbox: Vec<OutboxEvent>,
}

// ---- The whole decision of one submitted change ----

/// How the caller stands towards one person's consents with one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAccess {
    Own,
    Admin,
    Dpo,
}

/// The one answer for a record the caller may not see or that does not exist.
pub fn consent_not_found() -> Error {
    Error::not_found("consent not found")
}

/// How the caller stands towards one person's record: their own, or an Admin's or Dpo's
/// of the organisation; 404 for anyone else.
pub fn consent_access(own: bool, standing: &OrgStanding) -> Result<ConsentAccess> {
    if own {
        Ok(ConsentAccess::Own)
    } else if standing.may(OrgAction::ChangeConsentsOfOthers) {
        Ok(ConsentAccess::Admin)
    } else if standing.may(OrgAction::ReadConsentsOfOthers) {
        Ok(ConsentAccess::Dpo)
    } else {
        Err(consent_not_found())
    }
}

/// A change as submitted to the consent committer: everything [`decide_request`] needs,
/// owned.
pub struct ChangeRequest {
    pub credential: Credential,
    pub organization: OrganizationId,
    pub user: UserId,
    pub consent: ConsentId,
    pub purpose: PurposeId,
    /// `None`: every attribute of the purpose.
    pub attributes: Option<Vec<String>>,
    pub value: ConsentValue,
    pub days: i64,
    /// `None` when the organisation was not found while preparing.
    pub layout: Option<Arc<OrgLayout>>,
    /// The trace of the request asking for it: the events it announces continue it.
    pub trace: Option<crate::webhook::TraceParent>,
}

/// Decides a consent change against the record as it stands in the committing
/// transaction: the caller's credential and standing (the same rules as a read) here,
/// then the consent rule itself ([`decide`]). Runs on the store's consent committer,
/// inside the batch's transaction: it only computes.
pub fn decide_request(
    req: &ChangeRequest,
    state: &ConsentChangeState,
    now: DateTime<Utc>,
    new_id: impl FnMut() -> String,
) -> Result<ConsentWrites> {
    let read = state
        .read
        .as_ref()
        .ok_or_else(|| crate::session::refused(&req.credential))?;
    crate::session::live(
        &req.credential,
        read.caller_status,
        read.caller_api_key,
        read.session.as_ref(),
        now,
    )?;
    read.layout_version.ok_or_else(consent_not_found)?;
    let standing = OrgStanding {
        roles: read.caller_roles.clone(),
        platform_admin: read.caller_is_platform_admin,
    };
    let access = consent_access(req.user == req.credential.user(), &standing)?;
    let consent = read.consent_id.ok_or_else(consent_not_found)?;
    if consent != req.consent {
        return Err(consent_not_found());
    }
    let changed_by = match access {
        ConsentAccess::Own => ChangedBy::Individual,
        ConsentAccess::Admin => ChangedBy::OrganisationAdmin,
        ConsentAccess::Dpo => {
            return Err(Error::Forbidden(
                "a Dpo reads consents but does not change them".into(),
            ))
        }
    };
    let layout = req.layout.as_deref().ok_or_else(consent_not_found)?;
    let purpose = layout
        .purposes
        .iter()
        .find(|p| p.id == req.purpose)
        .ok_or_else(|| Error::not_found("purpose not found"))?;
    let wording = layout
        .wording_of(purpose.id)
        .ok_or_else(|| Error::internal("a layout's purpose without its wording"))?;
    let templates: Vec<&Template> = layout.templates.iter().map(|t| &**t).collect();
    let published = |number| layout.published(purpose.id, number);
    let head = state.head.as_ref().ok_or_else(consent_not_found)?;
    let actor_id = req.credential.user().to_string();
    let decision = decide(
        &ConsentChange {
            organization: req.organization,
            user: req.user,
            consent_id: consent,
            purpose,
            wording,
            published: &published,
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
        new_id,
    )?;
    // Queued only when a webhook listens: fanning an event out to nobody costs a durable
    // write per change for nothing (docs/webhooks.md).
    let outbox = match decision.announce {
        Some(event) => decision
            .history
            .iter()
            .map(|entry| {
                OutboxEvent::new(
                    req.organization,
                    event,
                    &crate::webhook::consent_event_data(entry),
                    now,
                )
                .traced(req.trace.clone())
            })
            .collect(),
        None => vec![],
    };
    Ok(ConsentWrites {
        consent_id: consent,
        organization_id: req.organization,
        user_id: req.user,
        values: decision.values,
        history: decision.history,
        outbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::GENESIS;
    use crate::ledger::{check_value, ChainVerifier, CurrentValue, LedgerRow, RecordedValue};
    use crate::organization::LawfulBasis;
    use crate::SessionId;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    struct World {
        org: OrganizationId,
        consent: ConsentId,
        purpose: Purpose,
        templates: Vec<Template>,
        wording: VersionRef,
    }

    fn world(lawful_basis: LawfulBasis, attributes: usize) -> World {
        let org = OrganizationId::new();
        let purpose = Purpose {
            id: PurposeId::new(),
            organization_id: org,
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
            version: 1,
            outdated_consent: Default::default(),
        };
        let mut templates: Vec<Template> = (0..attributes)
            .map(|i| Template {
                id: AttributeId::new(),
                organization_id: org,
                consent: format!("A{i}"),
                purpose_ids: vec![purpose.id],
            })
            .collect();
        // One attribute of another purpose: never a candidate.
        templates.push(Template {
            id: AttributeId::new(),
            organization_id: org,
            consent: "Elsewhere".into(),
            purpose_ids: vec![PurposeId::new()],
        });
        World {
            org,
            consent: ConsentId::new(),
            wording: VersionRef::current(&purpose, &templates),
            purpose,
            templates,
        }
    }

    fn change<'a>(
        w: &'a World,
        templates: &'a [&'a Template],
        attributes: Option<&'a [String]>,
        value: ConsentValue,
        days: i64,
    ) -> ConsentChange<'a> {
        ConsentChange {
            organization: w.org,
            user: UserId::new(),
            consent_id: w.consent,
            purpose: &w.purpose,
            wording: &w.wording,
            published: &|_| None,
            templates,
            attributes,
            value,
            days,
            changed_by: ChangedBy::Individual,
            actor_id: "me",
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("h{n}")
        }
    }

    // ---- decide_request: the whole decision of a submitted change ----

    struct Submitted {
        request: ChangeRequest,
        state: ConsentChangeState,
    }

    /// The individual changes the whole purpose of their own record through an access
    /// token whose session is live; a webhook listens to `consent.allowed`.
    fn submitted() -> Submitted {
        let w = world(LawfulBasis::Consent, 2);
        let user = UserId::new();
        let session = SessionId::new();
        let layout = OrgLayout::new(
            3,
            crate::organization::Organization {
                id: w.org,
                ..crate::organization::Organization::new(t0())
            },
            String::new(),
            vec![Arc::new(w.purpose.clone())],
            w.templates.iter().cloned().map(Arc::new).collect(),
            vec![],
        );
        Submitted {
            request: ChangeRequest {
                credential: Credential::AccessToken { user, session },
                organization: w.org,
                user,
                consent: w.consent,
                purpose: w.purpose.id,
                attributes: None,
                value: ConsentValue::Allow,
                days: 0,
                layout: Some(Arc::new(layout)),
                trace: None,
            },
            state: ConsentChangeState {
                read: Some(ConsentRead {
                    caller_status: crate::identity::UserStatus::Enabled,
                    caller_is_platform_admin: false,
                    caller_api_key: None,
                    session: Some(Session {
                        id: session,
                        user_id: user,
                        client_id: "app".into(),
                        created_at: t0(),
                        expires_at: t0() + Duration::hours(1),
                        revoked_at: None,
                    }),
                    layout_version: Some(3),
                    caller_roles: vec![],
                    consent_id: Some(w.consent),
                    values: vec![],
                }),
                head: Some(ChainHead {
                    seq: 4,
                    hash: "head".into(),
                }),
                webhook_events: vec![EventType::ConsentAllowed.as_str().into()],
            },
        }
    }

    fn status(result: Result<ConsentWrites>) -> &'static str {
        match result {
            Ok(_) => "written",
            Err(Error::Unauthenticated(_)) => "401",
            Err(Error::Forbidden(_)) => "403",
            Err(Error::NotFound(_)) => "404",
            Err(_) => "other",
        }
    }

    #[test]
    fn the_individuals_change_writes_values_chained_entries_and_listened_events() {
        let s = submitted();
        let w = decide_request(&s.request, &s.state, t0(), ids()).unwrap();
        assert_eq!((w.values.len(), w.history.len(), w.outbox.len()), (2, 2, 2));
        assert_eq!(w.history[0].seq, 5);
        assert_eq!(w.history[0].prev_hash, "head");
        assert!(w
            .history
            .iter()
            .all(|e| e.changed_by == ChangedBy::Individual));
        assert!(w
            .outbox
            .iter()
            .all(|e| e.event_type == "consent.allowed" && e.created_at == t0()));
        let mut quiet = submitted();
        quiet.state.webhook_events.clear();
        let w = decide_request(&quiet.request, &quiet.state, t0(), ids()).unwrap();
        assert!(
            w.outbox.is_empty(),
            "an event nobody listens to is not queued"
        );
    }

    #[test]
    fn a_dead_credential_is_refused_before_anything_else() {
        let mut s = submitted();
        s.state
            .read
            .as_mut()
            .unwrap()
            .session
            .as_mut()
            .unwrap()
            .revoked_at = Some(t0());
        s.request.purpose = PurposeId::new(); // names nothing;
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "401"
        );
        let mut s = submitted();
        s.state.read = None; // the account is gone
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "401"
        );
        let s = submitted();
        let later = t0() + Duration::hours(2); // the session expired
        assert_eq!(
            status(decide_request(&s.request, &s.state, later, ids())),
            "401"
        );
    }

    #[test]
    fn others_change_a_record_only_as_its_organisations_admin() {
        let mut s = submitted();
        s.request.user = UserId::new(); // someone else's record
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "404"
        );
        s.state.read.as_mut().unwrap().caller_roles = vec![OrgRole::Dpo];
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "403"
        );
        s.state.read.as_mut().unwrap().caller_roles = vec![OrgRole::Admin];
        let w = decide_request(&s.request, &s.state, t0(), ids()).unwrap();
        assert!(w
            .history
            .iter()
            .all(|e| e.changed_by == ChangedBy::OrganisationAdmin));
    }

    #[test]
    fn an_unknown_record_purpose_or_organisation_is_not_found() {
        let mut s = submitted();
        s.request.consent = ConsentId::new();
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "404"
        );
        let mut s = submitted();
        s.request.purpose = PurposeId::new();
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "404"
        );
        let mut s = submitted();
        s.state.read.as_mut().unwrap().layout_version = None;
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "404"
        );
        let mut s = submitted();
        s.request.layout = None;
        assert_eq!(
            status(decide_request(&s.request, &s.state, t0(), ids())),
            "404"
        );
    }

    #[test]
    fn a_whole_purpose_changes_every_attribute_of_it_and_chains_after_the_head() {
        let w = world(LawfulBasis::Consent, 3);
        let templates: Vec<&Template> = w.templates.iter().collect();
        let record = RecordState {
            values: &[],
            head_seq: 7,
            head_hash: "prev",
            listened: &[],
        };
        let d = decide(
            &change(&w, &templates, None, ConsentValue::Allow, 0),
            &record,
            t0(),
            ids(),
        )
        .unwrap();
        assert_eq!(
            d.values.len(),
            3,
            "the purpose's three, not the other purpose's"
        );
        assert_eq!(
            d.history.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![8, 9, 10]
        );
        assert_eq!(d.history[0].prev_hash, "prev");
        assert_eq!(d.history[1].prev_hash, d.history[0].hash);
        assert!(d
            .history
            .iter()
            .all(|e| e.hash == e.compute_hash() && e.at == t0()));
        // Never set before: no old value (the read showed the default).
        assert!(d.history.iter().all(|e| e.old_value.is_none()));
        assert_eq!(d.announce, None, "nobody listens");
    }

    #[test]
    fn named_attributes_once_each_and_unknown_or_too_many_refused() {
        let w = world(LawfulBasis::Consent, 3);
        let templates: Vec<&Template> = w.templates.iter().collect();
        let record = RecordState {
            values: &[],
            head_seq: 0,
            head_hash: GENESIS,
            listened: &["consent.disallowed".to_owned()],
        };
        let a = w.templates[1].id.to_string();
        let twice = [a.clone(), a.clone()];
        let d = decide(
            &change(&w, &templates, Some(&twice), ConsentValue::Disallow, 0),
            &record,
            t0(),
            ids(),
        )
        .unwrap();
        assert_eq!(d.history.len(), 1);
        assert_eq!(d.announce, Some(EventType::ConsentDisallowed));
        let elsewhere = [w.templates[3].id.to_string()];
        let err = decide(
            &change(&w, &templates, Some(&elsewhere), ConsentValue::Allow, 0),
            &record,
            t0(),
            ids(),
        );
        assert!(matches!(err, Err(Error::NotFound(_))));
        let none: [String; 0] = [];
        assert!(decide(
            &change(&w, &templates, Some(&none), ConsentValue::Allow, 0),
            &record,
            t0(),
            ids()
        )
        .is_err());
        let many = vec![a; MAX_ATTRIBUTES_PER_PURPOSE + 1];
        assert!(decide(
            &change(&w, &templates, Some(&many), ConsentValue::Allow, 0),
            &record,
            t0(),
            ids()
        )
        .is_err());
    }

    #[test]
    fn the_old_value_is_what_the_record_read() {
        let w = world(LawfulBasis::Consent, 1);
        let templates: Vec<&Template> = w.templates.iter().collect();
        let target = w.templates[0].id;
        // Allowed for 1 day, two days ago: it reads Disallow now.
        let values = [(
            w.purpose.id,
            target,
            StoredConsent {
                value: ConsentValue::Allow,
                days: 1,
                changed_at: t0() - Duration::days(2),
                version: 1,
            },
        )];
        let record = RecordState {
            values: &values,
            head_seq: 1,
            head_hash: "h",
            listened: &[],
        };
        let d = decide(
            &change(&w, &templates, None, ConsentValue::AskMe, 0),
            &record,
            t0(),
            ids(),
        )
        .unwrap();
        assert_eq!(d.history[0].old_value, Some(ConsentValue::Disallow));
        // Still within its day: Allow.
        let d = decide(
            &change(&w, &templates, None, ConsentValue::AskMe, 0),
            &record,
            t0() - Duration::days(1) - Duration::hours(1),
            ids(),
        )
        .unwrap();
        assert_eq!(d.history[0].old_value, Some(ConsentValue::Allow));
    }

    /// A change, as the property generates it: which attributes (by index; empty: the whole
    /// purpose), the value, the days, and how much time passes before it.
    fn changes() -> impl Strategy<Value = Vec<(Vec<usize>, u8, i64, i64)>> {
        prop::collection::vec(
            (
                prop::collection::vec(0usize..5, 0..4),
                0u8..3,
                prop_oneof![Just(0i64), 1i64..30],
                0i64..100_000,
            ),
            1..40,
        )
    }

    proptest! {
        /// Any sequence of changes yields one gap-free chain, and every value on the record
        /// is what its latest entry recorded.
        #[test]
        fn any_sequence_of_changes_keeps_one_chain_that_matches_the_values(seq in changes()) {
            let w = world(LawfulBasis::Consent, 5);
            let templates: Vec<&Template> = w.templates.iter().collect();
            let mut values: Vec<(PurposeId, AttributeId, StoredConsent)> = vec![];
            let mut chain: Vec<HistoryEntry> = vec![];
            let (mut head_seq, mut head_hash) = (0, GENESIS.to_owned());
            let mut now = t0();
            let mut next = ids();
            for (picked, value, days, wait) in seq {
                now += Duration::seconds(wait);
                let named: Vec<String> = picked.iter().map(|i| w.templates[*i].id.to_string()).collect();
                let value = [ConsentValue::Allow, ConsentValue::Disallow, ConsentValue::AskMe][value as usize];
                let record = RecordState { values: &values, head_seq, head_hash: &head_hash, listened: &[] };
                let attributes = (!named.is_empty()).then_some(named.as_slice());
                let d = decide(&change(&w, &templates, attributes, value, days), &record, now, &mut next).unwrap();
                for (p, a, stored) in d.values {
                    values.retain(|(vp, va, _)| !(*vp == p && *va == a));
                    values.push((p, a, stored));
                }
                if let Some(last) = d.history.last() {
                    head_seq = last.seq;
                    head_hash = last.hash.clone();
                }
                chain.extend(d.history);
            }
            let mut verifier = ChainVerifier::new(&[]);
            for e in &chain {
                prop_assert!(verifier.feed(&LedgerRow::Entry(Box::new(e.clone()))));
            }
            let verdict = verifier.finish(Some((head_seq, head_hash)), chain.last().map(|e| e.seq));
            prop_assert_eq!(verdict.problem, None);
            for (p, a, stored) in &values {
                let latest = chain.iter().rev().find(|e| e.purpose_id == p.to_string() && e.attribute_id == a.to_string());
                let current = CurrentValue {
                    consent_id: "c1".into(),
                    purpose_id: p.to_string(),
                    attribute_id: a.to_string(),
                    value: stored.value.as_str().into(),
                    days: stored.days,
                    changed_at: stored.changed_at,
                    version: stored.version,
                    recorded: latest.map(|e| RecordedValue { seq: e.seq, value: e.new_value.as_str().into(), days: e.days, at: e.at, version: e.wording.as_ref().map(|w| w.number) }),
                };
                prop_assert_eq!(check_value(&current), None);
            }
        }
    }
}
