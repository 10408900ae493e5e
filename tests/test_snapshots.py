"""Snapshot counts: the last snapshot before a commit's earliest input day plus the events
after it (a nightly commit reads its day's events; a rebuild, with no earlier snapshot, every
event). Equal to counting each day directly, and to the graph as of the day as the public
macros read it."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings

from litkg.pipeline import days_between, process_days
from litkg.snapshots import snapshot_counts_sql
from litkg.store import Store
from tests.generators import DAYS, day, examples, streams
from tests.scripted import ScriptedExtractor, write_records

COUNTS = ("day, documents, new_documents, assertions, entities, active_edges, "
          "contested_edges, retracted_edges")


def direct_counts_sql() -> str:
    """The counts of each day in `_snapshot_days`, each counted directly from the stored
    tables (no events, no earlier snapshot): the specification of `snapshot_counts_sql`."""
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


@settings(max_examples=examples(4))
@given(stream=streams())
def test_direct_counts_equal_the_pass_over_all_events_and_the_graph_as_of_each_day(
        tmp_path_factory, stream):
    tmp = tmp_path_factory.mktemp("snapshots")
    sources = [write_records(tmp / "main.jsonl", stream["main"]),
               write_records(tmp / "late.jsonl", stream["late"])]
    store = Store(tmp / "store")
    process_days(store, days_between(day(1), day(DAYS)), sources=sources,
                 extractor=ScriptedExtractor(), vocabulary=stream["vocabulary"])
    with store.writer() as tx:
        # every day of the stream, the day before it and one after it
        tx.sql("CREATE TEMP TABLE _snapshot_days AS SELECT unnest(?::DATE[]) AS day",
               [[day(1) - timedelta(days=1), *days_between(day(1), day(DAYS + 1))]])
        direct = tx.sql(f"SELECT {COUNTS} FROM ({direct_counts_sql()}) ORDER BY day").fetchall()
        passed = tx.sql(f"SELECT {COUNTS} FROM ({snapshot_counts_sql()}) ORDER BY day",
                        {"after": date.min}).fetchall()
        assert direct == passed
        # from any stored snapshot on: its row plus the events after it
        for (after,) in tx.sql("SELECT day FROM snapshots ORDER BY day").fetchall():
            later = tx.sql(f"SELECT {COUNTS} FROM ({snapshot_counts_sql()}) WHERE day > $after "
                           "ORDER BY day", {"after": after}).fetchall()
            assert later == [r for r in direct if r[0] > after], after
        for row in direct:
            edges = tx.sql(
                "SELECT count(*) FILTER (status = 'active'), count(*) FILTER "
                "(status = 'contested') FROM edges_as_of(?)", [row[0]]).fetchone()
            assert (row[5], row[6]) == edges, row
            entities = tx.sql("SELECT count(*) FROM entities_as_of(?)", [row[0]]).fetchone()[0]
            assert row[4] == entities, row
    con = store.connect()
    stored = con.execute(f"SELECT {COUNTS} FROM snapshots ORDER BY day").fetchall()
    assert stored == [r for r in direct if r[0] in {s[0] for s in stored}]
