-- Organisations, their types, images, subscriptions, purposes and data attributes.

CREATE TABLE organization_types (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    image_id   TEXT,
    created_at BIGINT NOT NULL
);

-- Image bytes live in the database, so that every node serves every image.
CREATE TABLE images (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    etag         TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

ALTER TABLE organizations ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN type_id TEXT;
ALTER TABLE organizations ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN policy_url TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN eula_url TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN cover_image_id TEXT;
ALTER TABLE organizations ADD COLUMN logo_image_id TEXT;
ALTER TABLE organizations ADD COLUMN hlc_support BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE organizations ADD COLUMN subscribe_method BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN subscribe_key TEXT NOT NULL DEFAULT '';
ALTER TABLE organizations ADD COLUMN retention_period BIGINT NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN retention_enabled BOOLEAN NOT NULL DEFAULT FALSE;

-- An individual consuming an organisation's services. Keyset pagination walks the
-- primary key (organization_id, user_id).
CREATE TABLE subscriptions (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subscribed_at   BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX subscriptions_by_user ON subscriptions(user_id);

-- Deleted purposes and templates stay (deleted_at set): consent history refers to them.
CREATE TABLE purposes (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL,
    lawful_basis    BIGINT NOT NULL,
    policy_url      TEXT NOT NULL,
    attribute_type  BIGINT NOT NULL,
    jurisdiction    TEXT NOT NULL,
    disclosure      TEXT NOT NULL,
    industry_scope  TEXT NOT NULL,
    restriction     TEXT NOT NULL,
    shared_3pp      BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    deleted_at      BIGINT
);
CREATE INDEX purposes_by_organization ON purposes(organization_id);

CREATE TABLE templates (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    consent         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    deleted_at      BIGINT
);
CREATE INDEX templates_by_organization ON templates(organization_id);

CREATE TABLE template_purposes (
    template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    purpose_id  TEXT NOT NULL REFERENCES purposes(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    PRIMARY KEY (template_id, purpose_id)
);
CREATE INDEX template_purposes_by_purpose ON template_purposes(purpose_id);
