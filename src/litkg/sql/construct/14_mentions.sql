-- _mentions: each mention's entity key. A short form defined in the mention's own document
-- resolves to that definition; otherwise to the earliest definition (first day, then smallest
-- long form) among the documents that count on the mention's day, so a definition stops
-- applying once its document is revised or deleted. Otherwise the canonical key itself.
WITH m AS (
    SELECT r.*, s.canon FROM _raw_mentions r JOIN _surfaces s USING (surface)
    WHERE s.canon IS NOT NULL
), global_def AS (
    SELECT m.assertion_id, m.role, m.surface,
           arg_min(g.long_key, (g.since, g.long_key)) AS long_key
    FROM m JOIN _defs_all g ON g.short_key = m.canon
    JOIN _doc_live_all l
      ON l.doc_id = g.doc_id AND l.content_hash = g.content_hash
     AND l.live_from <= m.day AND (l.live_to IS NULL OR l.live_to > m.day)
    GROUP BY ALL
)
SELECT m.assertion_id, m.doc_id, m.content_hash, m.day, m.first_live, m.role, m.surface,
       m.entity_type, m.canon AS canonical,
       (loc.long_key IS NOT NULL OR global_def.long_key IS NOT NULL) AS via_acronym,
       coalesce(loc.long_key, global_def.long_key, m.canon) AS entity_key
FROM m
LEFT JOIN _defs_all loc
  ON loc.doc_id = m.doc_id AND loc.content_hash = m.content_hash AND loc.short_key = m.canon
LEFT JOIN global_def USING (assertion_id, role, surface)
