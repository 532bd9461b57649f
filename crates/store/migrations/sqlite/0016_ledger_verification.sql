-- Ledger verification compares each current value with the latest entry that set it, a
-- page of values at a time (docs/consents.md, "The ledger").
CREATE INDEX consent_values_by_organization ON consent_values(organization_id, consent_id, purpose_id, attribute_id);
CREATE INDEX consent_history_by_attribute ON consent_history(consent_id, purpose_id, attribute_id, seq);
