-- Transaction time, incremental: the same merge as history.sql, for the edges in scope only.
-- Current stored versions of those edges that the constructor no longer computes are
-- superseded by this commit ('supersede': their new row, to replace the current one); computed
-- versions not yet stored are recorded by it ('record'). Parameters: $commit_no, $now.
WITH keyed AS (
    -- a version's content as a 64-bit hash, matched together with (edge_id, valid_from): a
    -- collision would need two contents of one version start (md5 of its JSON cost 9x more)
    SELECT *, hash(edge_id, version, valid_from, valid_to, confidence, support,
                   evidence_count, last_evidence_doc, last_evidence_day, status, contested_by,
                   subject_id, subject, relation, object_id, object, context_id,
                   context) AS vkey
    FROM (SELECT *, true AS computed FROM _edge_versions
          UNION ALL BY NAME
          SELECT *, false AS computed FROM edges
          WHERE edge_id IN (SELECT edge_id FROM _scope_edges))
), new AS (
    SELECT * EXCLUDE (computed, recorded_commit, recorded_at, superseded_commit, superseded_at)
    FROM keyed WHERE computed
), current AS (
    SELECT * EXCLUDE (computed) FROM keyed WHERE NOT computed
)
SELECT c.* EXCLUDE (vkey, superseded_commit, superseded_at), $commit_no AS superseded_commit,
       $now AS superseded_at, 'supersede' AS change
FROM current c ANTI JOIN new n USING (edge_id, valid_from, vkey)
UNION ALL BY NAME
SELECT n.* EXCLUDE (vkey), $commit_no AS recorded_commit, $now AS recorded_at,
       NULL::BIGINT AS superseded_commit, NULL::TIMESTAMP AS superseded_at, 'record' AS change
FROM new n ANTI JOIN current c USING (edge_id, valid_from, vkey)
