-- _old_mentions: the stored mentions of every document this commit touches (the scope's, and
-- those of re-resolved assertions), each marked `gone` when this commit replaces it. The
-- entities' counts are patched from these rows, not recounted over all their mentions.
SELECT m.*, (m.doc_id IN (SELECT doc_id FROM _scope_docs)
             OR m.assertion_id IN (SELECT assertion_id FROM _in_assertions)) AS gone
FROM mentions m
WHERE m.doc_id IN (SELECT doc_id FROM _scope_docs UNION SELECT doc_id FROM _in_assertions)
