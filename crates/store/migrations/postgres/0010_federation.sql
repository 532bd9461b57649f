-- Federated login through an organisation's own OpenID provider (docs/federation.md).

-- One provider per organisation. The client secret is sealed (AES-256-GCM, bound to the
-- organisation): the column alone does not reveal it.
CREATE TABLE identity_providers (
    organization_id      TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    issuer               TEXT NOT NULL,
    authorization_url    TEXT NOT NULL,
    token_url            TEXT NOT NULL,
    logout_url           TEXT NOT NULL DEFAULT '',
    client_id            TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    jwks_url             TEXT NOT NULL DEFAULT '',
    userinfo_url         TEXT NOT NULL DEFAULT '',
    validate_signature   BOOLEAN NOT NULL,
    disable_userinfo     BOOLEAN NOT NULL,
    default_scope        TEXT NOT NULL,
    token_auth_method    TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- Logins begun at the authorize endpoint: single use (deleted when the code comes back),
-- short-lived (expired rows are purged as new ones arrive). Only the state's hash is kept.
CREATE TABLE federated_login_states (
    state_hash      TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    nonce           TEXT NOT NULL,
    pkce_verifier   TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX federated_login_states_by_expiry ON federated_login_states(expires_at);

-- Outside identities and the accounts they sign in to, per organisation: one
-- organisation's provider can never reach an identity linked through another's.
CREATE TABLE external_identities (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, issuer, subject)
);
CREATE INDEX external_identities_by_user ON external_identities(user_id);

-- Keys the server generates for itself (base64), e.g. the one sealing client secrets
-- when the operator gives none.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
