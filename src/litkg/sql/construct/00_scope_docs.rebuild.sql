-- _scope_docs: the documents whose paper-level state this construction computes. A rebuild
-- computes every document from the inputs alone (it reads no stored state).
-- materialize: view
SELECT DISTINCT doc_id FROM documents
