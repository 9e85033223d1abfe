-- Registry schema, version 1. Times are unix milliseconds.
-- Later migrations add: users with roles scoped to an area (web UI),
-- bulletins/schedules with priority and approval state, and occurrences.

CREATE TABLE areas (
  id        TEXT PRIMARY KEY,
  parent_id TEXT REFERENCES areas(id),
  kind      TEXT NOT NULL CHECK (kind IN ('province', 'commune')),
  name      TEXT NOT NULL
);

CREATE TABLE stations (
  id      TEXT PRIMARY KEY,
  area_id TEXT NOT NULL REFERENCES areas(id),
  name    TEXT NOT NULL,
  kind    TEXT NOT NULL CHECK (kind IN ('ip', 'fm', 'wired'))
);

CREATE TABLE nodes (
  id          TEXT PRIMARY KEY,
  station_id  TEXT NOT NULL REFERENCES stations(id),
  name        TEXT NOT NULL DEFAULT '',
  lat         REAL NOT NULL DEFAULT 0,
  lon         REAL NOT NULL DEFAULT 0,
  secret_hash TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  revoked     INTEGER NOT NULL DEFAULT 0,
  desired_rev INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX nodes_station ON nodes(station_id);

CREATE TABLE zones (
  id         TEXT PRIMARY KEY,
  station_id TEXT NOT NULL REFERENCES stations(id),
  name       TEXT NOT NULL DEFAULT '',
  offset_ms  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE zone_nodes (
  zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  node_id TEXT NOT NULL REFERENCES nodes(id),
  PRIMARY KEY (zone_id, node_id)
);
CREATE INDEX zone_nodes_node ON zone_nodes(node_id);

CREATE TABLE media (
  sha256        TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  source_format TEXT NOT NULL DEFAULT '',
  size          INTEGER NOT NULL,
  duration_ms   INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  created_by    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE node_state (
  node_id    TEXT PRIMARY KEY REFERENCES nodes(id),
  online     INTEGER NOT NULL,
  state      TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Proof of play: one row per (node, seq), however often a node sends it.
CREATE TABLE play_events (
  node_id     TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  type        TEXT NOT NULL,
  item_id     TEXT NOT NULL,
  media       TEXT NOT NULL DEFAULT '',
  at          INTEGER NOT NULL,
  play_at     INTEGER NOT NULL DEFAULT 0,
  offset_us   INTEGER NOT NULL DEFAULT 0,
  played_ms   INTEGER NOT NULL DEFAULT 0,
  priority    TEXT NOT NULL DEFAULT '',
  reason      TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL,
  PRIMARY KEY (node_id, seq)
) WITHOUT ROWID;
CREATE INDEX play_events_at ON play_events(node_id, at);
CREATE INDEX play_events_item ON play_events(item_id);

CREATE TABLE commands (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  target     TEXT NOT NULL,
  media      TEXT NOT NULL DEFAULT '',
  play_at    INTEGER NOT NULL DEFAULT 0,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  body       TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE command_replies (
  command_id TEXT NOT NULL,
  node_id    TEXT NOT NULL,
  ok         INTEGER NOT NULL,
  code       INTEGER NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  at         INTEGER NOT NULL,
  PRIMARY KEY (command_id, node_id)
);

CREATE TABLE tokens (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  role       TEXT NOT NULL,
  hash       BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE audit (
  id     INTEGER PRIMARY KEY,
  at     INTEGER NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '',
  remote TEXT NOT NULL DEFAULT ''
);
