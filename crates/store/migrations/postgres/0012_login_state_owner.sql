-- A login begun at the authorize endpoint by a signed-in user belongs to that user: only
-- their own session (or the callback of that very login) may link the outside identity
-- to an account, so a code captured by someone else links nothing (docs/security.md,
-- trust model).
ALTER TABLE federated_login_states ADD COLUMN user_id TEXT REFERENCES users(id) ON DELETE CASCADE;
