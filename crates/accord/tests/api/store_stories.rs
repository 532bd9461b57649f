//! One short story per area of the store (`accord_store::tx`), told on both backends: each
//! area's operations run against a real database in the order a feature would use them,
//! so every query is shown to run on SQLite and on PostgreSQL.

use std::sync::Arc;

use accord_domain::consent::{ChangedBy, ConsentValue, HistoryEntry, StoredConsent, GENESIS};
use accord_domain::customer_id::{Delegation, Mandate, MandateType, Party, Role, RoleInvitation};
use accord_domain::federation::{
    ExternalIdentity, IdentityProvider, LoginState, ProviderSettings, TokenAuthMethod,
};
use accord_domain::identity::{Email, OrgRole, User, UserStatus};
use accord_domain::organization::{
    LawfulBasis, Offer, OfferKind, Organization, OrganizationType, Purpose, Template,
};
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::throttle::ThrottleState;
use accord_domain::webhook::{
    ActionLog, Delivery, DeliveryStatus, EventType, Notification, OutboxEvent, Webhook,
};
use accord_domain::{
    AttributeId, DelegationId, DeliveryId, MandateId, NotificationId, OfferId, OrganizationId,
    OrganizationTypeId, OutboxEventId, PurposeId, RoleInvitationId, SessionId, UserId, WebhookId,
};
use accord_store::{
    ExpiringConsent, HistoryFilter, ImageRecord, Mode, RestClientRecord, Search, SearchField,
    SigningKeyRecord, Store, Sweep, Tx,
};
use chrono::{DateTime, Duration, Utc};

use crate::both_backends;
use crate::helpers::TestDb;

async fn open(db: &TestDb) -> Arc<dyn Store> {
    accord_store::open(&db.url, &Default::default())
        .await
        .unwrap()
}

async fn write(store: &Arc<dyn Store>) -> Box<dyn Tx> {
    store.begin(Mode::Write).await.unwrap()
}

fn now() -> DateTime<Utc> {
    // Whole milliseconds: what both backends store.
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

fn person(tag: &str) -> User {
    let email = Email::parse(&format!("{tag}-{}@example.com", UserId::new())).unwrap();
    User::new(Some(email), UserStatus::Enabled, now())
}

/// An organisation with its type, written.
async fn organization(tx: &mut dyn Tx) -> Organization {
    let t = OrganizationType {
        id: OrganizationTypeId::new(),
        name: format!("type {}", OrganizationTypeId::new()),
        image_id: None,
    };
    tx.insert_org_type(&t, now()).await.unwrap();
    let org = Organization {
        name: "Bank".into(),
        type_id: Some(t.id),
        ..Organization::new(now())
    };
    tx.insert_organization(&org).await.unwrap();
    org
}

fn purpose(org: OrganizationId) -> Purpose {
    Purpose {
        id: PurposeId::new(),
        organization_id: org,
        name: "Marketing".into(),
        description: String::new(),
        lawful_basis: LawfulBasis::Consent,
        policy_url: String::new(),
        attribute_type: 0,
        jurisdiction: String::new(),
        disclosure: String::new(),
        industry_scope: String::new(),
        restriction: String::new(),
        shared_3pp: false,
        version: 1,
        outdated_consent: Default::default(),
    }
}

async fn accounts_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let mut alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    let key = alice.email.as_ref().unwrap().key();
    assert_eq!(
        tx.user_by_email_key(&key).await.unwrap().unwrap().id,
        alice.id
    );
    tx.update_user_profile(alice.id, "Alice", "+358 40 1")
        .await
        .unwrap();
    tx.set_password_hash(alice.id, "$argon2id$x").await.unwrap();
    tx.set_last_visit(alice.id, now()).await.unwrap();
    tx.set_apikey(alice.id, 3, Some(now())).await.unwrap();
    tx.revoke_apikey(alice.id).await.unwrap();
    tx.set_platform_admin(alice.id, true).await.unwrap();
    alice = tx.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(
        (alice.name.as_str(), alice.phone.as_str()),
        ("Alice", "+358 40 1")
    );
    assert_eq!(alice.password_hash.as_deref(), Some("$argon2id$x"));
    assert!(alice.is_platform_admin && alice.last_visit.is_some());
    assert!(alice.apikey_issued_at.is_none(), "revoked");

    // An address is proven once, by a token that is then spent.
    let soon = now() + Duration::hours(1);
    tx.insert_email_verification("v1", alice.id, &key, soon)
        .await
        .unwrap();
    tx.insert_email_verification("v2", alice.id, &key, soon)
        .await
        .unwrap();
    let taken = tx.take_email_verification("v1", now()).await.unwrap();
    assert_eq!(taken, Some((alice.id, key.clone())));
    assert_eq!(tx.take_email_verification("v1", now()).await.unwrap(), None);
    tx.void_email_verifications(alice.id).await.unwrap();
    assert_eq!(tx.take_email_verification("v2", now()).await.unwrap(), None);
    tx.set_email_verified(alice.id, Some(now())).await.unwrap();

    tx.insert_password_reset("r1", alice.id, soon)
        .await
        .unwrap();
    tx.insert_password_reset("r2", alice.id, soon)
        .await
        .unwrap();
    assert_eq!(
        tx.consume_password_reset("r1", now()).await.unwrap(),
        Some(alice.id)
    );
    tx.void_password_resets(alice.id).await.unwrap();
    assert_eq!(tx.consume_password_reset("r2", now()).await.unwrap(), None);

    let fresh = ThrottleState::fresh(now());
    let state = tx.throttle_state("account:alice", &fresh).await.unwrap();
    assert_eq!(state.attempts, 0);
    let counted = ThrottleState {
        attempts: 2,
        ..state
    };
    tx.put_throttle_state("account:alice", &counted)
        .await
        .unwrap();
    assert_eq!(
        tx.throttle_state("account:alice", &fresh)
            .await
            .unwrap()
            .attempts,
        2
    );
    assert!(tx.delete_user(alice.id).await.unwrap());
    assert!(!tx.delete_user(alice.id).await.unwrap());
    tx.commit().await.unwrap();
}
both_backends!(accounts_story);

