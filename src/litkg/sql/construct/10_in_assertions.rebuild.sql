-- _in_assertions: the assertions whose links and mentions are (re)computed: all of them.
-- materialize: view
SELECT * FROM assertions
