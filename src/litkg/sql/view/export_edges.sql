-- Every edge in force on day $d with its provenance, for the exports: context, confidence,
-- support, status, the claim that beats it, the first and newest evidence days and all of its
-- evidence (evidence.sql, joined by the caller as `ev`).
SELECT e.edge_id, e.subject_id, e.subject, e.relation, e.object_id, e.object, e.context_id,
       e.context, e.confidence, e.support, e.evidence_count, e.status, e.contested_by,
       e.version, e.valid_from,
       f.first_seen,
       e.last_evidence_day, e.last_evidence_doc,
       coalesce(ev.evidence, []) AS evidence
FROM edges_as_of($d) e LEFT JOIN ev USING (edge_id)
JOIN (SELECT edge_id, min(valid_from) AS first_seen FROM edges GROUP BY edge_id) f
    USING (edge_id)
ORDER BY e.edge_id
