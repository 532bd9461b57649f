-- Webhooks, the transactional outbox, deliveries; expiry bookkeeping for consents.

CREATE TABLE webhooks (
    id                    TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    payload_url           TEXT NOT NULL,
    -- Space-separated event types.
    subscribed_events     TEXT NOT NULL,
    content_type          TEXT NOT NULL,
    secret_key            TEXT NOT NULL,
    disabled              BOOLEAN NOT NULL,
    skip_ssl_verification BOOLEAN NOT NULL,
    created_at            BIGINT NOT NULL
);
CREATE INDEX webhooks_by_organization ON webhooks(organization_id);

-- Written in the same transaction as the change it announces; fanned out to deliveries.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    processed_at    BIGINT
);
CREATE INDEX outbox_pending ON outbox(processed_at, id);

-- One per (event, webhook). A node claims a due delivery by taking its lease.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    outbox_id        TEXT,
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_status_code BIGINT,
    last_error       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT,
    UNIQUE (outbox_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, id);

-- When the expiry of a time-limited consent was recorded (history entry and event: once).
ALTER TABLE consent_values ADD COLUMN expiry_recorded_at BIGINT;
CREATE INDEX consent_values_expiring ON consent_values(expires_at) WHERE expires_at IS NOT NULL AND expiry_recorded_at IS NULL;
