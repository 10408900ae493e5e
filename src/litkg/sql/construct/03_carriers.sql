-- _carriers: each (doc_id, content_hash) a source published, from its first day (`since`; a
-- re-send of the same content later is a no-op), with that day's revision date and the day a
-- deletion of the document withdrew it (the first deletion on or after `since`).
WITH f AS (
    SELECT doc_id, content_hash, min(published) AS since FROM _in_documents GROUP BY ALL
), w AS (
    SELECT f.doc_id, f.content_hash, min(x.deleted_on) AS withdrawn_on
    FROM f JOIN _in_deletions x ON x.doc_id = f.doc_id AND x.deleted_on >= f.since
    GROUP BY ALL
)
SELECT f.doc_id, f.content_hash, f.since, max(d.revised) AS revised, any_value(w.withdrawn_on)
           AS withdrawn_on
FROM f
JOIN _in_documents d ON d.doc_id = f.doc_id AND d.content_hash = f.content_hash
                AND d.published = f.since
LEFT JOIN w ON w.doc_id = f.doc_id AND w.content_hash = f.content_hash
GROUP BY f.doc_id, f.content_hash, f.since
