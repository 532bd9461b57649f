-- Data-subject requests (docs/data-rights.md): a person's request to an organisation for
-- a copy of their data, or for its erasure.
CREATE TABLE data_requests (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- 1 delete, 2 download (iGrant.io's numbers).
    kind            BIGINT NOT NULL,
    -- 1 initiated, 2 acknowledged, 6 and 7 processed, 8 cancelled by the person.
    state           BIGINT NOT NULL,
    comment         TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    closed_at       BIGINT
);
-- One open request of a kind per person and organisation, whatever races.
CREATE UNIQUE INDEX data_requests_one_open
    ON data_requests(user_id, organization_id, kind) WHERE state IN (1, 2);
CREATE INDEX data_requests_by_organization ON data_requests(organization_id, id);
CREATE INDEX data_requests_by_user ON data_requests(user_id, organization_id, id);
