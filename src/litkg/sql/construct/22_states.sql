-- _states: each edge's state on each day it changes: noisy-OR log-sum, support (live
-- documents), live assertions, and its most recent *live* evidence (day it started counting,
-- then the largest doc_id), the tie-breaker of contradictions.
WITH s AS (
    SELECT edge_id, d,
           CAST(sum(dl) OVER w AS BIGINT) AS logsum,
           CAST(sum(ds) OVER w AS INTEGER) AS support,
           CAST(sum(dn) OVER w AS INTEGER) AS evidence_count
    FROM _daily
    WINDOW w AS (PARTITION BY edge_id ORDER BY d ROWS UNBOUNDED PRECEDING)
), withdrawn AS (
    SELECT DISTINCT edge_id FROM _contrib WHERE live_to IS NOT NULL
), latest AS (
    -- an edge nothing was withdrawn from changes only on days something arrives: its newest
    -- live evidence on such a day is what arrived that day (an equi-join, not a range join
    -- that grows with the square of a popular edge's support)
    SELECT edge_id, live_from AS d, live_from AS last_evidence_day,
           max(doc_id) AS last_evidence_doc
    FROM _contrib WHERE edge_id NOT IN (SELECT edge_id FROM withdrawn)
    GROUP BY edge_id, live_from
    UNION ALL
    SELECT s.edge_id, s.d, max(c.live_from) AS last_evidence_day,
           arg_max(c.doc_id, (c.live_from, c.doc_id)) AS last_evidence_doc
    FROM s JOIN _contrib c
      ON c.edge_id = s.edge_id AND c.live_from <= s.d AND (c.live_to IS NULL OR c.live_to > s.d)
    WHERE s.edge_id IN (SELECT edge_id FROM withdrawn)
    GROUP BY s.edge_id, s.d
)
SELECT s.*, latest.last_evidence_doc, latest.last_evidence_day
FROM s LEFT JOIN latest USING (edge_id, d)
