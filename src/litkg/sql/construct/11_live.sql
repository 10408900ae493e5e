-- _live: each assertion of a counting carrier (extracted on the carrier's first day), once per
-- run of days it counts, with a relation the vocabulary knows.
SELECT a.assertion_id, a.doc_id, a.content_hash, a.day, a.subject, a.subject_type,
       a.relation, a.object, a.object_type, a.context, a.confidence, l.live_from, l.live_to
FROM _in_assertions a
JOIN _doc_live_all l
  ON l.doc_id = a.doc_id AND l.content_hash = a.content_hash AND l.since = a.day
JOIN _rel_rules r ON r.relation = a.relation
