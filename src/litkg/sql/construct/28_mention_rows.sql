-- _mention_rows: the mentions as stored (`mentions`): the day is the first day the assertion
-- counted, `canonical` the key of the entity it resolves to, `surface_key` the surface's own.
SELECT assertion_id, doc_id, first_live AS day, role, surface, entity_type,
       entity_key AS canonical, via_acronym, litkg_id(entity_key) AS entity_id,
       canonical AS surface_key
FROM _mentions