async fn sessions_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    let session = |id| Session {
        id,
        user_id: alice.id,
        client_id: "app".into(),
        created_at: now(),
        expires_at: now() + Duration::hours(1),
        revoked_at: None,
    };
    let (kept, other) = (session(SessionId::new()), session(SessionId::new()));
    tx.insert_session(&kept).await.unwrap();
    tx.insert_session(&other).await.unwrap();
    let token = RefreshTokenRecord {
        token_hash: "t1".into(),
        session_id: kept.id,
        expires_at: kept.expires_at,
        used_at: None,
    };
    tx.insert_refresh_token(&token).await.unwrap();
    assert!(!tx.session_was_refreshed(kept.id).await.unwrap());
    assert!(tx.mark_refresh_token_used("t1", now()).await.unwrap());
    assert!(
        !tx.mark_refresh_token_used("t1", now()).await.unwrap(),
        "spent once"
    );
    assert!(tx.session_was_refreshed(kept.id).await.unwrap());
    assert!(tx
        .refresh_token_by_hash("t1")
        .await
        .unwrap()
        .unwrap()
        .used_at
        .is_some());
    tx.revoke_sessions_of_user(alice.id, now(), Some(kept.id))
        .await
        .unwrap();
    let read = |s: Option<Session>| s.unwrap().revoked_at.is_some();
    assert!(read(tx.session_by_id(other.id).await.unwrap()));
    assert!(!read(tx.session_by_id(kept.id).await.unwrap()));
    tx.revoke_session(kept.id, now()).await.unwrap();
    assert!(read(tx.session_by_id(kept.id).await.unwrap()));
    tx.commit().await.unwrap();
}
both_backends!(sessions_story);

async fn keys_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let before = tx.signing_keys().await.unwrap().len();
    let key = SigningKeyRecord {
        id: format!("k-{}", UserId::new()),
        algorithm: "EdDSA".into(),
        private_key: vec![1, 2, 3],
        public_key: vec![4, 5],
        created_at: now(),
        retired_at: None,
        compromised: false,
    };
    tx.insert_signing_key(&key).await.unwrap();
    let keys = tx.signing_keys().await.unwrap();
    assert_eq!(keys.len(), before + 1);
    assert!(keys
        .iter()
        .any(|k| k.id == key.id && k.private_key == [1, 2, 3] && k.retired_at.is_none()));
    // Retiring erases the private half and keeps the public one; compromised is a flag
    // added later, the first retirement's time kept.
    assert!(tx.retire_signing_key(&key.id, now(), false).await.unwrap());
    assert!(!tx
        .retire_signing_key("no-such-key", now(), false)
        .await
        .unwrap());
    let later = now() + chrono::Duration::hours(1);
    assert!(tx.retire_signing_key(&key.id, later, true).await.unwrap());
    let retired = tx.signing_keys().await.unwrap();
    let retired = retired.iter().find(|k| k.id == key.id).unwrap();
    assert!(retired.private_key.is_empty() && retired.public_key == [4, 5]);
    assert!(retired.compromised && retired.retired_at.unwrap() < later);
    // The first value stored under a name stays (nodes starting together race).
    tx.insert_server_secret_if_absent("story", "first", now())
        .await
        .unwrap();
    tx.insert_server_secret_if_absent("story", "second", now())
        .await
        .unwrap();
    assert_eq!(
        tx.server_secret("story").await.unwrap().as_deref(),
        Some("first")
    );
    assert_eq!(tx.server_secret("none").await.unwrap(), None);
    tx.commit().await.unwrap();
}
both_backends!(keys_story);

