-- Who put a recording in an area's library, and when: the same content
-- uploaded by two communes is stored once, but each sees its own upload.
ALTER TABLE media_areas ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE media_areas ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
