-- Evidence of every edge on day $d: the live assertions behind it, newest first, each with its
-- sentence, document, title and a link to the source (PubMed / arXiv / DOI from the doc id,
-- else the record's url). Callers filter by edge_id; $per_edge caps the list (NULL: all).
SELECT l.edge_id,
       list(struct_pack(
                doc_id := l.doc_id, day := l.day, sentence := a.evidence,
                confidence := l.confidence, extractor := a.extractor, title := doc.title,
                url := CASE
                    WHEN starts_with(l.doc_id, 'pmid:')
                        THEN 'https://pubmed.ncbi.nlm.nih.gov/' || l.doc_id[6:] || '/'
                    WHEN starts_with(l.doc_id, 'arxiv:')
                        THEN 'https://arxiv.org/abs/' || l.doc_id[7:]
                    WHEN starts_with(l.doc_id, 'doi:') THEN 'https://doi.org/' || l.doc_id[5:]
                    ELSE doc.url END)
            ORDER BY l.day DESC, l.doc_id, a.assertion_id
       )[1:coalesce($per_edge, 2147483647)] AS evidence
FROM links l
JOIN assertions a USING (assertion_id)
LEFT JOIN documents doc ON doc.doc_id = l.doc_id AND doc.content_hash = l.content_hash
WHERE l.live_from <= $d AND (l.retracted_on IS NULL OR l.retracted_on > $d)
GROUP BY l.edge_id
