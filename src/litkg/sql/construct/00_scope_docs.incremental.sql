-- _scope_docs: the documents whose paper-level state may change in this commit: every document
-- with an input row on a day the store marked dirty since the last construction (_dirty), old
-- assertions of a replaced day included, closed over shared ids (a paper's documents are judged
-- together; matching never crosses a connected component of the id graph, whatever the day).
WITH RECURSIVE changed AS (
    SELECT doc_id FROM documents WHERE published IN (SELECT d FROM _dirty WHERE tbl = 'documents')
    UNION SELECT doc_id FROM deletions
        WHERE deleted_on IN (SELECT d FROM _dirty WHERE tbl = 'deletions')
    UNION SELECT doc_id FROM assertions
        WHERE day IN (SELECT d FROM _dirty WHERE tbl = 'assertions')
    UNION SELECT doc_id FROM links WHERE day IN (SELECT d FROM _dirty WHERE tbl = 'assertions')
    UNION SELECT doc_id FROM abbreviations
        WHERE day IN (SELECT d FROM _dirty WHERE tbl = 'abbreviations')
    UNION SELECT doc_id FROM acronym_defs
        WHERE since IN (SELECT d FROM _dirty WHERE tbl = 'abbreviations')
), closure(doc_id) AS (
    SELECT doc_id FROM changed
    UNION
    SELECT o.doc_id FROM closure c
    JOIN document_ids a ON a.doc_id = c.doc_id
    JOIN document_ids o ON o.alias_id = a.alias_id
)
SELECT DISTINCT doc_id FROM closure
