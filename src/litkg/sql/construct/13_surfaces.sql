-- _surfaces: each distinct surface canonicalised once (the regexes are the costly part).
SELECT surface, litkg_canon(surface) AS canon FROM (SELECT DISTINCT surface FROM _raw_mentions)