async fn organizations_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let mut org = organization(tx.as_mut()).await;
    let type_id = org.type_id.unwrap();
    let mut t = tx.org_type_by_id(type_id).await.unwrap().unwrap();
    assert!(tx
        .org_types()
        .await
        .unwrap()
        .iter()
        .any(|x| x.id == type_id));
    t.name = format!("renamed {}", t.id);
    tx.update_org_type(&t).await.unwrap();
    assert_eq!(
        tx.org_type_by_name(&t.name).await.unwrap().unwrap().id,
        t.id
    );
    assert!(tx.org_type_in_use(type_id).await.unwrap());
    org.description = "A bank".into();
    tx.update_organization(&org).await.unwrap();
    assert_eq!(
        tx.organization_by_id(org.id)
            .await
            .unwrap()
            .unwrap()
            .description,
        "A bank"
    );
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    tx.grant_role(org.id, alice.id, OrgRole::Admin)
        .await
        .unwrap();
    tx.grant_role(org.id, alice.id, OrgRole::Dpo).await.unwrap();
    assert_eq!(tx.role_holders(org.id).await.unwrap().len(), 2);
    assert_eq!(tx.role_grants_of(alice.id).await.unwrap().len(), 2);
    assert!(tx
        .revoke_role(org.id, alice.id, OrgRole::Dpo)
        .await
        .unwrap());
    assert!(!tx
        .revoke_role(org.id, alice.id, OrgRole::Dpo)
        .await
        .unwrap());
    assert!(tx.revoke_roles(org.id, alice.id).await.unwrap());
    assert!(tx.role_holders(org.id).await.unwrap().is_empty());
    assert!(tx.delete_organization(org.id).await.unwrap());
    assert!(tx.delete_org_type(type_id).await.unwrap());
    assert!(tx.org_type_by_id(type_id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}
both_backends!(organizations_story);

async fn subscriptions_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let (alice, bob) = (person("alice"), person("bob"));
    tx.insert_user(&alice).await.unwrap();
    tx.insert_user(&bob).await.unwrap();
    assert!(tx.subscribe(org.id, alice.id, now()).await.unwrap());
    assert!(
        !tx.subscribe(org.id, alice.id, now()).await.unwrap(),
        "idempotent"
    );
    assert!(tx.subscribe(org.id, bob.id, now()).await.unwrap());
    assert!(tx.is_subscribed(org.id, alice.id).await.unwrap());
    assert_eq!(tx.subscriber_count(org.id).await.unwrap(), 2);
    let first = tx.subscribers(org.id, None, 1).await.unwrap();
    let rest = tx.subscribers(org.id, Some(first[0].id), 10).await.unwrap();
    assert_eq!((first.len(), rest.len()), (1, 1), "keyset pages");
    assert_eq!(tx.subscriptions_of(alice.id).await.unwrap().len(), 1);
    assert!(tx.unsubscribe(org.id, bob.id).await.unwrap());

    let offer = Offer {
        id: OfferId::new(),
        organization_id: org.id,
        user_id: bob.id,
        kind: OfferKind::Role(OrgRole::Dpo),
        offered_by: alice.id,
        created_at: now(),
    };
    assert!(tx.insert_offer(&offer).await.unwrap());
    assert!(
        !tx.insert_offer(&Offer {
            id: OfferId::new(),
            ..offer.clone()
        })
        .await
        .unwrap(),
        "one open offer of a kind"
    );
    assert_eq!(tx.offers_of(bob.id).await.unwrap().len(), 1);
    assert_eq!(
        tx.take_offer(bob.id, offer.id).await.unwrap().map(|o| o.id),
        Some(offer.id)
    );
    assert!(tx.take_offer(bob.id, offer.id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}
both_backends!(subscriptions_story);

async fn purposes_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let layout = tx.layout_version(org.id).await.unwrap().unwrap();
    let mut p = purpose(org.id);
    tx.insert_purpose(&p, now()).await.unwrap();
    p.description = "Offers".into();
    tx.update_purpose(&p).await.unwrap();
    assert_eq!(tx.purposes_of(org.id).await.unwrap(), vec![p.clone()]);
    let mut t = Template {
        id: AttributeId::new(),
        organization_id: org.id,
        consent: "Email".into(),
        purpose_ids: vec![p.id],
    };
    tx.insert_template(&t, now()).await.unwrap();
    t.consent = "Email address".into();
    tx.update_template(&t).await.unwrap();
    assert_eq!(tx.templates_of(org.id).await.unwrap(), vec![t.clone()]);
    assert!(tx.layout_version(org.id).await.unwrap().unwrap() > layout);
    // Deleted ones are kept (the history refers to them) but no longer listed.
    assert!(tx.delete_template(org.id, t.id, now()).await.unwrap());
    assert!(!tx.delete_template(org.id, t.id, now()).await.unwrap());
    assert!(tx.delete_purpose(org.id, p.id, now()).await.unwrap());
    assert!(tx.purposes_of(org.id).await.unwrap().is_empty());
    assert!(tx.templates_of(org.id).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}
both_backends!(purposes_story);

async fn consents_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let p = purpose(org.id);
    tx.insert_purpose(&p, now()).await.unwrap();
    let attribute = Template {
        id: AttributeId::new(),
        organization_id: org.id,
        consent: "Email".into(),
        purpose_ids: vec![p.id],
    };
    tx.insert_template(&attribute, now()).await.unwrap();
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    tx.subscribe(org.id, alice.id, now()).await.unwrap();
    let consent = tx.ensure_consent(org.id, alice.id, now()).await.unwrap();
    assert_eq!(
        tx.ensure_consent(org.id, alice.id, now()).await.unwrap(),
        consent
    );
    assert_eq!(
        tx.consent_of(org.id, alice.id).await.unwrap().as_deref(),
        Some(consent.as_str())
    );
    let (seq, hash) = tx.lock_chain_head(org.id).await.unwrap();
    assert_eq!((seq, hash.as_str()), (0, GENESIS));
    let mut entry = HistoryEntry {
        id: uuid::Uuid::now_v7().to_string(),
        seq: 1,
        organization_id: org.id.to_string(),
        user_id: alice.id.to_string(),
        consent_id: consent.clone(),
        purpose_id: p.id.to_string(),
        attribute_id: attribute.id.to_string(),
        actor_id: alice.id.to_string(),
        changed_by: ChangedBy::Individual,
        old_value: None,
        new_value: ConsentValue::Allow,
        days: 0,
        at: now(),
        wording: Some(accord_domain::purpose_version::VersionRef {
            number: 1,
            hash: "sha256:00".into(),
        }),
        prev_hash: GENESIS.into(),
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    tx.insert_history(&entry).await.unwrap();
    tx.set_chain_head(org.id, 1, &entry.hash).await.unwrap();
    assert_eq!(
        tx.history_entry(&entry.id).await.unwrap(),
        Some(entry.clone())
    );
    let filter = HistoryFilter {
        organization: Some(org.id),
        purpose: Some(p.id),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(tx.history(&filter).await.unwrap(), vec![entry.clone()]);
    assert_eq!(tx.chain_page(org.id, 0, 10).await.unwrap().len(), 1);
    assert_eq!(
        tx.chain_end(org.id).await.unwrap(),
        (Some((1, entry.hash.clone())), Some(1))
    );
    let start = (String::new(), String::new(), String::new());
    // Values are written by the consent committer (Store::change_consent), not here.
    assert!(tx
        .current_values_page(org.id, &start, 10)
        .await
        .unwrap()
        .is_empty());
    let later = now() + Duration::days(1);
    let holding = accord_store::Holding {
        now: now(),
        lapsed_before: Some(now()),
    };
    let holders = accord_store::HoldersQuery {
        purpose: p.id,
        attribute: None,
        holding,
        given_below: Some(2),
        after: None,
        limit: 10,
    };
    assert!(tx
        .consented_users(org.id, &holders)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        tx.holder_counts(org.id, p.id, holding, 1).await.unwrap(),
        (0, 0)
    );
    assert!(tx.version_times_of(org.id).await.unwrap().is_empty());
    // A re-consent job is claimed, advanced, and gone when done.
    tx.insert_reconsent_job(org.id, p.id, 2, true, now())
        .await
        .unwrap();
    tx.insert_reconsent_job(org.id, p.id, 2, false, now())
        .await
        .unwrap();
    let job = tx.claim_reconsent_job().await.unwrap().expect("queued");
    assert_eq!(
        (job.purpose_id, job.version, job.after_user, job.mail),
        (p.id, 2, None, true),
        "queued once: the first stays"
    );
    tx.advance_reconsent_job(p.id, 2, Some(alice.id))
        .await
        .unwrap();
    let job = tx
        .claim_reconsent_job()
        .await
        .unwrap()
        .expect("still queued");
    assert_eq!(job.after_user, Some(alice.id));
    tx.advance_reconsent_job(p.id, 2, None).await.unwrap();
    assert!(tx.claim_reconsent_job().await.unwrap().is_none());
    assert_eq!(
        tx.users_lacking_consent(org.id, p.id, &[attribute.id], holding)
            .await
            .unwrap()
            .len(),
        1,
        "no value recorded: the consent purpose reads Disallow"
    );
    assert!(tx.expiring_consents(later, 10).await.unwrap().is_empty());
    let no_value = ExpiringConsent {
        consent_id: consent.clone(),
        organization_id: org.id,
        user_id: alice.id,
        purpose_id: p.id,
        attribute_id: attribute.id,
        stored: StoredConsent {
            value: ConsentValue::Allow,
            days: 1,
            changed_at: now(),
            version: 1,
        },
    };
    assert!(
        !tx.mark_expiry_recorded(&no_value, later).await.unwrap(),
        "nothing to expire: no value was recorded"
    );
    tx.delete_consent_record(org.id, alice.id).await.unwrap();
    assert_eq!(tx.consent_of(org.id, alice.id).await.unwrap(), None);
    assert_eq!(
        tx.history(&filter).await.unwrap().len(),
        1,
        "the history stays: it is the organisation's proof"
    );
    tx.commit().await.unwrap();
}
both_backends!(consents_story);

async fn webhooks_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let mut hook = Webhook {
        id: WebhookId::new(),
        organization_id: org.id,
        payload_url: "https://example.com/hook".into(),
        events: vec![EventType::ConsentAllowed],
        content_type: "application/json".into(),
        secret_key: "s".into(),
        disabled: false,
        skip_ssl_verification: false,
        created_at: now(),
        consecutive_failures: 0,
        backoff_until: None,
    };
    tx.insert_webhook(&hook).await.unwrap();
    hook.payload_url = "https://example.com/other".into();
    tx.update_webhook(&hook).await.unwrap();
    assert_eq!(tx.webhooks_of(org.id).await.unwrap(), vec![hook.clone()]);
    let event = OutboxEvent {
        id: OutboxEventId::new(),
        organization_id: org.id,
        event_type: EventType::ConsentAllowed.as_str().into(),
        data: "{}".into(),
        created_at: now(),
        // Kept and read back as written: the delivery continues the change's trace.
        trace: Some(accord_domain::webhook::TraceParent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        )),
    };
    tx.insert_outbox(&event).await.unwrap();
    assert_eq!(tx.claim_outbox(10).await.unwrap(), vec![event.clone()]);
    tx.mark_outbox_processed(&[event.id], now()).await.unwrap();
    assert!(tx.claim_outbox(10).await.unwrap().is_empty());
    let mut delivery = Delivery {
        id: DeliveryId::new(),
        webhook_id: hook.id,
        organization_id: org.id,
        outbox_id: Some(event.id),
        event_type: event.event_type.clone(),
        body: "{}".into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: now(),
        last_status_code: None,
        last_error: String::new(),
        created_at: now(),
        delivered_at: None,
        trace: event.trace.clone(),
    };
    tx.insert_delivery(&delivery).await.unwrap();
    tx.insert_delivery(&delivery).await.unwrap(); // idempotent per (event, webhook)
    let lease = now() + Duration::seconds(30);
    let claimed = tx.claim_deliveries(now(), lease, 10, 4).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(
        tx.claim_deliveries(now(), lease, 10, 4)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    tx.renew_delivery_lease(delivery.id, lease + Duration::seconds(30))
        .await
        .unwrap();
    let mut locked = tx.lock_webhook(hook.id).await.unwrap().unwrap();
    locked.attempt_failed(now());
    tx.save_webhook_health(&locked).await.unwrap();
    assert_eq!(
        tx.webhooks_of(org.id).await.unwrap()[0].consecutive_failures,
        1
    );
    delivery.status = DeliveryStatus::Delivered;
    delivery.attempts = 1;
    delivery.delivered_at = Some(now());
    tx.save_delivery(&delivery).await.unwrap();
    assert_eq!(
        tx.delivery_by_id(hook.id, delivery.id).await.unwrap(),
        Some(delivery.clone())
    );
    assert_eq!(tx.deliveries_of(hook.id, None, 10).await.unwrap().len(), 1);
    assert!(tx.delete_webhook(org.id, hook.id).await.unwrap());
    assert!(!tx.delete_webhook(org.id, hook.id).await.unwrap());
    tx.commit().await.unwrap();
}
both_backends!(webhooks_story);

async fn activity_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    let note = Notification {
        id: NotificationId::new(),
        user_id: alice.id,
        organization_id: org.id,
        kind: EventType::ConsentRequested.as_str().into(),
        purpose_id: Some(PurposeId::new()),
        attribute_ids: vec![AttributeId::new(), AttributeId::new()],
        message: "Bank asks".into(),
        created_at: now(),
        read_at: None,
    };
    tx.insert_notification(&note).await.unwrap();
    assert_eq!(
        tx.notifications_of(alice.id, None, 10).await.unwrap(),
        vec![note.clone()]
    );
    assert!(tx
        .mark_notification_read(alice.id, note.id, now())
        .await
        .unwrap());
    let read = tx
        .notification_by_id(alice.id, note.id)
        .await
        .unwrap()
        .unwrap();
    assert!(read.read_at.is_some());
    let stranger = UserId::new();
    assert!(tx
        .notification_by_id(stranger, note.id)
        .await
        .unwrap()
        .is_none());
    let log = ActionLog {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: org.id,
        kind: "configuration".into(),
        actor_id: alice.id.to_string(),
        message: "changed".into(),
        created_at: now(),
    };
    tx.insert_action_log(&log).await.unwrap();
    assert_eq!(tx.action_logs(org.id, None, 10).await.unwrap(), vec![log]);
    tx.commit().await.unwrap();
}
both_backends!(activity_story);

async fn images_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    let image = ImageRecord {
        id: accord_domain::ImageId::new(),
        owner: format!("user:{}", alice.id),
        content_type: "image/png".into(),
        data: vec![0x89, b'P', b'N', b'G'],
        etag: "e".into(),
        created_at: now(),
    };
    tx.insert_image(&image).await.unwrap();
    tx.set_user_image(alice.id, Some(image.id)).await.unwrap();
    let stored = tx.image_by_id(image.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.data, stored.owner),
        (image.data.clone(), image.owner.clone())
    );
    assert_eq!(
        tx.user_by_id(alice.id).await.unwrap().unwrap().image_id,
        Some(image.id)
    );
    tx.set_user_image(alice.id, None).await.unwrap();
    tx.delete_image(image.id).await.unwrap();
    assert!(tx.image_by_id(image.id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}
both_backends!(images_story);

async fn retention_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let old = now() - Duration::days(400);
    for _ in 0..3 {
        tx.insert_action_log(&ActionLog {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: org.id,
            kind: "configuration".into(),
            actor_id: String::new(),
            message: "old".into(),
            created_at: old,
        })
        .await
        .unwrap();
    }
    let cut = now() - Duration::days(365);
    assert_eq!(
        tx.sweep(Sweep::OrganizationLogs, cut, 2).await.unwrap(),
        2,
        "a batch at a time"
    );
    assert_eq!(tx.sweep(Sweep::OrganizationLogs, cut, 2).await.unwrap(), 1);
    for what in Sweep::ALL {
        tx.sweep(what, cut, 10).await.unwrap();
    }
    tx.commit().await.unwrap();
}
both_backends!(retention_story);

