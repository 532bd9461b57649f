// The unit of work, written once and compiled into both `sqlite` and `postgres` (each
// includes this file after defining `DB` and `FOR_UPDATE`). Only SQL that both backends
// accept belongs here: `$n` placeholders, BIGINT millisecond times, TEXT IDs.

use accord_domain::consent::{ChangedBy, ConsentValue, HistoryEntry, StoredConsent};
use accord_domain::ledger::{CurrentValue, LedgerRow, RecordedValue};
use accord_domain::federation::{ExternalIdentity, IdentityProvider, LoginState, ProviderSettings, TokenAuthMethod};
use accord_domain::identity::{Email, OrgRole, RoleGrant, User, UserStatus};
use accord_domain::organization::{
    LawfulBasis, Offer, OfferKind, Organization, OrganizationType, Purpose, SubscribeMethod, SubscribedOrg, Template,
};
use accord_domain::session::{RefreshTokenRecord, Session};
use accord_domain::throttle::ThrottleState;
use accord_domain::{OfferId, OrganizationId, SessionId, UserId};
use chrono::{DateTime, Utc};
use sqlx::Row;

use accord_domain::webhook::{ActionLog, Delivery, DeliveryStatus, EventType, Notification, OutboxEvent, Webhook};

use crate::{
    from_ms, to_ms, ConsentRead, ConsentReadQuery, ExpiringConsent, HistoryFilter, ImageRecord, RestClientRecord, Search, SearchField, SigningKeyRecord, Sweep,
    TreeNode,
};

