//! The consent read path: one statement outside a unit of work (BENCHMARKS.md).

use super::prelude::*;

/// [`crate::Store::consent_read`]: one statement, one row, the values aggregated as JSON
/// (`RECORD_VALUES_JSON`, the one construct the backends spell differently). Roles are
/// probed with EXISTS, which the primary key of `organization_roles` answers.
/// Parameters: $1 caller, $2 session (or NULL), $3 organisation, $4 user, $5 and $6 the
/// Admin and Dpo role IDs. Built once: every consent read looks its prepared statement
/// up by this text.
pub(crate) fn consent_read_sql() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {} \
         FROM users u {USER_BY_ID} \
         LEFT JOIN sessions s {SESSION_BY_ID} ON s.id = $2 \
         LEFT JOIN organizations o {ORGANIZATION_BY_ID} ON o.id = $3 \
         LEFT JOIN consents c {CONSENT_BY_PERSON} ON c.organization_id = o.id AND c.user_id = $4 \
         WHERE u.id = $1",
            consent_read_columns("$3")
        )
    });
    &SQL
}

/// The columns of a consent read (over `users u`, `sessions s`, `organizations o` and
/// `consents c`); `org` is the SQL naming the organisation, $5 and $6 the role IDs.
pub(crate) fn consent_read_columns(org: &str) -> String {
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
pub(crate) struct ConsentReadRow {
    pub(crate) status: i64,
    pub(crate) platform_admin: bool,
    pub(crate) key_revision: i64,
    pub(crate) key_issued: Option<i64>,
    pub(crate) session: Option<(String, String, String, i64, i64, Option<i64>)>,
    pub(crate) layout_version: Option<i64>,
    pub(crate) is_admin: bool,
    pub(crate) is_dpo: bool,
    pub(crate) consent_id: Option<String>,
    pub(crate) values_json: Option<String>,
}

impl ConsentReadRow {
    pub(crate) fn into_read(self) -> Result<ConsentRead> {
        let internal = |what: &str, e: &dyn std::fmt::Display| {
            accord_domain::Error::internal(format!("{what}: {e}"))
        };
        let id = |raw: &str| {
            uuid::Uuid::parse_str(raw).map_err(|e| internal("bad uuid in a consent read", &e))
        };
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
        let stored: Vec<(&str, &str, &str, i64, i64, i64)> = match &self.values_json {
            Some(json) => serde_json::from_str(json).map_err(|e| internal("record values", &e))?,
            None => vec![],
        };
        let values = stored
            .iter()
            .map(|(purpose, attribute, value, days, changed_at, version)| {
                Ok((
                    PurposeId(id(purpose)?),
                    AttributeId(id(attribute)?),
                    StoredConsent {
                        value: consent_value(value)?,
                        days: *days,
                        changed_at: from_ms(*changed_at),
                        version: *version,
                    },
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
            consent_id: self
                .consent_id
                .as_deref()
                .map(|c| id(c).map(ConsentId))
                .transpose()?,
            values,
        })
    }
}

/// Runs [`consent_read_sql`] for one query: its row, or sqlx's error as it came (the
/// caller tells a lost connection from the rest).
#[allow(dead_code)] // SQLite reads consents on its own connections (`InlineReaders`).
pub(crate) async fn fetch_consent_read<'c, E>(
    executor: E,
    q: &ConsentReadQuery,
) -> sqlx::Result<Option<DbRow>>
where
    E: sqlx::Executor<'c, Database = DB>,
{
    sqlx::query(consent_read_sql())
        .bind(q.caller.to_string())
        .bind(q.session.map(|s| s.to_string()))
        .bind(q.organization.to_string())
        .bind(q.user.to_string())
        .bind(OrgRole::Admin.id())
        .bind(OrgRole::Dpo.id())
        .fetch_optional(executor)
        .await
}

/// A row of [`consent_read_columns`], as sqlx reads it.
#[allow(dead_code)] // SQLite reads consents on its own connections (`InlineReaders`).
pub(crate) fn consent_read_row(row: &DbRow) -> Result<ConsentReadRow> {
    let session = match row.col::<Option<String>>("s_id")? {
        None => None,
        Some(sid) => Some((
            sid,
            row.col("s_user")?,
            row.col("s_client")?,
            row.col("s_created")?,
            row.col("s_expires")?,
            row.col("s_revoked")?,
        )),
    };
    Ok(ConsentReadRow {
        status: row.col("u_status")?,
        platform_admin: row.col("u_platform")?,
        key_revision: row.col("u_key_revision")?,
        key_issued: row.col("u_key_issued")?,
        session,
        layout_version: row.col("o_version")?,
        is_admin: row.col("is_admin")?,
        is_dpo: row.col("is_dpo")?,
        consent_id: row.col("c_id")?,
        values_json: row.col("c_values")?,
    })
}
