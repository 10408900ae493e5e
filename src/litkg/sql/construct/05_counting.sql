-- _counting: (doc_id, content_hash, t): the carrier whose assertions count for its paper on
-- day t. On each day a paper's versions are the contents its documents published so far,
-- ordered by first day, then revision date (NULL first), then hash; only the newest counts, and
-- only while some carrier of it is not withdrawn. It counts through its earliest carrier
-- (since, then doc_id), so the same text from two sources counts once.
WITH members AS (
    SELECT e.doc_id AS me, e.t, c.doc_id, c.content_hash, c.since, c.revised,
           coalesce(c.withdrawn_on <= e.t, false) AS withdrawn
    FROM _paper_events e
    JOIN _reach r ON r.doc_id = e.doc_id AND r.r_from <= e.t
                 AND (r.r_to IS NULL OR r.r_to > e.t)
    JOIN _carriers c ON c.doc_id = r.other AND c.since <= e.t
), versions AS (
    SELECT me, t, content_hash, min(since) AS first_published, max(revised) AS revised,
           arg_min(doc_id, (since, doc_id)) AS rep, bool_and(withdrawn) AS withdrawn
    FROM members GROUP BY me, t, content_hash
), ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY me, t
        ORDER BY first_published DESC, revised DESC NULLS LAST, content_hash DESC) AS rn
    FROM versions
)
SELECT me AS doc_id, content_hash, t FROM ranked WHERE rn = 1 AND NOT withdrawn AND rep = me
