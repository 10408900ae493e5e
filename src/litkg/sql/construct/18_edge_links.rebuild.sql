-- _edge_links: the links of the edges being judged: all of them.
-- materialize: view
SELECT * FROM _links
