-- _doc_live_all: the stored runs of documents outside the scope, with the scope's new ones.
-- materialize: view
SELECT doc_id, content_hash, since, live_from, live_to FROM doc_runs
WHERE doc_id NOT IN (SELECT doc_id FROM _scope_docs)
UNION ALL
SELECT doc_id, content_hash, since, live_from, live_to FROM _doc_live
