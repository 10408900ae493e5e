-- _scope_edges: the edges judged again: those whose links change (old or new) and every edge
-- on the same pair of entities, so contradiction partners (which always share the pair) and
-- the edges judged against them are recomputed together.
WITH gone AS (
    SELECT edge_id, subject_id, object_id FROM links
    WHERE doc_id IN (SELECT doc_id FROM _scope_docs)
       OR assertion_id IN (SELECT assertion_id FROM _in_assertions)
), touched AS (
    SELECT edge_id, subject_id, object_id FROM gone
    UNION SELECT edge_id, subject_id, object_id FROM _links
), pairs AS (
    SELECT DISTINCT least(subject_id, object_id) AS a, greatest(subject_id, object_id) AS b
    FROM touched
)
SELECT edge_id FROM touched
UNION
SELECT e.edge_id FROM edges e
JOIN pairs p ON p.a = least(e.subject_id, e.object_id) AND p.b = greatest(e.subject_id, e.object_id)
