-- Retention asks, for each old recording, whether a proof-of-play record
-- or a command still names it: indexed, that is a lookup, not a scan of a
-- year of events.
CREATE INDEX play_events_media ON play_events(media);
CREATE INDEX commands_media ON commands(media);
