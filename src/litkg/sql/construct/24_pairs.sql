-- _pairs: (edge_id, partner_id): the contradicting edges an edge is judged against (per the
-- vocabulary: `contradicts`, `antisymmetric`). A qualified claim is judged against partners in
-- its own context and against the unqualified partner (the default for every context); an
-- unqualified claim only against unqualified partners, so one dataset's result never contests
-- the general claim.
SELECT e.edge_id, p.edge_id AS partner_id
FROM _keys e JOIN _contra_rules r ON r.relation = e.relation AND NOT r.is_reversed
JOIN _keys p ON p.relation = r.partner
     AND p.subject_id = e.subject_id AND p.object_id = e.object_id
WHERE p.context_id = e.context_id OR p.context_id = ''
UNION
SELECT e.edge_id, p.edge_id
FROM _keys e JOIN _contra_rules r ON r.relation = e.relation AND r.is_reversed
JOIN _keys p ON p.relation = r.partner
     AND p.subject_id = e.object_id AND p.object_id = e.subject_id
WHERE p.context_id = e.context_id OR p.context_id = ''