async fn customer_id_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let client = RestClientRecord {
        id: accord_domain::RestClientId::new(),
        name: format!("client-{}", UserId::new()),
        secret_hash: "$argon2id$x".into(),
        organization_id: Some(org.id),
        created_at: now(),
    };
    tx.insert_rest_client(&client).await.unwrap();
    assert_eq!(
        tx.rest_client_by_name(&client.name)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(client.id)
    );
    let mut alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    alice.first_name = "Alice".into();
    alice.surname = "Liddell".into();
    alice.home_organization_id = Some(org.id);
    tx.update_user_identity(&alice).await.unwrap();
    tx.set_user_attribute(alice.id, "ssn", &["010101-123A".into()])
        .await
        .unwrap();
    tx.set_organization_attribute(org.id, "vat", &["FI123".into(), "FI456".into()])
        .await
        .unwrap();
    assert_eq!(
        tx.user_custom_attributes(alice.id).await.unwrap(),
        vec![("ssn".to_owned(), "010101-123A".to_owned())]
    );
    assert_eq!(
        tx.organization_custom_attributes(org.id)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(tx
        .organization_tree()
        .await
        .unwrap()
        .iter()
        .any(|n| n.id == org.id));
    let found = tx
        .search_users(&Search {
            builtin: vec![(SearchField::UserSurname, "lidd".into())],
            within: Some(vec![org.id]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found, vec![alice.id]);
    let found = tx
        .search_organizations(&Search {
            builtin: vec![(SearchField::OrgId, org.id.to_string())],
            exact: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found, vec![org.id]);
    let role = Role {
        id: accord_domain::RoleId::new(),
        organization_id: org.id,
        name: "Auditor".into(),
    };
    tx.insert_role(&role, now()).await.unwrap();
    let role_id = role.id;
    tx.add_role_member(role_id, alice.id).await.unwrap();
    tx.add_role_member(role_id, alice.id).await.unwrap(); // idempotent
    assert!(tx.custom_roles().await.unwrap().contains(&role));
    assert_eq!(tx.custom_roles_of(alice.id).await.unwrap(), vec![role_id]);
    assert!(tx.remove_role_member(role_id, alice.id).await.unwrap());
    assert!(tx.delete_role(role_id).await.unwrap());
    tx.commit().await.unwrap();
}
both_backends!(customer_id_story);

async fn mandates_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let (alice, bob) = (person("alice"), person("bob"));
    tx.insert_user(&alice).await.unwrap();
    tx.insert_user(&bob).await.unwrap();
    let waiting = format!("carol-{}@example.com", UserId::new());
    let mandate = Mandate {
        id: MandateId::new(),
        kind: MandateType::OrgToPer,
        mandater: Party::Organization(org.id),
        mandatee: Party::Email(waiting.clone()),
        role_id: OrgRole::Admin.role_of(org.id).id,
        assignee_email: Some(waiting.clone()),
        valid_from: None,
        valid_until: None,
        created_at: now(),
    };
    tx.insert_mandate(&mandate).await.unwrap();
    // The address's holder registers and proves it: the mandate becomes theirs.
    let carol = User::new(
        Some(Email::parse(&waiting).unwrap()),
        UserStatus::Enabled,
        now(),
    );
    tx.insert_user(&carol).await.unwrap();
    tx.attach_mandates_to(carol.id, &Email::parse(&waiting).unwrap().key())
        .await
        .unwrap();
    let stored = tx.mandates().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].mandatee, Party::User(carol.id));
    let delegation = Delegation {
        id: DelegationId::new(),
        mandate_id: mandate.id,
        delegator: carol.id,
        delegate: bob.id,
        created_at: now(),
    };
    tx.insert_delegation(&delegation).await.unwrap();
    assert_eq!(tx.delegations().await.unwrap(), vec![delegation.clone()]);
    let invitation = RoleInvitation {
        id: RoleInvitationId::new(),
        organization_id: Some(org.id),
        role_id: Some(OrgRole::Dpo.role_of(org.id).id),
        user_id: alice.id,
        email: alice.email.as_ref().unwrap().as_str().to_owned(),
        expires_at: now() + Duration::days(1),
        accepted_at: None,
        created_at: now(),
    };
    tx.insert_role_invitation(&invitation, "tok1")
        .await
        .unwrap();
    assert_eq!(
        tx.role_invitations().await.unwrap(),
        vec![invitation.clone()]
    );
    assert_eq!(tx.role_invitations_of(alice.id).await.unwrap().len(), 1);
    assert_eq!(
        tx.user_of_invitation_token("tok1", now()).await.unwrap(),
        Some(alice.id)
    );
    tx.renew_invitations(alice.id, "tok2", now() + Duration::days(2))
        .await
        .unwrap();
    assert_eq!(
        tx.user_of_invitation_token("tok1", now()).await.unwrap(),
        None
    );
    assert_eq!(
        tx.user_of_invitation_token("tok2", now()).await.unwrap(),
        Some(alice.id)
    );
    let accepted = tx.accept_invitations(alice.id, now()).await.unwrap();
    assert_eq!(accepted.len(), 1);
    assert_eq!(
        tx.user_of_invitation_token("tok2", now()).await.unwrap(),
        None
    );
    assert!(tx.delete_role_invitation(invitation.id).await.unwrap());
    assert!(tx.delete_delegation(delegation.id).await.unwrap());
    assert!(tx.delete_mandate(mandate.id).await.unwrap());
    assert!(!tx.delete_mandate(mandate.id).await.unwrap());
    tx.commit().await.unwrap();
}
both_backends!(mandates_story);

