-- _scope_edges: the edges judged again (_edge_links), and those whose links are all gone:
-- their current versions end.
SELECT DISTINCT edge_id FROM _edge_links
UNION
SELECT edge_id FROM _gone_links
