-- Emergency warnings and CAP 1.2 alerts.
-- An area's national administrative unit code (mã đơn vị hành chính), which
-- CAP <geocode> values name; drills: whether Exercise and Test alerts play
-- there (a commune also plays them when its province has them on).
ALTER TABLE areas ADD COLUMN code TEXT;
ALTER TABLE areas ADD COLUMN drills INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX areas_code ON areas(code) WHERE code IS NOT NULL;

-- A warning: one recording sent at emergency priority to a set of nodes,
-- each with its own play command (so it can be stopped by id).
CREATE TABLE warnings (
  id         TEXT PRIMARY KEY,
  title      TEXT NOT NULL,
  source     TEXT NOT NULL,          -- manual, cap
  media      TEXT NOT NULL,          -- sha256 of what plays (attention signal included)
  text       TEXT NOT NULL DEFAULT '',
  repeat     INTEGER NOT NULL,
  gap_ms     INTEGER NOT NULL,
  request    TEXT NOT NULL,          -- JSON: the areas, zones or polygon asked for
  status     TEXT NOT NULL,          -- active, cancelled, expired, replaced
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL DEFAULT 0,
  ended_at   INTEGER NOT NULL DEFAULT 0,
  ended_by   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX warnings_status ON warnings(status, expires_at);

CREATE TABLE warning_targets (
  warning_id TEXT NOT NULL REFERENCES warnings(id) ON DELETE CASCADE,
  node_id    TEXT NOT NULL,
  area_id    TEXT NOT NULL,          -- the node's commune
  command_id TEXT NOT NULL DEFAULT '',
  error      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (warning_id, node_id)
) WITHOUT ROWID;

-- Every CAP alert received, valid or not played, with what came of it.
CREATE TABLE cap_alerts (
  id          INTEGER PRIMARY KEY,
  sender      TEXT NOT NULL,
  identifier  TEXT NOT NULL,
  sent        INTEGER NOT NULL,      -- unix ms
  status      TEXT NOT NULL,
  msg_type    TEXT NOT NULL,
  xml         BLOB NOT NULL,
  received_by TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  outcome     TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT '',
  warning_id  TEXT NOT NULL DEFAULT '',
  UNIQUE (sender, identifier, sent)
);
