-- _raw_mentions: the arguments of each live assertion, resolved once, as of the assertion's
-- own day; `first_live` is the first day the assertion counted (when its entities are known).
WITH a AS (
    SELECT * FROM _live
    QUALIFY row_number() OVER (PARTITION BY assertion_id ORDER BY live_from) = 1
)
SELECT assertion_id, doc_id, content_hash, day, live_from AS first_live, 'subject' AS role,
       subject AS surface, subject_type AS entity_type
FROM a
UNION ALL
SELECT assertion_id, doc_id, content_hash, day, live_from, 'object', object, object_type FROM a
UNION ALL
SELECT assertion_id, doc_id, content_hash, day, live_from, 'context:' || c.qualifier, c.text, NULL
FROM (SELECT assertion_id, doc_id, content_hash, day, live_from, unnest(context) AS c FROM a)
