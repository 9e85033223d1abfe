-- Signed node releases and their rollouts (over-the-air updates).
-- A release: one binary of one version for one arch; manifest is the exact
-- JSON the update key signed ({version, arch, size, sha256}), sig its
-- Ed25519 signature by the key kid.
CREATE TABLE releases (
  version    TEXT NOT NULL,
  arch       TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  size       INTEGER NOT NULL,
  kid        TEXT NOT NULL,
  manifest   BLOB NOT NULL,
  sig        BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (version, arch)
);

-- A rollout sends one version to a set of nodes, a few at a time, each
-- the release of its own arch (arch '': every arch the version has), and
-- halts once max_failures of them failed.
CREATE TABLE rollouts (
  id           TEXT PRIMARY KEY,
  version      TEXT NOT NULL,
  arch         TEXT NOT NULL DEFAULT '',
  zone         TEXT NOT NULL DEFAULT '',
  percent      INTEGER NOT NULL DEFAULT 0,
  parallel     INTEGER NOT NULL,
  max_failures INTEGER NOT NULL,
  status       TEXT NOT NULL,          -- running, halted, done
  reason       TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL DEFAULT '',
  ended_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rollouts_status ON rollouts(status);

-- Each targeted node's progress, in the order nodes get the command.
CREATE TABLE rollout_nodes (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
  node_id    TEXT NOT NULL,
  position   INTEGER NOT NULL,
  arch       TEXT NOT NULL DEFAULT '', -- the release it gets ('' until sent)
  status     TEXT NOT NULL,            -- pending, sent, updated, failed
  command_id TEXT NOT NULL DEFAULT '',
  reason     TEXT NOT NULL DEFAULT '',
  sent_at    INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (rollout_id, node_id)
);
