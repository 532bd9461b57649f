-- The QR codes an organisation has generated: for subscribing to it (purpose_id '') or
-- for one of its purposes (docs/igrant.md, "QR codes"). The picture is drawn on request.
CREATE TABLE qr_codes (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    purpose_id      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, purpose_id)
);
