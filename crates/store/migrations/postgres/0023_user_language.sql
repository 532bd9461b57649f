-- The language a person is written to in (pages and mails, docs/web.md); NULL: never
-- chosen, and English is used.
ALTER TABLE users ADD COLUMN language TEXT;
