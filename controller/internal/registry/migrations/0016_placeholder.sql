-- Placeholder for the migration another branch adds with this number: the
-- merge replaces this file with that one (then 0019 follows it).
SELECT 1;
