"""`import litkg`: the read API (polars DataFrames, time as an argument, read-only) and the write
calls, on the demo store; docs/python.md's code blocks run here, so the docs cannot drift."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

import litkg
from litkg.demo import sample_dir
from litkg.store import StoreError
from tests.scripted import write_docs

REPO = Path(__file__).resolve().parents[1]
KD = ("knowledge distillation", "improves", "student accuracy")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory, spacy_extractor) -> Path:
    """The demo store (March backfill, then 2024-04-01), written through the Python API."""
    home = tmp_path_factory.mktemp("api") / "demo-store"
    march = litkg.backfill("2024-03-01", "2024-03-31", sources=[sample_dir()], home=home,
                           extractor=spacy_extractor)
    april = litkg.run(date(2024, 4, 1), sources=[sample_dir()], home=home,
                      extractor=spacy_extractor)
    assert isinstance(march, litkg.RunSummary) and len(march.days) == 31
    assert march.documents == 151 and march.quarantined > 0
    assert april.days == [date(2024, 4, 1)] and april.documents == 3
    return home


@pytest.fixture
def kg(demo_home):
    with litkg.open(demo_home) as graph:
        yield graph


def test_the_code_blocks_of_docs_python_md_run_on_the_demo_store(demo_home, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "python.md").read_text(),
                        re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(demo_home.parent)  # the docs open "demo-store"
    namespace: dict = {}
    for n, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python.md block {n}", "exec"), namespace)  # noqa: S102


def test_edges_are_the_graph_at_the_end_of_the_day_asked(kg):
    def kd(as_of):
        return kg.edges(as_of=as_of).filter(
            (pl.col("subject") == KD[0]) & (pl.col("relation") == KD[1])
            & (pl.col("object") == KD[2]))

    assert kd("2024-02-29").is_empty()  # before the first paper
    assert kd(date(2024, 3, 1))["support"].to_list() == [1]
    assert kd("2024-03-31")["support"].to_list() == [6]
    assert kd(None)["support"].to_list() == [7]  # default: the latest day, 2024-04-01
    assert kg.latest_day() == date(2024, 4, 1)
    with pytest.raises(ValueError, match="ISO date"):
        kg.edges(as_of="March 2024")


def test_edge_filters_and_order(kg):
    everything = kg.edges("2024-03-31")
    improves = kg.edges("2024-03-31", relation="improves")
    assert set(improves["relation"]) == {"improves"}
    assert len(improves) == everything.filter(pl.col("relation") == "improves").height
    two = kg.edges("2024-03-31", relation=["improves", "degrades"], context="", min_support=2)
    assert set(two["relation"]) <= {"improves", "degrades"} and set(two["context"]) == {""}
    assert two["support"].min() >= 2 and "retracted" not in set(everything["status"])
    assert everything["confidence"].is_sorted(descending=True)
    lazy = kg.edges("2024-03-31", lazy=True)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().equals(everything)
    assert everything.to_arrow().num_rows == len(everything)


def test_names_resolve_by_key_alias_acronym_then_similarity(kg):
    def match(name):
        return kg.resolve(name).row(0, named=True)

    assert match("Knowledge Distillation")["match"] == "exact"
    assert match("the knowledge distillations")["match"] == "exact"  # same canonical key
    assert match("KD")["match"] == "acronym"
    typo = match("knowledge distilation")
    assert typo["match"] == "fuzzy" and 85 <= typo["score"] < 100
    assert len({match(n)["entity_id"] for n in ("KD", "knowledge distilation",
                                                  "Knowledge Distillation")}) == 1
    with pytest.raises(LookupError, match="no entity named 'zebra crossing'"):
        kg.resolve("zebra crossing")


def test_an_entity_lists_its_edges_on_a_day(kg):
    early, late = kg.entity("KD", as_of="2024-03-05"), kg.entity("knowledge distillation")
    assert len(early) <= len(late) and set(late["match"]) == {"exact"}
    row = late.filter(pl.col("object") == KD[2]).row(0, named=True)
    assert row["role"] == "subject" and row["support"] == 7
    for r in late.iter_rows(named=True):
        assert r["entity_id"] in (r["subject_id"], r["object_id"])


def test_history_has_one_row_per_version_and_agrees_with_edges_as_of(kg):
    timeline = kg.history(*KD)
    assert timeline["version"].to_list() == list(range(1, len(timeline) + 1))
    assert timeline["support"].to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert timeline["valid_to"][:-1].to_list() == timeline["valid_from"][1:].to_list()
    for v in timeline.iter_rows(named=True):
        (edge,) = kg.edges(as_of=v["valid_from"]).filter(
            pl.col("edge_id") == v["edge_id"]).iter_rows(named=True)
        assert edge["confidence"] == v["confidence"] and edge["version"] == v["version"]


def test_conflicts_and_changes_are_the_sql_macros(kg):
    assert kg.conflicts("2024-03-31").equals(kg.sql(
        "SELECT * FROM conflicts_as_of(DATE '2024-03-31') ORDER BY context, contested_edge"))
    week = kg.changes("2024-03-24", "2024-03-31")
    assert week.equals(kg.sql("SELECT * FROM changes(DATE '2024-03-24', DATE '2024-03-31')"))
    assert week["day"].min() > date(2024, 3, 24) and week["day"].max() <= date(2024, 3, 31)
    assert kg.snapshots()["day"].to_list()[-1] == date(2024, 4, 1)


def test_context_gathers_claims_around_an_entity_with_their_evidence(kg):
    one, two = kg.context("ConvNeXt", "2024-03-31"), kg.context("convnext", "2024-03-31", hops=2)
    assert set(one["edge_id"]) < set(two["edge_id"]) and set(one["hop"]) == {1}
    assert two.filter(pl.col("hop") == 2).height > 0 and two["hop"].is_sorted()
    docs = set(kg.sql("SELECT doc_id FROM documents")["doc_id"])
    for claim in two.iter_rows(named=True):
        assert 1 <= len(claim["evidence"]) <= 3
        assert {e["doc_id"] for e in claim["evidence"]} <= docs
        assert all(e["day"] <= date(2024, 3, 31) for e in claim["evidence"])
    contested = one.filter(pl.col("status") == "contested").row(0, named=True)
    assert contested["beaten_by"] == "patchmixer outperforms convnext"
    winner = one.filter(pl.col("beats").list.len() > 0).row(0, named=True)
    assert winner["beats"] == ["convnext outperforms patchmixer"]
    assert kg.context("ConvNeXt", "2024-03-01").is_empty()  # nothing said about it yet
    assert len(kg.context("convnext", hops=2, limit=2)) == 2


def test_the_api_cannot_write_the_store(kg, demo_home):
    before = (demo_home / "manifest.json").read_bytes()
    from litkg.sandbox import QueryRefused

    with pytest.raises(QueryRefused, match="refused: CREATE statement"):
        kg.sql("CREATE TABLE notes AS SELECT 1 AS x")
    with pytest.raises(QueryRefused, match="refused: DELETE statement"):
        kg.sql("DELETE FROM snapshots")
    with pytest.raises(duckdb.Error, match="read-only"):  # the connection itself, too
        kg.connection().execute("CREATE TABLE notes AS SELECT 1 AS x")
    assert (demo_home / "manifest.json").read_bytes() == before


def test_an_open_graph_sees_the_next_commit(tmp_path, spacy_extractor):
    write_docs(tmp_path / "in.jsonl", [
        ("doi:1", date(2024, 3, 1), "Dropout improves robustness."),
        ("doi:2", date(2024, 3, 2), "Dropout improves robustness."),
    ])
    home = tmp_path / "store"
    litkg.run("2024-03-01", sources=[tmp_path / "in.jsonl"], home=home, extractor=spacy_extractor)
    kg = litkg.open(home)
    assert kg.latest_day() == date(2024, 3, 1)
    litkg.run("2024-03-02", sources=[tmp_path / "in.jsonl"], home=home, extractor=spacy_extractor)
    assert kg.latest_day() == date(2024, 3, 2)
    assert kg.edges().filter(pl.col("subject") == "dropout")["support"].to_list() == [2]
    kg.close()


def test_opening_a_missing_store_says_how_to_build_one(tmp_path):
    with pytest.raises(StoreError, match="run `litkg backfill` or `litkg run` first"):
        litkg.open(tmp_path / "nothing")


def test_litkg_context_is_the_api_call_on_the_command_line(kg, demo_home):
    import json
    import subprocess
    import sys

    litkg_cli = Path(sys.executable).with_name("litkg")
    out = subprocess.run(
        [str(litkg_cli), "context", "ConvNeXt", "--as-of", "2024-03-31", "--json",
         "--home", str(demo_home)], capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["edge_id"] for r in rows] == kg.context("ConvNeXt", "2024-03-31")["edge_id"].to_list()
    missing = subprocess.run([str(litkg_cli), "context", "zzzqqq", "--home", str(demo_home)],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "no entity named 'zzzqqq'" in missing.stderr
