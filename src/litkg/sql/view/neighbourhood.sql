-- The edges within $hops (1 or 2) of entity $entity_id on day $d, for a node-link view: each
-- edge once, with its distance from the entity (1: touches it), capped at $limit by strength.
WITH RECURSIVE e AS (SELECT * FROM edges_as_of($d)),
reach(node, hop) AS (
    SELECT $entity_id::VARCHAR, 0
    UNION
    SELECT CASE WHEN e.subject_id = r.node THEN e.object_id ELSE e.subject_id END, r.hop + 1
    FROM reach r JOIN e ON r.node = e.subject_id OR r.node = e.object_id
    WHERE r.hop < $hops - 1
),
near AS (SELECT node, min(hop) AS hop FROM reach GROUP BY node),
picked AS (
    SELECT e.edge_id, min(near.hop) + 1 AS hop FROM e
    JOIN near ON near.node = e.subject_id OR near.node = e.object_id
    GROUP BY e.edge_id
)
SELECT picked.hop, e.edge_id, e.subject_id, e.subject, e.relation, e.object_id, e.object,
       e.context, e.confidence, e.support, e.status
FROM picked JOIN e USING (edge_id)
ORDER BY picked.hop, e.confidence DESC, e.support DESC, e.edge_id
LIMIT $limit
