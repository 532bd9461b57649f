-- An organisation's offers to people who are not its own: a subscription (kind 0) or a
-- role (kind = the role's ID), until the person accepts or declines (docs/security.md,
-- trust model). One open offer of a kind per organisation and person.
CREATE TABLE offers (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind            BIGINT NOT NULL,
    offered_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, user_id, kind)
);
CREATE INDEX offers_by_user ON offers(user_id);
