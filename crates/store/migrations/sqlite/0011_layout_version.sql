-- An organisation's layout (its settings, purposes and templates) changes rarely and is
-- read by every consent read: nodes cache it and check this counter, which every change
-- to the layout increments in the same unit of work (docs/ARCHITECTURE.md).
ALTER TABLE organizations ADD COLUMN layout_version BIGINT NOT NULL DEFAULT 0;
