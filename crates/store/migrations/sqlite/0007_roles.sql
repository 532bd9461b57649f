-- Roles created through CustomerID, and their members. (The iGrant roles Admin, Dpo and
-- Developer are roles of every organisation: organization_roles holds their members.)

CREATE TABLE roles (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE role_members (
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, user_id)
);
CREATE INDEX role_members_by_user ON role_members(user_id);
