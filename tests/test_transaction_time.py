"""Bi-temporal edges: what the graph said at a past commit stays queryable after later runs
(a backfill of older papers) change the same days."""

from __future__ import annotations

from datetime import date

import pytest

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_records


@pytest.fixture(autouse=True, params=["rebuild", "incremental"])
def construct_mode(request, monkeypatch):
    """Both commit paths keep transaction time the same way."""
    monkeypatch.setenv("LITKG_CONSTRUCT", request.param)
    return request.param


COLS = "edge_id, subject, relation, object, context, confidence, support, status, contested_by"


def doc(doc_id: str, d: date, text: str) -> dict:
    return {"doc_id": doc_id, "title": "t", "abstract": text, "published": d}


def graph(con, sql: str, params: list) -> list[tuple]:
    return con.execute(f"SELECT {COLS} FROM {sql} ORDER BY edge_id", params).fetchall()


def test_the_graph_as_recorded_by_a_past_run_is_returned_exactly(tmp_path):
    march, april = date(2024, 3, 1), date(2024, 4, 1)
    main = write_records(tmp_path / "main.jsonl", [
        doc("pmid:1", date(2024, 3, 5), abstract(claim("dropout", "improves", "acc", "", 0.5))),
        doc("pmid:2", date(2024, 3, 20), abstract(claim("dropout", "degrades", "acc", "", 0.6))),
        doc("pmid:3", april, abstract(claim("adam", "used-for", "training"))),
    ])
    store = Store(tmp_path / "store")
    ex = ScriptedExtractor()
    process_days(store, days_between(march, date(2024, 3, 31)), sources=[main], extractor=ex)
    nightly = process_days(store, [april], sources=[main], extractor=ex)
    con = store.connect()
    said = graph(con, "edges_as_of(?)", [date(2024, 3, 25)])
    assert {(r[2], r[7]) for r in said} == {("improves", "contested"), ("degrades", "active")}
    recorded_at = con.execute(
        "SELECT committed_at FROM runs WHERE run_id = ?", [nightly.run_id]).fetchone()[0]
    con.close()

    # a backfill of an older paper that changes March: improves now wins
    late = write_records(tmp_path / "late.jsonl", [
        doc("pmid:4", date(2024, 3, 10), abstract(claim("dropout", "improves", "acc", "", 0.9)))])
    process_days(store, days_between(march, date(2024, 3, 31)), sources=[main, late],
                 extractor=ex)
    con = store.connect()
    now = graph(con, "edges_as_of(?)", [date(2024, 3, 25)])
    assert {(r[2], r[7]) for r in now} == {("improves", "active"), ("degrades", "contested")}
    # ...but what the nightly run of 2024-04-01 recorded is still there, exactly
    assert graph(con, "edges_as_recorded(?, ?)", [nightly.run_id, date(2024, 3, 25)]) == said
    assert graph(con, "edges_as_recorded(?, ?)", [nightly.run_id[:8], date(2024, 3, 25)]) == said
    assert graph(con, "edges_recorded_at(?, ?)", [recorded_at, date(2024, 3, 25)]) == said
    # and the latest run records what edges_as_of says
    last = con.execute("SELECT run_id FROM runs ORDER BY commit_no DESC LIMIT 1").fetchone()[0]
    assert graph(con, "edges_as_recorded(?, ?)", [last, date(2024, 3, 25)]) == now


