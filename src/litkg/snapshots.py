"""Snapshot rows: counts of the graph as of each processed day, computed set-based."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from litkg.store import Transaction
from litkg.store.arrow import registered

METRICS = (
    "documents",
    "assertions",
    "entities",
    "active_edges",
    "contested_edges",
    "retracted_edges",
)


def snapshot_counts_sql() -> str:
    """Counts as of every day in `_snapshot_days(day)`: cumulative sums of +1/-1 events."""
    pivots = ", ".join(f"coalesce(max(v) FILTER (m = '{m}'), 0)::BIGINT AS {m}" for m in METRICS)
    return f"""
    WITH dv AS (SELECT * FROM doc_runs),
    ev AS (
        SELECT live_from AS d, 'documents' AS m, 1 AS x FROM dv
        UNION ALL SELECT live_to, 'documents', -1 FROM dv WHERE live_to IS NOT NULL
        UNION ALL SELECT live_from, 'assertions', 1 FROM links
        UNION ALL SELECT retracted_on, 'assertions', -1 FROM links
            WHERE retracted_on IS NOT NULL
        UNION ALL SELECT first_seen, 'entities', 1 FROM entities
        UNION ALL SELECT valid_from, status || '_edges', 1 FROM edges
        UNION ALL SELECT valid_to, status || '_edges', -1 FROM edges WHERE valid_to IS NOT NULL
    ),
    cum AS (
        SELECT m, d, sum(x) OVER (PARTITION BY m ORDER BY d) AS v
        FROM (SELECT m, d, sum(x) AS x FROM ev GROUP BY m, d)
    ),
    grid AS (
        SELECT s.day, m.m FROM _snapshot_days s
        CROSS JOIN (SELECT unnest({list(METRICS)}) AS m) m
    ),
    valued AS (
        SELECT g.day, g.m, c.v FROM grid g ASOF LEFT JOIN cum c ON c.m = g.m AND c.d <= g.day
    ),
    new_docs AS (SELECT since AS day, count(*) AS n FROM dv WHERE live_from = since GROUP BY 1)
    SELECT v.day, {pivots}, coalesce(any_value(n.n), 0)::BIGINT AS new_documents
    FROM valued v LEFT JOIN new_docs n ON n.day = v.day
    GROUP BY v.day
    """


def direct_counts_sql() -> str:
    """The same counts for a few days, each counted directly (no pass over all history's
    events): what a nightly commit, which changes only its own day's snapshot, needs. One scan
    per table, joined to the few days (the edge statuses are counted in the same scan)."""
    return """
    WITH docs AS (
        SELECT s.day, count(*) FILTER (r.live_to IS NULL OR r.live_to > s.day) AS documents,
               count(*) FILTER (r.live_from = r.since AND r.since = s.day) AS new_documents
        FROM _snapshot_days s JOIN doc_runs r ON r.live_from <= s.day GROUP BY s.day
    ), asserted AS (
        SELECT s.day, count(*) AS assertions
        FROM _snapshot_days s JOIN links l ON l.live_from <= s.day
        WHERE l.retracted_on IS NULL OR l.retracted_on > s.day GROUP BY s.day
    ), ents AS (
        SELECT s.day, count(*) AS entities
        FROM _snapshot_days s JOIN entities e ON e.first_seen <= s.day GROUP BY s.day
    ), edge_counts AS (
        SELECT s.day, count(*) FILTER (e.status = 'active') AS active_edges,
               count(*) FILTER (e.status = 'contested') AS contested_edges,
               count(*) FILTER (e.status = 'retracted') AS retracted_edges
        FROM _snapshot_days s JOIN edges e ON e.valid_from <= s.day
        WHERE e.valid_to IS NULL OR e.valid_to > s.day GROUP BY s.day
    )
    SELECT s.day, coalesce(d.documents, 0) AS documents, coalesce(a.assertions, 0) AS assertions,
           coalesce(n.entities, 0) AS entities, coalesce(c.active_edges, 0) AS active_edges,
           coalesce(c.contested_edges, 0) AS contested_edges,
           coalesce(c.retracted_edges, 0) AS retracted_edges,
           coalesce(d.new_documents, 0) AS new_documents
    FROM _snapshot_days s LEFT JOIN docs d USING (day) LEFT JOIN asserted a USING (day)
    LEFT JOIN ents n USING (day) LEFT JOIN edge_counts c USING (day)
    """


# Up to this many days are counted directly; more take one pass over all events.
DIRECT_DAYS = 7


def write_snapshots(
    tx: Transaction, processed: dict[date, float], run_id: str, since: date | None = None
) -> int:
    """Recompute the snapshots' counts; days in `processed` get this run's id and wall time.

    Counts of earlier snapshots are recomputed too (from `since` on, when given: a commit
    changes nothing before its earliest input day), so a day that arrives late (a backfill of
    an older date) leaves every snapshot consistent with "as of that day".
    """
    days = sorted(processed)
    run_days = pa.table({"day": pa.array(days, pa.date32()),
                         "wall_s": pa.array([processed[d] for d in days], pa.float64()),
                         "run_id": pa.array([run_id] * len(days), pa.string())})
    with registered(tx.con, run_days) as name:
        tx.sql(f"CREATE OR REPLACE TEMP TABLE _run_days AS SELECT * FROM {name}")
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _snapshot_days AS "
        "SELECT day FROM (SELECT day FROM snapshots UNION SELECT day FROM _run_days) "
        "WHERE day >= $since",
        {"since": since or date.min},
    )
    many = tx.sql("SELECT count(*) FROM _snapshot_days").fetchone()[0] > DIRECT_DAYS
    counts = snapshot_counts_sql() if many else direct_counts_sql()
    tx.sql(
        "CREATE OR REPLACE TEMP TABLE _snapshot_rows AS "
        f"""
        SELECT c.day,
               CASE WHEN r.day IS NOT NULL THEN r.run_id ELSE s.run_id END AS run_id,
               c.documents, c.new_documents, c.assertions, c.entities, c.active_edges,
               c.contested_edges, c.retracted_edges,
               CASE WHEN r.day IS NOT NULL THEN r.wall_s ELSE s.wall_s END AS wall_s,
               CASE WHEN r.day IS NOT NULL THEN now()::TIMESTAMP ELSE s.committed_at END
                   AS committed_at
        FROM ({counts}) c
        LEFT JOIN _run_days r ON r.day = c.day
        LEFT JOIN snapshots s ON s.day = c.day
        """
    )
    tx.delete_rows("snapshots", "day IN (SELECT day FROM _snapshot_rows)")
    n = tx.insert_rows("snapshots", "SELECT * FROM _snapshot_rows")
    for name in ("_run_days", "_snapshot_days", "_snapshot_rows"):
        tx.sql(f"DROP TABLE {name}")
    return n
