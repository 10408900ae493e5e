-- _entity_surfaces: per entity and way of naming it (surface, type, through an acronym or not)
-- the mentions' count and first and last day: what entities and aliases are computed from.
SELECT entity_id, canonical, surface, entity_type, via_acronym, count(*) AS n,
       min(day) AS first_day, max(day) AS last_day
FROM _mention_rows GROUP BY ALL
