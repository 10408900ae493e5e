-- _scope_entities: entities whose mentions change: resolved before or after this commit.
SELECT entity_id FROM mentions
WHERE doc_id IN (SELECT doc_id FROM _scope_docs)
   OR assertion_id IN (SELECT assertion_id FROM _in_assertions)
UNION
SELECT entity_id FROM _mention_rows
