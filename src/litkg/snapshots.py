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
    """Counts as of every day in `_snapshot_days`: the snapshot row of day `$after` (zeros when
    there is none) plus the cumulative sums of the +1/-1 events after it. With `$after` the
    last snapshot before the commit's earliest input day (nothing the commit wrote changes the
    graph as of that day), a nightly commit reads one day's events, not the history's."""
    pivots = ", ".join(f"coalesce(max(v) FILTER (m = '{m}'), 0)::BIGINT AS {m}" for m in METRICS)
    base = ", ".join(METRICS)
    return f"""
    WITH dv AS (SELECT * FROM doc_runs),
    ev AS (
        SELECT live_from AS d, 'documents' AS m, 1 AS x FROM dv WHERE live_from > $after
        UNION ALL SELECT live_to, 'documents', -1 FROM dv WHERE live_to > $after
        UNION ALL SELECT live_from, 'assertions', 1 FROM links WHERE live_from > $after
        UNION ALL SELECT retracted_on, 'assertions', -1 FROM links WHERE retracted_on > $after
        UNION ALL SELECT first_seen, 'entities', 1 FROM entities WHERE first_seen > $after
        UNION ALL SELECT valid_from, status || '_edges', 1 FROM edges WHERE valid_from > $after
        UNION ALL SELECT valid_to, status || '_edges', -1 FROM edges WHERE valid_to > $after
    ),
    cum AS (
        SELECT m, d, sum(x) OVER (PARTITION BY m ORDER BY d) AS v
        FROM (SELECT m, d, sum(x) AS x FROM ev GROUP BY m, d)
    ),
    base AS (
        SELECT unnest({list(METRICS)}) AS m, unnest([{base}]) AS v
        FROM snapshots WHERE day = $after
    ),
    grid AS (
        SELECT s.day, m.m FROM _snapshot_days s
        CROSS JOIN (SELECT unnest({list(METRICS)}) AS m) m
    ),
    valued AS (
        SELECT g.day, g.m, coalesce(b.v, 0) + coalesce(c.v, 0) AS v
        FROM grid g ASOF LEFT JOIN cum c ON c.m = g.m AND c.d <= g.day
        LEFT JOIN base b ON b.m = g.m
    ),
    new_docs AS (SELECT since AS day, count(*) AS n FROM dv
                 WHERE live_from = since AND since > $after GROUP BY 1)
    SELECT v.day, {pivots}, coalesce(any_value(n.n), 0)::BIGINT AS new_documents
    FROM valued v LEFT JOIN new_docs n ON n.day = v.day
    GROUP BY v.day
    """


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
    # the last snapshot before `since`: the commit changed nothing as of that day or before
    after = tx.sql("SELECT max(day) FROM snapshots WHERE day < $since",
                   {"since": since or date.min}).fetchone()[0] or date.min
    counts = snapshot_counts_sql()
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
        """,
        {"after": after},
    )
    tx.delete_rows("snapshots", "day IN (SELECT day FROM _snapshot_rows)")
    n = tx.insert_rows("snapshots", "SELECT * FROM _snapshot_rows")
    for name in ("_run_days", "_snapshot_days", "_snapshot_rows"):
        tx.sql(f"DROP TABLE {name}")
    return n
