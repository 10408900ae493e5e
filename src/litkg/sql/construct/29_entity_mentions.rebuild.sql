-- _entity_mentions: the mentions entities and aliases are computed from: all of them.
-- materialize: view
SELECT * FROM _mention_rows
