-- The hash of the last desired state published to each node (its content,
-- without revision, time and horizon): a restarted controller publishes
-- again only the nodes whose desired state changed or that did not apply
-- it (controller/internal/desired).
ALTER TABLE nodes ADD COLUMN desired_hash TEXT NOT NULL DEFAULT '';
