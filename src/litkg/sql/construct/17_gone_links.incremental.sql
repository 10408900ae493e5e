-- _gone_links: the stored links this commit replaces: those of the scope's documents and of
-- re-resolved assertions. The first condition, implied by the others, is a semi-join on one
-- column that leaves few rows for the OR.
SELECT * FROM links
WHERE doc_id IN (SELECT doc_id FROM _scope_docs UNION SELECT doc_id FROM _in_assertions)
  AND (doc_id IN (SELECT doc_id FROM _scope_docs)
       OR assertion_id IN (SELECT assertion_id FROM _in_assertions))
