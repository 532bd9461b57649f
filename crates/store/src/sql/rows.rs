//! From rows to domain values: the one place a column is read.

use super::prelude::*;

pub(crate) const USER_COLUMNS: &str = "id, email, name, phone, password_hash, status, is_platform_admin, \
     image_id, last_visit, apikey_revision, apikey_issued_at, client_token, client_type, created_at, \
     first_name, surname, home_organization_id, email_verified_at, language";

pub(crate) fn user_from_row(row: &DbRow) -> Result<User> {
    let email: Option<String> = row.col("email")?;
    let status: i64 = row.col("status")?;
    Ok(User {
        id: row.id("id")?,
        // Stored emails were validated on the way in; one that no longer parses (a
        // stricter rule since) is kept rather than lost.
        email: email.map(|e| Email::parse(&e).unwrap_or_else(|_| Email::unchecked(e))),
        name: row.col("name")?,
        phone: row.col("phone")?,
        password_hash: row.col("password_hash")?,
        status: UserStatus::from_code(status).unwrap_or(UserStatus::Disabled),
        is_platform_admin: row.col("is_platform_admin")?,
        image_id: row.opt_id("image_id")?,
        last_visit: row.opt_time("last_visit")?,
        apikey_revision: row.col("apikey_revision")?,
        apikey_issued_at: row.opt_time("apikey_issued_at")?,
        client_token: row.col("client_token")?,
        client_type: row.col("client_type")?,
        created_at: row.time("created_at")?,
        first_name: row.col("first_name")?,
        surname: row.col("surname")?,
        home_organization_id: row.opt_id("home_organization_id")?,
        email_verified_at: row.opt_time("email_verified_at")?,
        language: row
            .col::<Option<String>>("language")?
            .and_then(|code| Language::from_code(&code)),
    })
}

