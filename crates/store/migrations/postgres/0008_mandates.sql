-- Mandates: a mandater (organisation or person) grants a mandatee (person, organisation,
-- or an email address not yet registered) a role, optionally for a period.

CREATE TABLE mandates (
    id                       TEXT PRIMARY KEY,
    kind                     TEXT NOT NULL,
    mandater_organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    mandater_user_id         TEXT REFERENCES users(id) ON DELETE CASCADE,
    mandatee_organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    mandatee_user_id         TEXT REFERENCES users(id) ON DELETE CASCADE,
    assignee_email           TEXT,
    role_id                  TEXT NOT NULL,
    valid_from               BIGINT,
    valid_until              BIGINT,
    created_at               BIGINT NOT NULL
);
CREATE INDEX mandates_by_mandater_organization ON mandates(mandater_organization_id);
CREATE INDEX mandates_by_mandater_user ON mandates(mandater_user_id);
CREATE INDEX mandates_by_mandatee_organization ON mandates(mandatee_organization_id);
CREATE INDEX mandates_by_mandatee_user ON mandates(mandatee_user_id);
