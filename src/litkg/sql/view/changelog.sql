-- What changed in ($d1, $d2], one row per new edge version, with what a sentence needs: the
-- version before it (confidence, support) and, for a contested claim, the claim that beats it
-- as it stood that day.
WITH c AS (SELECT * FROM changes($d1, $d2)),
prev AS (
    SELECT e.edge_id, e.valid_to AS day, e.confidence AS prev_confidence,
           e.support AS prev_support
    FROM edges e WHERE e.edge_id IN (SELECT edge_id FROM c)
)
SELECT c.day, c.change, c.edge_id, c.subject, c.relation, c.object, c.context, c.status,
       c.confidence, c.support, p.prev_confidence, p.prev_support, c.evidence_docs,
       c.contested_by, w.subject AS winner_subject, w.relation AS winner_relation,
       w.object AS winner_object, w.context AS winner_context,
       w.confidence AS winner_confidence, w.support AS winner_support
FROM c
LEFT JOIN prev p ON p.edge_id = c.edge_id AND p.day = c.day
LEFT JOIN edges w ON w.edge_id = c.contested_by AND w.valid_from <= c.day
                 AND (w.valid_to IS NULL OR w.valid_to > c.day)
ORDER BY c.day, c.change, c.subject, c.relation, c.object, c.context, c.edge_id
