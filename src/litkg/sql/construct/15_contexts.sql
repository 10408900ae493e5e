-- _contexts: each qualified assertion's context: its qualifiers' entities, sorted.
SELECT assertion_id,
       string_agg(DISTINCT split_part(role, ':', 2) || '=' || litkg_id(entity_key), ';'
                  ORDER BY split_part(role, ':', 2) || '=' || litkg_id(entity_key))
           AS context_sig,
       string_agg(DISTINCT split_part(role, ':', 2) || '=' || entity_key, '; '
                  ORDER BY split_part(role, ':', 2) || '=' || entity_key) AS context
FROM _mentions WHERE role LIKE 'context:%' GROUP BY assertion_id
