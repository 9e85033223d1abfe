-- Who made an API token (a user's username, or "" for the first
-- administrator token), so people can list and revoke their own.
ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
