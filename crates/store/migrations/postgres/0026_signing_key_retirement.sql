-- Keys rotate (docs/operations.md, "Keys"): the newest live key signs; a retired key signs
-- nothing and admits no one, its private half erased and its public half kept for the
-- receipts and checkpoints it signed; a compromised one is not even published.
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
ALTER TABLE signing_keys ADD COLUMN compromised BOOLEAN NOT NULL DEFAULT FALSE;