pub(crate) fn session_from_row(row: &DbRow) -> Result<Session> {
    Ok(Session {
        id: row.id("id")?,
        user_id: row.id("user_id")?,
        client_id: row.col("client_id")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

pub(crate) const ORG_COLUMNS: &str = "o.id, o.name, o.location, o.description, o.type_id, o.enabled, o.policy_url, \
     o.eula_url, o.cover_image_id, o.logo_image_id, o.hlc_support, o.subscribe_method, o.subscribe_key, \
     o.retention_period, o.retention_enabled, o.created_at, o.technical_name, o.parent_id, o.data_export_at_once";

pub(crate) const PURPOSE_COLUMNS: &str =
    "id, organization_id, name, description, lawful_basis, policy_url, \
     attribute_type, jurisdiction, disclosure, industry_scope, restriction, shared_3pp, version, \
     outdated_consent, reconsent_grace_days";

pub(crate) fn org_from_row(row: &DbRow) -> Result<Organization> {
    Ok(Organization {
        id: row.id("id")?,
        name: row.col("name")?,
        location: row.col("location")?,
        description: row.col("description")?,
        type_id: row.opt_id("type_id")?,
        enabled: row.col("enabled")?,
        policy_url: row.col("policy_url")?,
        eula_url: row.col("eula_url")?,
        cover_image_id: row.opt_id("cover_image_id")?,
        logo_image_id: row.opt_id("logo_image_id")?,
        hlc_support: row.col("hlc_support")?,
        subscribe_method: SubscribeMethod::from_id(row.col("subscribe_method")?)
            .unwrap_or(SubscribeMethod::Undefined),
        subscribe_key: row.col("subscribe_key")?,
        retention_period_secs: row.col("retention_period")?,
        retention_enabled: row.col("retention_enabled")?,
        created_at: row.time("created_at")?,
        technical_name: row.col("technical_name")?,
        parent_id: row.opt_id("parent_id")?,
        data_export_at_once: row.col("data_export_at_once")?,
    })
}

pub(crate) fn purpose_from_row(row: &DbRow) -> Result<Purpose> {
    Ok(Purpose {
        id: row.id("id")?,
        organization_id: row.id("organization_id")?,
        name: row.col("name")?,
        description: row.col("description")?,
        lawful_basis: LawfulBasis::from_id(row.col("lawful_basis")?)
            .unwrap_or(LawfulBasis::Consent),
        policy_url: row.col("policy_url")?,
        attribute_type: row.col("attribute_type")?,
        jurisdiction: row.col("jurisdiction")?,
        disclosure: row.col("disclosure")?,
        industry_scope: row.col("industry_scope")?,
        restriction: row.col("restriction")?,
        shared_3pp: row.col("shared_3pp")?,
        version: row.col("version")?,
        // Written by this code only: anything unreadable reads as the default.
        outdated_consent: {
            let policy: String = row.col("outdated_consent")?;
            let grace: i64 = row.col("reconsent_grace_days")?;
            OutdatedConsent::parse(&policy, grace).unwrap_or_default()
        },
    })
}

pub(crate) fn org_type_from_row(row: &DbRow) -> Result<OrganizationType> {
    Ok(OrganizationType {
        id: row.id("id")?,
        name: row.col("name")?,
        image_id: row.opt_id("image_id")?,
    })
}

pub(crate) const HISTORY_COLUMNS: &str =
    "id, organization_id, seq, user_id, consent_id, purpose_id, attribute_id, actor_id, \
     changed_by, old_value, new_value, days, at, prev_hash, hash, purpose_version, wording_hash";

pub(crate) fn consent_value(raw: &str) -> Result<ConsentValue> {
    ConsentValue::parse(raw).map_err(|_| {
        accord_domain::Error::internal(format!("bad consent value {raw:?} in the database"))
    })
}

pub(crate) fn history_from_row(row: &DbRow) -> Result<HistoryEntry> {
    let old: Option<String> = row.col("old_value")?;
    let new: String = row.col("new_value")?;
    let changed_by: String = row.col("changed_by")?;
    Ok(HistoryEntry {
        id: row.col("id")?,
        seq: row.col("seq")?,
        organization_id: row.col("organization_id")?,
        user_id: row.col("user_id")?,
        consent_id: row.col("consent_id")?,
        purpose_id: row.col("purpose_id")?,
        attribute_id: row.col("attribute_id")?,
        actor_id: row.col("actor_id")?,
        changed_by: ChangedBy::parse(&changed_by),
        old_value: old.as_deref().map(consent_value).transpose()?,
        new_value: consent_value(&new)?,
        days: row.col("days")?,
        at: row.time("at")?,
        wording: {
            let number: Option<i64> = row.col("purpose_version")?;
            let hash: Option<String> = row.col("wording_hash")?;
            number
                .zip(hash)
                .map(|(number, hash)| VersionRef { number, hash })
        },
        prev_hash: row.col("prev_hash")?,
        hash: row.col("hash")?,
    })
}

pub(crate) const WEBHOOK_COLUMNS: &str =
    "id, organization_id, payload_url, subscribed_events, content_type, secret_key, \
     disabled, skip_ssl_verification, created_at, consecutive_failures, backoff_until";
pub(crate) const DELIVERY_COLUMNS: &str =
    "id, webhook_id, organization_id, outbox_id, event_type, body, status, attempts, \
     next_attempt_at, last_status_code, last_error, created_at, delivered_at, trace_parent";

pub(crate) fn webhook_from_row(row: &DbRow) -> Result<Webhook> {
    let events: String = row.col("subscribed_events")?;
    Ok(Webhook {
        id: row.id("id")?,
        organization_id: row.id("organization_id")?,
        payload_url: row.col("payload_url")?,
        events: events
            .split_whitespace()
            .filter_map(|e| EventType::parse(e).ok())
            .collect(),
        content_type: row.col("content_type")?,
        secret_key: row.col("secret_key")?,
        disabled: row.col("disabled")?,
        skip_ssl_verification: row.col("skip_ssl_verification")?,
        created_at: row.time("created_at")?,
        consecutive_failures: row.col("consecutive_failures")?,
        backoff_until: row.opt_time("backoff_until")?,
    })
}

pub(crate) fn delivery_from_row(row: &DbRow) -> Result<Delivery> {
    let status: String = row.col("status")?;
    Ok(Delivery {
        id: row.id("id")?,
        webhook_id: row.id("webhook_id")?,
        organization_id: row.id("organization_id")?,
        outbox_id: row.opt_id("outbox_id")?,
        event_type: row.col("event_type")?,
        body: row.col("body")?,
        status: DeliveryStatus::parse(&status),
        attempts: row.col("attempts")?,
        next_attempt_at: row.time("next_attempt_at")?,
        last_status_code: row.col("last_status_code")?,
        last_error: row.col("last_error")?,
        created_at: row.time("created_at")?,
        delivered_at: row.opt_time("delivered_at")?,
        trace: row
            .col::<Option<String>>("trace_parent")?
            .map(accord_domain::webhook::TraceParent),
    })
}

pub(crate) fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn offer_from_row(row: &DbRow) -> Result<Offer> {
    let kind: i64 = row.col("kind")?;
    Ok(Offer {
        id: row.id("id")?,
        organization_id: row.id("organization_id")?,
        user_id: row.id("user_id")?,
        kind: OfferKind::from_code(kind)
            .ok_or_else(|| accord_domain::Error::internal(format!("unknown offer kind {kind}")))?,
        offered_by: row.id("offered_by")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn notification_from_row(row: &DbRow) -> Result<Notification> {
    let attrs: String = row.col("attribute_ids")?;
    Ok(Notification {
        id: row.id("id")?,
        user_id: row.id("user_id")?,
        organization_id: row.id("organization_id")?,
        kind: row.col("kind")?,
        purpose_id: {
            let p: String = row.col("purpose_id")?;
            (!p.is_empty()).then(|| row.id("purpose_id")).transpose()?
        },
        attribute_ids: attrs
            .split_whitespace()
            .filter_map(|a| uuid::Uuid::parse_str(a).ok().map(AttributeId))
            .collect(),
        message: row.col("message")?,
        created_at: row.time("created_at")?,
        read_at: row.opt_time("read_at")?,
    })
}

pub(crate) fn mandate_from_row(r: &DbRow) -> Result<accord_domain::customer_id::Mandate> {
    use accord_domain::customer_id::{Mandate, MandateType, Party};
    let kind: String = r.col("kind")?;
    let party = |org: &str, user: &str, email: Option<&str>| -> Result<Party> {
        if let Some(o) = r.opt_id(org)? {
            return Ok(Party::Organization(o));
        }
        let u: Option<String> = r.col(user)?;
        if let Some(u) = u {
            return Ok(Party::User(u.parse()?));
        }
        let e: Option<String> = match email {
            Some(col) => r.col(col)?,
            None => None,
        };
        e.map(Party::Email)
            .ok_or_else(|| accord_domain::Error::internal("a mandate without a party"))
    };
    Ok(Mandate {
        id: r.id("id")?,
        kind: MandateType::parse(&kind)
            .map_err(|_| accord_domain::Error::internal("bad mandate type"))?,
        mandater: party("mandater_organization_id", "mandater_user_id", None)?,
        mandatee: party(
            "mandatee_organization_id",
            "mandatee_user_id",
            Some("assignee_email"),
        )?,
        role_id: r.id("role_id")?,
        assignee_email: r.col("assignee_email")?,
        valid_from: r.opt_time("valid_from")?,
        valid_until: r.opt_time("valid_until")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) const INVITATION_COLUMNS: &str =
    "id, organization_id, role_id, user_id, email, expires_at, accepted_at, created_at";

pub(crate) fn invitation_from_row(r: &DbRow) -> Result<accord_domain::customer_id::RoleInvitation> {
    Ok(accord_domain::customer_id::RoleInvitation {
        id: r.id("id")?,
        organization_id: r.opt_id("organization_id")?,
        role_id: r.opt_id("role_id")?,
        user_id: r.id("user_id")?,
        email: r.col("email")?,
        expires_at: r.time("expires_at")?,
        accepted_at: r.opt_time("accepted_at")?,
        created_at: r.time("created_at")?,
    })
}

pub(crate) const PROVIDER_COLUMNS: &str = "organization_id, issuer, authorization_url, token_url, logout_url, client_id, \
     client_secret_sealed, jwks_url, userinfo_url, validate_signature, disable_userinfo, default_scope, \
     token_auth_method, created_at, updated_at";

pub(crate) fn provider_from_row(r: &DbRow) -> Result<IdentityProvider> {
    let text = |c: &str| -> Result<String> { r.col(c) };
    let method: String = text("token_auth_method")?;
    Ok(IdentityProvider {
        organization_id: r.id("organization_id")?,
        settings: ProviderSettings {
            issuer: text("issuer")?,
            authorization_url: text("authorization_url")?,
            token_url: text("token_url")?,
            logout_url: text("logout_url")?,
            client_id: text("client_id")?,
            jwks_url: text("jwks_url")?,
            userinfo_url: text("userinfo_url")?,
            validate_signature: r.col("validate_signature")?,
            disable_userinfo: r.col("disable_userinfo")?,
            default_scope: text("default_scope")?,
            token_auth_method: TokenAuthMethod::parse(&method).map_err(|_| {
                accord_domain::Error::internal(format!("bad token_auth_method {method:?}"))
            })?,
        },
        client_secret_sealed: text("client_secret_sealed")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}
