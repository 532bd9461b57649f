-- Delegations: a user of a mandatee organisation passes the mandated role on to a user.
CREATE TABLE delegations (
    id                TEXT PRIMARY KEY,
    mandate_id        TEXT NOT NULL REFERENCES mandates(id) ON DELETE CASCADE,
    delegator_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    delegate_user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at        BIGINT NOT NULL,
    UNIQUE (mandate_id, delegate_user_id)
);
CREATE INDEX delegations_by_delegate ON delegations(delegate_user_id);

-- Role invitations: an email address invited to a role of an organisation. The token is
-- kept as a hash; a reinvite moves it to a new one (only the latest link works).
CREATE TABLE role_invitations (
    id              TEXT PRIMARY KEY,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    role_id         TEXT,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    token_hash      TEXT UNIQUE,
    expires_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX role_invitations_by_user ON role_invitations(user_id);
