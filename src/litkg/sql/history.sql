-- Transaction time for edge versions: merge the versions the constructor just computed
-- (_edge_versions) into the stored history (edges_history). A stored current version that is
-- no longer computed is superseded by this commit (kept, with superseded_commit/at); a computed
-- version not yet stored is recorded by it. Unchanged versions keep when they were recorded.
-- Parameters: $commit_no, $now.
WITH keyed AS (
    -- a version's content as a 64-bit hash, matched together with (edge_id, valid_from): a
    -- collision would need two contents of one version start (md5 of its JSON cost 9x more).
    -- The endpoints and context are left out: they are the edge's key, hashed in edge_id.
    SELECT *, hash(edge_id, version, valid_from, valid_to, confidence, support,
                   evidence_count, last_evidence_doc, last_evidence_day, status,
                   contested_by) AS vkey
    FROM (SELECT *, true AS computed FROM _edge_versions
          UNION ALL BY NAME
          SELECT *, false AS computed FROM edges_history)
), new AS (
    SELECT * EXCLUDE (computed, recorded_commit, recorded_at, superseded_commit, superseded_at)
    FROM keyed WHERE computed
), old AS (
    SELECT * EXCLUDE (computed) FROM keyed WHERE NOT computed
), current AS (
    SELECT * FROM old WHERE superseded_commit IS NULL
)
-- hash joins on the key throughout (NOT IN or a left-only ON predicate would be quadratic)
SELECT * EXCLUDE (vkey) FROM old WHERE superseded_commit IS NOT NULL
UNION ALL BY NAME
SELECT c.* EXCLUDE (vkey) FROM current c SEMI JOIN new n USING (edge_id, valid_from, vkey)
UNION ALL BY NAME
SELECT c.* EXCLUDE (vkey, superseded_commit, superseded_at), $commit_no AS superseded_commit,
       $now AS superseded_at
FROM current c ANTI JOIN new n USING (edge_id, valid_from, vkey)
UNION ALL BY NAME
SELECT n.* EXCLUDE (vkey), $commit_no AS recorded_commit, $now AS recorded_at,
       NULL::BIGINT AS superseded_commit, NULL::TIMESTAMP AS superseded_at
FROM new n ANTI JOIN current c USING (edge_id, valid_from, vkey)