def test_nothing_a_commit_replaces_is_lost_and_runs_are_listed(tmp_path):
    src = write_records(tmp_path / "a.jsonl", [
        doc("pmid:1", date(2024, 1, 1), abstract(claim("A", "improves", "B", "", 0.5))),
        doc("pmid:2", date(2024, 1, 3), abstract(claim("A", "improves", "B", "", 0.5))),
    ])
    store = Store(tmp_path / "store")
    ex = ScriptedExtractor()
    first = process_days(store, [date(2024, 1, 1)], sources=[src], extractor=ex)
    second = process_days(store, [date(2024, 1, 3)], sources=[src], extractor=ex)
    again = process_days(store, [date(2024, 1, 3)], sources=[src], extractor=ex, force=True)
    con = store.connect()
    runs = con.execute(
        "SELECT run_id, first_day, versions_recorded, versions_superseded FROM runs "
        "ORDER BY commit_no").fetchall()
    # day 3 closes the open version (superseded: valid_to was NULL) and adds the reinforced one
    assert runs == [(first.run_id, date(2024, 1, 1), 1, 0),
                    (second.run_id, date(2024, 1, 3), 2, 1),
                    (again.run_id, date(2024, 1, 3), 0, 0)]  # a rerun changes nothing
    history = con.execute(
        "SELECT valid_from, valid_to, support, superseded_commit IS NULL FROM edges_history "
        "ORDER BY recorded_commit, valid_from").fetchall()
    assert history == [(date(2024, 1, 1), None, 1, False),
                       (date(2024, 1, 1), date(2024, 1, 3), 1, True),
                       (date(2024, 1, 3), None, 2, True)]
    assert con.execute("SELECT count(*) FROM edges").fetchone()[0] == 2


def test_the_python_api_returns_the_graph_as_a_past_run_recorded_it(tmp_path):
    import litkg

    src = write_records(tmp_path / "a.jsonl", [
        doc("pmid:1", date(2024, 1, 1), abstract(claim("A", "improves", "B", "", 0.5))),
        doc("pmid:2", date(2024, 1, 2), abstract(claim("A", "degrades", "B", "", 0.6))),
    ])
    late = write_records(tmp_path / "late.jsonl", [
        doc("pmid:3", date(2024, 1, 1), abstract(claim("A", "improves", "B", "", 0.9)))])
    store = Store(tmp_path / "store")
    ex = ScriptedExtractor()
    nightly = process_days(store, days_between(date(2024, 1, 1), date(2024, 1, 2)),
                           sources=[src], extractor=ex)
    process_days(store, [date(2024, 1, 1)], sources=[src, late], extractor=ex)
    kg = litkg.open(tmp_path / "store")
    then = kg.edges(date(2024, 1, 2), recorded=nightly.run_id)
    now = kg.edges(date(2024, 1, 2))
    assert dict(zip(then["relation"], then["status"], strict=True)) == {
        "improves": "contested", "degrades": "active"}
    assert dict(zip(now["relation"], now["status"], strict=True)) == {
        "improves": "active", "degrades": "contested"}
    at = kg.runs().filter(run_id=nightly.run_id)["committed_at"][0]
    assert kg.edges(date(2024, 1, 2), recorded=at)["status"].to_list() == (
        then["status"].to_list())
    assert kg.runs().height == 2


def test_superseding_a_version_marks_it_without_rewriting_its_file(tmp_path, construct_mode):
    """Merge-on-read: a commit that replaces stored versions appends marks to
    edge_supersessions; the files of the versions it replaces stay as they are."""
    days = [date(2024, 3, 5), date(2024, 5, 6)]
    src = write_records(tmp_path / "in.jsonl", [
        doc("pmid:1", days[0], abstract(claim("dropout", "improves", "acc", "", 0.5))),
        doc("pmid:2", days[1], abstract(claim("dropout", "improves", "acc", "", 0.6)))])
    store = Store(tmp_path / "store")
    process_days(store, [days[0]], sources=[src], extractor=ScriptedExtractor())
    march = store.manifest().tables["edges"]["month=2024-03"]
    process_days(store, [days[1]], sources=[src], extractor=ScriptedExtractor())
    con = store.connect()
    history = con.execute("SELECT valid_from, valid_to, support, superseded_commit IS NOT NULL "
                          "FROM edges_history ORDER BY ALL").fetchall()
    marks = con.execute("SELECT count(*) FROM edge_supersessions").fetchone()[0]
    con.close()
    # the March version got an end (valid_to): the version without one is superseded
    assert history == [(days[0], days[1], 1, False), (days[0], None, 1, True),
                       (days[1], None, 2, False)]
    if construct_mode == "incremental":
        assert store.manifest().tables["edges"]["month=2024-03"][:len(march)] == march
        assert marks == 1
    else:  # a rebuild folds the marks into the files it rewrites
        assert marks == 0
