-- Table macros shared by the constructor (inside a write) and the catalog (for users).
-- Entities as known on day d: every entity mentioned on or before d, named by its most
-- frequent surface form so far (ties: the smallest), typed by its most frequent type (ties:
-- the smallest).
CREATE OR REPLACE MACRO entities_as_of(d) AS TABLE
    WITH m AS (SELECT * FROM mentions WHERE day <= CAST(d AS DATE)),
    names AS (
        SELECT entity_id, arg_min(surface, (-n, surface)) AS name
        FROM (SELECT entity_id, surface, count(*) AS n FROM m GROUP BY ALL) GROUP BY entity_id
    ),
    types AS (
        SELECT entity_id, arg_min(entity_type, (-n, entity_type)) AS entity_type
        FROM (SELECT entity_id, entity_type, count(*) AS n FROM m
              WHERE entity_type IS NOT NULL GROUP BY ALL) GROUP BY entity_id
    )
    SELECT m.entity_id, any_value(m.canonical) AS canonical, any_value(names.name) AS name,
           any_value(types.entity_type) AS entity_type, min(m.day) AS first_seen,
           max(m.day) AS last_seen, count(*) AS mention_count,
           count(DISTINCT m.doc_id) AS doc_count
    FROM m JOIN names USING (entity_id) LEFT JOIN types USING (entity_id)
    GROUP BY m.entity_id;

-- The graph as known on day d: the edge versions in force that day (retracted ones left out).
CREATE OR REPLACE MACRO edges_as_of(d) AS TABLE
    SELECT * EXCLUDE (month, superseded_commit, superseded_at) FROM edges
    WHERE valid_from <= CAST(d AS DATE)
      AND (valid_to IS NULL OR valid_to > CAST(d AS DATE))
      AND status <> 'retracted';

-- Bi-temporal: the graph on day d as a past commit recorded it (before later runs, e.g. a
-- backfill of older papers, changed it). `run` is a run id or a unique prefix of one (see
-- `runs`); edges_recorded_at takes a wall-clock timestamp instead.
CREATE OR REPLACE MACRO edges_as_recorded(run, d) AS TABLE
    SELECT h.* EXCLUDE (month) FROM edges_history h
    WHERE h.recorded_commit <= (SELECT max(commit_no) FROM runs WHERE starts_with(run_id, run))
      AND (h.superseded_commit IS NULL OR h.superseded_commit >
           (SELECT max(commit_no) FROM runs WHERE starts_with(run_id, run)))
      AND h.valid_from <= CAST(d AS DATE)
      AND (h.valid_to IS NULL OR h.valid_to > CAST(d AS DATE))
      AND h.status <> 'retracted';

CREATE OR REPLACE MACRO edges_recorded_at(ts, d) AS TABLE
    SELECT h.* EXCLUDE (month) FROM edges_history h
    WHERE h.recorded_at <= CAST(ts AS TIMESTAMP)
      AND (h.superseded_at IS NULL OR h.superseded_at > CAST(ts AS TIMESTAMP))
      AND h.valid_from <= CAST(d AS DATE)
      AND (h.valid_to IS NULL OR h.valid_to > CAST(d AS DATE))
      AND h.status <> 'retracted';

-- Contested edges on day d beside the edge that beats them, with both contexts.
CREATE OR REPLACE MACRO conflicts_as_of(d) AS TABLE
    SELECT l.context AS context, l.edge_id AS contested_edge, l.subject AS contested_subject,
           l.relation AS contested_relation, l.object AS contested_object,
           l.confidence AS contested_confidence, l.support AS contested_support,
           w.edge_id AS winning_edge, w.subject AS winning_subject,
           w.relation AS winning_relation, w.object AS winning_object,
           w.context AS winning_context, w.confidence AS winning_confidence,
           w.support AS winning_support
    FROM edges_as_of(d) l JOIN edges_as_of(d) w ON w.edge_id = l.contested_by
    WHERE l.status = 'contested';

-- Context-free roll-up on day d: qualified versions of a claim pooled (noisy-OR over distinct
-- documents), with the contexts it was seen in. For users who do not want contexts.
CREATE OR REPLACE MACRO edges_rollup_as_of(d) AS TABLE
    WITH per_doc AS (
        SELECT subject_id, subject, relation, object_id, object, doc_id,
               max(confidence) AS c, list(DISTINCT context) AS contexts
        FROM links
        WHERE live_from <= CAST(d AS DATE)
          AND (retracted_on IS NULL OR retracted_on > CAST(d AS DATE))
        GROUP BY ALL
    )
    SELECT subject_id, subject, relation, object_id, object,
           1 - exp(sum(ln(1 - least(c, 0.999999)))) AS confidence,
           count(*) AS support,
           list_sort(list_distinct(flatten(list(contexts)))) AS contexts
    FROM per_doc GROUP BY ALL;

-- What changed between d1 (exclusive) and d2 (inclusive): one row per new edge version, with
-- the kind of change and the documents whose evidence arrived or was withdrawn that day.
CREATE OR REPLACE MACRO changes(d1, d2) AS TABLE
    WITH w AS (  -- the versions that start in the window (edges are filed by valid_from)
        SELECT * FROM edges
        WHERE valid_from > CAST(d1 AS DATE) AND valid_from <= CAST(d2 AS DATE)
    ), prev AS (  -- an edge's versions are contiguous: the one before ends where it starts
        SELECT edge_id, valid_to AS valid_from, status AS prev_status,
               support AS prev_support, confidence AS prev_confidence
        FROM edges WHERE valid_to > CAST(d1 AS DATE) AND valid_to <= CAST(d2 AS DATE)
    ), c AS (
        SELECT w.*, CASE
            WHEN prev_status IS NULL AND status = 'contested' THEN 'contested'
            WHEN prev_status IS NULL THEN 'added'
            WHEN status = 'retracted' THEN 'retracted'
            WHEN status = 'contested' AND prev_status <> 'contested' THEN 'contested'
            WHEN status = 'active' AND prev_status = 'contested' THEN 'resolved'
            WHEN status = 'active' AND prev_status = 'retracted' THEN 'restored'
            WHEN support > prev_support OR confidence > prev_confidence THEN 'reinforced'
            ELSE 'weakened' END AS change
        FROM w LEFT JOIN prev USING (edge_id, valid_from)
    ), ev AS (
        SELECT edge_id, live_from AS d, doc_id FROM links
        WHERE live_from > CAST(d1 AS DATE) AND live_from <= CAST(d2 AS DATE)
        UNION SELECT edge_id, retracted_on, doc_id FROM links
        WHERE retracted_on > CAST(d1 AS DATE) AND retracted_on <= CAST(d2 AS DATE)
    )
    SELECT c.valid_from AS day, c.change, c.edge_id, c.subject, c.relation, c.object,
           c.context, c.status, c.contested_by, c.confidence, c.support,
           list(DISTINCT ev.doc_id ORDER BY ev.doc_id) FILTER (ev.doc_id IS NOT NULL)
               AS evidence_docs
    FROM c LEFT JOIN ev ON ev.edge_id = c.edge_id AND ev.d = c.valid_from
    GROUP BY ALL
    ORDER BY day, change, edge_id;
