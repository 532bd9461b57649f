-- Proof of an address (docs/security.md, trust model): when the account's current address
-- was last proven by a mailed single-use link; NULL while it never was (or since it
-- changed). Nothing is attached to an address by that address alone until it is proven.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;

-- Verification links: only the token's SHA-256 is kept, with the address it was mailed to
-- (an address changed since voids it), single use, expiring.
CREATE TABLE email_verifications (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email_key  TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_verifications_by_user ON email_verifications(user_id);
