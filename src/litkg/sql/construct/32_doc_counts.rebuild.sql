-- _doc_counts: in how many documents each entity is mentioned.
SELECT entity_id, count(DISTINCT doc_id) AS doc_count FROM _mention_rows GROUP BY entity_id
