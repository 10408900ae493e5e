-- _edge_versions: a new version whenever anything a reader sees changes; valid_to is the next
-- version's valid_from. An edge with no live evidence is `retracted`.
WITH judged AS (
    SELECT e.*,
           CASE WHEN e.support <= 0 THEN 'retracted'
                WHEN b.winner IS NOT NULL THEN 'contested'
                ELSE 'active' END AS status,
           CASE WHEN e.support > 0 THEN b.winner END AS contested_by
    FROM _eval e LEFT JOIN _beaten b ON b.edge_id = e.edge_id AND b.d = e.d
), marked AS (
    SELECT *, (lag(row(logsum, support, evidence_count, last_evidence_doc, last_evidence_day,
                       status, contested_by)) OVER w)
              IS DISTINCT FROM row(logsum, support, evidence_count, last_evidence_doc,
                                   last_evidence_day, status, contested_by) AS changed
    FROM judged WINDOW w AS (PARTITION BY edge_id ORDER BY d)
), kept AS (SELECT * FROM marked WHERE changed)
SELECT k.edge_id, k.subject_id, k.subject, k.relation, k.object_id, k.object,
       k.context_id, k.context,
       CAST(row_number() OVER w AS INTEGER) AS version,
       v.d AS valid_from, lead(v.d) OVER w AS valid_to,
       1 - exp(v.logsum / 1e9) AS confidence,
       v.support, v.evidence_count, v.last_evidence_doc, v.last_evidence_day,
       v.status, v.contested_by, strftime(v.d, '%Y-%m') AS month
FROM kept v JOIN _keys k USING (edge_id)
WINDOW w AS (PARTITION BY v.edge_id ORDER BY v.d)
