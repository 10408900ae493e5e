-- _doc_live_all: every document version's runs of counting days (here: all just computed).
-- materialize: view
SELECT * FROM _doc_live
