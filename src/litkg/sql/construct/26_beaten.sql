-- _beaten: (edge_id, d, winner): the strongest partner that beats a live edge on day d. Higher
-- confidence wins; a tie goes to the more recent live evidence, then to the smaller edge id.
WITH p AS (
    SELECT e.edge_id, e.d, pr.partner_id, ps.logsum, ps.support, ps.last_evidence_day
    FROM _eval e JOIN _pairs pr ON pr.edge_id = e.edge_id
    ASOF JOIN _states ps ON ps.edge_id = pr.partner_id AND ps.d <= e.d
)
SELECT e.edge_id, e.d,
       arg_min(p.partner_id, (p.logsum, -epoch(p.last_evidence_day), p.partner_id)) AS winner
FROM _eval e JOIN p ON p.edge_id = e.edge_id AND p.d = e.d
WHERE e.support > 0 AND p.support > 0
  AND (p.logsum < e.logsum
       OR (p.logsum = e.logsum AND p.last_evidence_day > e.last_evidence_day)
       OR (p.logsum = e.logsum AND p.last_evidence_day = e.last_evidence_day
           AND p.partner_id < e.edge_id))
GROUP BY e.edge_id, e.d
