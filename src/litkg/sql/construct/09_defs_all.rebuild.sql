-- _defs_all: every document version's acronym definitions (here: all just computed).
-- materialize: view
SELECT * FROM _defs
