-- Placeholder on branch h-struct only, so that 0018 has no gap here: the
-- lead merges the real 0015 from another branch and deletes this file.
SELECT 1;
