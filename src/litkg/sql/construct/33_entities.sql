-- _entities: one row per entity: its most frequent surface and type (ties: smallest), when it
-- was first and last mentioned, how often and in how many documents. The same rule as the
-- entities_as_of macro (derived.sql) on the last day.
WITH names AS (
    SELECT entity_id, arg_min(surface, (-n, surface)) AS name
    FROM (SELECT entity_id, surface, sum(n) AS n FROM _entity_surfaces GROUP BY ALL)
    GROUP BY entity_id
), types AS (
    SELECT entity_id, arg_min(entity_type, (-n, entity_type)) AS entity_type
    FROM (SELECT entity_id, entity_type, sum(n) AS n FROM _entity_surfaces
          WHERE entity_type IS NOT NULL GROUP BY ALL) GROUP BY entity_id
)
SELECT s.entity_id, any_value(s.canonical) AS canonical, any_value(names.name) AS name,
       any_value(types.entity_type) AS entity_type, min(s.first_day) AS first_seen,
       max(s.last_day) AS last_seen, CAST(sum(s.n) AS BIGINT) AS mention_count,
       any_value(c.doc_count) AS doc_count
FROM _entity_surfaces s JOIN names USING (entity_id) LEFT JOIN types USING (entity_id)
JOIN _doc_counts c USING (entity_id)
GROUP BY s.entity_id
