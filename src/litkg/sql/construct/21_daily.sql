-- _daily: per edge and day, what arrives (+) and what is withdrawn (-).
WITH ev AS (
    SELECT edge_id, live_from AS d, logc AS dl, 1 AS ds, n AS dn FROM _contrib
    UNION ALL
    SELECT edge_id, live_to, -logc, -1, -n FROM _contrib WHERE live_to IS NOT NULL
)
SELECT edge_id, d, CAST(sum(dl) AS BIGINT) AS dl, CAST(sum(ds) AS INTEGER) AS ds,
       CAST(sum(dn) AS INTEGER) AS dn
FROM ev GROUP BY edge_id, d
