-- Proof of play played into a node's silent sink (no sound device, or it
-- failed): the node kept its schedule, but nobody heard it, so reports must
-- not count it as aired (PROTOCOL.md §7, "audio": "silent").
ALTER TABLE play_events ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
