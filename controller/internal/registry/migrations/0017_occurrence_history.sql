-- What each occurrence of a programme was when it was planned: its
-- bulletin, title, priority, times and the nodes it was for. Reports read
-- what was due from here, so a programme changed or deleted later never
-- rewrites what was due (and aired) before. Rows of occurrences still to
-- come are replaced whenever their programme changes; once an
-- occurrence's time has come, its row is history and stays.
CREATE TABLE occurrences (
  station_id TEXT NOT NULL,
  id         TEXT NOT NULL,            -- occurrence id: <bulletin>-YYYYMMDD-HHMMSS
  schedule   TEXT NOT NULL,            -- the programme (file) it came from
  item_id    TEXT NOT NULL,
  title      TEXT NOT NULL,
  priority   TEXT NOT NULL,
  source     TEXT NOT NULL,            -- media, file, tts, relay, live
  target     TEXT NOT NULL,            -- as written: commune, zone z-1,z-2, nodes n-1
  at         INTEGER NOT NULL,         -- unix ms
  end_at     INTEGER NOT NULL DEFAULT 0,
  nodes      TEXT NOT NULL,            -- JSON list of node ids, as resolved then
  planned_at INTEGER NOT NULL,
  PRIMARY KEY (station_id, id)
);
CREATE INDEX occurrences_at ON occurrences(at);
CREATE INDEX occurrences_schedule ON occurrences(schedule, at);
