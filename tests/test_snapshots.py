"""Snapshot counts: a nightly commit counts its few days directly (one scan per table); a
backfill or a rebuild counts every day in one pass over all events. Both are the graph as of
the day, as the public macros read it."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings

from litkg.pipeline import days_between, process_days
from litkg.snapshots import direct_counts_sql, snapshot_counts_sql
from litkg.store import Store
from tests.generators import DAYS, day, examples, streams
from tests.scripted import ScriptedExtractor, write_records

COUNTS = ("day, documents, new_documents, assertions, entities, active_edges, "
          "contested_edges, retracted_edges")


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
        passed = tx.sql(f"SELECT {COUNTS} FROM ({snapshot_counts_sql()}) ORDER BY day").fetchall()
        assert direct == passed
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
