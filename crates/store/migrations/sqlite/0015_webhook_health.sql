-- An endpoint's health: failed attempts in a row, and until when it is left alone (it
-- backs off; at a threshold the webhook is disabled). docs/webhooks.md, "Fairness".
ALTER TABLE webhooks ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN backoff_until BIGINT;
-- Deliveries in flight (leased) per organisation, counted at every claim.
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries(organization_id, lease_until) WHERE status = 'pending' AND lease_until IS NOT NULL;
