-- Transaction time for edge versions: merge the versions the constructor just computed
-- (_edge_versions) into the stored history (edges_history). A stored current version that is
-- no longer computed is superseded by this commit (kept, with superseded_commit/at); a computed
-- version not yet stored is recorded by it. Unchanged versions keep when they were recorded.
-- Parameters: $commit_no, $now.
WITH new AS (
    SELECT *, md5(to_json(struct_pack(edge_id, version, valid_from, valid_to, confidence,
                                      support, evidence_count, last_evidence_doc,
                                      last_evidence_day, status, contested_by, subject_id,
                                      subject, relation, object_id, object, context_id,
                                      context))::VARCHAR) AS vkey
    FROM _edge_versions
), old AS (
    SELECT *, md5(to_json(struct_pack(edge_id, version, valid_from, valid_to, confidence,
                                      support, evidence_count, last_evidence_doc,
                                      last_evidence_day, status, contested_by, subject_id,
                                      subject, relation, object_id, object, context_id,
                                      context))::VARCHAR) AS vkey
    FROM edges_history
)
SELECT o.* EXCLUDE (vkey, superseded_commit, superseded_at),
       CASE WHEN o.superseded_commit IS NULL AND n.vkey IS NULL THEN $commit_no
            ELSE o.superseded_commit END AS superseded_commit,
       CASE WHEN o.superseded_commit IS NULL AND n.vkey IS NULL THEN $now
            ELSE o.superseded_at END AS superseded_at
FROM old o LEFT JOIN new n ON n.vkey = o.vkey AND o.superseded_commit IS NULL
UNION ALL BY NAME
SELECT n.* EXCLUDE (vkey), $commit_no AS recorded_commit, $now AS recorded_at,
       NULL::BIGINT AS superseded_commit, NULL::TIMESTAMP AS superseded_at
FROM new n
WHERE n.vkey NOT IN (SELECT vkey FROM old WHERE superseded_commit IS NULL)
