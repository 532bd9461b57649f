//! Webhooks and the background work behind them.
//!
//! Every change that announces an event writes an `outbox` row in its own unit of work,
//! so an event is never lost nor sent for a change that rolled back. Workers on every
//! node then: fan outbox rows out into one delivery per subscribed webhook; deliver due
//! deliveries under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL: one node per
//! delivery), signed, with retries and exponential backoff; and record the expiry of
//! time-limited consents once (history entry and `consent.expired`).

use accord_domain::address::is_special_purpose;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use accord_domain::access::OrgAction;
use accord_domain::consent::{ChangedBy, ConsentValue, HistoryEntry};
use accord_domain::organization::parse_http_url;
use accord_domain::webhook::{Delivery, DeliveryStatus, EventType, TraceParent, Webhook};
use accord_domain::{DeliveryId, Error, OrganizationId, OutboxEventId, Result, WebhookId};
use accord_store::{Mode, Tx};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tracing::Instrument as _;

use super::tokens::random_secret;
use super::{Actor, Services};

pub struct WebhookInput {
    pub payload_url: String,
    pub events: Vec<String>,
    pub content_type: String,
    pub secret_key: Option<String>,
    pub disabled: bool,
    pub skip_ssl_verification: bool,
}

const CONTENT_TYPE: &str = "application/json";
/// One attempt, connection included, must be answered within this.
const DELIVERY_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const CONNECT_TIMEOUT: StdDuration = StdDuration::from_secs(3);
/// A delivery's lease, renewed every third of it while the attempt is in flight.
const LEASE: i64 = 60;
/// Deliveries in flight per node, and per organisation (across nodes, counted by leases):
/// one organisation's slow receivers take a few places, never everyone's.
pub(crate) const DELIVERIES_IN_FLIGHT: usize = 32;
const DELIVERIES_PER_ORGANIZATION: i64 = 4;
/// Outbox events fanned out per unit of work.
const OUTBOX_ROUND: i64 = 500;
/// How long a woken worker lets a burst's events gather before its round.
const OUTBOX_GATHER: StdDuration = StdDuration::from_millis(100);

/// `X-Accord-Signature: t=<unix>,sig=<hex HMAC-SHA256(secret, t + "." + body)>`
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},sig={sig}")
}

impl Services {
    async fn webhook_org(
        &self,
        tx: &mut dyn Tx,
        actor: &Actor,
        org: OrganizationId,
    ) -> Result<OrganizationId> {
        let (org, standing, _) = self.standing_in(tx, actor, org).await?;
        if !standing.may(OrgAction::Configure) {
            return Err(Error::Forbidden(
                "only the organisation's Admin manages its webhooks".into(),
            ));
        }
        Ok(org.id)
    }

    fn webhook_from(
        &self,
        org: OrganizationId,
        id: WebhookId,
        input: WebhookInput,
        existing_secret: Option<String>,
    ) -> Result<Webhook> {
        let payload_url = parse_http_url("PayloadURL", &input.payload_url)?;
        if input.events.is_empty() {
            return Err(Error::invalid(
                "SubscribedEvents must name at least one event type",
            ));
        }
        let mut events = vec![];
        for e in &input.events {
            let e = EventType::parse(e)?;
            if !events.contains(&e) {
                events.push(e);
            }
        }
        let content_type = if input.content_type.trim().is_empty() {
            CONTENT_TYPE.to_owned()
        } else {
            input.content_type.trim().to_owned()
        };
        if content_type != CONTENT_TYPE {
            return Err(Error::invalid("ContentType must be application/json"));
        }
        let secret_key = match input.secret_key.filter(|s| !s.is_empty()) {
            Some(s) if s.len() > 256 => {
                return Err(Error::invalid("SecretKey must be at most 256 bytes"))
            }
            Some(s) => s,
            None => existing_secret.unwrap_or_else(random_secret),
        };
        Ok(Webhook {
            id,
            organization_id: org,
            payload_url,
            events,
            content_type,
            secret_key,
            disabled: input.disabled,
            skip_ssl_verification: input.skip_ssl_verification,
            created_at: self.clock.now(),
            // New settings start with a clean bill of health (re-enabling starts afresh).
            consecutive_failures: 0,
            backoff_until: None,
        })
    }

