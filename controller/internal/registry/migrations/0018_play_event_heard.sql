-- Proof that people heard it (PROTOCOL.md §7 "heard"): what a node's capture
-- (a microphone, or a line-in after the amplifier) made of the item. heard
-- is NULL when the node did not measure (no capture): "not measured", never
-- "not heard"; 0 played but not heard; 1 heard. The three numbers are the
-- correlation with what was played and the capture's levels in dBFS during
-- the item and in the second before it.
ALTER TABLE play_events ADD COLUMN heard INTEGER;
ALTER TABLE play_events ADD COLUMN heard_corr REAL;
ALTER TABLE play_events ADD COLUMN heard_db REAL;
ALTER TABLE play_events ADD COLUMN heard_bg_db REAL;
