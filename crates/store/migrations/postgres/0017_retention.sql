-- Retention sweeps find what is due by these (docs/operations.md, "Retention").
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
CREATE INDEX login_throttle_by_window ON login_throttle(window_start);
CREATE INDEX webhook_deliveries_by_creation ON webhook_deliveries(created_at);
CREATE INDEX organization_logs_by_creation ON organization_logs(created_at);
CREATE INDEX password_reset_tokens_by_expiry ON password_reset_tokens(expires_at);
CREATE INDEX email_verifications_by_expiry ON email_verifications(expires_at);
