-- _reach: (doc_id, other, r_from, r_to): `other` is in doc_id's paper on days [r_from, r_to)
-- (r_to NULL = open). Two documents are one paper on a day when a chain of pairs that link on
-- that day joins them. Every document reaches itself on every day.
WITH RECURSIVE direct AS (
    SELECT a.doc_id, b.doc_id AS other, greatest(a.link_from, b.link_from) AS r_from,
           least(a.link_to, b.link_to) AS r_to
    FROM _pair_spans a JOIN _pair_spans b USING (alias_id)
    WHERE a.doc_id <> b.doc_id
      AND (least(a.link_to, b.link_to) IS NULL
           OR greatest(a.link_from, b.link_from) < least(a.link_to, b.link_to))
), reach(doc_id, other, r_from, r_to) AS (
    SELECT doc_id, other, r_from, r_to FROM direct
    UNION
    SELECT r.doc_id, d.other, greatest(r.r_from, d.r_from), least(r.r_to, d.r_to)
    FROM reach r JOIN direct d ON d.doc_id = r.other
    WHERE d.other <> r.doc_id
      AND (least(r.r_to, d.r_to) IS NULL OR greatest(r.r_from, d.r_from) < least(r.r_to, d.r_to))
)
SELECT doc_id, other, r_from, r_to FROM reach
UNION ALL
SELECT DISTINCT doc_id, doc_id, DATE '0001-01-01', NULL::DATE FROM _in_documents
