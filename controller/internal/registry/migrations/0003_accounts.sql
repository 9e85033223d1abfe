-- Accounts of the web UI, with a role scoped to an area, and their sessions.
-- role: admin (everything; area_id NULL), officer and leader (a commune),
-- province (reads every station of a province, changes nothing).
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL DEFAULT '',
  role          TEXT NOT NULL CHECK (role IN ('admin', 'officer', 'leader', 'province')),
  area_id       TEXT REFERENCES areas(id),
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  CHECK ((role = 'admin') = (area_id IS NULL))
);

-- Only the sha256 of a session's secret is stored, like tokens.
CREATE TABLE sessions (
  hash       BLOB PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  seen_at    INTEGER NOT NULL,
  remote     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- API tokens may be scoped to an area too ('' = everything).
ALTER TABLE tokens ADD COLUMN area_id TEXT NOT NULL DEFAULT '';

-- The area an audit entry concerns ('' = the whole system), so each
-- officer sees the log of their own area.
ALTER TABLE audit ADD COLUMN area_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_area ON audit(area_id, id);

-- Which areas a recording belongs to: the same content uploaded by two
-- communes is stored once and listed for both.
CREATE TABLE media_areas (
  sha256  TEXT NOT NULL REFERENCES media(sha256),
  area_id TEXT NOT NULL,
  PRIMARY KEY (sha256, area_id)
) WITHOUT ROWID;
