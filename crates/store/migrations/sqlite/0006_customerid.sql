-- The CustomerID view of the same users and organisations: names, login, home
-- organisation, the organisation tree, custom attributes; and REST clients.

ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN surname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN home_organization_id TEXT;
CREATE INDEX users_by_home_organization ON users(home_organization_id);

-- Technical names are unique among siblings; entityName is the path of them.
ALTER TABLE organizations ADD COLUMN technical_name TEXT;
ALTER TABLE organizations ADD COLUMN parent_id TEXT;
CREATE INDEX organizations_by_parent ON organizations(parent_id);

-- Custom attributes: a name with one or more values, in order.
CREATE TABLE user_attributes (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    position BIGINT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (user_id, name, position)
);
CREATE INDEX user_attributes_by_value ON user_attributes(name, value);

CREATE TABLE organization_attributes (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    position        BIGINT NOT NULL,
    value           TEXT NOT NULL,
    PRIMARY KEY (organization_id, name, position)
);
CREATE INDEX organization_attributes_by_value ON organization_attributes(name, value);

-- Back ends calling the CustomerID API with HTTP Basic. The secret is an argon2id hash.
CREATE TABLE rest_clients (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    secret_hash     TEXT NOT NULL,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL
);