async fn federation_story(db: TestDb) {
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let mut provider = IdentityProvider {
        organization_id: org.id,
        settings: ProviderSettings {
            issuer: "https://idp.example.com".into(),
            authorization_url: "https://idp.example.com/auth".into(),
            token_url: "https://idp.example.com/token".into(),
            logout_url: String::new(),
            client_id: "accord".into(),
            jwks_url: "https://idp.example.com/jwks".into(),
            userinfo_url: String::new(),
            validate_signature: true,
            disable_userinfo: true,
            default_scope: "openid email".into(),
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
        },
        client_secret_sealed: "sealed".into(),
        created_at: now(),
        updated_at: now(),
    };
    tx.insert_identity_provider(&provider).await.unwrap();
    tx.commit().await.unwrap();
    // A failed statement ends a PostgreSQL transaction: the refusal gets one of its own.
    let mut refused = write(&store).await;
    assert!(
        refused.insert_identity_provider(&provider).await.is_err(),
        "one per organisation"
    );
    drop(refused);
    let mut tx = write(&store).await;
    provider.settings.client_id = "accord-2".into();
    assert!(tx.update_identity_provider(&provider).await.unwrap());
    assert_eq!(
        tx.identity_provider(org.id)
            .await
            .unwrap()
            .unwrap()
            .settings,
        provider.settings
    );
    let state = LoginState {
        state_hash: format!("h-{}", UserId::new()),
        organization_id: org.id,
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        expires_at: now() + Duration::minutes(10),
        started_by: None,
    };
    tx.insert_login_state(&state, now()).await.unwrap();
    assert!(tx
        .take_login_state(&state.state_hash)
        .await
        .unwrap()
        .is_some());
    assert!(
        tx.take_login_state(&state.state_hash)
            .await
            .unwrap()
            .is_none(),
        "works once"
    );
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    tx.insert_external_identity(&ExternalIdentity {
        issuer: provider.settings.issuer.clone(),
        subject: "sub-1".into(),
        user_id: alice.id,
        organization_id: org.id,
        created_at: now(),
    })
    .await
    .unwrap();
    let issuer = &provider.settings.issuer;
    assert_eq!(
        tx.external_identity_user(org.id, issuer, "sub-1")
            .await
            .unwrap(),
        Some(alice.id)
    );
    tx.delete_external_identities_of(alice.id).await.unwrap();
    assert_eq!(
        tx.external_identity_user(org.id, issuer, "sub-1")
            .await
            .unwrap(),
        None
    );
    assert!(tx.delete_identity_provider(org.id).await.unwrap());
    assert!(!tx.delete_identity_provider(org.id).await.unwrap());
    tx.commit().await.unwrap();
}
both_backends!(federation_story);

