-- Claims that became contested in ($d1, $d2], beside the claim that beat them as it stood that
-- day; the caller adds both claims' evidence (evidence.sql) as of that day.
SELECT c.day, c.edge_id, c.subject, c.relation, c.object, c.context, c.confidence, c.support,
       w.edge_id AS winner_id, w.subject AS winner_subject, w.relation AS winner_relation,
       w.object AS winner_object, w.context AS winner_context,
       w.confidence AS winner_confidence, w.support AS winner_support
FROM changes($d1, $d2) c
JOIN edges w ON w.edge_id = c.contested_by AND w.valid_from <= c.day
            AND (w.valid_to IS NULL OR w.valid_to > c.day)
WHERE c.change = 'contested'
ORDER BY c.day DESC, c.confidence DESC, c.edge_id
LIMIT $limit
