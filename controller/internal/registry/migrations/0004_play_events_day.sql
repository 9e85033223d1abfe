-- Proof of play by time alone: the day's outcomes of a whole province
-- (coverage view) and the newest records of the proof-of-play page.
CREATE INDEX play_events_day ON play_events(at);
