-- _links: one row per live assertion and run of days it counts, oriented per the vocabulary
-- (inverse relations rewritten, symmetric ones in key order) and keyed to its edge
-- (subject, relation, object, context). Self-loops after resolution are dropped.
WITH a AS (
    SELECT l.assertion_id, l.doc_id, l.content_hash, l.day, l.live_from, l.live_to,
           l.confidence, r.canonical AS relation, r.swap, r.is_symmetric,
           s.entity_key AS s_key, o.entity_key AS o_key,
           coalesce(c.context_sig, '') AS context_sig, coalesce(c.context, '') AS context
    FROM _live l
    JOIN _rel_rules r ON r.relation = l.relation
    JOIN _mentions s ON s.assertion_id = l.assertion_id AND s.role = 'subject'
    JOIN _mentions o ON o.assertion_id = l.assertion_id AND o.role = 'object'
    LEFT JOIN _contexts c ON c.assertion_id = l.assertion_id
    WHERE s.entity_key <> o.entity_key
), oriented AS (
    SELECT *,
        CASE WHEN swap OR (is_symmetric AND o_key < s_key) THEN o_key ELSE s_key END AS sk,
        CASE WHEN swap OR (is_symmetric AND o_key < s_key) THEN s_key ELSE o_key END AS ok
    FROM a
)
SELECT assertion_id, doc_id, content_hash, day, live_from, live_to AS retracted_on,
       litkg_id(sk) AS subject_id, sk AS subject, relation,
       litkg_id(ok) AS object_id, ok AS object,
       CASE WHEN context_sig = '' THEN '' ELSE litkg_id(context_sig) END AS context_id,
       context,
       litkg_id(concat_ws('|', sk, relation, ok, context_sig)) AS edge_id,
       confidence
FROM oriented
