-- Proof of play is named (node, epoch, seq): a node starts a new random
-- epoch whenever it may reuse numbers (a new or damaged outbox, a replaced
-- box), so records of two epochs never collide. A record arriving under a
-- stored name with other content is kept beside the first as another
-- variant, and every variant of that name is marked conflict = 1: someone
-- else holds the node's secret, or a box reused another's numbers. The
-- primary key changes, so the table is rebuilt (records keep epoch '').
CREATE TABLE play_events_v2 (
  node_id     TEXT NOT NULL,
  epoch       TEXT NOT NULL DEFAULT '',
  seq         INTEGER NOT NULL,
  variant     INTEGER NOT NULL DEFAULT 0,
  conflict    INTEGER NOT NULL DEFAULT 0,
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
  PRIMARY KEY (node_id, epoch, seq, variant)
) WITHOUT ROWID;
INSERT INTO play_events_v2(node_id, seq, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, received_at)
  SELECT node_id, seq, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, received_at FROM play_events;
DROP TABLE play_events;
ALTER TABLE play_events_v2 RENAME TO play_events;
CREATE INDEX play_events_at ON play_events(node_id, at);
CREATE INDEX play_events_item ON play_events(item_id);
CREATE INDEX play_events_day ON play_events(at);
CREATE INDEX play_events_media ON play_events(media); -- 0007, for retention
-- Conflicts are rare and looked for: a partial index finds them at once.
CREATE INDEX play_events_conflict ON play_events(node_id) WHERE conflict = 1;
