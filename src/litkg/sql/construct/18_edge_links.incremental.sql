-- _edge_links: every link of the edges judged again: the stored ones that stay, and the new
-- ones. Judged again: each edge whose links change (gone or new), and every edge of the same
-- contradiction group: the same pair of entities and a relation of the same contradiction
-- family (_rel_family). An edge's partners are all in its group, so the group holds whatever
-- judging one of its edges reads or changes; an edge whose relation contradicts nothing is a
-- group of its own. One scan of the links, an equi-join on the group key.
WITH touched AS (
    SELECT edge_id, subject_id, object_id, relation FROM _gone_links
    UNION SELECT edge_id, subject_id, object_id, relation FROM _links
), groups AS (
    SELECT DISTINCT CASE WHEN f.family IS NULL THEN t.edge_id
        ELSE concat_ws('|', f.family, least(t.subject_id, t.object_id),
                       greatest(t.subject_id, t.object_id)) END AS k
    FROM touched t LEFT JOIN _rel_family f USING (relation)
), grouped AS (
    SELECT l.* FROM links l LEFT JOIN _rel_family f USING (relation)
    WHERE CASE WHEN f.family IS NULL THEN l.edge_id
          ELSE concat_ws('|', f.family, least(l.subject_id, l.object_id),
                         greatest(l.subject_id, l.object_id)) END IN (SELECT k FROM groups)
)
SELECT g.* FROM grouped g ANTI JOIN _gone_links USING (assertion_id, live_from)
UNION ALL BY NAME
SELECT * FROM _links
