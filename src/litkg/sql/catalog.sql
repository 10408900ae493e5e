-- The SQL surface of a store, the same from `litkg query` and any DuckDB client.
-- Stored tables are `stored_<name>`; the public names below are views over them.
CREATE VIEW documents AS SELECT * FROM stored_documents;
CREATE VIEW deletions AS SELECT * FROM stored_deletions;
CREATE VIEW abbreviations AS SELECT * FROM stored_abbreviations;
CREATE VIEW links AS SELECT * FROM stored_links;
CREATE VIEW mentions AS SELECT * FROM stored_mentions;
CREATE VIEW entities AS SELECT * FROM stored_entities;
CREATE VIEW aliases AS SELECT * FROM stored_aliases;
-- Edges with transaction time: `edges` is what the graph says now (every valid-time version),
-- `edges_history` also keeps the versions later commits replaced (superseded_commit set).
CREATE VIEW edges AS SELECT * FROM stored_edges WHERE superseded_commit IS NULL;
CREATE VIEW edges_history AS SELECT * FROM stored_edges;
CREATE VIEW quarantine AS SELECT * FROM stored_quarantine;
CREATE VIEW snapshots AS SELECT * FROM stored_snapshots;
CREATE VIEW document_ids AS SELECT * FROM stored_document_ids;
CREATE VIEW source_files AS SELECT * FROM stored_source_files;

-- Assertions are immutable; their status is derived: live, retracted (their document was
-- revised or deleted: from retracted_on on) or ignored (a re-sent duplicate, an unknown
-- relation, or a self-loop after entity resolution). An assertion is identified by its id and
-- its day: the same content re-sent on a later day is a separate, ignored row.
CREATE VIEW assertions AS
    WITH l AS (
        SELECT assertion_id, day, bool_or(retracted_on IS NULL) AS live,
               max(retracted_on) AS retracted_on, arg_max(edge_id, live_from) AS edge_id
        FROM stored_links GROUP BY assertion_id, day
    )
    SELECT a.*,
           CASE WHEN l.assertion_id IS NULL THEN 'ignored'
                WHEN l.live THEN 'live' ELSE 'retracted' END AS status,
           CASE WHEN NOT l.live THEN l.retracted_on END AS retracted_on, l.edge_id
    FROM stored_assertions a
    LEFT JOIN l ON l.assertion_id = a.assertion_id AND l.day = a.day;
