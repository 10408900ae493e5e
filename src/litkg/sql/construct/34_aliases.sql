-- _aliases: each lower-cased surface of an entity; `acronym` when any of its mentions
-- resolved through a definition.
SELECT lower(surface) AS alias, entity_id,
       CASE WHEN bool_or(via_acronym) THEN 'acronym' ELSE 'surface' END AS kind,
       min(first_day) AS first_seen, CAST(sum(n) AS BIGINT) AS mention_count
FROM _entity_surfaces GROUP BY lower(surface), entity_id
