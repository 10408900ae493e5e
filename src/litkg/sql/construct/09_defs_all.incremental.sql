-- _defs_all: the stored definitions of documents outside the scope, with the scope's new ones.
-- materialize: view
SELECT doc_id, content_hash, since, short_key, long_key FROM acronym_defs
WHERE doc_id NOT IN (SELECT doc_id FROM _scope_docs)
UNION ALL
SELECT doc_id, content_hash, since, short_key, long_key FROM _defs
