-- A purpose's wording is versioned (docs/consents.md, "Versions"): the number of its
-- current wording rides along with every read of the purpose; the texts live beside,
-- never edited or deleted. A purpose with no row here is at its first wording; a
-- wording that predates versions is recorded, when first superseded, without a time.
ALTER TABLE purposes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TABLE purpose_versions (
    purpose_id TEXT NOT NULL REFERENCES purposes(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    wording TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at INTEGER,
    author TEXT,
    PRIMARY KEY (purpose_id, number)
);
