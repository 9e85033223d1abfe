-- Radio channels the administrator keeps for relays (VOV1, VOV2, the
-- provincial station): officers name a channel, not a URL.
CREATE TABLE relay_channels (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  url        TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL DEFAULT ''
);
