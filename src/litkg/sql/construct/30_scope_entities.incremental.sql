-- _scope_entities: entities whose mentions change: resolved before or after this commit.
SELECT entity_id FROM _old_mentions WHERE gone
UNION
SELECT entity_id FROM _mention_rows
