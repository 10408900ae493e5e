-- _entity_mentions: every mention of the entities in scope: stored ones that stay, new ones.
SELECT m.* FROM mentions m
WHERE m.entity_id IN (SELECT entity_id FROM _scope_entities)
  AND m.doc_id NOT IN (SELECT doc_id FROM _scope_docs)
  AND m.assertion_id NOT IN (SELECT assertion_id FROM _in_assertions)
UNION ALL BY NAME
SELECT * FROM _mention_rows
