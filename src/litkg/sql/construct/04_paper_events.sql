-- _paper_events: (doc_id, t): the days on which what counts in doc_id's paper may change:
-- a carrier or a deletion of any document it is ever matched with, and a change of matching.
WITH own AS (
    SELECT doc_id, since AS t FROM _carriers
    UNION SELECT doc_id, deleted_on FROM _in_deletions
)
SELECT DISTINCT r.doc_id, o.t FROM _reach r JOIN own o ON o.doc_id = r.other
UNION SELECT doc_id, r_from FROM _reach WHERE r_from > DATE '0001-01-01'
UNION SELECT doc_id, r_to FROM _reach WHERE r_to IS NOT NULL