async fn data_requests_story(db: TestDb) {
    use accord_domain::data_request::{DataRequest, DataRequestKind, DataRequestState};
    use accord_store::RequestsFilter;
    let store = open(&db).await;
    let mut tx = write(&store).await;
    let org = organization(tx.as_mut()).await;
    let alice = person("alice");
    tx.insert_user(&alice).await.unwrap();
    let download =
        DataRequest::open(org.id, alice.id, DataRequestKind::Download, false, now()).unwrap();
    tx.insert_data_request(&download).await.unwrap();
    tx.commit().await.unwrap();
    // The database keeps one open request of a kind per person and organisation (the
    // refused write's unit of work is dropped: PostgreSQL aborted it).
    let mut tx = write(&store).await;
    let twin =
        DataRequest::open(org.id, alice.id, DataRequestKind::Download, false, now()).unwrap();
    assert!(matches!(
        tx.insert_data_request(&twin).await,
        Err(accord_domain::Error::Conflict(_))
    ));
    drop(tx);
    let mut tx = write(&store).await;
    let mut delete =
        DataRequest::open(org.id, alice.id, DataRequestKind::Delete, false, now()).unwrap();
    tx.insert_data_request(&delete).await.unwrap();
    assert_eq!(
        tx.data_request_by_id(download.id).await.unwrap(),
        Some(download.clone())
    );
    assert_eq!(
        tx.open_data_requests_of(alice.id, org.id)
            .await
            .unwrap()
            .len(),
        2
    );
    // A step read before another step landed does not land over it: the person's cancel
    // first, then the organisation's answer read from the open request.
    let mut stale = delete.clone();
    let mut cancelled = delete.clone();
    cancelled.cancel(now()).unwrap();
    assert!(tx
        .update_data_request(&cancelled, DataRequestState::Initiated)
        .await
        .unwrap());
    stale.advance(7, "erased", now()).unwrap();
    assert!(!tx
        .update_data_request(&stale, DataRequestState::Initiated)
        .await
        .unwrap());
    assert_eq!(
        tx.data_request_by_id(delete.id).await.unwrap(),
        Some(cancelled.clone())
    );
    delete = cancelled;
    let mine = tx
        .data_requests_of(alice.id, org.id, None, 10)
        .await
        .unwrap();
    assert_eq!(
        mine.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![delete.id, download.id],
        "newest first"
    );
    let older = tx
        .data_requests_of(alice.id, org.id, Some(delete.id), 10)
        .await
        .unwrap();
    assert_eq!(older, vec![download.clone()]);
    for (filter, expected) in [
        (RequestsFilter::All, vec![delete.id, download.id]),
        (RequestsFilter::Open, vec![download.id]),
        (RequestsFilter::Closed, vec![delete.id]),
    ] {
        let got = tx
            .organization_data_requests(org.id, filter, None, 10)
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|r| r.id).collect::<Vec<_>>(),
            expected,
            "{filter:?}"
        );
    }
    tx.commit().await.unwrap();
}
both_backends!(data_requests_story);

