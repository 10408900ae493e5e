-- _defs: acronym definitions ("long form (SF)") of each carrier, by canonical short form. A
-- document that defines one short form twice keeps its first definition in the text.
-- Both forms go through one litkg_canon call (a large expression whose regular expressions
-- compile once per call site: that compilation, not the rows, dominated this step on a day).
WITH defined AS MATERIALIZED (
    SELECT row_number() OVER () AS i, b.doc_id, b.content_hash, b.day, b.start, b.short, b.long
    FROM _in_abbreviations b
    JOIN _carriers c ON c.doc_id = b.doc_id AND c.content_hash = b.content_hash
        AND c.since = b.day
), forms AS MATERIALIZED (
    SELECT i, f.is_short, litkg_canon(f.surface) AS key
    FROM (SELECT i, unnest([{'is_short': true, 'surface': short},
                            {'is_short': false, 'surface': long}], recursive := true)
          FROM defined) f
), keyed AS (
    SELECT d.doc_id, d.content_hash, d.day, d.start,
           max(f.key) FILTER (f.is_short) AS short_key,
           max(f.key) FILTER (NOT f.is_short) AS long_key
    FROM defined d JOIN forms f USING (i)
    GROUP BY d.i, d.doc_id, d.content_hash, d.day, d.start
)
SELECT doc_id, content_hash, day AS since, short_key,
       arg_min(long_key, (start, long_key)) AS long_key
FROM keyed
WHERE short_key IS NOT NULL AND long_key IS NOT NULL AND short_key <> long_key
GROUP BY doc_id, content_hash, day, short_key
