-- _doc_counts: the scope entities' stored document counts, plus the touched documents that
-- mention them after this commit and minus those that did before (every mention of a touched
-- document is in _old_mentions or _mention_rows, so both sides are known exactly).
WITH per_doc AS (
    SELECT entity_id, doc_id, count(*) FILTER (NOT gone) AS kept, count(*) AS before
    FROM _old_mentions GROUP BY ALL
    UNION ALL
    SELECT entity_id, doc_id, count(*), 0 FROM _mention_rows GROUP BY ALL
), delta AS (
    SELECT entity_id, sum(CAST(kept > 0 AS INTEGER) - CAST(before > 0 AS INTEGER)) AS d
    FROM (SELECT entity_id, doc_id, sum(kept) AS kept, sum(before) AS before
          FROM per_doc GROUP BY ALL)
    GROUP BY entity_id
)
SELECT s.entity_id, CAST(coalesce(e.doc_count, 0) + coalesce(d.d, 0) AS BIGINT) AS doc_count
FROM _scope_entities s LEFT JOIN delta d USING (entity_id)
LEFT JOIN (SELECT entity_id, doc_count FROM entities
           WHERE entity_id IN (SELECT entity_id FROM _scope_entities)) e USING (entity_id)
