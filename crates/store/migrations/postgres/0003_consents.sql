-- Consent records, attribute consents, and the hash-chained consent history.

-- One record per (organisation, user), created when the user subscribes; it stays when
-- they unsubscribe (audit trail) and goes with the user's account (erasure).
CREATE TABLE consents (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX consents_by_user ON consents(user_id);

-- The last recorded consent of an attribute (template) for a purpose. Unset attributes
-- have no row: they read as their purpose's default.
CREATE TABLE consent_values (
    consent_id      TEXT NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    purpose_id      TEXT NOT NULL,
    attribute_id    TEXT NOT NULL,
    value           TEXT NOT NULL,
    days            BIGINT NOT NULL,
    changed_at      BIGINT NOT NULL,
    -- NULL when the consent has no time limit.
    expires_at      BIGINT,
    PRIMARY KEY (consent_id, purpose_id, attribute_id)
);
-- Consented users of a purpose (or attribute), in user order: keyset pagination.
CREATE INDEX consent_values_by_purpose ON consent_values(organization_id, purpose_id, user_id);

-- The head of each organisation's chain: locked by every change, so entries are linked
-- in one order even with many nodes writing.
CREATE TABLE consent_chain_heads (
    organization_id TEXT PRIMARY KEY,
    seq             BIGINT NOT NULL,
    hash            TEXT NOT NULL
);

-- Kept when users and purposes go: it is the organisation's proof of consent.
CREATE TABLE consent_history (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    user_id         TEXT NOT NULL,
    consent_id      TEXT NOT NULL,
    purpose_id      TEXT NOT NULL,
    attribute_id    TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    changed_by      TEXT NOT NULL,
    old_value       TEXT,
    new_value       TEXT NOT NULL,
    days            BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    UNIQUE (organization_id, seq)
);
CREATE INDEX consent_history_by_user ON consent_history(user_id, id);
CREATE INDEX consent_history_by_organization ON consent_history(organization_id, id);
