-- A subscriber's acceptance of the organisation's EULA: the URL they accepted, and when.
-- An acceptance stands only while the organisation's EULA URL is the one accepted.
ALTER TABLE subscriptions ADD COLUMN eula_accepted TEXT;
ALTER TABLE subscriptions ADD COLUMN eula_accepted_at BIGINT;
