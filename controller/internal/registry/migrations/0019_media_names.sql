-- A recording's name in each area's library (empty: the name it was first
-- uploaded under, media.name), so that a commune renames its copy without
-- renaming another commune's upload of the same content; and when a
-- recording was deleted: its row stays while proof of play names it, so
-- that reports keep its name and length, but it is no longer in any
-- library and cannot be scheduled or played.
ALTER TABLE media_areas ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
