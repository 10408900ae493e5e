-- _aliases: each lower-cased surface of an entity; `acronym` when any of its mentions
-- resolved through a definition.
SELECT lower(surface) AS alias, entity_id,
       CASE WHEN bool_or(via_acronym) THEN 'acronym' ELSE 'surface' END AS kind,
       min(day) AS first_seen, count(*) AS mention_count
FROM _entity_mentions GROUP BY lower(surface), entity_id
