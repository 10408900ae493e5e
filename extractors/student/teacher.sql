-- What a teacher extractor put in a store, for distillation: every live assertion at or above
-- a confidence, with the text of the document version it was extracted from.
SELECT a.doc_id, d.abstract AS text, a.subject_start, a.subject_end, a.subject_type,
       a.relation, a.object_start, a.object_end, a.object_type, a.context, a.confidence,
       a.extractor
FROM assertions a
JOIN (SELECT DISTINCT doc_id, content_hash, abstract FROM documents) d
  USING (doc_id, content_hash)
WHERE a.status = 'live' AND a.confidence >= ? AND (? IS NULL OR a.extractor = ?)
ORDER BY a.doc_id, a.subject_start, a.object_start, a.relation
