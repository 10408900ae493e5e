"""The constructor agrees with the reference oracle (tests/oracle.py) on every table a user
reads, over generated streams: papers across sources (shared DOIs and cross-references that
merge, then become ambiguous), revisions (two on one day), deletions, the same text from two
sources, late ingest of old days, acronyms defined twice and redefined, contexts with one and
two qualifiers, extraction failures, both vocabularies.

A failing example prints its stream as JSONL files and the `litkg backfill` commands that
replay it (hypothesis's "note" lines).
"""

from __future__ import annotations

import math
import os
from datetime import date

import pytest
from hypothesis import given, note

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.generators import DAYS, day, streams, time_limit
from tests.oracle import Inputs, Oracle
from tests.scripted import ScriptedExtractor, abstract, claim, write_records


def build(tmp, stream: dict) -> Store:
    """Backfill the main file, then a late file with records of old days (a second run)."""
    main = write_records(tmp / "main.jsonl", stream["main"])
    late = write_records(tmp / "late.jsonl", stream["late"])
    note(f"main.jsonl:\n{main.read_text()}late.jsonl:\n{late.read_text()}")
    replay = (f"PYTHONPATH=. .venv/bin/litkg backfill --home /tmp/replay --start {day(1)} "
              f"--end {day(DAYS)} --extractor tests.scripted:ScriptedExtractor "
              f"--vocabulary {stream['vocabulary']} --source main.jsonl")
    note(f"replay: {replay}\n        {replay} --source late.jsonl")
    store = Store(tmp / "store")
    for sources in ([main], [main, late]):
        process_days(store, days_between(day(1), day(DAYS)), sources=sources,
                     extractor=ScriptedExtractor(), vocabulary=stream["vocabulary"])
    return store


def assert_rows_equal(got: list[tuple], want: list[tuple], what: str) -> None:
    """Row lists equal, floats to 1e-9."""
    assert len(got) == len(want), (what, got, want)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w), (what, g, w)
        for a, b in zip(g, w, strict=True):
            if isinstance(a, float) or isinstance(b, float):
                assert math.isclose(a, b, abs_tol=1e-9), (what, g, w)
            else:
                assert a == b, (what, g, w)


@pytest.mark.slow
@pytest.mark.timeout(time_limit(1800))  # many examples of a whole pipeline
@given(stream=streams())
def test_the_constructor_agrees_with_the_oracle_on_every_table(tmp_path_factory, stream):
    store = build(tmp_path_factory.mktemp("oracle"), stream)
    con = store.connect()
    oracle = Oracle(Inputs.from_store(con, stream["vocabulary"]))

    edges = con.execute(
        "SELECT edge_id, subject_id, subject, relation, object_id, object, context_id, context, "
        "version, valid_from, valid_to, confidence, support, evidence_count, "
        "last_evidence_doc, last_evidence_day, status, contested_by FROM edges"
    ).fetchall()
    assert_rows_equal(sorted(edges, key=repr), oracle.edge_rows(), "edges")

    for d in days_between(day(1), day(DAYS + 1)):
        as_of = con.execute(
            "SELECT edge_id, support, evidence_count, confidence, status, contested_by, "
            "last_evidence_day FROM edges_as_of(?) ORDER BY ALL", [d]
        ).fetchall()
        assert_rows_equal(as_of, oracle.edges_as_of(d), f"edges_as_of({d})")

    assert_rows_equal(
        con.execute("SELECT * FROM entities ORDER BY entity_id").fetchall(),
        oracle.entities(), "entities",
    )
    assert_rows_equal(
        con.execute("SELECT * FROM aliases ORDER BY ALL").fetchall(), oracle.aliases(), "aliases"
    )
    for d1 in range(0, DAYS):
        for d2 in range(d1 + 1, DAYS + 1):
            first = date(2024, 1, 1).replace(day=1) if d1 == 0 else day(d1)
            lo = date(2023, 12, 31) if d1 == 0 else first
            got = con.execute(
                "SELECT day, change, edge_id, status, support, evidence_docs "
                "FROM changes(?, ?) ORDER BY ALL", [lo, day(d2)]
            ).fetchall()
            got = [(*r[:5], r[5] or None) for r in got]
            assert_rows_equal(got, oracle.changes(lo, day(d2)), f"changes({lo}, {day(d2)})")


def test_a_failing_stream_replays_with_the_cli(tmp_path):
    """The replay recipe printed with a failing example works: `litkg backfill` takes the
    scripted extractor by its import path and builds the stream's graph."""
    import subprocess
    import sys
    from pathlib import Path

    write_records(tmp_path / "main.jsonl", [
        {"doc_id": "pmid:1", "title": "t", "published": day(1),
         "abstract": abstract(claim("A", "improves", "B", "", 0.5))},
        {"doc_id": "pmid:2", "title": "t", "published": day(2),
         "abstract": abstract(claim("A", "improves", "B", "", 0.5))},
    ])
    repo = Path(__file__).resolve().parents[1]
    litkg = Path(sys.executable).with_name("litkg")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    subprocess.run(
        [str(litkg), "backfill", "--home", str(tmp_path / "replay"), "--start", str(day(1)),
         "--end", str(day(2)), "--extractor", "tests.scripted:ScriptedExtractor",
         "--source", "main.jsonl"], cwd=tmp_path, env=env, check=True, capture_output=True,
    )
    row = Store(tmp_path / "replay").connect().execute(
        "SELECT support, confidence FROM edges_as_of(?)", [day(2)]).fetchone()
    assert row[0] == 2 and math.isclose(row[1], 0.75)
