-- _in_assertions: the assertions whose links and mentions may change: those of the scope's
-- documents, and every counted assertion with a mention of a short form that a scope document
-- defines (or defined): which definition applies to it may have changed. Only an assertion
-- extracted on its version's first day can count (11_live), and the day filters let the scans
-- skip other days' files.
WITH short_keys AS (
    SELECT short_key FROM _defs
    UNION SELECT short_key FROM acronym_defs WHERE doc_id IN (SELECT doc_id FROM _scope_docs)
), touched AS (
    SELECT DISTINCT assertion_id, doc_id, day FROM mentions
    WHERE surface_key IN (SELECT short_key FROM short_keys)
      AND doc_id NOT IN (SELECT doc_id FROM _scope_docs)
), touched_days AS (  -- a mention's day is its run's first day; the run's `since`, its day
    SELECT DISTINCT r.since AS day FROM touched t
    JOIN doc_runs r ON r.doc_id = t.doc_id AND r.live_from = t.day
)
SELECT * FROM assertions
WHERE day IN (SELECT since FROM _carriers) AND doc_id IN (SELECT doc_id FROM _scope_docs)
UNION ALL
SELECT * FROM assertions
WHERE day IN (SELECT day FROM touched_days)
  AND assertion_id IN (SELECT assertion_id FROM touched)