/// The consent read seeks every table on both backends (issue #27): on PostgreSQL an index
/// answers each of its lookups (plans taken with sequential scans discouraged, so a
/// missing index shows as `Seq Scan`); on SQLite no `SCAN` under statistics of the
/// story's few rows, analysed (the unit test `the_hot_statements_seek_whatever_the_statistics`
/// takes them from one row per table).
async fn the_consent_read_seeks_on_both_backends(db: TestDb) {
    let f = crate::helpers::Fixture::new(&db).await;
    let params = [
        f.individual_id.clone(),
        uuid::Uuid::nil().to_string(),
        f.org.clone(),
        f.individual_id.clone(),
    ];
    let plan: Vec<String> = match db.backend {
        crate::helpers::Backend::Postgres => {
            use sqlx::Connection as _;
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut c)
                .await
                .unwrap();
            let sql = format!(
                "EXPLAIN {}",
                accord_store::postgres::consent_read_statement()
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for p in &params {
                q = q.bind(p);
            }
            q.bind(1_i64).bind(2_i64).fetch_all(&mut c).await.unwrap()
        }
        crate::helpers::Backend::Sqlite => {
            use sqlx::Connection as _;
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("ANALYZE").execute(&mut c).await.unwrap();
            let sql = format!(
                "EXPLAIN QUERY PLAN {}",
                accord_store::sqlite::consent_read_statement()
            );
            let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
            for p in &params {
                q = q.bind(p);
            }
            let rows = q.bind(1_i64).bind(2_i64).fetch_all(&mut c).await.unwrap();
            rows.into_iter().map(|r| r.3).collect()
        }
    };
    let scans: Vec<&String> = plan
        .iter()
        .filter(|l| l.contains("Seq Scan") || l.trim_start().starts_with("SCAN"))
        .collect();
    assert!(scans.is_empty(), "the consent read scans: {plan:#?}");
}
both_backends!(the_consent_read_seeks_on_both_backends);
