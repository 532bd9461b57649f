//! Data-subject requests (docs/data-rights.md): a person asks an organisation for a copy
//! of their data or for its erasure, sees where it stands and may cancel it while open;
//! the organisation's Admin and Dpo see the queue and answer, and the person is told of
//! every step (a notification and a mail); opening, cancelling and the answer are
//! webhook events.

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::data_request::{DataRequest, DataRequestKind, DataRequestState};
use accord_domain::identity::User;
use accord_domain::organization::Organization;
use accord_domain::webhook::{EventType, Notification};
use accord_domain::{DataRequestId, Error, OrganizationId, Result, UserId};
use accord_store::{HistoryFilter, Mode, RequestsFilter, Tx};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::mail::{Letter, OutgoingMail};
use super::paging::page_limit;
use super::{Actor, Services};
use crate::i18n::Texts;
use fluent_templates::fluent_bundle::FluentValue;

/// A request with the name of the person who made it.
#[derive(Debug, Clone)]
pub struct DataRequestView {
    pub request: DataRequest,
    /// The person's name, else their address (iGrant.io's `UserName`).
    pub user_name: String,
    pub overdue: bool,
}

/// A page of requests, newest first.
pub struct DataRequestPage {
    pub requests: Vec<DataRequestView>,
    /// The `startid` of the next page, when more follow.
    pub next: Option<DataRequestId>,
    /// The person's open requests (for the person's own list; empty for an organisation's).
    pub open: Vec<DataRequest>,
}

/// Who the `/users/{userID}/…` form names: the caller, or nobody (404).
pub(super) fn the_caller(actor: &Actor, named: Option<&str>) -> Result<UserId> {
    let me = actor.user()?.user_id;
    match named {
        None => Ok(me),
        Some(raw) if raw.parse::<UserId>().ok() == Some(me) => Ok(me),
        Some(_) => Err(Error::not_found("user not found")),
    }
}

fn display_name(user: Option<&User>) -> String {
    match user {
        Some(u) if !u.name.trim().is_empty() => u.name.clone(),
        Some(u) => u
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// The person's name as the organisation's queue shows it: while the request is open or
/// they are subscribed. Once they have left (or were erased) a closed request is kept
/// under their opaque ID alone.
async fn name_for_organization(tx: &mut dyn Tx, request: &DataRequest) -> Result<String> {
    if !request.state.is_open()
        && !tx
            .is_subscribed(request.organization_id, request.user_id)
            .await?
    {
        return Ok(String::new());
    }
    Ok(display_name(tx.user_by_id(request.user_id).await?.as_ref()))
}

fn start_id(start: Option<&str>) -> Result<Option<DataRequestId>> {
    start
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| Error::invalid("startid is not a data request ID"))
        })
        .transpose()
}

impl Services {
    /// The organisation, if the person has (or had) a relationship with it: a
    /// subscription now, or consents recorded with it. Anyone else's request would be
    /// noise in the organisation's queue about data it does not hold. Reading their
    /// requests (`with_requests`) also needs only that they made one there: an erasure
    /// ends the relationship, not the person's view of how it was answered.
    async fn organization_of_mine(
        &self,
        tx: &mut dyn Tx,
        me: UserId,
        org: OrganizationId,
        with_requests: bool,
    ) -> Result<Organization> {
        let not_found = || Error::not_found("organisation not found");
        let org = tx.organization_by_id(org).await?.ok_or_else(not_found)?;
        if tx.is_subscribed(org.id, me).await? {
            return Ok(org);
        }
        if with_requests && !tx.data_requests_of(me, org.id, None, 1).await?.is_empty() {
            return Ok(org);
        }
        let history = tx
            .history(&HistoryFilter {
                user: Some(me),
                organization: Some(org.id),
                purpose: None,
                from: None,
                until: None,
                before: None,
                limit: 1,
            })
            .await?;
        if history.is_empty() {
            return Err(not_found());
        }
        Ok(org)
    }

