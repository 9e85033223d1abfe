-- A commune's pronunciation list for text to speech: a word or phrase as
-- written (local place names) and how the voice should say it.
CREATE TABLE tts_lexicon (
  area_id    TEXT NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
  word       TEXT NOT NULL,
  spoken     TEXT NOT NULL,
  updated_by TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (area_id, word)
) WITHOUT ROWID;
