-- _defs: acronym definitions ("long form (SF)") of each carrier, by canonical short form. A
-- document that defines one short form twice keeps its first definition in the text.
SELECT b.doc_id, b.content_hash, b.day AS since, litkg_canon(b.short) AS short_key,
       arg_min(litkg_canon(b.long), (b.start, litkg_canon(b.long))) AS long_key
FROM _in_abbreviations b
JOIN _carriers c ON c.doc_id = b.doc_id AND c.content_hash = b.content_hash AND c.since = b.day
WHERE litkg_canon(b.short) IS NOT NULL AND litkg_canon(b.long) IS NOT NULL
  AND litkg_canon(b.short) <> litkg_canon(b.long)
GROUP BY ALL
