-- _edge_links: every link of the edges in scope: the stored ones that stay, and the new ones.
SELECT l.* FROM links l
WHERE l.edge_id IN (SELECT edge_id FROM _scope_edges)
  AND l.doc_id NOT IN (SELECT doc_id FROM _scope_docs)
  AND l.assertion_id NOT IN (SELECT assertion_id FROM _in_assertions)
UNION ALL BY NAME
SELECT * FROM _links