    /// `POST …/data-download`, `POST …/data-delete`: one open request of a kind at a time.
    pub async fn open_data_request(
        &self,
        actor: &Actor,
        named: Option<&str>,
        org: OrganizationId,
        kind: DataRequestKind,
    ) -> Result<DataRequestView> {
        let me = the_caller(actor, named)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let org = self
            .organization_of_mine(tx.as_mut(), me, org, false)
            .await?;
        let open = tx.open_data_requests_of(me, org.id).await?;
        let request =
            DataRequest::open(org.id, me, kind, open.iter().any(|r| r.kind == kind), now)?;
        // Two requests racing past the check meet the database's own rule.
        tx.insert_data_request(&request)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::invalid(format!(
                    "a request to {} your data is already open with this organisation",
                    kind.word()
                )),
                other => other,
            })?;
        self.announce(tx.as_mut(), &request, now).await?;
        self.committed_own(tx, me, request).await
    }

    /// `POST …/data-download/{id}/cancel`: the person's own open request of that kind.
    pub async fn cancel_data_request(
        &self,
        actor: &Actor,
        named: Option<&str>,
        org: OrganizationId,
        kind: DataRequestKind,
        id: DataRequestId,
    ) -> Result<DataRequestView> {
        let me = the_caller(actor, named)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let mut request = tx
            .data_request_by_id(id)
            .await?
            .filter(|r| r.user_id == me && r.organization_id == org && r.kind == kind)
            .ok_or_else(|| Error::not_found("data request not found"))?;
        let was = request.state;
        request.cancel(now)?;
        if !tx.update_data_request(&request, was).await? {
            return Err(moved_meanwhile());
        }
        self.announce(tx.as_mut(), &request, now).await?;
        self.committed_own(tx, me, request).await
    }

    /// `GET …/data-download/status`: the person's open request of that kind, if any.
    pub async fn data_request_status(
        &self,
        actor: &Actor,
        named: Option<&str>,
        org: OrganizationId,
        kind: DataRequestKind,
    ) -> Result<Option<DataRequest>> {
        let me = the_caller(actor, named)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let org = self
            .organization_of_mine(tx.as_mut(), me, org, true)
            .await?;
        let open = tx.open_data_requests_of(me, org.id).await?;
        tx.commit().await?;
        Ok(open.into_iter().find(|r| r.kind == kind))
    }

    /// `GET …/data-status` (every kind) and `GET …/data-download` (one kind): the person's
    /// requests with the organisation, newest first.
    pub async fn my_data_requests(
        &self,
        actor: &Actor,
        named: Option<&str>,
        org: OrganizationId,
        kind: Option<DataRequestKind>,
        start: Option<&str>,
        limit: Option<i64>,
    ) -> Result<DataRequestPage> {
        let me = the_caller(actor, named)?;
        let limit = page_limit(limit)?;
        let before = start_id(start)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let org = self
            .organization_of_mine(tx.as_mut(), me, org, true)
            .await?;
        let user = tx.user_by_id(me).await?;
        let open = tx.open_data_requests_of(me, org.id).await?;
        // Read one more than the page to know whether another follows; a kind filter is
        // applied to what is read, page by page.
        let mut requests = vec![];
        let mut cursor = before;
        let mut more = false;
        loop {
            let batch = tx.data_requests_of(me, org.id, cursor, limit + 1).await?;
            let exhausted = batch.len() as i64 <= limit;
            cursor = batch.last().map(|r| r.id);
            for r in batch
                .into_iter()
                .filter(|r| kind.is_none_or(|k| r.kind == k))
            {
                if requests.len() as i64 == limit {
                    more = true;
                    break;
                }
                requests.push(r);
            }
            if more || exhausted {
                break;
            }
        }
        tx.commit().await?;
        let name = display_name(user.as_ref());
        let next = more.then(|| requests.last().map(|r| r.id)).flatten();
        Ok(DataRequestPage {
            requests: requests
                .into_iter()
                .map(|request| DataRequestView {
                    user_name: name.clone(),
                    overdue: request.is_overdue(now),
                    request,
                })
                .collect(),
            next,
            open,
        })
    }

    /// `GET /v1/organizations/{orgID}/data-requests`: the queue (Admin, Dpo).
    pub async fn organization_data_requests(
        &self,
        actor: &Actor,
        org: OrganizationId,
        filter: RequestsFilter,
        start: Option<&str>,
        limit: Option<i64>,
    ) -> Result<DataRequestPage> {
        let limit = page_limit(limit)?;
        let before = start_id(start)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_answerer(&standing)?;
        let mut requests = tx
            .organization_data_requests(org.id, filter, before, limit + 1)
            .await?;
        let more = requests.len() as i64 > limit;
        requests.truncate(limit as usize);
        let mut views = Vec::with_capacity(requests.len());
        for request in requests {
            views.push(DataRequestView {
                user_name: name_for_organization(tx.as_mut(), &request).await?,
                overdue: request.is_overdue(now),
                request,
            });
        }
        tx.commit().await?;
        let next = more.then(|| views.last().map(|v| v.request.id)).flatten();
        Ok(DataRequestPage {
            requests: views,
            next,
            open: vec![],
        })
    }

    /// `GET /v1/organizations/{orgID}/data-requests/{dataReqID}` (Admin, Dpo).
    pub async fn organization_data_request(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: DataRequestId,
    ) -> Result<DataRequestView> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_answerer(&standing)?;
        let request = tx
            .data_request_by_id(id)
            .await?
            .filter(|r| r.organization_id == org.id)
            .ok_or_else(|| Error::not_found("data request not found"))?;
        let user_name = name_for_organization(tx.as_mut(), &request).await?;
        tx.commit().await?;
        Ok(DataRequestView {
            user_name,
            overdue: request.is_overdue(self.clock.now()),
            request,
        })
    }

    /// `PATCH /v1/organizations/{orgID}/data-requests/{dataReqID}`: the next step, with a
    /// comment the person reads (Admin, Dpo).
    pub async fn answer_data_request(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: DataRequestId,
        state: i64,
        comment: &str,
    ) -> Result<DataRequestView> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_answerer(&standing)?;
        let mut request = tx
            .data_request_by_id(id)
            .await?
            .filter(|r| r.organization_id == org.id)
            .ok_or_else(|| Error::not_found("data request not found"))?;
        let was = request.state;
        request.advance(state, comment, now)?;
        // Only from the state read: a cancel that came first is never overridden by an
        // erasure the person withdrew.
        if !tx.update_data_request(&request, was).await? {
            return Err(moved_meanwhile());
        }
        if request.erases() {
            self.erase_at(tx.as_mut(), org.id, request.user_id, now)
                .await?;
        }
        self.announce(tx.as_mut(), &request, now).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "data request",
            &me.user_id.to_string(),
            &format!(
                "moved data request {} ({}) to: {}",
                request.id,
                request.kind.label(),
                request.state.label()
            ),
        )
        .await?;
        let user = tx.user_by_id(request.user_id).await?;
        let mail = self
            .tell_the_person(tx.as_mut(), &org, &request, user.as_ref(), now)
            .await?;
        let user_name = name_for_organization(tx.as_mut(), &request).await?;
        tx.commit().await?;
        self.work.notify_one();
        self.mail_in_background(mail);
        Ok(DataRequestView {
            user_name,
            overdue: request.is_overdue(now),
            request,
        })
    }

    /// Erasure (docs/data-rights.md, "Erasure"): the subscription, the consent record
    /// and its values, and the organisation's open offers to the person go. The ledger,
    /// the requests and the action log keep opaque IDs only: the organisation's proof
    /// that it had consent and that it answered.
    async fn erase_at(
        &self,
        tx: &mut dyn Tx,
        org: OrganizationId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        // The chain head first, as a consent change takes it (see `unsubscribe_user`).
        tx.lock_chain_head(org).await?;
        let was_subscribed = tx.unsubscribe(org, user).await?;
        tx.delete_consent_record(org, user).await?;
        tx.withdraw_offers(org, user).await?;
        if was_subscribed {
            let data = json!({"organisationID": org.to_string(), "userID": user.to_string(), "timestamp": now.to_rfc3339()});
            super::events::emit(tx, org, EventType::OrgUnsubscribed, data, now).await?;
        }
        Ok(())
    }

    /// Commits the person's step on their own request and answers it, with their name.
    async fn committed_own(
        &self,
        mut tx: Box<dyn Tx>,
        me: UserId,
        request: DataRequest,
    ) -> Result<DataRequestView> {
        let user = tx.user_by_id(me).await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(DataRequestView {
            user_name: display_name(user.as_ref()),
            overdue: false,
            request,
        })
    }

    /// The webhook event of a step, when it has one (queued with the step).
    async fn announce(
        &self,
        tx: &mut dyn Tx,
        request: &DataRequest,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let Some(event) = EventType::for_data_request(request.kind, request.state) else {
            return Ok(());
        };
        let data = json!({
            "organisationID": request.organization_id.to_string(),
            "userID": request.user_id.to_string(),
            "dataRequestID": request.id.to_string(),
            "state": request.state.id(),
            "stateStr": request.state.label(),
        });
        super::events::emit(tx, request.organization_id, event, data, now).await
    }

    /// The organisation's step, told to the person: a notification, and a mail (a few per
    /// address and window at most).
    async fn tell_the_person(
        &self,
        tx: &mut dyn Tx,
        org: &Organization,
        request: &DataRequest,
        user: Option<&User>,
        now: DateTime<Utc>,
    ) -> Result<Option<OutgoingMail>> {
        let Some(user) = user else { return Ok(None) };
        let mut message = format!(
            "{}: your request to {} your data: {}",
            org.name,
            request.kind.word(),
            request.state.label().to_lowercase()
        );
        if !request.comment.is_empty() {
            message.push_str(&format!(" ({})", request.comment));
        }
        tx.insert_notification(&Notification::message(
            user.id,
            org.id,
            format!("data.{}.{}", request.kind.word(), step_word(request.state)),
            message.clone(),
            now,
        ))
        .await?;
        let Some(to) = &user.email else {
            return Ok(None);
        };
        if !self
            .mail_allowed(tx, &format!("data-request:{}", to.key()), now)
            .await?
        {
            return Ok(None);
        }
        let t = Texts::of(user.language);
        let organisation = ("organisation", FluentValue::from(org.name.clone()));
        let state = match request.state {
            DataRequestState::ProcessedWithoutAction => "processed-without-action",
            other => step_word(other),
        };
        let said = t.with_args(
            match request.kind {
                DataRequestKind::Download => "mail-data-request-download",
                DataRequestKind::Delete => "mail-data-request-delete",
            },
            &[organisation.clone(), ("state", state.into())],
        );
        let mut letter =
            Letter::titled(t, t.with_args("mail-data-request-subject", &[organisation])).say(said);
        if !request.comment.is_empty() {
            letter =
                letter.say(t.with("mail-data-request-comment", "what", request.comment.clone()));
        }
        let dates = t.with_args(
            "mail-data-request-dates",
            &[
                (
                    "date",
                    request.requested_at.format("%Y-%m-%d").to_string().into(),
                ),
                (
                    "due",
                    request.due_at().format("%Y-%m-%d").to_string().into(),
                ),
            ],
        );
        Ok(Some(letter.close(dates).to(to.as_str(), vec![])))
    }
}

fn step_word(state: DataRequestState) -> &'static str {
    match state {
        DataRequestState::Initiated => "initiated",
        DataRequestState::Acknowledged => "acknowledged",
        DataRequestState::ProcessedWithAction | DataRequestState::ProcessedWithoutAction => {
            "processed"
        }
        DataRequestState::CancelledByUser => "cancelled",
    }
}

fn moved_meanwhile() -> Error {
    Error::Conflict("the request changed meanwhile: read it again".into())
}

fn require_answerer(standing: &OrgStanding) -> Result<()> {
    if standing.may(OrgAction::AnswerDataRequests) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the organisation's Admin and Dpo see and answer data requests".into(),
        ))
    }
}
