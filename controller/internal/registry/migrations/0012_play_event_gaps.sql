-- Live sessions (PROTOCOL.md §11): how many holes a node played as silence
-- because the audio did not arrive in time, and how long in all, on the
-- finished or interrupted record of the session.
ALTER TABLE play_events ADD COLUMN gaps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE play_events ADD COLUMN gap_ms INTEGER NOT NULL DEFAULT 0;
