-- _pair_spans: when each (document, alias) pair can match papers across sources.
-- Matching is dated: a pair links from the day it was first seen. A cross-reference alias
-- (not the document's own id) becomes ambiguous on the first day more documents than
-- namespaces give it (a proceedings DOI on two arXiv papers); it stops linking from that day
-- on, and never before, so a later record cannot change what an earlier day's graph said.
WITH xref AS (
    SELECT alias_id, doc_id, lower(split_part(doc_id, ':', 1)) AS ns, first_seen
    FROM _in_document_ids WHERE NOT own_id
), ev AS (
    SELECT alias_id, first_seen AS d, 1 AS docs, 0 AS nss FROM xref
    UNION ALL
    SELECT alias_id, min(first_seen), 0, 1 FROM xref GROUP BY alias_id, ns
), cum AS (
    SELECT alias_id, d, sum(sum(docs)) OVER w AS docs, sum(sum(nss)) OVER w AS nss
    FROM ev GROUP BY alias_id, d
    WINDOW w AS (PARTITION BY alias_id ORDER BY d)
), ambiguous AS (
    SELECT alias_id, min(d) AS since FROM cum WHERE docs > nss GROUP BY alias_id
)
SELECT p.doc_id, p.alias_id, p.first_seen AS link_from,
       CASE WHEN NOT p.own_id THEN a.since END AS link_to
FROM _in_document_ids p LEFT JOIN ambiguous a USING (alias_id)
WHERE p.own_id OR a.since IS NULL OR p.first_seen < a.since
