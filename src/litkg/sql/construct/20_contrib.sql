-- _contrib: each document version contributes once per edge and run, with its best
-- confidence c, as ln(1 - c) in fixed point (1e-9): sums are exact in any order.
SELECT edge_id, doc_id, content_hash, live_from, retracted_on AS live_to,
       CAST(round(ln(1 - least(max(confidence), 0.999999)) * 1000000000) AS BIGINT) AS logc,
       CAST(count(*) AS INTEGER) AS n
FROM _edge_links GROUP BY edge_id, doc_id, content_hash, live_from, retracted_on
