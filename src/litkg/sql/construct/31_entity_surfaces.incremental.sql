-- _entity_surfaces: the scope entities' rows after this commit: stored counts minus the gone
-- mentions plus the new ones (counts are exact under deletion). A first or last day can only
-- be patched when the gone mentions did not hold it; otherwise that row is counted again from
-- its entity's remaining mentions (a revision or deletion of an entity's earliest mention).
WITH parts AS (
    SELECT entity_id, canonical, surface, entity_type, via_acronym, n, first_day, last_day,
           'stored' AS src
    FROM entity_surfaces WHERE entity_id IN (SELECT entity_id FROM _scope_entities)
    UNION ALL
    SELECT entity_id, canonical, surface, entity_type, via_acronym, -count(*), min(day),
           max(day), 'gone'
    FROM _old_mentions WHERE gone GROUP BY ALL
    UNION ALL
    SELECT entity_id, canonical, surface, entity_type, via_acronym, count(*), min(day),
           max(day), 'new'
    FROM _mention_rows GROUP BY ALL
), merged AS (
    SELECT entity_id, canonical, surface, entity_type, via_acronym, sum(n) AS n,
           min(first_day) FILTER (src = 'stored') AS s_first,
           max(last_day) FILTER (src = 'stored') AS s_last,
           min(first_day) FILTER (src = 'gone') AS g_first,
           max(last_day) FILTER (src = 'gone') AS g_last,
           min(first_day) FILTER (src = 'new') AS n_first,
           max(last_day) FILTER (src = 'new') AS n_last
    FROM parts GROUP BY ALL HAVING sum(n) > 0
), patched AS (
    SELECT entity_id, canonical, surface, entity_type, via_acronym, CAST(n AS BIGINT) AS n,
           CASE WHEN g_first IS NULL OR g_first > s_first THEN least(s_first, n_first)
           END AS first_day,
           CASE WHEN g_last IS NULL OR g_last < s_last THEN greatest(s_last, n_last)
           END AS last_day
    FROM merged
), recount AS (
    SELECT entity_id, surface, entity_type, via_acronym, min(day) AS first_day,
           max(day) AS last_day
    FROM (SELECT entity_id, surface, entity_type, via_acronym, day FROM mentions
          WHERE entity_id IN (SELECT entity_id FROM patched
                              WHERE first_day IS NULL OR last_day IS NULL)
            AND doc_id NOT IN (SELECT doc_id FROM _scope_docs)
            AND assertion_id NOT IN (SELECT assertion_id FROM _in_assertions)
          UNION ALL
          SELECT entity_id, surface, entity_type, via_acronym, day FROM _mention_rows)
    WHERE entity_id IN (SELECT entity_id FROM patched
                        WHERE first_day IS NULL OR last_day IS NULL)
    GROUP BY ALL
)
SELECT p.entity_id, p.canonical, p.surface, p.entity_type, p.via_acronym, p.n,
       coalesce(p.first_day, r.first_day) AS first_day,
       coalesce(p.last_day, r.last_day) AS last_day
FROM patched p LEFT JOIN recount r
  ON r.entity_id = p.entity_id AND r.surface IS NOT DISTINCT FROM p.surface
 AND r.entity_type IS NOT DISTINCT FROM p.entity_type
 AND r.via_acronym IS NOT DISTINCT FROM p.via_acronym
