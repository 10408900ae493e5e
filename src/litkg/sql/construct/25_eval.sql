-- _eval: the days on which an edge is (re)judged: its own changes and its partners'.
WITH days AS (
    SELECT edge_id, d FROM _states
    UNION
    SELECT p.edge_id, s.d FROM _pairs p JOIN _states s ON s.edge_id = p.partner_id
)
SELECT days.edge_id, days.d, s.logsum, s.support, s.evidence_count,
       s.last_evidence_doc, s.last_evidence_day
FROM days ASOF JOIN _states s ON s.edge_id = days.edge_id AND s.d <= days.d
