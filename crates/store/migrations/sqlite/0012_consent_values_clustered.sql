-- A record's values stored together, in key order: every consent read (and every change,
-- read inside the committer's batch) fetches all of one record's values. As a rowid table
-- each of them was a lookup of its own from the primary-key index into the table, about
-- four page fetches each; clustered on the key they are one seek and a short scan
-- (BENCHMARKS.md, "What changed"). The table is rebuilt: SQLite cannot change a table's
-- storage in place.
CREATE TABLE consent_values_clustered (
    consent_id         TEXT NOT NULL REFERENCES consents(id) ON DELETE CASCADE,
    organization_id    TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    purpose_id         TEXT NOT NULL,
    attribute_id       TEXT NOT NULL,
    value              TEXT NOT NULL,
    days               BIGINT NOT NULL,
    changed_at         BIGINT NOT NULL,
    -- NULL when the consent has no time limit.
    expires_at         BIGINT,
    expiry_recorded_at BIGINT,
    PRIMARY KEY (consent_id, purpose_id, attribute_id)
) WITHOUT ROWID;
INSERT INTO consent_values_clustered
    (consent_id, organization_id, user_id, purpose_id, attribute_id, value, days, changed_at,
     expires_at, expiry_recorded_at)
SELECT consent_id, organization_id, user_id, purpose_id, attribute_id, value, days, changed_at,
       expires_at, expiry_recorded_at
FROM consent_values;
DROP TABLE consent_values;
ALTER TABLE consent_values_clustered RENAME TO consent_values;
-- Consented users of a purpose (or attribute), in user order: keyset pagination. The
-- value and its expiry are in the index (and the attribute, as part of the key), so a
-- page is read from the index alone: a lookup of each row by its text key cost 15% of
-- the page's throughput.
CREATE INDEX consent_values_by_purpose ON consent_values(organization_id, purpose_id, user_id, value, expires_at);
CREATE INDEX consent_values_expiring ON consent_values(expires_at) WHERE expires_at IS NOT NULL AND expiry_recorded_at IS NULL;
