-- Macros that exist only in the catalog (they read the vocabulary's `relations` table).
-- What a context-blind graph would call a conflict on day d: contradicting claims pooled over
-- all their contexts (each pair once). Compare with conflicts_as_of(d) to see the false ones.
CREATE MACRO conflicts_ignoring_context_as_of(d) AS TABLE
    WITH r AS (SELECT * FROM edges_rollup_as_of(d)),
    rules AS (
        SELECT relation, unnest(contradicts) AS partner, false AS rev
        FROM relations WHERE inverse_of IS NULL
        UNION ALL
        SELECT relation, relation, true FROM relations WHERE antisymmetric
    )
    SELECT a.subject, a.relation, a.object, a.contexts,
           b.subject AS other_subject, b.relation AS other_relation, b.object AS other_object,
           b.contexts AS other_contexts
    FROM r a JOIN rules ON rules.relation = a.relation
    JOIN r b ON b.relation = rules.partner
        AND ((NOT rules.rev AND b.subject_id = a.subject_id AND b.object_id = a.object_id)
          OR (rules.rev AND b.subject_id = a.object_id AND b.object_id = a.subject_id))
    WHERE (a.subject_id, a.relation, a.object_id) < (b.subject_id, b.relation, b.object_id);
