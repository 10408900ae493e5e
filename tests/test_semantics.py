"""Merge rules that a review found broken, one specification each (issue 10's defects 1-8).

Each test failed on the constructor before the fix; tests/test_oracle.py checks the same rules
on generated streams.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from litkg.extractors.base import ExtractionResult, assertions_from_rows

from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_records


def day(n: int) -> date:
    return date(2024, 1, n)


def doc(doc_id: str, d: int, text: str, **extra) -> dict:
    return {"doc_id": doc_id, "title": "t", "abstract": text, "published": day(d), **extra}


def build(path: Path, records: list[dict], until: int, extractor=None) -> Store:
    src = write_records(path / "in.jsonl", records)
    store = Store(path / "store")
    process_days(store, days_between(day(1), day(until)), sources=[src],
                 extractor=extractor or ScriptedExtractor())
    return store


def as_of(store: Store, d: date) -> list[tuple]:
    return store.connect().execute(
        "SELECT subject, relation, object, context, support, status, contested_by "
        "FROM edges_as_of(?) ORDER BY ALL", [d]).fetchall()


# 1 -------------------------------------------------------------------------------------------
def test_a_later_ambiguous_doi_does_not_unmerge_papers_on_earlier_days(tmp_path):
    records = [
        doc("arxiv:2401.00001", 2, abstract(claim("X", "improves", "Y", "", 0.5)),
            other_ids=["doi:10.1/shared"]),
        doc("pmid:7", 3, abstract(claim("X", "improves", "Y", "", 0.6)),
            other_ids=["doi:10.1/shared"]),
        doc("arxiv:2401.00002", 5, abstract(claim("Q", "improves", "R")),
            other_ids=["doi:10.1/shared"]),
    ]
    full = build(tmp_path / "full", records, until=6)
    prefix = build(tmp_path / "prefix", records[:2], until=4)
    assert as_of(full, day(4)) == as_of(prefix, day(4))
    # days 3-4: the journal version supersedes the preprint (one paper, support 1)
    assert [r[4] for r in as_of(full, day(4)) if r[0] == "x"] == [1]
    # day 5: two arXiv records give the DOI, so it matches nothing from then on: two papers
    assert [r[4] for r in as_of(full, day(5)) if r[0] == "x"] == [2]


# 2 -------------------------------------------------------------------------------------------
def test_a_short_form_defined_twice_in_one_document_keeps_its_first_definition(tmp_path):
    text = abstract(claim("super-resolution (SR)", "used-for", "imaging"),
                    claim("sparse representation (SR)", "used-for", "coding"),
                    claim("SR", "improves", "PSNR"))
    store = build(tmp_path, [doc("pmid:1", 1, text)], until=1)
    con = store.connect()
    improves = con.execute(
        "SELECT subject FROM edges WHERE relation = 'improves'").fetchall()
    assert improves == [("super resolution",)]
    assert con.execute(
        "SELECT count(*), count(DISTINCT assertion_id) FROM assertions").fetchone() == (3, 3)


# 3 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("surface", "key"), [
    ("AIDS", "AIDS"), ("SARS", "SARS"), ("SAR", "SAR"), ("CAT", "CAT"), ("cats", "cat"),
    ("CNNs", "CNN"), ("the KD", "KD"), ("mRNA", "mRNA"), ("Transformers", "transformer"),
])
def test_short_forms_keep_their_identity(surface, key):
    import duckdb

    from litkg.store import load_macros

    con = duckdb.connect()
    load_macros(con)
    assert con.execute("SELECT litkg_canon(?)", [surface]).fetchone()[0] == key


def test_sars_does_not_resolve_to_synthetic_aperture_radar(tmp_path):
    store = build(tmp_path, [
        doc("pmid:1", 1, abstract(claim("synthetic aperture radar (SAR)", "used-for", "imaging"))),
        doc("pmid:2", 2, abstract(claim("SARS", "used-for", "imaging"))),
        doc("pmid:3", 2, abstract(claim("SAR", "used-for", "mapping"))),
    ], until=2)
    subjects = {r[0] for r in as_of(store, day(2))}
    assert subjects == {"synthetic aperture radar", "SARS"}


def test_a_definition_stops_counting_once_its_paper_is_retracted(tmp_path):
    store = build(tmp_path, [
        doc("pmid:1", 1, abstract(claim("knowledge distillation (KD)", "improves", "accuracy"))),
        doc("pmid:2", 2, abstract(claim("KD", "improves", "speed"))),
        {"doc_id": "pmid:1", "deleted": True, "deleted_on": day(3)},
        doc("pmid:3", 4, abstract(claim("KD", "improves", "recall"))),
    ], until=4)
    subjects = {(r[0], r[2]) for r in as_of(store, day(4))}
    assert subjects == {("knowledge distillation", "speed"), ("KD", "recall")}


# 4 -------------------------------------------------------------------------------------------
def test_a_tie_goes_to_the_more_recent_live_evidence(tmp_path):
    store = build(tmp_path, [
        doc("pmid:1", 1, abstract(claim("x", "improves", "y", "", 0.8))),
        doc("pmid:2", 10, abstract(claim("x", "improves", "y", "", 0.8))),
        doc("pmid:3", 5, abstract(claim("x", "degrades", "y", "", 0.8))),
        doc("pmid:4", 15, abstract(claim("x", "improves", "y", "", 0.8))),
        {"doc_id": "pmid:2", "deleted": True, "deleted_on": day(20)},
        {"doc_id": "pmid:4", "deleted": True, "deleted_on": day(20)},
    ], until=20)
    status = {r[1]: r[5] for r in as_of(store, day(20))}
    # both stand at 0.8; improves' newest live evidence is day 1, degrades' day 5
    assert status == {"improves": "contested", "degrades": "active"}


# 5 (the context rule) is specified in test_construct.py:
# test_one_datasets_result_never_contests_the_general_claim.


# 6 -------------------------------------------------------------------------------------------
def test_the_same_content_sent_again_later_is_listed_as_ignored(tmp_path):
    text = abstract(claim("A", "improves", "B"))
    store = build(tmp_path, [doc("pmid:1", 1, text), doc("pmid:1", 3, text)], until=3)
    rows = store.connect().execute(
        "SELECT day, status FROM assertions ORDER BY day").fetchall()
    assert rows == [(day(1), "live"), (day(3), "ignored")]


# 7 -------------------------------------------------------------------------------------------
class SloppyExtractor(ScriptedExtractor):
    """Emits what a buggy extractor might: confidences outside [0, 1], an empty argument, a
    relation the vocabulary does not know."""

    def extract(self, documents: pa.Table) -> ExtractionResult:
        rows = ScriptedExtractor().extract(documents).assertions.to_pylist()
        rows[0]["subject"] = "  "
        return ExtractionResult(assertions=assertions_from_rows(rows))


def test_invalid_extractor_output_is_rejected_per_assertion_with_a_reason(tmp_path):
    text = abstract(claim("E", "improves", "F"), claim("A", "improves", "B", "", 1.5),
                    claim("A", "improves", "C", "", -0.2), claim("A", "frobnicates", "D"),
                    claim("A", "improves", "G", "", 0.5))
    src = write_records(tmp_path / "in.jsonl", [doc("pmid:1", 1, text)])
    store = Store(tmp_path / "store")
    summary = process_days(store, [day(1)], sources=[src], extractor=SloppyExtractor())
    assert summary.rejected_assertions == 4 and summary.assertions == 1
    con = store.connect()
    assert con.execute("SELECT object FROM assertions").fetchall() == [("G",)]
    reasons = sorted(r[0] for r in con.execute(
        "SELECT reason FROM quarantine WHERE doc_id = 'pmid:1'").fetchall())
    assert [r.split(" (")[0] for r in reasons] == [
        "assertion rejected: confidence -0.2 outside [0, 1]",
        "assertion rejected: confidence 1.5 outside [0, 1]",
        "assertion rejected: empty subject",
        "assertion rejected: relation 'frobnicates' not in vocabulary ml",
    ]


# 8 -------------------------------------------------------------------------------------------
def test_backfill_help_names_the_range():
    litkg = Path(sys.executable).with_name("litkg")
    out = subprocess.run([str(litkg), "backfill", "--help"], capture_output=True, text=True,
                         env={"COLUMNS": "200", "PATH": ""}, check=True).stdout
    assert "Process every day from --start to --end, both included" in out


def test_a_rejected_assertion_keeps_its_raw_output_for_inspection(tmp_path):
    src = write_records(tmp_path / "in.jsonl", [
        doc("pmid:1", 1, abstract(claim("A", "improves", "B", "", 2.0)))])
    store = Store(tmp_path / "store")
    process_days(store, [day(1)], sources=[src], extractor=ScriptedExtractor())
    raw = store.connect().execute("SELECT raw FROM quarantine").fetchone()[0]
    assert json.loads(raw)["confidence"] == 2.0


def test_a_nightly_summary_names_what_it_changed_and_who_won(tmp_path):
    src = write_records(tmp_path / "in.jsonl", [
        doc("pmid:1", 1, abstract(claim("dropout", "improves", "accuracy", "", 0.5))),
        doc("pmid:2", 1, abstract(claim("dropout", "improves", "accuracy", "", 0.5))),
        doc("pmid:3", 2, abstract(claim("dropout", "degrades", "accuracy", "", 0.9)))])
    store = Store(tmp_path / "store")
    process_days(store, [day(1)], sources=[src], extractor=ScriptedExtractor())
    summary = process_days(store, [day(2)], sources=[src], extractor=ScriptedExtractor())
    assert summary.changes == {"added": 1, "contested": 1}
    [contested] = summary.newly_contested
    assert (contested["day"], contested["relation"], contested["winner"]) == (
        day(2), "improves", "dropout degrades accuracy")
    assert [(e["relation"], e["support"]) for e in summary.top_reinforced] == [("improves", 2)]
    # the best-supported claims *this run changed*: a night that leaves them alone lists others
    src3 = write_records(tmp_path / "day3.jsonl", [
        doc(f"pmid:{n}", 3, abstract(claim("bert", "used-for", "parsing", "", 0.6)))
        for n in (4, 5)])
    summary = process_days(store, [day(3)], sources=[src3], extractor=ScriptedExtractor())
    assert [(e["subject"], e["support"]) for e in summary.top_reinforced] == [("bert", 2)]
