-- The entities known on day $d with their aliases and acronyms then, for the exports and the
-- explorer's search; entities with no edge in force that day are kept (isolated nodes).
SELECT e.entity_id, e.name, e.canonical, e.entity_type, e.first_seen, e.mention_count,
       e.doc_count,
       coalesce(list(a.alias ORDER BY a.mention_count DESC, a.alias)
                    FILTER (a.alias IS NOT NULL), []) AS aliases,
       coalesce(list(a.alias ORDER BY a.alias) FILTER (a.kind = 'acronym'), []) AS acronyms
FROM entities_as_of($d) e
LEFT JOIN aliases a ON a.entity_id = e.entity_id AND a.first_seen <= $d
GROUP BY ALL
ORDER BY e.entity_id
