-- Desired settings of each node, carried in its desired-state document so
-- that a node that reconnects (or a controller that restarts) keeps them.
ALTER TABLE nodes ADD COLUMN volume INTEGER NOT NULL DEFAULT 70 CHECK (volume BETWEEN 0 AND 100);
ALTER TABLE nodes ADD COLUMN amp TEXT NOT NULL DEFAULT 'auto' CHECK (amp IN ('auto', 'on', 'off'));
