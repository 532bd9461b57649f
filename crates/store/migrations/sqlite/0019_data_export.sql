-- Whether a person's copy of their data (a download request's export) is theirs as soon
-- as they ask, rather than once the organisation answers the request (docs/data-rights.md).
ALTER TABLE organizations ADD COLUMN data_export_at_once BOOLEAN NOT NULL DEFAULT FALSE;