    pub async fn webhooks(&self, actor: &Actor, org: OrganizationId) -> Result<Vec<Webhook>> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let org = self.webhook_org(tx.as_mut(), actor, org).await?;
        let hooks = tx.webhooks_of(org).await?;
        tx.commit().await?;
        Ok(hooks)
    }

    pub async fn webhook(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
    ) -> Result<Webhook> {
        self.webhooks(actor, org)
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| Error::not_found("webhook not found"))
    }

    /// Creates a webhook; without `SecretKey` one is generated (and shown this once).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        org: OrganizationId,
        input: WebhookInput,
    ) -> Result<Webhook> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let org = self.webhook_org(tx.as_mut(), actor, org).await?;
        let me = actor.user()?.user_id.to_string();
        let w = self.webhook_from(org, WebhookId::new(), input, None)?;
        tx.insert_webhook(&w).await?;
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &me,
            &format!("created webhook {}", w.id),
        )
        .await?;
        tx.commit().await?;
        Ok(w)
    }

    /// Replaces a webhook's settings; an empty `SecretKey` keeps the current one.
    pub async fn replace_webhook(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
        input: WebhookInput,
    ) -> Result<Webhook> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let org = self.webhook_org(tx.as_mut(), actor, org).await?;
        let me = actor.user()?.user_id.to_string();
        let existing = tx
            .webhooks_of(org)
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| Error::not_found("webhook not found"))?;
        let mut w = self.webhook_from(org, existing.id, input, Some(existing.secret_key))?;
        w.created_at = existing.created_at;
        tx.update_webhook(&w).await?;
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &me,
            &format!("replaced webhook {}", w.id),
        )
        .await?;
        tx.commit().await?;
        Ok(w)
    }

    pub async fn delete_webhook(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
    ) -> Result<()> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let org = self.webhook_org(tx.as_mut(), actor, org).await?;
        let me = actor.user()?.user_id.to_string();
        if !tx.delete_webhook(org, id).await? {
            return Err(Error::not_found("webhook not found"));
        }
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &me,
            &format!("deleted webhook {id}"),
        )
        .await?;
        tx.commit().await
    }

    /// Sends a `ping` event now and answers with the attempt's outcome.
    pub async fn ping_webhook(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
    ) -> Result<Delivery> {
        let w = self.webhook(actor, org, id).await?;
        let now = self.clock.now();
        let mut d = new_delivery(
            &w,
            None,
            "ping",
            json!({"message": "ping from Accord"}),
            now,
            crate::telemetry::current_trace(),
        );
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.insert_delivery(&d).await?;
        tx.commit().await?;
        self.attempt(&w, &mut d).await;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.save_delivery(&d).await?;
        let what = format!("pinged webhook {}: {}", w.id, d.status.as_str());
        self.log_action(
            tx.as_mut(),
            w.organization_id,
            "webhook_delivery",
            &actor.user()?.user_id.to_string(),
            &what,
        )
        .await?;
        tx.commit().await?;
        Ok(d)
    }

    pub async fn webhook_deliveries(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
        limit: Option<i64>,
        before: Option<&str>,
    ) -> Result<Vec<Delivery>> {
        let w = self.webhook(actor, org, id).await?;
        let limit = super::paging::page_limit(limit)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let list = tx
            .deliveries_of(w.id, before.filter(|b| !b.is_empty()), limit)
            .await?;
        tx.commit().await?;
        Ok(list)
    }

    pub async fn webhook_delivery(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> Result<Delivery> {
        let w = self.webhook(actor, org, id).await?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let d = tx
            .delivery_by_id(w.id, delivery)
            .await?
            .ok_or_else(|| Error::not_found("delivery not found"))?;
        tx.commit().await?;
        Ok(d)
    }

    /// Queues a delivery again, now (whatever became of it before).
    pub async fn redeliver(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: WebhookId,
        delivery: DeliveryId,
    ) -> Result<Delivery> {
        let mut d = self.webhook_delivery(actor, org, id, delivery).await?;
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.save_delivery(&d).await?;
        tx.commit().await?;
        self.work.notify_one();
        Ok(d)
    }

    // ---- background work ----

    /// Starts this node's workers. Asked to stop ([`Services::begin_shutdown`]), they end
    /// after the round they are in: each round's units of work commit whole or not at all.
    pub fn start_workers(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        let mut stop = self.stopping.subscribe();
        tokio::spawn(async move {
            let interval = this.config.worker_interval;
            let mut last_full: Option<std::time::Instant> = None;
            while !*stop.borrow_and_update() {
                // Everything once per interval; in between, woken by a unit of work,
                // only the outbox (a sweep per consent change would be a write each).
                let full = last_full.is_none_or(|t| t.elapsed() >= interval);
                let done = if full {
                    last_full = Some(std::time::Instant::now());
                    this.run_once().await
                } else {
                    this.run_outbox().await
                };
                if let Err(e) = done {
                    tracing::warn!(error = ?e, "background work failed; retrying");
                }
                tokio::select! {
                    woken = tokio::time::timeout(interval, this.work.notified()) => {
                        if woken.is_ok() {
                            // Let the events of a burst gather: one round (one commit) for many.
                            tokio::time::sleep(OUTBOX_GATHER).await;
                        }
                    }
                    _ = stop.changed() => {}
                }
            }
            tracing::info!("background workers stopped");
        })
    }

    /// The server is stopping: readiness answers 503 from now, and the workers end after
    /// their current round.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// One round of every kind of background work (and housekeeping); what it finds, it does.
    pub async fn run_once(self: &Arc<Self>) -> Result<()> {
        // Argon2 buffers (19 MiB each) are not kept through a quiet spell.
        self.passwords
            .release_if_idle(std::time::Duration::from_secs(30));
        // Keys another node rotated in or retired (docs/operations.md, "Keys").
        let (store, now) = (self.store.as_ref(), self.clock.now());
        if let Err(e) = self
            .tokens
            .refresh(store, now, super::tokens::KEY_RELOAD)
            .await
        {
            tracing::warn!(error = ?e, "signing keys not reloaded");
        }
        self.sweep_expired_consents().await?;
        self.ask_again().await?;
        self.sweep_if_due().await?;
        self.run_outbox().await
    }

    /// Fans the outbox's events out to webhooks and delivers what is due.
    async fn run_outbox(self: &Arc<Self>) -> Result<()> {
        while self.fan_out().await? > 0 {}
        while self.deliver_due().await? > 0 {}
        Ok(())
    }

    async fn fan_out(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let events = tx.claim_outbox(OUTBOX_ROUND).await?;
        let mut hooks: HashMap<OrganizationId, Vec<Webhook>> = HashMap::new();
        for e in &events {
            let org = e.organization_id;
            if let std::collections::hash_map::Entry::Vacant(v) = hooks.entry(org) {
                v.insert(tx.webhooks_of(org).await?);
            }
            let subscribed = hooks[&org]
                .iter()
                .filter(|w| !w.disabled && w.events.iter().any(|t| t.as_str() == e.event_type));
            let mut data = None;
            for w in subscribed {
                let data = data.get_or_insert_with(|| {
                    serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null)
                });
                tx.insert_delivery(&new_delivery(
                    w,
                    Some(e.id),
                    &e.event_type,
                    data.clone(),
                    now,
                    e.trace.clone(),
                ))
                .await?;
            }
        }
        let ids: Vec<OutboxEventId> = events.iter().map(|e| e.id).collect();
        tx.mark_outbox_processed(&ids, now).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    /// Claims what is due, fairly (at most a few in flight per organisation), and sends
    /// each in its own task while this node has places free; the count claimed.
    async fn deliver_due(self: &Arc<Self>) -> Result<usize> {
        let free = self.deliveries_in_flight.available_permits().min(20);
        if free == 0 {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let due = tx
            .claim_deliveries(
                now,
                now + Duration::seconds(LEASE),
                free as i64,
                DELIVERIES_PER_ORGANIZATION,
            )
            .await?;
        tx.commit().await?;
        let count = due.len();
        for d in due {
            let Ok(place) = Arc::clone(&self.deliveries_in_flight).try_acquire_owned() else {
                break; // the lease lapses and the delivery is claimed again
            };
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let id = d.id;
                if let Err(e) = this.deliver(d).await {
                    tracing::warn!(delivery = %id, error = ?e, "delivery not recorded; it will be retried");
                }
                drop(place);
                this.work.notify_one();
            });
        }
        Ok(count)
    }

    /// One claimed delivery: sent (its lease renewed while the attempt is in flight, so no
    /// other node sends it again meanwhile), its outcome and the endpoint's health recorded.
    async fn deliver(&self, mut d: Delivery) -> Result<()> {
        let mut tx = self.store.begin(Mode::Read).await?;
        let hook = tx
            .webhooks_of(d.organization_id)
            .await?
            .into_iter()
            .find(|w| w.id == d.webhook_id);
        tx.commit().await?;
        match hook {
            Some(w) if !w.disabled => {
                let id = d.id;
                let attempt = self.attempt(&w, &mut d);
                tokio::pin!(attempt);
                let mut renew = tokio::time::interval(StdDuration::from_secs(LEASE as u64 / 3));
                renew.tick().await; // the first tick is immediate
                loop {
                    tokio::select! {
                        () = &mut attempt => break,
                        _ = renew.tick() => {
                            let mut tx = self.store.begin(Mode::Write).await?;
                            let until = self.clock.now() + Duration::seconds(LEASE);
                            tx.renew_delivery_lease(id, until).await?;
                            tx.commit().await?;
                        }
                    }
                }
            }
            _ => {
                d.failed(self.clock.now(), None, "webhook disabled or deleted".into());
                self.metrics.delivery_attempted(
                    crate::metrics::DeliveryOutcome::dropped,
                    d.status == DeliveryStatus::Failed,
                );
            }
        }
        let what = format!(
            "delivered {} to webhook {}: {} (attempt {})",
            d.event_type,
            d.webhook_id,
            d.status.as_str(),
            d.attempts
        );
        // The organisation's log first, its delivery after: the order a deletion of the
        // organisation takes its rows in, so the two cannot deadlock.
        let mut tx = self.store.begin(Mode::Write).await?;
        self.log_action(
            tx.as_mut(),
            d.organization_id,
            "webhook_delivery",
            "",
            &what,
        )
        .await?;
        tx.save_delivery(&d).await?;
        tx.commit().await
    }

    /// One HTTP attempt; the outcome is written into `d`, and into the endpoint's health
    /// (a failure backs it off; at the threshold it is disabled, logged for its Admin).
    async fn attempt(&self, w: &Webhook, d: &mut Delivery) {
        use crate::metrics::DeliveryOutcome;
        let now = self.clock.now();
        // Part of the trace of the change it announces (or of the ping that asked for it).
        let span = tracing::info_span!("webhook delivery", webhook = %w.id, delivery = %d.id, event = %d.event_type);
        crate::telemetry::continue_kept_trace(&span, d.trace.as_ref());
        let sent = self.post(w, &d.body, &d.event_type, d.id, &span);
        let outcome = match sent.instrument(span.clone()).await {
            Ok(code) if (200..300).contains(&code) => {
                d.delivered(now, code.into());
                DeliveryOutcome::delivered
            }
            Ok(code) => {
                d.failed(
                    now,
                    Some(code.into()),
                    format!("the receiver answered {code}"),
                );
                DeliveryOutcome::rejected
            }
            Err(e) => {
                d.failed(now, None, e);
                DeliveryOutcome::unreachable
            }
        };
        self.metrics
            .delivery_attempted(outcome, d.status == DeliveryStatus::Failed);
        tracing::info!(webhook = %w.id, delivery = %d.id, event = %d.event_type, status = d.status.as_str(), attempts = d.attempts, "webhook delivery");
        let ok = d.status == DeliveryStatus::Delivered;
        if let Err(e) = self.record_endpoint_health(w.id, ok, &d.last_error).await {
            tracing::warn!(webhook = %w.id, error = ?e, "endpoint health not recorded");
        }
    }

    async fn record_endpoint_health(
        &self,
        webhook: WebhookId,
        ok: bool,
        error: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let Some(mut w) = tx.lock_webhook(webhook).await? else {
            return tx.commit().await;
        };
        if ok {
            if w.consecutive_failures == 0 {
                return tx.commit().await;
            }
            w.attempt_succeeded();
        } else if w.attempt_failed(now) {
            tracing::warn!(webhook = %w.id, organization = %w.organization_id, failures = w.consecutive_failures, "webhook disabled: its endpoint keeps failing");
            let what = format!(
                "disabled webhook {} after {} failed attempts in a row (last: {error}); \
                 re-enable it once its receiver answers",
                w.id, w.consecutive_failures
            );
            self.log_action(tx.as_mut(), w.organization_id, "configuration", "", &what)
                .await?;
        }
        tx.save_webhook_health(&w).await?;
        tx.commit().await
    }

    async fn post(
        &self,
        w: &Webhook,
        body: &str,
        event: &str,
        delivery: DeliveryId,
        span: &tracing::Span,
    ) -> std::result::Result<u16, String> {
        let url = reqwest::Url::parse(&w.payload_url).map_err(|e| format!("bad URL: {e}"))?;
        let host = url.host_str().ok_or("URL without a host")?.to_owned();
        let port = url.port_or_known_default().ok_or("URL without a port")?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        let addr = *addrs
            .first()
            .ok_or_else(|| format!("{host} has no address"))?;
        if !self.config.webhook_allow_private && addrs.iter().any(|a| is_special_purpose(a.ip())) {
            return Err(format!(
                "{host} resolves to a private address; refused (see ACCORD_WEBHOOK_ALLOW_PRIVATE)"
            ));
        }
        // Pinned to the address just checked: no second lookup to rebind.
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(w.skip_ssl_verification)
            .resolve(&host, addr)
            .build()
            .map_err(|e| format!("client: {e}"))?;
        let signature = signature(&w.secret_key, self.clock.now().timestamp(), body);
        let mut trace = reqwest::header::HeaderMap::new();
        crate::telemetry::pass_on(span, &mut trace);
        let response = client
            .post(url)
            .headers(trace)
            .header("Content-Type", CONTENT_TYPE)
            .header("User-Agent", "Accord-Webhook")
            .header("X-Accord-Signature", signature)
            .header("X-Accord-Event", event)
            .header("X-Accord-Delivery", delivery.to_string())
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        Ok(response.status().as_u16())
    }

    /// Records, once, the expiry of time-limited consents whose time is up: a `system`
    /// history entry (the attribute now reads Disallow) and a `consent.expired` event.
    async fn sweep_expired_consents(&self) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let expiring = tx.expiring_consents(now, 100).await?;
        let mut versions = HashMap::new();
        for c in &expiring {
            // The chain head first, then the value: the order a consent change takes.
            let (seq, prev) = tx.lock_chain_head(c.organization_id).await?;
            if !tx.mark_expiry_recorded(c, now).await? {
                continue;
            }
            // The version the lapsed value was given under (the sweep is rare: a lookup
            // per purpose and version, not on any request's path).
            let key = (c.purpose_id, c.stored.version);
            let wording = match versions.get(&key) {
                Some(known) => Option::clone(known),
                None => {
                    let found = super::purposes::version_ref(
                        tx.as_mut(),
                        c.organization_id,
                        c.purpose_id,
                        c.stored.version,
                    )
                    .await?;
                    versions.insert(key, found.clone());
                    found
                }
            };
            let mut entry = HistoryEntry {
                id: uuid::Uuid::now_v7().to_string(),
                seq: seq + 1,
                organization_id: c.organization_id.to_string(),
                user_id: c.user_id.to_string(),
                consent_id: c.consent_id.clone(),
                purpose_id: c.purpose_id.to_string(),
                attribute_id: c.attribute_id.to_string(),
                actor_id: String::new(),
                changed_by: ChangedBy::System,
                old_value: Some(c.stored.value),
                new_value: ConsentValue::Disallow,
                days: c.stored.days,
                at: c.stored.expires_at().unwrap_or(now),
                wording,
                prev_hash: prev,
                hash: String::new(),
            };
            entry.hash = entry.compute_hash();
            tx.insert_history(&entry).await?;
            tx.set_chain_head(c.organization_id, entry.seq, &entry.hash)
                .await?;
            super::events::emit(
                tx.as_mut(),
                c.organization_id,
                EventType::ConsentExpired,
                accord_domain::webhook::consent_event_data(&entry),
                now,
            )
            .await?;
        }
        tx.commit().await
    }
}

fn new_delivery(
    w: &Webhook,
    outbox: Option<OutboxEventId>,
    event: &str,
    data: Value,
    now: DateTime<Utc>,
    trace: Option<TraceParent>,
) -> Delivery {
    // The envelope of every delivery.
    let body = json!({
        "webhookID": w.id,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
        "type": event,
    })
    .to_string();
    Delivery {
        id: DeliveryId::new(),
        webhook_id: w.id,
        organization_id: w.organization_id,
        outbox_id: outbox,
        event_type: event.to_owned(),
        body,
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_status_code: None,
        last_error: String::new(),
        created_at: now,
        delivered_at: None,
        trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // Reference: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        let s = signature("secret", 1_700_000_000, r#"{"a":1}"#);
        assert!(s.starts_with("t=1700000000,sig="));
        assert_eq!(s.len(), "t=1700000000,sig=".len() + 64);
        assert_ne!(s, signature("other", 1_700_000_000, r#"{"a":1}"#));
    }
}
