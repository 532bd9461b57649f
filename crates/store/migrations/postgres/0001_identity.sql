-- Identity: accounts, sessions, tokens, signing keys, throttling.
-- Times are Unix milliseconds (BIGINT) on both backends; IDs are UUIDv7 text.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT,
    email_key         TEXT UNIQUE,
    name              TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    password_hash     TEXT,
    status            BIGINT NOT NULL DEFAULT 1,
    is_platform_admin BOOLEAN NOT NULL DEFAULT FALSE,
    image_id          TEXT,
    last_visit        BIGINT,
    apikey_revision   BIGINT NOT NULL DEFAULT 0,
    apikey_issued_at  BIGINT,
    client_token      TEXT NOT NULL DEFAULT '',
    client_type       BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL
);

-- The organisation entity grows in later migrations; roles need it now.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE organization_roles (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id         BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id, role_id)
);
CREATE INDEX organization_roles_by_user ON organization_roles(user_id);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions(user_id);

-- Refresh tokens are opaque; only their SHA-256 is kept. A used one stays (used_at set)
-- so that its reuse can be recognised and the session revoked.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);

CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key  BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE password_reset_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_reset_tokens_by_user ON password_reset_tokens(user_id);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    attempts     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT,
    lockouts     BIGINT NOT NULL
);
