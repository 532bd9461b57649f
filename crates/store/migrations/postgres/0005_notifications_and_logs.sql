-- Notifications to individuals (consent requests), and organisations' action logs.

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    purpose_id      TEXT NOT NULL,
    -- Space-separated attribute IDs.
    attribute_ids   TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT
);
CREATE INDEX notifications_by_user ON notifications(user_id, id);

CREATE TABLE organization_logs (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX organization_logs_by_organization ON organization_logs(organization_id, id);
