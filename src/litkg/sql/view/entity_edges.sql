-- The edges of entity $entity_id in force on day $d, strongest first, each with how its
-- current version came about (added, reinforced, contested...: the rule of `changes`), the
-- day of that change, and the claim that beats it.
WITH mine AS (
    SELECT * FROM edges WHERE (subject_id = $entity_id OR object_id = $entity_id)
                          AND valid_from <= $d
),
v AS (
    SELECT *, lag(status) OVER w AS prev_status, lag(support) OVER w AS prev_support,
           lag(confidence) OVER w AS prev_confidence
    FROM mine WINDOW w AS (PARTITION BY edge_id ORDER BY valid_from)
)
SELECT CASE WHEN v.subject_id = $entity_id THEN 'subject' ELSE 'object' END AS role,
       v.edge_id, v.subject_id, v.subject, v.relation, v.object_id, v.object, v.context,
       v.confidence, v.support, v.evidence_count, v.status, v.version,
       v.valid_from AS changed_on,
       CASE
           WHEN v.prev_status IS NULL AND v.status = 'contested' THEN 'contested'
           WHEN v.prev_status IS NULL THEN 'added'
           WHEN v.status = 'contested' AND v.prev_status <> 'contested' THEN 'contested'
           WHEN v.status = 'active' AND v.prev_status = 'contested' THEN 'resolved'
           WHEN v.status = 'active' AND v.prev_status = 'retracted' THEN 'restored'
           WHEN v.support > v.prev_support OR v.confidence > v.prev_confidence
               THEN 'reinforced'
           ELSE 'weakened' END AS change,
       w.subject || ' ' || w.relation || ' ' || w.object AS beaten_by,
       w.confidence AS beaten_by_confidence
FROM v
LEFT JOIN edges_as_of($d) w ON w.edge_id = v.contested_by
WHERE (v.valid_to IS NULL OR v.valid_to > $d) AND v.status <> 'retracted'
ORDER BY v.confidence DESC, v.support DESC, v.edge_id
