-- _entities: one row per entity: its most frequent surface and type (ties: smallest), when it
-- was first and last mentioned, how often and in how many documents. The same rule as the
-- entities_as_of macro (derived.sql) on the last day.
WITH names AS (
    SELECT entity_id, arg_min(surface, (-n, surface)) AS name
    FROM (SELECT entity_id, surface, count(*) AS n FROM _entity_mentions GROUP BY ALL)
    GROUP BY entity_id
), types AS (
    SELECT entity_id, arg_min(entity_type, (-n, entity_type)) AS entity_type
    FROM (SELECT entity_id, entity_type, count(*) AS n FROM _entity_mentions
          WHERE entity_type IS NOT NULL GROUP BY ALL) GROUP BY entity_id
)
SELECT m.entity_id, any_value(m.canonical) AS canonical, any_value(names.name) AS name,
       any_value(types.entity_type) AS entity_type, min(m.day) AS first_seen,
       max(m.day) AS last_seen, count(*) AS mention_count, count(DISTINCT m.doc_id) AS doc_count
FROM _entity_mentions m JOIN names USING (entity_id) LEFT JOIN types USING (entity_id)
GROUP BY m.entity_id
