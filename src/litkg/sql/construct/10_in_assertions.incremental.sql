-- _in_assertions: the assertions whose links and mentions may change: those of the scope's
-- documents, and every counted assertion with a mention of a short form that a scope document
-- defines (or defined): which definition applies to it may have changed.
WITH short_keys AS (
    SELECT short_key FROM _defs
    UNION SELECT short_key FROM acronym_defs WHERE doc_id IN (SELECT doc_id FROM _scope_docs)
), touched AS (
    SELECT DISTINCT assertion_id FROM mentions
    WHERE surface_key IN (SELECT short_key FROM short_keys)
      AND doc_id NOT IN (SELECT doc_id FROM _scope_docs)
)
SELECT * FROM assertions WHERE doc_id IN (SELECT doc_id FROM _scope_docs)
UNION ALL
SELECT * FROM assertions WHERE assertion_id IN (SELECT assertion_id FROM touched)
