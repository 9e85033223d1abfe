-- One-time enrolment codes: an officer makes one for a new speaker cluster
-- (its id, name, station, zones, position); the box redeems it once over
-- HTTPS for its config and broker credentials. Only the code's sha256 is
-- kept. used_at 0 = not used yet.
CREATE TABLE enrol_codes (
  id         TEXT PRIMARY KEY,
  code_hash  BLOB NOT NULL UNIQUE,
  node_id    TEXT NOT NULL,
  node_name  TEXT NOT NULL DEFAULT '',
  station_id TEXT NOT NULL REFERENCES stations(id),
  zones      TEXT NOT NULL DEFAULT '',
  lat        REAL NOT NULL DEFAULT 0,
  lon        REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  expires_at INTEGER NOT NULL,
  used_at    INTEGER NOT NULL DEFAULT 0,
  used_from  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX enrol_codes_node ON enrol_codes(node_id);
CREATE INDEX enrol_codes_station ON enrol_codes(station_id);

-- A revoked cluster leaves its zones (it was kept in them: zone commands
-- and reports counted a box that can no longer connect).
DELETE FROM zone_nodes WHERE node_id IN (SELECT id FROM nodes WHERE revoked = 1);
