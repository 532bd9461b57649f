//! Statements shared with code outside a unit of work (the SQLite writer, the
//! consent committers).

/// One ledger entry, its columns in `HistoryEntry` order.
pub(crate) const INSERT_HISTORY_SQL: &str = "INSERT INTO consent_history (id, organization_id, seq, user_id, consent_id, \
     purpose_id, attribute_id, actor_id, changed_by, old_value, new_value, days, at, prev_hash, hash, \
     purpose_version, wording_hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

/// $1 last visit, $2 user.
pub(crate) const SET_LAST_VISIT_SQL: &str = "UPDATE users SET last_visit = $1 WHERE id = $2";

/// $1 revoked at, $2 session.
pub(crate) const REVOKE_SESSION_SQL: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";

/// Columns in `RefreshTokenRecord` order.
pub(crate) const INSERT_REFRESH_TOKEN_SQL: &str =
    "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, used_at) VALUES ($1, $2, $3, $4)";

/// $1 used at, $2 token hash; changes no row if the token was spent already.
pub(crate) const MARK_REFRESH_TOKEN_USED_SQL: &str =
    "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL";

/// Columns in `ActionLog` order.
pub(crate) const INSERT_ACTION_LOG_SQL: &str =
    "INSERT INTO organization_logs (id, organization_id, kind, actor_id, message, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

pub(crate) const INSERT_OUTBOX_SQL: &str =
    "INSERT INTO outbox (id, organization_id, event_type, data, created_at, trace_parent) VALUES ($1, $2, $3, $4, $5, $6)";

/// $1 seq, $2 hash, $3 organisation.
pub(crate) const SET_CHAIN_HEAD_SQL: &str =
    "UPDATE consent_chain_heads SET seq = $1, hash = $2 WHERE organization_id = $3";
