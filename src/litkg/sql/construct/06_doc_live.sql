-- _doc_live: (doc_id, content_hash, since, live_from, live_to): the runs of days on which a
-- carrier counts (live_to NULL = still counting). Usually one run from `since` to a revision or
-- deletion; a carrier can count again (the same text re-published after a deletion) or start
-- late (an ambiguous alias un-merges its paper).
WITH grid AS (
    SELECT c.doc_id, c.content_hash, c.since, e.t, k.doc_id IS NOT NULL AS counting
    FROM _carriers c
    JOIN _paper_events e ON e.doc_id = c.doc_id AND e.t >= c.since
    LEFT JOIN _counting k
      ON k.doc_id = c.doc_id AND k.content_hash = c.content_hash AND k.t = e.t
), marked AS (
    SELECT *, CAST(counting IS DISTINCT FROM lag(counting) OVER w AS INTEGER) AS flip
    FROM grid WINDOW w AS (PARTITION BY doc_id, content_hash ORDER BY t)
), runs AS (
    SELECT *, sum(flip) OVER (PARTITION BY doc_id, content_hash ORDER BY t) AS run FROM marked
), starts AS (
    SELECT doc_id, content_hash, since, run, any_value(counting) AS counting, min(t) AS t0
    FROM runs GROUP BY ALL
), bounded AS (
    SELECT *, lead(t0) OVER (PARTITION BY doc_id, content_hash ORDER BY t0) AS t1 FROM starts
)
SELECT doc_id, content_hash, since, t0 AS live_from, t1 AS live_to FROM bounded WHERE counting
