-- Traces (docs/operations.md, "Traces"): an outbox event keeps the W3C traceparent of the
-- change it announces, and each delivery the one it continues. Nullable, added only: the
-- previous release runs beside it unchanged.
ALTER TABLE outbox ADD COLUMN trace_parent TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN trace_parent TEXT;
