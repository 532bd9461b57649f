-- A person's request to change their address: the new address (as typed) waits here until
-- its holder follows the link mailed to it (docs/web.md). NULL: an address verification.
ALTER TABLE email_verifications ADD COLUMN new_email TEXT;
