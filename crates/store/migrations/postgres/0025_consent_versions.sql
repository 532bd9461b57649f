-- Every consent names the purpose's version it was given under (docs/consents.md,
-- "Versions"). A value set before versions were recorded counts as given under version 1,
-- the first wording recorded. History entries written before this carry no version: they
-- are entry format 1 and keep verifying as they were hashed; later ones are format 2, whose
-- hash covers the version's number and the hash of its wording.
ALTER TABLE consent_values ADD COLUMN purpose_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE consent_history ADD COLUMN purpose_version BIGINT;
ALTER TABLE consent_history ADD COLUMN wording_hash TEXT;

-- What a consent given under an older version means until the person answers, chosen per
-- purpose ("Outdated consents"): 'Stands', or 'Lapses' reconsent_grace_days after the
-- version that outdated it was published.
ALTER TABLE purposes ADD COLUMN outdated_consent TEXT NOT NULL DEFAULT 'Stands';
ALTER TABLE purposes ADD COLUMN reconsent_grace_days BIGINT NOT NULL DEFAULT 30;

-- Asking again: a new version of a purpose queues one job, which the background worker
-- walks through the purpose's consents in user order (after_user: where it stopped), asking
-- each person who holds an outdated consent once. Gone when done, or with the organisation.
CREATE TABLE reconsent_jobs (
    purpose_id      TEXT NOT NULL,
    version         BIGINT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    after_user      TEXT NOT NULL DEFAULT '',
    -- Whether the people asked are mailed too (decided when the version was published:
    -- an Admin rewording again and again cannot flood their mailboxes).
    mail            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (purpose_id, version)
);
