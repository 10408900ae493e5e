-- _keys: each edge's endpoints and context.
SELECT DISTINCT edge_id, subject_id, subject, relation, object_id, object, context_id, context
FROM _edge_links