pub struct Uow {
    tx: sqlx::Transaction<'static, DB>,
    /// SQLite's in-process write lock, held until the unit of work ends.
    #[allow(dead_code)] // held, never read
    write_lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

type DbRow = <DB as sqlx::Database>::Row;

const USER_COLUMNS: &str = "id, email, name, phone, password_hash, status, is_platform_admin, \
     image_id, last_visit, apikey_revision, apikey_issued_at, client_token, client_type, created_at, \
     first_name, surname, home_organization_id, email_verified_at";

fn uuid_col(row: &DbRow, col: &str) -> Result<uuid::Uuid> {
    let s: String = row.try_get(col).map_err(db_error)?;
    uuid::Uuid::parse_str(&s).map_err(|e| accord_domain::Error::internal(format!("bad uuid in {col}: {e}")))
}

fn user_from_row(row: &DbRow) -> Result<User> {
    let email: Option<String> = row.try_get("email").map_err(db_error)?;
    let status: i64 = row.try_get("status").map_err(db_error)?;
    Ok(User {
        id: UserId(uuid_col(row, "id")?),
        // Stored emails were validated on the way in; one that no longer parses (a
        // stricter rule since) is kept rather than lost.
        email: email.map(|e| Email::parse(&e).unwrap_or_else(|_| Email::unchecked(e))),
        name: row.try_get("name").map_err(db_error)?,
        phone: row.try_get("phone").map_err(db_error)?,
        password_hash: row.try_get("password_hash").map_err(db_error)?,
        status: UserStatus::from_code(status).unwrap_or(UserStatus::Disabled),
        is_platform_admin: row.try_get("is_platform_admin").map_err(db_error)?,
        image_id: row.try_get("image_id").map_err(db_error)?,
        last_visit: row.try_get::<Option<i64>, _>("last_visit").map_err(db_error)?.map(from_ms),
        apikey_revision: row.try_get("apikey_revision").map_err(db_error)?,
        apikey_issued_at: row
            .try_get::<Option<i64>, _>("apikey_issued_at")
            .map_err(db_error)?
            .map(from_ms),
        client_token: row.try_get("client_token").map_err(db_error)?,
        client_type: row.try_get("client_type").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        first_name: row.try_get("first_name").map_err(db_error)?,
        surname: row.try_get("surname").map_err(db_error)?,
        home_organization_id: opt_id(row, "home_organization_id")?,
        email_verified_at: row
            .try_get::<Option<i64>, _>("email_verified_at")
            .map_err(db_error)?
            .map(from_ms),
    })
}

fn session_from_row(row: &DbRow) -> Result<Session> {
    Ok(Session {
        id: SessionId(uuid_col(row, "id")?),
        user_id: UserId(uuid_col(row, "user_id")?),
        client_id: row.try_get("client_id").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        expires_at: from_ms(row.try_get("expires_at").map_err(db_error)?),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at").map_err(db_error)?.map(from_ms),
    })
}


const ORG_COLUMNS: &str = "o.id, o.name, o.location, o.description, o.type_id, o.enabled, o.policy_url, \
     o.eula_url, o.cover_image_id, o.logo_image_id, o.hlc_support, o.subscribe_method, o.subscribe_key, \
     o.retention_period, o.retention_enabled, o.created_at, o.technical_name, o.parent_id";

const PURPOSE_COLUMNS: &str = "id, organization_id, name, description, lawful_basis, policy_url, \
     attribute_type, jurisdiction, disclosure, industry_scope, restriction, shared_3pp";

fn opt_id(row: &DbRow, col: &str) -> Result<Option<OrganizationId>> {
    let s: Option<String> = row.try_get(col).map_err(db_error)?;
    s.map(|s| {
        uuid::Uuid::parse_str(&s)
            .map(OrganizationId)
            .map_err(|e| accord_domain::Error::internal(format!("bad uuid in {col}: {e}")))
    })
    .transpose()
}

fn org_from_row(row: &DbRow) -> Result<Organization> {
    Ok(Organization {
        id: OrganizationId(uuid_col(row, "id")?),
        name: row.try_get("name").map_err(db_error)?,
        location: row.try_get("location").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        type_id: opt_id(row, "type_id")?,
        enabled: row.try_get("enabled").map_err(db_error)?,
        policy_url: row.try_get("policy_url").map_err(db_error)?,
        eula_url: row.try_get("eula_url").map_err(db_error)?,
        cover_image_id: row.try_get("cover_image_id").map_err(db_error)?,
        logo_image_id: row.try_get("logo_image_id").map_err(db_error)?,
        hlc_support: row.try_get("hlc_support").map_err(db_error)?,
        subscribe_method: SubscribeMethod::from_id(row.try_get("subscribe_method").map_err(db_error)?)
            .unwrap_or(SubscribeMethod::Undefined),
        subscribe_key: row.try_get("subscribe_key").map_err(db_error)?,
        retention_period_secs: row.try_get("retention_period").map_err(db_error)?,
        retention_enabled: row.try_get("retention_enabled").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        technical_name: row.try_get("technical_name").map_err(db_error)?,
        parent_id: opt_id(row, "parent_id")?,
    })
}

fn purpose_from_row(row: &DbRow) -> Result<Purpose> {
    Ok(Purpose {
        id: OrganizationId(uuid_col(row, "id")?),
        organization_id: OrganizationId(uuid_col(row, "organization_id")?),
        name: row.try_get("name").map_err(db_error)?,
        description: row.try_get("description").map_err(db_error)?,
        lawful_basis: LawfulBasis::from_id(row.try_get("lawful_basis").map_err(db_error)?)
            .unwrap_or(LawfulBasis::Consent),
        policy_url: row.try_get("policy_url").map_err(db_error)?,
        attribute_type: row.try_get("attribute_type").map_err(db_error)?,
        jurisdiction: row.try_get("jurisdiction").map_err(db_error)?,
        disclosure: row.try_get("disclosure").map_err(db_error)?,
        industry_scope: row.try_get("industry_scope").map_err(db_error)?,
        restriction: row.try_get("restriction").map_err(db_error)?,
        shared_3pp: row.try_get("shared_3pp").map_err(db_error)?,
    })
}

fn org_type_from_row(row: &DbRow) -> Result<OrganizationType> {
    Ok(OrganizationType {
        id: OrganizationId(uuid_col(row, "id")?),
        name: row.try_get("name").map_err(db_error)?,
        image_id: row.try_get("image_id").map_err(db_error)?,
    })
}


const HISTORY_COLUMNS: &str = "id, organization_id, seq, user_id, consent_id, purpose_id, attribute_id, actor_id, \
     changed_by, old_value, new_value, days, at, prev_hash, hash";

fn consent_value(raw: &str) -> Result<ConsentValue> {
    ConsentValue::parse(raw).map_err(|_| accord_domain::Error::internal(format!("bad consent value {raw:?} in the database")))
}

fn history_from_row(row: &DbRow) -> Result<HistoryEntry> {
    let old: Option<String> = row.try_get("old_value").map_err(db_error)?;
    let new: String = row.try_get("new_value").map_err(db_error)?;
    let changed_by: String = row.try_get("changed_by").map_err(db_error)?;
    Ok(HistoryEntry {
        id: row.try_get("id").map_err(db_error)?,
        seq: row.try_get("seq").map_err(db_error)?,
        organization_id: row.try_get("organization_id").map_err(db_error)?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        consent_id: row.try_get("consent_id").map_err(db_error)?,
        purpose_id: row.try_get("purpose_id").map_err(db_error)?,
        attribute_id: row.try_get("attribute_id").map_err(db_error)?,
        actor_id: row.try_get("actor_id").map_err(db_error)?,
        changed_by: ChangedBy::parse(&changed_by),
        old_value: old.as_deref().map(consent_value).transpose()?,
        new_value: consent_value(&new)?,
        days: row.try_get("days").map_err(db_error)?,
        at: from_ms(row.try_get("at").map_err(db_error)?),
        prev_hash: row.try_get("prev_hash").map_err(db_error)?,
        hash: row.try_get("hash").map_err(db_error)?,
    })
}


const WEBHOOK_COLUMNS: &str = "id, organization_id, payload_url, subscribed_events, content_type, secret_key, \
     disabled, skip_ssl_verification, created_at, consecutive_failures, backoff_until";
const DELIVERY_COLUMNS: &str = "id, webhook_id, organization_id, outbox_id, event_type, body, status, attempts, \
     next_attempt_at, last_status_code, last_error, created_at, delivered_at";

fn webhook_from_row(row: &DbRow) -> Result<Webhook> {
    let events: String = row.try_get("subscribed_events").map_err(db_error)?;
    Ok(Webhook {
        id: row.try_get("id").map_err(db_error)?,
        organization_id: OrganizationId(uuid_col(row, "organization_id")?),
        payload_url: row.try_get("payload_url").map_err(db_error)?,
        events: events.split_whitespace().filter_map(|e| EventType::parse(e).ok()).collect(),
        content_type: row.try_get("content_type").map_err(db_error)?,
        secret_key: row.try_get("secret_key").map_err(db_error)?,
        disabled: row.try_get("disabled").map_err(db_error)?,
        skip_ssl_verification: row.try_get("skip_ssl_verification").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        consecutive_failures: row.try_get("consecutive_failures").map_err(db_error)?,
        backoff_until: row.try_get::<Option<i64>, _>("backoff_until").map_err(db_error)?.map(from_ms),
    })
}

fn delivery_from_row(row: &DbRow) -> Result<Delivery> {
    let status: String = row.try_get("status").map_err(db_error)?;
    Ok(Delivery {
        id: row.try_get("id").map_err(db_error)?,
        webhook_id: row.try_get("webhook_id").map_err(db_error)?,
        organization_id: OrganizationId(uuid_col(row, "organization_id")?),
        outbox_id: row.try_get("outbox_id").map_err(db_error)?,
        event_type: row.try_get("event_type").map_err(db_error)?,
        body: row.try_get("body").map_err(db_error)?,
        status: DeliveryStatus::parse(&status),
        attempts: row.try_get("attempts").map_err(db_error)?,
        next_attempt_at: from_ms(row.try_get("next_attempt_at").map_err(db_error)?),
        last_status_code: row.try_get("last_status_code").map_err(db_error)?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        delivered_at: row.try_get::<Option<i64>, _>("delivered_at").map_err(db_error)?.map(from_ms),
    })
}

fn events_text(events: &[EventType]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(" ")
}


fn offer_from_row(row: &DbRow) -> Result<Offer> {
    let kind: i64 = row.try_get("kind").map_err(db_error)?;
    Ok(Offer {
        id: OfferId(uuid_col(row, "id")?),
        organization_id: OrganizationId(uuid_col(row, "organization_id")?),
        user_id: UserId(uuid_col(row, "user_id")?),
        kind: OfferKind::from_code(kind)
            .ok_or_else(|| accord_domain::Error::internal(format!("unknown offer kind {kind}")))?,
        offered_by: UserId(uuid_col(row, "offered_by")?),
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
    })
}

fn notification_from_row(row: &DbRow) -> Result<Notification> {
    let attrs: String = row.try_get("attribute_ids").map_err(db_error)?;
    Ok(Notification {
        id: row.try_get("id").map_err(db_error)?,
        user_id: UserId(uuid_col(row, "user_id")?),
        organization_id: OrganizationId(uuid_col(row, "organization_id")?),
        kind: row.try_get("kind").map_err(db_error)?,
        purpose_id: {
            let p: String = row.try_get("purpose_id").map_err(db_error)?;
            (!p.is_empty()).then(|| uuid_col(row, "purpose_id").map(OrganizationId)).transpose()?
        },
        attribute_ids: attrs.split_whitespace().filter_map(|a| uuid::Uuid::parse_str(a).ok().map(OrganizationId)).collect(),
        message: row.try_get("message").map_err(db_error)?,
        created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        read_at: row.try_get::<Option<i64>, _>("read_at").map_err(db_error)?.map(from_ms),
    })
}


fn mandate_from_row(r: &DbRow) -> Result<accord_domain::customer_id::Mandate> {
    use accord_domain::customer_id::{Mandate, MandateType, Party};
    let kind: String = r.try_get("kind").map_err(db_error)?;
    let party = |org: &str, user: &str, email: Option<&str>| -> Result<Party> {
        if let Some(o) = opt_id(r, org)? {
            return Ok(Party::Organization(o));
        }
        let u: Option<String> = r.try_get(user).map_err(db_error)?;
        if let Some(u) = u {
            return Ok(Party::User(UserId(uuid::Uuid::parse_str(&u).map_err(accord_domain::Error::internal)?)));
        }
        let e: Option<String> = match email {
            Some(col) => r.try_get(col).map_err(db_error)?,
            None => None,
        };
        e.map(Party::Email).ok_or_else(|| accord_domain::Error::internal("a mandate without a party"))
    };
    Ok(Mandate {
        id: uuid_col(r, "id")?,
        kind: MandateType::parse(&kind).map_err(|_| accord_domain::Error::internal("bad mandate type"))?,
        mandater: party("mandater_organization_id", "mandater_user_id", None)?,
        mandatee: party("mandatee_organization_id", "mandatee_user_id", Some("assignee_email"))?,
        role_id: r.try_get("role_id").map_err(db_error)?,
        assignee_email: r.try_get("assignee_email").map_err(db_error)?,
        valid_from: r.try_get::<Option<i64>, _>("valid_from").map_err(db_error)?.map(from_ms),
        valid_until: r.try_get::<Option<i64>, _>("valid_until").map_err(db_error)?.map(from_ms),
        created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
    })
}

const INVITATION_COLUMNS: &str = "id, organization_id, role_id, user_id, email, expires_at, accepted_at, created_at";

fn invitation_from_row(r: &DbRow) -> Result<accord_domain::customer_id::RoleInvitation> {
    Ok(accord_domain::customer_id::RoleInvitation {
        id: uuid_col(r, "id")?,
        organization_id: opt_id(r, "organization_id")?,
        role_id: r.try_get("role_id").map_err(db_error)?,
        user_id: UserId(uuid_col(r, "user_id")?),
        email: r.try_get("email").map_err(db_error)?,
        expires_at: from_ms(r.try_get("expires_at").map_err(db_error)?),
        accepted_at: r.try_get::<Option<i64>, _>("accepted_at").map_err(db_error)?.map(from_ms),
        created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
    })
}

/// `column` matches `value` case-insensitively: equal, or starting with it. `%`, `_` and
/// `\` in the value are literal.
fn push_match(q: &mut sqlx::QueryBuilder<'_, DB>, column: &str, value: &str, exact: bool) {
    let lowered = value.to_lowercase();
    if exact {
        q.push(format!(" AND LOWER({column}) = ")).push_bind(lowered);
    } else {
        let escaped = lowered.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q.push(format!(" AND LOWER({column}) LIKE ")).push_bind(format!("{escaped}%")).push(" ESCAPE '\\'");
    }
}

impl Uow {
    /// Every change to an organisation's layout (settings, purposes, templates) counts
    /// here, in its own unit of work: nodes caching the layout compare this counter.
    async fn bump_layout(&mut self, org: OrganizationId) -> Result<()> {
        sqlx::query("UPDATE organizations SET layout_version = layout_version + 1 WHERE id = $1")
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    /// Replaces an entity's custom attribute values (`table` and `key_column` are ours,
    /// never a client's).
    async fn replace_attribute(&mut self, table: &str, key_column: &str, key: &str, name: &str, values: &[String]) -> Result<()> {
        sqlx::query(&format!("DELETE FROM {table} WHERE {key_column} = $1 AND name = $2"))
            .bind(key)
            .bind(name)
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        for (position, value) in values.iter().enumerate() {
            sqlx::query(&format!("INSERT INTO {table} ({key_column}, name, position, value) VALUES ($1, $2, $3, $4)"))
                .bind(key)
                .bind(name)
                .bind(position as i64)
                .bind(value)
                .execute(&mut *self.tx)
                .await
                .map_err(db_error)?;
        }
        Ok(())
    }

    async fn set_template_purposes(&mut self, t: &Template) -> Result<()> {
        sqlx::query("DELETE FROM template_purposes WHERE template_id = $1")
            .bind(t.id.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        for (position, purpose) in t.purpose_ids.iter().enumerate() {
            sqlx::query("INSERT INTO template_purposes (template_id, purpose_id, position) VALUES ($1, $2, $3)")
                .bind(t.id.to_string())
                .bind(purpose.to_string())
                .bind(position as i64)
                .execute(&mut *self.tx)
                .await
                .map_err(db_error)?;
        }
        self.bump_layout(t.organization_id).await
    }
}

#[async_trait]
impl Tx for Uow {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await.map_err(db_error)
    }

    async fn insert_user(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, email, email_key, name, phone, password_hash, status, \
             is_platform_admin, image_id, last_visit, apikey_revision, apikey_issued_at, \
             client_token, client_type, created_at, first_name, surname, home_organization_id, \
             email_verified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(u.id.to_string())
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.email.as_ref().map(Email::key))
        .bind(&u.name)
        .bind(&u.phone)
        .bind(&u.password_hash)
        .bind(u.status.code())
        .bind(u.is_platform_admin)
        .bind(&u.image_id)
        .bind(u.last_visit.map(to_ms))
        .bind(u.apikey_revision)
        .bind(u.apikey_issued_at.map(to_ms))
        .bind(&u.client_token)
        .bind(u.client_type)
        .bind(to_ms(u.created_at))
        .bind(&u.first_name)
        .bind(&u.surname)
        .bind(u.home_organization_id.map(|o| o.to_string()))
        .bind(u.email_verified_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn user_by_id(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_email_key(&mut self, email_key: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        sqlx::query(&sql)
            .bind(email_key)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn update_user_profile(&mut self, id: UserId, name: &str, phone: &str) -> Result<()> {
        sqlx::query("UPDATE users SET name = $1, phone = $2 WHERE id = $3")
            .bind(name)
            .bind(phone)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_password_hash(&mut self, id: UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_last_visit(&mut self, id: UserId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(SET_LAST_VISIT_SQL)
            .bind(to_ms(at))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_apikey(&mut self, id: UserId, revision: i64, issued_at: Option<DateTime<Utc>>) -> Result<()> {
        sqlx::query("UPDATE users SET apikey_revision = $1, apikey_issued_at = $2 WHERE id = $3")
            .bind(revision)
            .bind(issued_at.map(to_ms))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn revoke_apikey(&mut self, id: UserId) -> Result<()> {
        sqlx::query(
            "UPDATE users SET apikey_revision = apikey_revision + 1, apikey_issued_at = NULL \
             WHERE id = $1 AND apikey_issued_at IS NOT NULL",
        )
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn set_platform_admin(&mut self, id: UserId, is_admin: bool) -> Result<()> {
        sqlx::query("UPDATE users SET is_platform_admin = $1 WHERE id = $2")
            .bind(is_admin)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn delete_user(&mut self, id: UserId) -> Result<bool> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn role_grants_of(&mut self, id: UserId) -> Result<Vec<RoleGrant>> {
        let rows = sqlx::query(
            "SELECT organization_id, role_id FROM organization_roles WHERE user_id = $1 \
             ORDER BY organization_id, role_id",
        )
        .bind(id.to_string())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            let role_id: i64 = row.try_get("role_id").map_err(db_error)?;
            if let Some(role) = OrgRole::from_id(role_id) {
                grants.push(RoleGrant { organization_id: OrganizationId(uuid_col(row, "organization_id")?), role });
            }
        }
        Ok(grants)
    }

    async fn insert_session(&mut self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, client_id, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.client_id)
        .bind(to_ms(s.created_at))
        .bind(to_ms(s.expires_at))
        .bind(s.revoked_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn session_by_id(&mut self, id: SessionId) -> Result<Option<Session>> {
        sqlx::query(
            "SELECT id, user_id, client_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    async fn revoke_session(&mut self, id: SessionId, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(REVOKE_SESSION_SQL)
            .bind(to_ms(at))
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn revoke_sessions_of_user(&mut self, user: UserId, at: DateTime<Utc>, except: Option<SessionId>) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        )
            .bind(to_ms(at))
            .bind(user.to_string())
            // An ID no session has when none is spared.
            .bind(except.map(|s| s.to_string()).unwrap_or_default())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn session_was_refreshed(&mut self, session: SessionId) -> Result<bool> {
        sqlx::query("SELECT 1 FROM refresh_tokens WHERE session_id = $1 AND used_at IS NOT NULL LIMIT 1")
            .bind(session.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map(|r| r.is_some())
            .map_err(db_error)
    }

    async fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        sqlx::query(INSERT_REFRESH_TOKEN_SQL)
        .bind(&t.token_hash)
        .bind(t.session_id.to_string())
        .bind(to_ms(t.expires_at))
        .bind(t.used_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn refresh_token_by_hash(&mut self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        let sql = format!(
            "SELECT token_hash, session_id, expires_at, used_at FROM refresh_tokens \
             WHERE token_hash = $1 {FOR_UPDATE}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(RefreshTokenRecord {
            token_hash: row.try_get("token_hash").map_err(db_error)?,
            session_id: SessionId(uuid_col(&row, "session_id")?),
            expires_at: from_ms(row.try_get("expires_at").map_err(db_error)?),
            used_at: row.try_get::<Option<i64>, _>("used_at").map_err(db_error)?.map(from_ms),
        }))
    }

    async fn mark_refresh_token_used(&mut self, token_hash: &str, at: DateTime<Utc>) -> Result<bool> {
        sqlx::query(MARK_REFRESH_TOKEN_USED_SQL)
            .bind(to_ms(at))
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(db_error)
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT id, algorithm, private_key, public_key, created_at FROM signing_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    id: row.try_get("id").map_err(db_error)?,
                    algorithm: row.try_get("algorithm").map_err(db_error)?,
                    private_key: row.try_get("private_key").map_err(db_error)?,
                    public_key: row.try_get("public_key").map_err(db_error)?,
                    created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
                })
            })
            .collect()
    }

    async fn insert_signing_key(&mut self, k: &SigningKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (id, algorithm, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.id)
        .bind(&k.algorithm)
        .bind(&k.private_key)
        .bind(&k.public_key)
        .bind(to_ms(k.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn insert_password_reset(&mut self, token_hash: &str, user: UserId, expires_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(to_ms(expires_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn set_email_verified(&mut self, user: UserId, at: Option<DateTime<Utc>>) -> Result<()> {
        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
            .bind(at.map(to_ms))
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn insert_email_verification(
        &mut self,
        token_hash: &str,
        user: UserId,
        email_key: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO email_verifications (token_hash, user_id, email_key, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(email_key)
        .bind(to_ms(expires_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn take_email_verification(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>> {
        // One statement: two uses racing for one token cannot both win.
        let row = sqlx::query(
            "DELETE FROM email_verifications WHERE token_hash = $1 AND expires_at > $2 \
             RETURNING user_id, email_key",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| {
            Ok((
                UserId(uuid_col(&r, "user_id")?),
                r.try_get("email_key").map_err(db_error)?,
            ))
        })
        .transpose()
    }

    async fn void_email_verifications(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM email_verifications WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn void_password_resets(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM password_reset_tokens WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn consume_password_reset(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
        // One statement: two confirmations racing for one token cannot both win.
        let row = sqlx::query(
            "UPDATE password_reset_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(to_ms(now))
        .bind(token_hash)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| uuid_col(&r, "user_id").map(UserId)).transpose()
    }

    async fn throttle_state(&mut self, key: &str, fresh: &ThrottleState) -> Result<ThrottleState> {
        // Insert first, then lock: on PostgreSQL a concurrent first attempt waits on the
        // insert instead of both reading "no row" and one count being lost.
        sqlx::query(
            "INSERT INTO login_throttle (key, attempts, window_start, locked_until, lockouts) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(i64::from(fresh.attempts))
        .bind(to_ms(fresh.window_start))
        .bind(fresh.locked_until.map(to_ms))
        .bind(i64::from(fresh.lockouts))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let sql = format!(
            "SELECT attempts, window_start, locked_until, lockouts FROM login_throttle \
             WHERE key = $1 {FOR_UPDATE}"
        );
        let row = sqlx::query(&sql).bind(key).fetch_one(&mut *self.tx).await.map_err(db_error)?;
        Ok(ThrottleState {
            attempts: row.try_get::<i64, _>("attempts").map_err(db_error)?.clamp(0, u32::MAX as i64) as u32,
            window_start: from_ms(row.try_get("window_start").map_err(db_error)?),
            locked_until: row.try_get::<Option<i64>, _>("locked_until").map_err(db_error)?.map(from_ms),
            lockouts: row.try_get::<i64, _>("lockouts").map_err(db_error)?.clamp(0, u32::MAX as i64) as u32,
        })
    }

    async fn put_throttle_state(&mut self, key: &str, s: &ThrottleState) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_throttle (key, attempts, window_start, locked_until, lockouts) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, \
             window_start = excluded.window_start, locked_until = excluded.locked_until, \
             lockouts = excluded.lockouts",
        )
        .bind(key)
        .bind(i64::from(s.attempts))
        .bind(to_ms(s.window_start))
        .bind(s.locked_until.map(to_ms))
        .bind(i64::from(s.lockouts))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }
    async fn insert_org_type(&mut self, t: &OrganizationType, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO organization_types (id, name, image_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(&t.name)
            .bind(&t.image_id)
            .bind(to_ms(at))
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn org_type_by_id(&mut self, id: OrganizationId) -> Result<Option<OrganizationType>> {
        sqlx::query("SELECT id, name, image_id FROM organization_types WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(org_type_from_row)
            .transpose()
    }

    async fn org_types(&mut self) -> Result<Vec<OrganizationType>> {
        let rows = sqlx::query("SELECT id, name, image_id FROM organization_types ORDER BY id")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(org_type_from_row).collect()
    }

    async fn update_org_type(&mut self, t: &OrganizationType) -> Result<()> {
        sqlx::query("UPDATE organization_types SET name = $1, image_id = $2 WHERE id = $3")
            .bind(&t.name)
            .bind(&t.image_id)
            .bind(t.id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn delete_org_type(&mut self, id: OrganizationId) -> Result<bool> {
        sqlx::query("DELETE FROM organization_types WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn org_type_in_use(&mut self, id: OrganizationId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM organizations WHERE type_id = $1 LIMIT 1")
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn insert_organization(&mut self, o: &Organization) -> Result<()> {
        sqlx::query(
            "INSERT INTO organizations (id, name, location, description, type_id, enabled, policy_url, \
             eula_url, cover_image_id, logo_image_id, hlc_support, subscribe_method, subscribe_key, \
             retention_period, retention_enabled, created_at, technical_name, parent_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(o.id.to_string())
        .bind(&o.name)
        .bind(&o.location)
        .bind(&o.description)
        .bind(o.type_id.map(|t| t.to_string()))
        .bind(o.enabled)
        .bind(&o.policy_url)
        .bind(&o.eula_url)
        .bind(&o.cover_image_id)
        .bind(&o.logo_image_id)
        .bind(o.hlc_support)
        .bind(o.subscribe_method.id())
        .bind(&o.subscribe_key)
        .bind(o.retention_period_secs)
        .bind(o.retention_enabled)
        .bind(to_ms(o.created_at))
        .bind(&o.technical_name)
        .bind(o.parent_id.map(|p| p.to_string()))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn organization_by_id(&mut self, id: OrganizationId) -> Result<Option<Organization>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = $1");
        sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(org_from_row)
            .transpose()
    }

    async fn update_organization(&mut self, o: &Organization) -> Result<()> {
        sqlx::query(
            "UPDATE organizations SET name = $1, location = $2, description = $3, type_id = $4, \
             enabled = $5, policy_url = $6, eula_url = $7, cover_image_id = $8, logo_image_id = $9, \
             hlc_support = $10, subscribe_method = $11, subscribe_key = $12, retention_period = $13, \
             retention_enabled = $14, technical_name = $16, parent_id = $17, \
             layout_version = layout_version + 1 WHERE id = $15",
        )
        .bind(&o.name)
        .bind(&o.location)
        .bind(&o.description)
        .bind(o.type_id.map(|t| t.to_string()))
        .bind(o.enabled)
        .bind(&o.policy_url)
        .bind(&o.eula_url)
        .bind(&o.cover_image_id)
        .bind(&o.logo_image_id)
        .bind(o.hlc_support)
        .bind(o.subscribe_method.id())
        .bind(&o.subscribe_key)
        .bind(o.retention_period_secs)
        .bind(o.retention_enabled)
        .bind(o.id.to_string())
        .bind(&o.technical_name)
        .bind(o.parent_id.map(|p| p.to_string()))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn grant_role(&mut self, org: OrganizationId, user: UserId, role: OrgRole) -> Result<()> {
        sqlx::query(
            "INSERT INTO organization_roles (organization_id, user_id, role_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(role.id())
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn revoke_roles(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        sqlx::query("DELETE FROM organization_roles WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn role_holders(&mut self, org: OrganizationId) -> Result<Vec<(UserId, OrgRole)>> {
        let rows = sqlx::query(
            "SELECT user_id, role_id FROM organization_roles WHERE organization_id = $1 ORDER BY user_id, role_id",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(role) = OrgRole::from_id(row.try_get("role_id").map_err(db_error)?) {
                out.push((UserId(uuid_col(row, "user_id")?), role));
            }
        }
        Ok(out)
    }

    async fn subscribe(&mut self, org: OrganizationId, user: UserId, at: DateTime<Utc>) -> Result<bool> {
        sqlx::query(
            "INSERT INTO subscriptions (organization_id, user_id, subscribed_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(to_ms(at))
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(db_error)
    }

    async fn unsubscribe(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        sqlx::query("DELETE FROM subscriptions WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn insert_offer(&mut self, o: &Offer) -> Result<bool> {
        sqlx::query(
            "INSERT INTO offers (id, organization_id, user_id, kind, offered_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, user_id, kind) DO NOTHING",
        )
        .bind(o.id.to_string())
        .bind(o.organization_id.to_string())
        .bind(o.user_id.to_string())
        .bind(o.kind.code())
        .bind(o.offered_by.to_string())
        .bind(to_ms(o.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected() > 0)
        .map_err(db_error)
    }

    async fn offers_of(&mut self, user: UserId) -> Result<Vec<Offer>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, user_id, kind, offered_by, created_at FROM offers \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user.to_string())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter().map(offer_from_row).collect()
    }

    async fn take_offer(&mut self, user: UserId, id: OfferId) -> Result<Option<Offer>> {
        let row = sqlx::query(
            "DELETE FROM offers WHERE id = $1 AND user_id = $2 \
             RETURNING id, organization_id, user_id, kind, offered_by, created_at",
        )
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.as_ref().map(offer_from_row).transpose()
    }

    async fn delete_consent_record(&mut self, org: OrganizationId, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM consents WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn is_subscribed(&mut self, org: OrganizationId, user: UserId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM subscriptions WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn subscribers(&mut self, org: OrganizationId, after: Option<UserId>, limit: i64) -> Result<Vec<User>> {
        // The (organization_id, user_id) primary key serves both the filter and the order.
        let cols = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols} FROM subscriptions s JOIN users u ON u.id = s.user_id \
             WHERE s.organization_id = $1 AND s.user_id > $2 ORDER BY s.user_id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(after.map(|a| a.to_string()).unwrap_or_default())
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn subscriber_count(&mut self, org: OrganizationId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM subscriptions WHERE organization_id = $1")
            .bind(org.to_string())
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_error)?;
        row.try_get("n").map_err(db_error)
    }

    async fn subscriptions_of(&mut self, user: UserId) -> Result<Vec<SubscribedOrg>> {
        let sql = format!(
            "SELECT {ORG_COLUMNS}, COALESCE(t.name, '') AS type_name FROM subscriptions s \
             JOIN organizations o ON o.id = s.organization_id \
             LEFT JOIN organization_types t ON t.id = o.type_id \
             WHERE s.user_id = $1 ORDER BY s.subscribed_at, o.id"
        );
        let rows = sqlx::query(&sql)
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(SubscribedOrg { organization: org_from_row(r)?, type_name: r.try_get("type_name").map_err(db_error)? })
            })
            .collect()
    }

    async fn insert_purpose(&mut self, p: &Purpose, at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO purposes (id, organization_id, name, description, lawful_basis, policy_url, \
             attribute_type, jurisdiction, disclosure, industry_scope, restriction, shared_3pp, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(p.id.to_string())
        .bind(p.organization_id.to_string())
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.lawful_basis.id())
        .bind(&p.policy_url)
        .bind(p.attribute_type)
        .bind(&p.jurisdiction)
        .bind(&p.disclosure)
        .bind(&p.industry_scope)
        .bind(&p.restriction)
        .bind(p.shared_3pp)
        .bind(to_ms(at))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.bump_layout(p.organization_id).await
    }

    async fn layout_version(&mut self, org: OrganizationId) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT layout_version FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get("layout_version").map_err(db_error)).transpose()
    }

    async fn purposes_of(&mut self, org: OrganizationId) -> Result<Vec<Purpose>> {
        let sql = format!(
            "SELECT {PURPOSE_COLUMNS} FROM purposes WHERE organization_id = $1 AND deleted_at IS NULL \
             ORDER BY id"
        );
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(purpose_from_row).collect()
    }

    async fn update_purpose(&mut self, p: &Purpose) -> Result<()> {
        sqlx::query(
            "UPDATE purposes SET name = $1, description = $2, lawful_basis = $3, policy_url = $4, \
             attribute_type = $5, jurisdiction = $6, disclosure = $7, industry_scope = $8, \
             restriction = $9, shared_3pp = $10 WHERE id = $11 AND organization_id = $12",
        )
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.lawful_basis.id())
        .bind(&p.policy_url)
        .bind(p.attribute_type)
        .bind(&p.jurisdiction)
        .bind(&p.disclosure)
        .bind(&p.industry_scope)
        .bind(&p.restriction)
        .bind(p.shared_3pp)
        .bind(p.id.to_string())
        .bind(p.organization_id.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.bump_layout(p.organization_id).await
    }

    async fn delete_purpose(&mut self, org: OrganizationId, id: OrganizationId, at: DateTime<Utc>) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE purposes SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.bump_layout(org).await?;
        Ok(r.rows_affected() > 0)
    }

    async fn insert_template(&mut self, t: &Template, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO templates (id, organization_id, consent, created_at) VALUES ($1, $2, $3, $4)")
            .bind(t.id.to_string())
            .bind(t.organization_id.to_string())
            .bind(&t.consent)
            .bind(to_ms(at))
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        self.set_template_purposes(t).await
    }

    async fn templates_of(&mut self, org: OrganizationId) -> Result<Vec<Template>> {
        // One statement for the templates and their live purposes (a query per template
        // made a consent read 29 statements: BENCHMARKS.md).
        let rows = sqlx::query(
            "SELECT t.id, t.consent, p.id AS purpose_id FROM templates t \
             LEFT JOIN template_purposes tp ON tp.template_id = t.id \
             LEFT JOIN purposes p ON p.id = tp.purpose_id AND p.deleted_at IS NULL \
             WHERE t.organization_id = $1 AND t.deleted_at IS NULL ORDER BY t.id, tp.position",
        )
        .bind(org.to_string())
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let mut out: Vec<Template> = Vec::new();
        for row in &rows {
            let id = OrganizationId(uuid_col(row, "id")?);
            if out.last().is_none_or(|t| t.id != id) {
                out.push(Template {
                    id,
                    organization_id: org,
                    consent: row.try_get("consent").map_err(db_error)?,
                    purpose_ids: vec![],
                });
            }
            let purpose: Option<String> = row.try_get("purpose_id").map_err(db_error)?;
            if let (Some(p), Some(t)) = (purpose, out.last_mut()) {
                let p = uuid::Uuid::parse_str(&p)
                    .map_err(|e| accord_domain::Error::internal(format!("bad uuid in purpose_id: {e}")))?;
                t.purpose_ids.push(OrganizationId(p));
            }
        }
        Ok(out)
    }

    async fn update_template(&mut self, t: &Template) -> Result<()> {
        sqlx::query("UPDATE templates SET consent = $1 WHERE id = $2 AND organization_id = $3")
            .bind(&t.consent)
            .bind(t.id.to_string())
            .bind(t.organization_id.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        self.set_template_purposes(t).await
    }

    async fn delete_template(&mut self, org: OrganizationId, id: OrganizationId, at: DateTime<Utc>) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE templates SET deleted_at = $1 WHERE id = $2 AND organization_id = $3 AND deleted_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(id.to_string())
        .bind(org.to_string())
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.bump_layout(org).await?;
        Ok(r.rows_affected() > 0)
    }

    async fn insert_image(&mut self, i: &ImageRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO images (id, owner, content_type, data, etag, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&i.id)
        .bind(&i.owner)
        .bind(&i.content_type)
        .bind(&i.data)
        .bind(&i.etag)
        .bind(to_ms(i.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn image_by_id(&mut self, id: &str) -> Result<Option<ImageRecord>> {
        let Some(row) = sqlx::query("SELECT id, owner, content_type, data, etag, created_at FROM images WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(ImageRecord {
            id: row.try_get("id").map_err(db_error)?,
            owner: row.try_get("owner").map_err(db_error)?,
            content_type: row.try_get("content_type").map_err(db_error)?,
            data: row.try_get("data").map_err(db_error)?,
            etag: row.try_get("etag").map_err(db_error)?,
            created_at: from_ms(row.try_get("created_at").map_err(db_error)?),
        }))
    }

    async fn sweep(&mut self, what: Sweep, before: DateTime<Utc>, limit: i64) -> Result<u64> {
        // A batch at a time, by primary key: no statement holds its table for long.
        let sql = match what {
            Sweep::EndedSessions => {
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 \
                 OR (revoked_at IS NOT NULL AND revoked_at < $1) LIMIT $2)"
            }
            Sweep::QuietThrottles => {
                "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE window_start < $1 \
                 AND (locked_until IS NULL OR locked_until < $1) LIMIT $2)"
            }
            Sweep::ProcessedOutbox => {
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE processed_at IS NOT NULL \
                 AND processed_at < $1 LIMIT $2)"
            }
            Sweep::FinishedDeliveries => {
                "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE status IN ('delivered', 'failed') AND created_at < $1 LIMIT $2)"
            }
            Sweep::OrganizationLogs => {
                "DELETE FROM organization_logs WHERE id IN (SELECT id FROM organization_logs WHERE created_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredResetTokens => {
                "DELETE FROM password_reset_tokens WHERE token_hash IN \
                 (SELECT token_hash FROM password_reset_tokens WHERE expires_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredLoginStates => {
                "DELETE FROM federated_login_states WHERE state_hash IN \
                 (SELECT state_hash FROM federated_login_states WHERE expires_at < $1 LIMIT $2)"
            }
            Sweep::ExpiredEmailVerifications => {
                "DELETE FROM email_verifications WHERE token_hash IN \
                 (SELECT token_hash FROM email_verifications WHERE expires_at < $1 LIMIT $2)"
            }
        };
        sqlx::query(sql)
            .bind(to_ms(before))
            .bind(limit)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected())
            .map_err(db_error)
    }

    async fn delete_image(&mut self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM images WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn set_user_image(&mut self, user: UserId, image_id: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE users SET image_id = $1 WHERE id = $2")
            .bind(image_id)
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }
    async fn ensure_consent(&mut self, org: OrganizationId, user: UserId, at: DateTime<Utc>) -> Result<String> {
        sqlx::query(
            "INSERT INTO consents (id, organization_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (organization_id, user_id) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(to_ms(at))
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        self.consent_of(org, user).await?.ok_or_else(|| accord_domain::Error::internal("consent record vanished"))
    }

    async fn consent_of(&mut self, org: OrganizationId, user: UserId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT id FROM consents WHERE organization_id = $1 AND user_id = $2")
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?;
        row.map(|r| r.try_get("id").map_err(db_error)).transpose()
    }

    async fn lock_chain_head(&mut self, org: OrganizationId) -> Result<(i64, String)> {
        sqlx::query(
            "INSERT INTO consent_chain_heads (organization_id, seq, hash) VALUES ($1, 0, $2) \
             ON CONFLICT (organization_id) DO NOTHING",
        )
        .bind(org.to_string())
        .bind(accord_domain::consent::GENESIS)
        .execute(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let sql = format!("SELECT seq, hash FROM consent_chain_heads WHERE organization_id = $1 {FOR_UPDATE}");
        let row = sqlx::query(&sql).bind(org.to_string()).fetch_one(&mut *self.tx).await.map_err(db_error)?;
        Ok((row.try_get("seq").map_err(db_error)?, row.try_get("hash").map_err(db_error)?))
    }

    async fn set_chain_head(&mut self, org: OrganizationId, seq: i64, hash: &str) -> Result<()> {
        sqlx::query(SET_CHAIN_HEAD_SQL)
            .bind(seq)
            .bind(hash)
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn insert_history(&mut self, e: &HistoryEntry) -> Result<()> {
        sqlx::query(INSERT_HISTORY_SQL)
        .bind(&e.id)
        .bind(&e.organization_id)
        .bind(e.seq)
        .bind(&e.user_id)
        .bind(&e.consent_id)
        .bind(&e.purpose_id)
        .bind(&e.attribute_id)
        .bind(&e.actor_id)
        .bind(e.changed_by.as_str())
        .bind(e.old_value.map(ConsentValue::as_str))
        .bind(e.new_value.as_str())
        .bind(e.days)
        .bind(to_ms(e.at))
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn history(&mut self, f: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        let mut q = sqlx::QueryBuilder::<DB>::new(format!("SELECT {HISTORY_COLUMNS} FROM consent_history WHERE 1 = 1"));
        if let Some(user) = f.user {
            q.push(" AND user_id = ").push_bind(user.to_string());
        }
        if let Some(org) = f.organization {
            q.push(" AND organization_id = ").push_bind(org.to_string());
        }
        if let Some(purpose) = f.purpose {
            q.push(" AND purpose_id = ").push_bind(purpose.to_string());
        }
        if let Some(from) = f.from {
            q.push(" AND at >= ").push_bind(to_ms(from));
        }
        if let Some(until) = f.until {
            q.push(" AND at <= ").push_bind(to_ms(until));
        }
        if let Some(before) = &f.before {
            q.push(" AND id < ").push_bind(before.clone());
        }
        q.push(" ORDER BY id DESC LIMIT ").push_bind(f.limit);
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(history_from_row).collect()
    }

    async fn history_entry(&mut self, id: &str) -> Result<Option<HistoryEntry>> {
        let sql = format!("SELECT {HISTORY_COLUMNS} FROM consent_history WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(history_from_row)
            .transpose()
    }

    async fn chain_page(&mut self, org: OrganizationId, after_seq: i64, limit: i64) -> Result<Vec<LedgerRow>> {
        let sql = format!(
            "SELECT {HISTORY_COLUMNS} FROM consent_history WHERE organization_id = $1 AND seq > $2 ORDER BY seq, id LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        // A row whose fields cannot be read is reported, not an error: it is what
        // verification looks for.
        rows.iter()
            .map(|row| match history_from_row(row) {
                Ok(e) => Ok(LedgerRow::Entry(Box::new(e))),
                Err(_) => Ok(LedgerRow::Unreadable { seq: row.try_get("seq").map_err(db_error)? }),
            })
            .collect()
    }

    async fn chain_end(&mut self, org: OrganizationId) -> Result<(Option<(i64, String)>, Option<i64>)> {
        let row = sqlx::query(
            "SELECT (SELECT seq FROM consent_chain_heads WHERE organization_id = $1) AS head_seq, \
             (SELECT hash FROM consent_chain_heads WHERE organization_id = $1) AS head_hash, \
             (SELECT MAX(seq) FROM consent_history WHERE organization_id = $1) AS highest",
        )
        .bind(org.to_string())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(db_error)?;
        let seq: Option<i64> = row.try_get("head_seq").map_err(db_error)?;
        let hash: Option<String> = row.try_get("head_hash").map_err(db_error)?;
        let highest: Option<i64> = row.try_get("highest").map_err(db_error)?;
        Ok((seq.zip(hash), highest))
    }

    async fn current_values_page(
        &mut self,
        org: OrganizationId,
        after: &(String, String, String),
        limit: i64,
    ) -> Result<Vec<CurrentValue>> {
        let rows = sqlx::query(
            "SELECT v.consent_id, v.purpose_id, v.attribute_id, v.value, v.days, v.changed_at, \
             h.seq AS h_seq, h.new_value AS h_value, h.days AS h_days, h.at AS h_at FROM \
             (SELECT cv.consent_id, cv.purpose_id, cv.attribute_id, cv.value, cv.days, cv.changed_at, \
              (SELECT MAX(x.seq) FROM consent_history x WHERE x.consent_id = cv.consent_id \
               AND x.purpose_id = cv.purpose_id AND x.attribute_id = cv.attribute_id \
               AND x.organization_id = cv.organization_id AND x.changed_by <> 'system') AS latest \
              FROM consent_values cv WHERE cv.organization_id = $1 \
              AND (cv.consent_id, cv.purpose_id, cv.attribute_id) > ($2, $3, $4) \
              ORDER BY cv.consent_id, cv.purpose_id, cv.attribute_id LIMIT $5) v \
             LEFT JOIN consent_history h ON h.organization_id = $1 AND h.seq = v.latest \
             ORDER BY v.consent_id, v.purpose_id, v.attribute_id",
        )
        .bind(org.to_string())
        .bind(&after.0)
        .bind(&after.1)
        .bind(&after.2)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let h_seq: Option<i64> = row.try_get("h_seq").map_err(db_error)?;
                let recorded = match h_seq {
                    Some(seq) => Some(RecordedValue {
                        seq,
                        value: row.try_get("h_value").map_err(db_error)?,
                        days: row.try_get("h_days").map_err(db_error)?,
                        at: from_ms(row.try_get("h_at").map_err(db_error)?),
                    }),
                    None => None,
                };
                Ok(CurrentValue {
                    consent_id: row.try_get("consent_id").map_err(db_error)?,
                    purpose_id: row.try_get("purpose_id").map_err(db_error)?,
                    attribute_id: row.try_get("attribute_id").map_err(db_error)?,
                    value: row.try_get("value").map_err(db_error)?,
                    days: row.try_get("days").map_err(db_error)?,
                    changed_at: from_ms(row.try_get("changed_at").map_err(db_error)?),
                    recorded,
                })
            })
            .collect()
    }

    async fn consented_users(
        &mut self,
        org: OrganizationId,
        purpose: OrganizationId,
        attribute: Option<OrganizationId>,
        now: DateTime<Utc>,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<User>> {
        let cols = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        // Only live attributes that still serve the purpose count; the subscription must stand.
        // Those two are EXISTS probes rather than joins: the consent_values_by_purpose index
        // must drive, in user order, so that a page reads about `limit` rows. As joins,
        // SQLite 3.46 with ANALYZE statistics scanned every subscription and sorted: the
        // first page took 48 ms at 10k users and 25 s at 1M (BENCHMARKS.md).
        let mut q = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {cols} FROM users u JOIN (SELECT DISTINCT cv.user_id FROM consent_values cv \
             WHERE cv.organization_id = "
        ));
        q.push_bind(org.to_string()).push(" AND cv.purpose_id = ").push_bind(purpose.to_string());
        if let Some(a) = attribute {
            q.push(" AND cv.attribute_id = ").push_bind(a.to_string());
        }
        q.push(" AND cv.value IN ('Allow', 'AskMe') AND (cv.expires_at IS NULL OR cv.expires_at > ")
            .push_bind(to_ms(now))
            .push(") AND cv.user_id > ")
            .push_bind(after.map(|a| a.to_string()).unwrap_or_default())
            .push(
                " AND EXISTS (SELECT 1 FROM subscriptions s \
                 WHERE s.organization_id = cv.organization_id AND s.user_id = cv.user_id) \
                 AND EXISTS (SELECT 1 FROM template_purposes tp JOIN templates t ON t.id = tp.template_id \
                 WHERE tp.template_id = cv.attribute_id AND tp.purpose_id = cv.purpose_id AND t.deleted_at IS NULL) \
                 ORDER BY cv.user_id LIMIT ",
            )
            .push_bind(limit)
            .push(") c ON c.user_id = u.id ORDER BY u.id");
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }
    async fn insert_webhook(&mut self, w: &Webhook) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhooks (id, organization_id, payload_url, subscribed_events, content_type, secret_key, \
             disabled, skip_ssl_verification, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&w.id)
        .bind(w.organization_id.to_string())
        .bind(&w.payload_url)
        .bind(events_text(&w.events))
        .bind(&w.content_type)
        .bind(&w.secret_key)
        .bind(w.disabled)
        .bind(w.skip_ssl_verification)
        .bind(to_ms(w.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn webhooks_of(&mut self, org: OrganizationId) -> Result<Vec<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE organization_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql).bind(org.to_string()).fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn update_webhook(&mut self, w: &Webhook) -> Result<()> {
        sqlx::query(
            "UPDATE webhooks SET payload_url = $1, subscribed_events = $2, content_type = $3, secret_key = $4, \
             disabled = $5, skip_ssl_verification = $6, consecutive_failures = $9, backoff_until = $10 \
             WHERE id = $7 AND organization_id = $8",
        )
        .bind(&w.payload_url)
        .bind(events_text(&w.events))
        .bind(&w.content_type)
        .bind(&w.secret_key)
        .bind(w.disabled)
        .bind(w.skip_ssl_verification)
        .bind(&w.id)
        .bind(w.organization_id.to_string())
        .bind(w.consecutive_failures)
        .bind(w.backoff_until.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn delete_webhook(&mut self, org: OrganizationId, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM webhooks WHERE id = $1 AND organization_id = $2")
            .bind(id)
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn insert_outbox(&mut self, e: &OutboxEvent) -> Result<()> {
        sqlx::query(INSERT_OUTBOX_SQL)
            .bind(&e.id)
            .bind(e.organization_id.to_string())
            .bind(&e.event_type)
            .bind(&e.data)
            .bind(to_ms(e.created_at))
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn claim_outbox(&mut self, limit: i64) -> Result<Vec<OutboxEvent>> {
        let sql = format!(
            "SELECT id, organization_id, event_type, data, created_at FROM outbox WHERE processed_at IS NULL \
             ORDER BY id LIMIT $1 {SKIP_LOCKED}"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxEvent {
                    id: r.try_get("id").map_err(db_error)?,
                    organization_id: OrganizationId(uuid_col(r, "organization_id")?),
                    event_type: r.try_get("event_type").map_err(db_error)?,
                    data: r.try_get("data").map_err(db_error)?,
                    created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
                })
            })
            .collect()
    }

    async fn mark_outbox_processed(&mut self, ids: &[String], at: DateTime<Utc>) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<DB>::new("UPDATE outbox SET processed_at = ");
        q.push_bind(to_ms(at)).push(" WHERE id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(")");
        q.build().execute(&mut *self.tx).await.map(|_| ()).map_err(db_error)
    }

    async fn insert_delivery(&mut self, d: &Delivery) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, organization_id, outbox_id, event_type, body, status, \
             attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
        )
        .bind(&d.id)
        .bind(&d.webhook_id)
        .bind(d.organization_id.to_string())
        .bind(&d.outbox_id)
        .bind(&d.event_type)
        .bind(&d.body)
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(to_ms(d.next_attempt_at))
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(to_ms(d.created_at))
        .bind(d.delivered_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_organization: i64,
    ) -> Result<Vec<Delivery>> {
        // Each organisation's oldest due deliveries, as many as its free places in flight;
        // then claimed one by one, each only if still free (another node may have won it).
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM (SELECT {DELIVERY_COLUMNS}, \
             ROW_NUMBER() OVER (PARTITION BY organization_id ORDER BY next_attempt_at, id) AS place \
             FROM webhook_deliveries d WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (lease_until IS NULL OR lease_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.backoff_until > $1)) due \
             WHERE place + (SELECT COUNT(*) FROM webhook_deliveries busy WHERE busy.organization_id = due.organization_id \
             AND busy.status = 'pending' AND busy.lease_until IS NOT NULL AND busy.lease_until >= $1) <= $3 \
             ORDER BY next_attempt_at, id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(to_ms(now))
            .bind(limit)
            .bind(per_organization)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        let mut claimed = vec![];
        for d in rows.iter().map(delivery_from_row) {
            let d = d?;
            let won = sqlx::query(
                "UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(to_ms(lease_until))
            .bind(&d.id)
            .bind(to_ms(now))
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if won == 1 {
                claimed.push(d);
            }
        }
        Ok(claimed)
    }

    async fn renew_delivery_lease(&mut self, id: &str, lease_until: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE webhook_deliveries SET lease_until = $1 WHERE id = $2 AND status = 'pending'")
            .bind(to_ms(lease_until))
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn lock_webhook(&mut self, id: &str) -> Result<Option<Webhook>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 {FOR_UPDATE}");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *self.tx).await.map_err(db_error)?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn save_webhook_health(&mut self, w: &Webhook) -> Result<()> {
        sqlx::query("UPDATE webhooks SET disabled = $1, consecutive_failures = $2, backoff_until = $3 WHERE id = $4")
            .bind(w.disabled)
            .bind(w.consecutive_failures)
            .bind(w.backoff_until.map(to_ms))
            .bind(&w.id)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn save_delivery(&mut self, d: &Delivery) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4, \
             last_error = $5, delivered_at = $6, lease_until = NULL WHERE id = $7",
        )
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(to_ms(d.next_attempt_at))
        .bind(d.last_status_code)
        .bind(&d.last_error)
        .bind(d.delivered_at.map(to_ms))
        .bind(&d.id)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn deliveries_of(&mut self, webhook: &str, before: Option<&str>, limit: i64) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(webhook)
            .bind(before.unwrap_or(""))
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn delivery_by_id(&mut self, webhook: &str, id: &str) -> Result<Option<Delivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(webhook)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(delivery_from_row)
            .transpose()
    }

    async fn expiring_consents(&mut self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ExpiringConsent>> {
        let sql = "SELECT consent_id, organization_id, user_id, purpose_id, attribute_id, value, days, changed_at \
             FROM consent_values WHERE expires_at IS NOT NULL AND expiry_recorded_at IS NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2";
        let rows = sqlx::query(sql).bind(to_ms(now)).bind(limit).fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter()
            .map(|r| {
                let value: String = r.try_get("value").map_err(db_error)?;
                Ok(ExpiringConsent {
                    consent_id: r.try_get("consent_id").map_err(db_error)?,
                    organization_id: OrganizationId(uuid_col(r, "organization_id")?),
                    user_id: UserId(uuid_col(r, "user_id")?),
                    purpose_id: OrganizationId(uuid_col(r, "purpose_id")?),
                    attribute_id: OrganizationId(uuid_col(r, "attribute_id")?),
                    stored: StoredConsent {
                        value: consent_value(&value)?,
                        days: r.try_get("days").map_err(db_error)?,
                        changed_at: from_ms(r.try_get("changed_at").map_err(db_error)?),
                    },
                })
            })
            .collect()
    }

    async fn mark_expiry_recorded(&mut self, c: &ExpiringConsent, now: DateTime<Utc>) -> Result<bool> {
        sqlx::query(
            "UPDATE consent_values SET expiry_recorded_at = $1 WHERE consent_id = $2 AND purpose_id = $3 \
             AND attribute_id = $4 AND expiry_recorded_at IS NULL AND expires_at <= $1 AND changed_at = $5",
        )
        .bind(to_ms(now))
        .bind(&c.consent_id)
        .bind(c.purpose_id.to_string())
        .bind(c.attribute_id.to_string())
        .bind(to_ms(c.stored.changed_at))
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(db_error)
    }
    async fn users_lacking_consent(
        &mut self,
        org: OrganizationId,
        purpose: OrganizationId,
        attributes: &[OrganizationId],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>> {
        let cols = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
        let mut q = sqlx::QueryBuilder::<DB>::new(format!(
            "SELECT {cols} FROM subscriptions s JOIN users u ON u.id = s.user_id WHERE s.organization_id = "
        ));
        q.push_bind(org.to_string()).push(" AND (1 = 0");
        for a in attributes {
            q.push(" OR NOT EXISTS (SELECT 1 FROM consent_values cv WHERE cv.organization_id = s.organization_id \
                     AND cv.user_id = s.user_id AND cv.purpose_id = ")
                .push_bind(purpose.to_string())
                .push(" AND cv.attribute_id = ")
                .push_bind(a.to_string())
                .push(" AND cv.value IN ('Allow', 'AskMe') AND (cv.expires_at IS NULL OR cv.expires_at > ")
                .push_bind(to_ms(now))
                .push("))");
        }
        q.push(") ORDER BY s.user_id");
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn insert_notification(&mut self, n: &Notification) -> Result<()> {
        let attrs = n.attribute_ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        sqlx::query(
            "INSERT INTO notifications (id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&n.id)
        .bind(n.user_id.to_string())
        .bind(n.organization_id.to_string())
        .bind(&n.kind)
        .bind(n.purpose_id.map(|p| p.to_string()).unwrap_or_default())
        .bind(attrs)
        .bind(&n.message)
        .bind(to_ms(n.created_at))
        .bind(n.read_at.map(to_ms))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn notifications_of(&mut self, user: UserId, before: Option<&str>, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at \
             FROM notifications WHERE user_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(user.to_string())
        .bind(before.unwrap_or(""))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn mark_notification_read(&mut self, user: UserId, id: &str, at: DateTime<Utc>) -> Result<bool> {
        sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
            .bind(to_ms(at))
            .bind(id)
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn notification_by_id(&mut self, user: UserId, id: &str) -> Result<Option<Notification>> {
        sqlx::query(
            "SELECT id, user_id, organization_id, kind, purpose_id, attribute_ids, message, created_at, read_at \
             FROM notifications WHERE user_id = $1 AND id = $2",
        )
        .bind(user.to_string())
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(notification_from_row)
        .transpose()
    }

    async fn insert_action_log(&mut self, l: &ActionLog) -> Result<()> {
        sqlx::query(INSERT_ACTION_LOG_SQL)
        .bind(&l.id)
        .bind(l.organization_id.to_string())
        .bind(&l.kind)
        .bind(&l.actor_id)
        .bind(&l.message)
        .bind(to_ms(l.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn action_logs(&mut self, org: OrganizationId, before: Option<&str>, limit: i64) -> Result<Vec<ActionLog>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, kind, actor_id, message, created_at FROM organization_logs \
             WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(org.to_string())
        .bind(before.unwrap_or(""))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(ActionLog {
                    id: r.try_get("id").map_err(db_error)?,
                    organization_id: OrganizationId(uuid_col(r, "organization_id")?),
                    kind: r.try_get("kind").map_err(db_error)?,
                    actor_id: r.try_get("actor_id").map_err(db_error)?,
                    message: r.try_get("message").map_err(db_error)?,
                    created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
                })
            })
            .collect()
    }

    async fn insert_rest_client(&mut self, c: &RestClientRecord) -> Result<()> {
        sqlx::query("INSERT INTO rest_clients (id, name, secret_hash, organization_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&c.id)
            .bind(&c.name)
            .bind(&c.secret_hash)
            .bind(c.organization_id.map(|o| o.to_string()))
            .bind(to_ms(c.created_at))
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn rest_client_by_name(&mut self, name: &str) -> Result<Option<RestClientRecord>> {
        let Some(r) = sqlx::query("SELECT id, name, secret_hash, organization_id, created_at FROM rest_clients WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        Ok(Some(RestClientRecord {
            id: r.try_get("id").map_err(db_error)?,
            name: r.try_get("name").map_err(db_error)?,
            secret_hash: r.try_get("secret_hash").map_err(db_error)?,
            organization_id: opt_id(&r, "organization_id")?,
            created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
        }))
    }

    async fn user_custom_attributes(&mut self, user: UserId) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, value FROM user_attributes WHERE user_id = $1 ORDER BY name, position")
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| Ok((r.try_get("name").map_err(db_error)?, r.try_get("value").map_err(db_error)?))).collect()
    }

    async fn organization_custom_attributes(&mut self, org: OrganizationId) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, value FROM organization_attributes WHERE organization_id = $1 ORDER BY name, position")
            .bind(org.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| Ok((r.try_get("name").map_err(db_error)?, r.try_get("value").map_err(db_error)?))).collect()
    }

    async fn organization_tree(&mut self) -> Result<Vec<TreeNode>> {
        let rows = sqlx::query("SELECT id, parent_id, technical_name, name FROM organizations ORDER BY id")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(TreeNode {
                    id: OrganizationId(uuid_col(r, "id")?),
                    parent_id: opt_id(r, "parent_id")?,
                    technical_name: r.try_get("technical_name").map_err(db_error)?,
                    name: r.try_get("name").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn search_users(&mut self, search: &Search) -> Result<Vec<UserId>> {
        let mut q = sqlx::QueryBuilder::<DB>::new("SELECT u.id FROM users u WHERE 1 = 1");
        for (field, value) in &search.builtin {
            let column = match field {
                SearchField::UserId => "u.id",
                SearchField::UserFirstName => "u.first_name",
                SearchField::UserSurname => "u.surname",
                SearchField::UserMobile => "u.phone",
                SearchField::UserEmail => "u.email",
                SearchField::UserHomeOrganization => "u.home_organization_id",
                SearchField::UserStatus => {
                    q.push(" AND u.status = ").push_bind(value.parse::<i64>().unwrap_or(-1));
                    continue;
                }
                _ => return Err(accord_domain::Error::invalid("not a user attribute")),
            };
            push_match(&mut q, column, value, search.exact);
        }
        for (name, value) in &search.custom {
            q.push(" AND EXISTS (SELECT 1 FROM user_attributes a WHERE a.user_id = u.id AND a.name = ").push_bind(name.clone());
            push_match(&mut q, "a.value", value, search.exact);
            q.push(")");
        }
        if let Some(within) = &search.within {
            q.push(" AND u.home_organization_id IN (''");
            for org in within {
                q.push(", ").push_bind(org.to_string());
            }
            q.push(")");
        }
        q.push(" ORDER BY u.id");
        if search.max_results > 0 {
            q.push(" LIMIT ").push_bind(search.max_results);
        }
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(|r| uuid_col(r, "id").map(UserId)).collect()
    }

    async fn search_organizations(&mut self, search: &Search) -> Result<Vec<OrganizationId>> {
        let mut q = sqlx::QueryBuilder::<DB>::new(
            "SELECT o.id FROM organizations o LEFT JOIN organization_types t ON t.id = o.type_id WHERE 1 = 1",
        );
        for (field, value) in &search.builtin {
            let column = match field {
                SearchField::OrgId => "o.id",
                SearchField::OrgTechnicalName => "COALESCE(o.technical_name, o.id)",
                SearchField::OrgFriendlyName => "o.name",
                SearchField::OrgTypeName => "t.name",
                _ => return Err(accord_domain::Error::invalid("not an organization attribute")),
            };
            push_match(&mut q, column, value, search.exact);
        }
        for (name, value) in &search.custom {
            q.push(" AND EXISTS (SELECT 1 FROM organization_attributes a WHERE a.organization_id = o.id AND a.name = ")
                .push_bind(name.clone());
            push_match(&mut q, "a.value", value, search.exact);
            q.push(")");
        }
        if let Some(within) = &search.within {
            q.push(" AND o.id IN (''");
            for org in within {
                q.push(", ").push_bind(org.to_string());
            }
            q.push(")");
        }
        q.push(" ORDER BY o.id");
        if search.max_results > 0 {
            q.push(" LIMIT ").push_bind(search.max_results);
        }
        let rows = q.build().fetch_all(&mut *self.tx).await.map_err(db_error)?;
        rows.iter().map(|r| uuid_col(r, "id").map(OrganizationId)).collect()
    }

    async fn custom_roles(&mut self) -> Result<Vec<accord_domain::customer_id::Role>> {
        let rows = sqlx::query("SELECT id, organization_id, name FROM roles ORDER BY id")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(accord_domain::customer_id::Role {
                    id: uuid_col(r, "id")?,
                    organization_id: OrganizationId(uuid_col(r, "organization_id")?),
                    name: r.try_get("name").map_err(db_error)?,
                })
            })
            .collect()
    }

    async fn custom_roles_of(&mut self, user: UserId) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT role_id FROM role_members WHERE user_id = $1 ORDER BY role_id")
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(|r| r.try_get("role_id").map_err(db_error)).collect()
    }

    async fn set_organization_attribute(&mut self, org: OrganizationId, name: &str, values: &[String]) -> Result<()> {
        self.replace_attribute("organization_attributes", "organization_id", &org.to_string(), name, values).await
    }

    async fn delete_organization(&mut self, org: OrganizationId) -> Result<bool> {
        sqlx::query("UPDATE users SET home_organization_id = NULL WHERE home_organization_id = $1")
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn org_type_by_name(&mut self, name: &str) -> Result<Option<OrganizationType>> {
        sqlx::query("SELECT id, name, image_id FROM organization_types WHERE LOWER(name) = LOWER($1) ORDER BY id LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(org_type_from_row)
            .transpose()
    }

    async fn update_user_identity(&mut self, u: &User) -> Result<()> {
        sqlx::query(
            "UPDATE users SET email = $1, email_key = $2, name = $3, phone = $4, status = $5, first_name = $6, \
             surname = $7, home_organization_id = $8 WHERE id = $9",
        )
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.email.as_ref().map(Email::key))
        .bind(&u.name)
        .bind(&u.phone)
        .bind(u.status.code())
        .bind(&u.first_name)
        .bind(&u.surname)
        .bind(u.home_organization_id.map(|o| o.to_string()))
        .bind(u.id.to_string())
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn set_user_attribute(&mut self, user: UserId, name: &str, values: &[String]) -> Result<()> {
        self.replace_attribute("user_attributes", "user_id", &user.to_string(), name, values).await
    }

    async fn insert_role(&mut self, role: &accord_domain::customer_id::Role, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO roles (id, organization_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(role.id.to_string())
            .bind(role.organization_id.to_string())
            .bind(&role.name)
            .bind(to_ms(at))
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn delete_role(&mut self, id: &str) -> Result<bool> {
        // Invitations and mandates to a role that is gone would grant nothing.
        for sql in ["DELETE FROM role_invitations WHERE role_id = $1", "DELETE FROM mandates WHERE role_id = $1"] {
            sqlx::query(sql).bind(id).execute(&mut *self.tx).await.map_err(db_error)?;
        }
        sqlx::query("DELETE FROM roles WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn add_role_member(&mut self, role: &str, user: UserId) -> Result<()> {
        sqlx::query("INSERT INTO role_members (role_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(role)
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn remove_role_member(&mut self, role: &str, user: UserId) -> Result<bool> {
        sqlx::query("DELETE FROM role_members WHERE role_id = $1 AND user_id = $2")
            .bind(role)
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn revoke_role(&mut self, org: OrganizationId, user: UserId, role: OrgRole) -> Result<bool> {
        sqlx::query("DELETE FROM organization_roles WHERE organization_id = $1 AND user_id = $2 AND role_id = $3")
            .bind(org.to_string())
            .bind(user.to_string())
            .bind(role.id())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn insert_mandate(&mut self, m: &accord_domain::customer_id::Mandate) -> Result<()> {
        use accord_domain::customer_id::Party;
        let (mo, mu) = match &m.mandater {
            Party::Organization(o) => (Some(o.to_string()), None),
            Party::User(u) => (None, Some(u.to_string())),
            Party::Email(_) => return Err(accord_domain::Error::invalid("a mandater cannot be an email address")),
        };
        let (eo, eu, ee) = match &m.mandatee {
            Party::Organization(o) => (Some(o.to_string()), None, None),
            Party::User(u) => (None, Some(u.to_string()), None),
            Party::Email(e) => (None, None, Some(e.clone())),
        };
        let ee = ee.or_else(|| m.assignee_email.clone());
        sqlx::query(
            "INSERT INTO mandates (id, kind, mandater_organization_id, mandater_user_id, mandatee_organization_id, \
             mandatee_user_id, assignee_email, role_id, valid_from, valid_until, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(m.id.to_string())
        .bind(m.kind.as_str())
        .bind(mo)
        .bind(mu)
        .bind(eo)
        .bind(eu)
        .bind(ee)
        .bind(&m.role_id)
        .bind(m.valid_from.map(to_ms))
        .bind(m.valid_until.map(to_ms))
        .bind(to_ms(m.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn delete_mandate(&mut self, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM mandates WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn mandates(&mut self) -> Result<Vec<accord_domain::customer_id::Mandate>> {
        let rows = sqlx::query(
            "SELECT id, kind, mandater_organization_id, mandater_user_id, mandatee_organization_id, mandatee_user_id, \
             assignee_email, role_id, valid_from, valid_until, created_at FROM mandates ORDER BY id",
        )
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter().map(mandate_from_row).collect()
    }

    async fn attach_mandates_to(&mut self, user: UserId, email_key: &str) -> Result<()> {
        sqlx::query(
            "UPDATE mandates SET mandatee_user_id = $1 \
             WHERE mandatee_user_id IS NULL AND mandatee_organization_id IS NULL AND LOWER(assignee_email) = $2",
        )
            .bind(user.to_string())
            .bind(email_key)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn insert_delegation(&mut self, d: &accord_domain::customer_id::Delegation) -> Result<()> {
        sqlx::query(
            "INSERT INTO delegations (id, mandate_id, delegator_user_id, delegate_user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(d.id.to_string())
        .bind(d.mandate_id.to_string())
        .bind(d.delegator.to_string())
        .bind(d.delegate.to_string())
        .bind(to_ms(d.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn delete_delegation(&mut self, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM delegations WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn delegations(&mut self) -> Result<Vec<accord_domain::customer_id::Delegation>> {
        let rows = sqlx::query("SELECT id, mandate_id, delegator_user_id, delegate_user_id, created_at FROM delegations ORDER BY id")
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|r| {
                Ok(accord_domain::customer_id::Delegation {
                    id: uuid_col(r, "id")?,
                    mandate_id: uuid_col(r, "mandate_id")?,
                    delegator: UserId(uuid_col(r, "delegator_user_id")?),
                    delegate: UserId(uuid_col(r, "delegate_user_id")?),
                    created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
                })
            })
            .collect()
    }

    async fn insert_role_invitation(&mut self, i: &accord_domain::customer_id::RoleInvitation, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_invitations (id, organization_id, role_id, user_id, email, token_hash, expires_at, accepted_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(i.id.to_string())
        .bind(i.organization_id.map(|o| o.to_string()))
        .bind(i.role_id.clone())
        .bind(i.user_id.to_string())
        .bind(&i.email)
        .bind(token_hash)
        .bind(to_ms(i.expires_at))
        .bind(i.accepted_at.map(to_ms))
        .bind(to_ms(i.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn delete_role_invitation(&mut self, id: &str) -> Result<bool> {
        sqlx::query("DELETE FROM role_invitations WHERE id = $1")
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn role_invitations(&mut self) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = sqlx::query(&format!("SELECT {INVITATION_COLUMNS} FROM role_invitations ORDER BY id"))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn role_invitations_of(&mut self, user: UserId) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = sqlx::query(&format!("SELECT {INVITATION_COLUMNS} FROM role_invitations WHERE user_id = $1 ORDER BY id"))
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_error)?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn user_of_invitation_token(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM role_invitations WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| uuid_col(&r, "user_id").map(UserId)).transpose()
    }

    async fn renew_invitations(&mut self, user: UserId, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()> {
        // Every unaccepted invitation (expired ones too) gets the new expiry; the token goes to the latest.
        sqlx::query("UPDATE role_invitations SET token_hash = NULL, expires_at = $2 WHERE user_id = $1 AND accepted_at IS NULL")
            .bind(user.to_string())
            .bind(to_ms(expires_at))
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "UPDATE role_invitations SET token_hash = $2 WHERE id = \
             (SELECT MAX(id) FROM role_invitations WHERE user_id = $1 AND accepted_at IS NULL)",
        )
        .bind(user.to_string())
        .bind(token_hash)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn accept_invitations(&mut self, user: UserId, now: DateTime<Utc>) -> Result<Vec<accord_domain::customer_id::RoleInvitation>> {
        let rows = sqlx::query(&format!(
            "UPDATE role_invitations SET accepted_at = $2, token_hash = NULL \
             WHERE user_id = $1 AND accepted_at IS NULL AND expires_at > $2 RETURNING {INVITATION_COLUMNS}"
        ))
        .bind(user.to_string())
        .bind(to_ms(now))
        .fetch_all(&mut *self.tx)
        .await
        .map_err(db_error)?;
        rows.iter().map(invitation_from_row).collect()
    }

    // ---- federated login ----

    async fn identity_provider(&mut self, org: OrganizationId) -> Result<Option<IdentityProvider>> {
        let row = sqlx::query(&format!("SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE organization_id = $1"))
            .bind(org.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)?;
        row.as_ref().map(provider_from_row).transpose()
    }

    async fn insert_identity_provider(&mut self, p: &IdentityProvider) -> Result<()> {
        bind_provider(sqlx::query(&format!(
            "INSERT INTO identity_providers ({PROVIDER_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )), p)
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn update_identity_provider(&mut self, p: &IdentityProvider) -> Result<bool> {
        bind_provider(sqlx::query(
            "UPDATE identity_providers SET issuer = $2, authorization_url = $3, token_url = $4, logout_url = $5, \
             client_id = $6, client_secret_sealed = $7, jwks_url = $8, userinfo_url = $9, validate_signature = $10, \
             disable_userinfo = $11, default_scope = $12, token_auth_method = $13, created_at = $14, updated_at = $15 \
             WHERE organization_id = $1",
        ), p)
        .execute(&mut *self.tx)
        .await
        .map(|r| r.rows_affected() > 0)
        .map_err(db_error)
    }

    async fn delete_identity_provider(&mut self, org: OrganizationId) -> Result<bool> {
        sqlx::query("DELETE FROM identity_providers WHERE organization_id = $1")
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|r| r.rows_affected() > 0)
            .map_err(db_error)
    }

    async fn insert_login_state(&mut self, st: &LoginState, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("DELETE FROM federated_login_states WHERE expires_at < $1")
            .bind(to_ms(now))
            .execute(&mut *self.tx)
            .await
            .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO federated_login_states (state_hash, organization_id, nonce, pkce_verifier, redirect_uri, expires_at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&st.state_hash)
        .bind(st.organization_id.to_string())
        .bind(&st.nonce)
        .bind(&st.pkce_verifier)
        .bind(&st.redirect_uri)
        .bind(to_ms(st.expires_at))
        .bind(st.started_by.map(|u| u.to_string()))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn take_login_state(&mut self, state_hash: &str) -> Result<Option<LoginState>> {
        let row = sqlx::query(
            "DELETE FROM federated_login_states WHERE state_hash = $1 \
             RETURNING state_hash, organization_id, nonce, pkce_verifier, redirect_uri, expires_at, user_id",
        )
        .bind(state_hash)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| {
            Ok(LoginState {
                state_hash: r.try_get("state_hash").map_err(db_error)?,
                organization_id: OrganizationId(uuid_col(&r, "organization_id")?),
                nonce: r.try_get("nonce").map_err(db_error)?,
                pkce_verifier: r.try_get("pkce_verifier").map_err(db_error)?,
                redirect_uri: r.try_get("redirect_uri").map_err(db_error)?,
                expires_at: from_ms(r.try_get("expires_at").map_err(db_error)?),
                started_by: r
                    .try_get::<Option<String>, _>("user_id")
                    .map_err(db_error)?
                    .map(|s| s.parse::<UserId>())
                    .transpose()
                    .map_err(|_| accord_domain::Error::internal("bad uuid in user_id"))?,
            })
        })
        .transpose()
    }

    async fn delete_external_identities_of(&mut self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM external_identities WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn external_identity_user(&mut self, org: OrganizationId, issuer: &str, subject: &str) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM external_identities WHERE organization_id = $1 AND issuer = $2 AND subject = $3",
        )
        .bind(org.to_string())
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        row.map(|r| uuid_col(&r, "user_id").map(UserId)).transpose()
    }

    async fn insert_external_identity(&mut self, e: &ExternalIdentity) -> Result<()> {
        sqlx::query(
            "INSERT INTO external_identities (organization_id, issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.organization_id.to_string())
        .bind(&e.issuer)
        .bind(&e.subject)
        .bind(e.user_id.to_string())
        .bind(to_ms(e.created_at))
        .execute(&mut *self.tx)
        .await
        .map(|_| ())
        .map_err(db_error)
    }

    async fn server_secret(&mut self, name: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_error)
    }

    async fn insert_server_secret_if_absent(&mut self, name: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .bind(to_ms(now))
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(db_error)
    }
}

const PROVIDER_COLUMNS: &str = "organization_id, issuer, authorization_url, token_url, logout_url, client_id, \
     client_secret_sealed, jwks_url, userinfo_url, validate_signature, disable_userinfo, default_scope, \
     token_auth_method, created_at, updated_at";

fn provider_from_row(r: &DbRow) -> Result<IdentityProvider> {
    let text = |c: &str| -> Result<String> { r.try_get(c).map_err(db_error) };
    let method: String = text("token_auth_method")?;
    Ok(IdentityProvider {
        organization_id: OrganizationId(uuid_col(r, "organization_id")?),
        settings: ProviderSettings {
            issuer: text("issuer")?,
            authorization_url: text("authorization_url")?,
            token_url: text("token_url")?,
            logout_url: text("logout_url")?,
            client_id: text("client_id")?,
            jwks_url: text("jwks_url")?,
            userinfo_url: text("userinfo_url")?,
            validate_signature: r.try_get("validate_signature").map_err(db_error)?,
            disable_userinfo: r.try_get("disable_userinfo").map_err(db_error)?,
            default_scope: text("default_scope")?,
            token_auth_method: TokenAuthMethod::parse(&method)
                .map_err(|_| accord_domain::Error::internal(format!("bad token_auth_method {method:?}")))?,
        },
        client_secret_sealed: text("client_secret_sealed")?,
        created_at: from_ms(r.try_get("created_at").map_err(db_error)?),
        updated_at: from_ms(r.try_get("updated_at").map_err(db_error)?),
    })
}

fn bind_provider<'q>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    p: &'q IdentityProvider,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>> {
    let s = &p.settings;
    q.bind(p.organization_id.to_string())
        .bind(&s.issuer)
        .bind(&s.authorization_url)
        .bind(&s.token_url)
        .bind(&s.logout_url)
        .bind(&s.client_id)
        .bind(&p.client_secret_sealed)
        .bind(&s.jwks_url)
        .bind(&s.userinfo_url)
        .bind(s.validate_signature)
        .bind(s.disable_userinfo)
        .bind(&s.default_scope)
        .bind(s.token_auth_method.as_str())
        .bind(to_ms(p.created_at))
        .bind(to_ms(p.updated_at))
}

/// One ledger entry, its columns in `HistoryEntry` order.
const INSERT_HISTORY_SQL: &str = "INSERT INTO consent_history (id, organization_id, seq, user_id, consent_id, \
     purpose_id, attribute_id, actor_id, changed_by, old_value, new_value, days, at, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// $1 last visit, $2 user.
const SET_LAST_VISIT_SQL: &str = "UPDATE users SET last_visit = $1 WHERE id = $2";

/// $1 revoked at, $2 session.
const REVOKE_SESSION_SQL: &str = "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";

/// Columns in `RefreshTokenRecord` order.
const INSERT_REFRESH_TOKEN_SQL: &str =
    "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, used_at) VALUES ($1, $2, $3, $4)";

/// $1 used at, $2 token hash; changes no row if the token was spent already.
const MARK_REFRESH_TOKEN_USED_SQL: &str =
    "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL";

/// Columns in `ActionLog` order.
const INSERT_ACTION_LOG_SQL: &str = "INSERT INTO organization_logs (id, organization_id, kind, actor_id, message, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

const INSERT_OUTBOX_SQL: &str =
    "INSERT INTO outbox (id, organization_id, event_type, data, created_at) VALUES ($1, $2, $3, $4, $5)";

/// $1 seq, $2 hash, $3 organisation.
const SET_CHAIN_HEAD_SQL: &str = "UPDATE consent_chain_heads SET seq = $1, hash = $2 WHERE organization_id = $3";

/// The event types of an organisation's enabled webhooks (space-separated per webhook).
const WEBHOOK_EVENTS_SQL: &str = "SELECT subscribed_events FROM webhooks WHERE organization_id = $1 AND NOT disabled";

/// The group committer's chain head: created at genesis for an organisation that exists
/// and has none (a change naming an unknown organisation leaves nothing behind), then read
/// (and on PostgreSQL locked). $1 organisation, $2 the genesis hash.
const ENSURE_CHAIN_HEAD_SQL: &str = "INSERT INTO consent_chain_heads (organization_id, seq, hash) \
     SELECT $1, 0, $2 WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1) \
     ON CONFLICT (organization_id) DO NOTHING";

/// [`crate::Store::consent_read`]: one statement, one row, the values aggregated as JSON
/// (`RECORD_VALUES_JSON`, the one construct the backends spell differently). Roles are
/// probed with EXISTS, which the primary key of `organization_roles` answers.
/// Parameters: $1 caller, $2 session (or NULL), $3 organisation, $4 user, $5 and $6 the
/// Admin and Dpo role IDs. Built once: every consent read looks its prepared statement
/// up by this text.
fn consent_read_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| format!(
        "SELECT {} \
         FROM users u \
         LEFT JOIN sessions s ON s.id = $2 \
         LEFT JOIN organizations o ON o.id = $3 \
         LEFT JOIN consents c ON c.organization_id = o.id AND c.user_id = $4 \
         WHERE u.id = $1",
        consent_read_columns("$3")
    ));
    &SQL
}

/// The columns of a consent read (over `users u`, `sessions s`, `organizations o` and
/// `consents c`); `org` is the SQL naming the organisation, $5 and $6 the role IDs.
fn consent_read_columns(org: &str) -> String {
    format!(
        "u.status AS u_status, u.is_platform_admin AS u_platform, u.apikey_revision AS u_key_revision, \
         u.apikey_issued_at AS u_key_issued, \
         s.id AS s_id, s.user_id AS s_user, s.client_id AS s_client, s.created_at AS s_created, \
         s.expires_at AS s_expires, s.revoked_at AS s_revoked, \
         o.layout_version AS o_version, \
         EXISTS (SELECT 1 FROM organization_roles r WHERE r.organization_id = {org} AND r.user_id = u.id AND r.role_id = $5) AS is_admin, \
         EXISTS (SELECT 1 FROM organization_roles r WHERE r.organization_id = {org} AND r.user_id = u.id AND r.role_id = $6) AS is_dpo, \
         c.id AS c_id, {RECORD_VALUES_JSON} AS c_values"
    )
}

/// The columns of [`consent_read_sql`], as read by either driver.
struct ConsentReadRow {
    status: i64,
    platform_admin: bool,
    key_revision: i64,
    key_issued: Option<i64>,
    session: Option<(String, String, String, i64, i64, Option<i64>)>,
    layout_version: Option<i64>,
    is_admin: bool,
    is_dpo: bool,
    consent_id: Option<String>,
    values_json: Option<String>,
}

impl ConsentReadRow {
    fn into_read(self) -> Result<ConsentRead> {
        let internal = |what: &str, e: &dyn std::fmt::Display| accord_domain::Error::internal(format!("{what}: {e}"));
        let id = |raw: &str| uuid::Uuid::parse_str(raw).map_err(|e| internal("bad uuid in a consent read", &e));
        let session = match self.session {
            None => None,
            Some((sid, user, client_id, created, expires, revoked)) => Some(Session {
                id: SessionId(id(&sid)?),
                user_id: UserId(id(&user)?),
                client_id,
                created_at: from_ms(created),
                expires_at: from_ms(expires),
                revoked_at: revoked.map(from_ms),
            }),
        };
        let mut caller_roles = vec![];
        if self.is_admin {
            caller_roles.push(OrgRole::Admin);
        }
        if self.is_dpo {
            caller_roles.push(OrgRole::Dpo);
        }
        // Borrowed from the row's text: IDs and values carry no JSON escapes.
        let stored: Vec<(&str, &str, &str, i64, i64)> = match &self.values_json {
            Some(json) => serde_json::from_str(json).map_err(|e| internal("record values", &e))?,
            None => vec![],
        };
        let values = stored
            .iter()
            .map(|(purpose, attribute, value, days, changed_at)| {
                Ok((
                    OrganizationId(id(purpose)?),
                    OrganizationId(id(attribute)?),
                    StoredConsent { value: consent_value(value)?, days: *days, changed_at: from_ms(*changed_at) },
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ConsentRead {
            caller_status: UserStatus::from_code(self.status).unwrap_or(UserStatus::Disabled),
            caller_is_platform_admin: self.platform_admin,
            caller_api_key: self.key_issued.map(|_| self.key_revision),
            session,
            layout_version: self.layout_version,
            caller_roles,
            consent_id: self.consent_id,
            values,
        })
    }
}

#[allow(dead_code)] // SQLite reads consents on its own connections (`InlineReaders`).
async fn consent_read_with<'c, E>(executor: E, q: &ConsentReadQuery) -> Result<Option<ConsentRead>>
where
    E: sqlx::Executor<'c, Database = DB>,
{
    let Some(row) = sqlx::query(consent_read_sql())
        .bind(q.caller.to_string())
        .bind(q.session.map(|s| s.to_string()))
        .bind(q.organization.to_string())
        .bind(q.user.to_string())
        .bind(OrgRole::Admin.id())
        .bind(OrgRole::Dpo.id())
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    consent_read_row(&row)?.into_read().map(Some)
}

/// A row of [`consent_read_columns`], as sqlx reads it.
#[allow(dead_code)] // SQLite reads consents on its own connections (`InlineReaders`).
fn consent_read_row(row: &DbRow) -> Result<ConsentReadRow> {
    let get = |e: sqlx::Error| db_error(e);
    let session = match row.try_get::<Option<String>, _>("s_id").map_err(get)? {
        None => None,
        Some(sid) => Some((
            sid,
            row.try_get("s_user").map_err(get)?,
            row.try_get("s_client").map_err(get)?,
            row.try_get("s_created").map_err(get)?,
            row.try_get("s_expires").map_err(get)?,
            row.try_get("s_revoked").map_err(get)?,
        )),
    };
    Ok(ConsentReadRow {
        status: row.try_get("u_status").map_err(get)?,
        platform_admin: row.try_get("u_platform").map_err(get)?,
        key_revision: row.try_get("u_key_revision").map_err(get)?,
        key_issued: row.try_get("u_key_issued").map_err(get)?,
        session,
        layout_version: row.try_get("o_version").map_err(get)?,
        is_admin: row.try_get("is_admin").map_err(get)?,
        is_dpo: row.try_get("is_dpo").map_err(get)?,
        consent_id: row.try_get("c_id").map_err(get)?,
        values_json: row.try_get("c_values").map_err(get)?,
    })
}
