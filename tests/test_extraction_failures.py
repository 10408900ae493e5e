"""Failures are work, not rows (issue 12, item 3): every document whose extraction failed is
recorded by doc_id with its reason, attempts and last error, retried by the next run (whatever
day it asks for) and by `litkg retry-failed`, listed by `litkg stats`; a document that makes the
extractor raise, or one far too long, never fails the batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pyarrow as pa
import pytest
from litkg.extractors.base import ExtractionFailure, ExtractionResult, ExtractorUnavailable

from litkg.pipeline import MAX_AUTO_ATTEMPTS, failed_extraction_days, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs

D1, D2, D3, D4, D5 = (date(2024, 3, d) for d in range(1, 6))


class Flaky(ScriptedExtractor):
    """Answers "HTTP 503" for the documents in `down` (a per-document failure, as the LLM
    extractor reports one), else as the scripted extractor."""

    def __init__(self, down: set[str]) -> None:
        self.down = down

    def extract(self, documents: pa.Table) -> ExtractionResult:
        ids = documents.column("doc_id").to_pylist()
        ok = documents.filter(pa.array([i not in self.down for i in ids]))
        result = super().extract(ok)
        result.failures += [ExtractionFailure(i, "HTTP 503", f"503 for {i}")
                            for i in ids if i in self.down]
        return result


class Crashing(ScriptedExtractor):
    """Raises on the whole batch when it holds a document with "crash" in it (a tokenizer bug,
    a text the model refuses): the pipeline must find that document and go on."""

    def extract(self, documents: pa.Table) -> ExtractionResult:
        if any("crash" in (t or "") for t in documents.column("abstract").to_pylist()):
            raise RuntimeError("tokenizer exploded\nsecond line")
        return super().extract(documents)


def _rows(store: Store) -> list[tuple]:
    con = store.connect()
    try:
        return con.execute("SELECT doc_id, day, reason, attempts, last_error, extractor "
                           "FROM extraction_failures ORDER BY doc_id").fetchall()
    finally:
        con.close()


def _corpus(tmp_path):
    return write_docs(tmp_path / "in.jsonl", [
        ("d:1", D1, abstract(claim("A", "improves", "B"))),
        ("d:2", D1, abstract(claim("C", "improves", "D"))),
        ("d:3", D1, abstract(claim("E", "improves", "F"))),
        ("d:4", D1, abstract(claim("G", "improves", "H"))),
        ("d:5", D2, abstract(claim("A", "improves", "Z2"))),
        ("d:6", D3, abstract(claim("A", "improves", "Z3"))),
        ("d:7", D4, abstract(claim("A", "improves", "Z4"))),
        ("d:8", D5, abstract(claim("A", "improves", "Z5"))),
    ])


def test_three_503s_on_one_day_are_three_documents_to_retry(tmp_path):
    store = Store(tmp_path / "store")
    summary = process_days(store, [D1], sources=[_corpus(tmp_path)],
                           extractor=Flaky({"d:1", "d:2", "d:3"}))
    assert summary.extraction_failures == 3
    rows = _rows(store)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("d:1", D1, "HTTP 503", 1), ("d:2", D1, "HTTP 503", 1), ("d:3", D1, "HTTP 503", 1)]
    assert rows[0][4] == "503 for d:1" and rows[0][5] == "scripted:1"
    con = store.connect()
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 3
    con.close()


def test_the_next_run_retries_failed_documents_of_earlier_days(tmp_path):
    store, src = Store(tmp_path / "store"), _corpus(tmp_path)
    down = {"d:1", "d:2"}
    process_days(store, [D1], sources=[src], extractor=Flaky(down))
    down.discard("d:1")  # the server is back for d:1 only
    summary = process_days(store, [D2], sources=[src], extractor=Flaky(down))
    assert summary.days == [D1, D2] and summary.retried_days == [D1]
    assert summary.cached_documents == 2  # d:3, d:4 came from the extraction cache
    assert [(r[0], r[3]) for r in _rows(store)] == [("d:2", 2)]  # one more attempt
    assert "Retried failed documents of 2024-03-01" in summary.to_markdown()
    con = store.connect()
    docs = {r[0] for r in con.execute("SELECT DISTINCT doc_id FROM assertions").fetchall()}
    assert docs == {"d:1", "d:3", "d:4", "d:5"}
    con.close()


def test_runs_give_up_after_max_attempts_and_retry_failed_still_retries(tmp_path):
    store, src = Store(tmp_path / "store"), _corpus(tmp_path)
    down = {"d:2"}
    process_days(store, [D1], sources=[src], extractor=Flaky(down))
    for day in (D2, D3, D4):
        process_days(store, [day], sources=[src], extractor=Flaky(down))
    assert [(r[0], r[3]) for r in _rows(store)] == [("d:2", MAX_AUTO_ATTEMPTS)]
    summary = process_days(store, [D5], sources=[src], extractor=Flaky(down))
    assert summary.retried_days == []  # given up by runs ...
    con = store.connect()
    assert failed_extraction_days(con) == {D1}  # ... not by `litkg retry-failed`
    assert failed_extraction_days(con, MAX_AUTO_ATTEMPTS) == set()
    con.close()
    stats = json.loads(subprocess.run(
        [sys.executable, "-m", "litkg.cli", "stats", "--json"], capture_output=True, text=True,
        env=dict(os.environ, LITKG_HOME=str(store.home)), check=True, timeout=120).stdout)
    pending = stats["pending_extractions"]
    assert pending["documents"] == 1 and pending["days"] == 1 and pending["given_up"] == 1
    assert pending["latest"][0]["doc_id"] == "d:2"
    assert pending["latest"][0]["attempts"] == MAX_AUTO_ATTEMPTS
    assert pending["latest"][0]["reason"] == "HTTP 503"
    # what `litkg retry-failed` does: the failed days, asked for explicitly
    down.clear()
    summary = process_days(store, sorted(failed_extraction_days(store.connect())),
                           extractor=Flaky(down))
    assert summary.extraction_failures == 0 and _rows(store) == []


def test_a_document_that_crashes_the_extractor_fails_alone(tmp_path):
    src = write_docs(tmp_path / "in.jsonl", [
        (f"d:{i}", D1, abstract(claim(f"S{i}", "improves", "B"))) for i in range(7)
    ] + [("d:bad", D1, "crash | improves | B |  | 0.5")])
    store = Store(tmp_path / "store")
    summary = process_days(store, [D1], sources=[src], extractor=Crashing())
    assert summary.days == [D1] and summary.extraction_failures == 1
    [row] = _rows(store)
    assert row[0] == "d:bad" and row[2] == "extractor error: RuntimeError: tokenizer exploded"
    assert "second line" in row[4]
    con = store.connect()
    assert con.execute("SELECT count(DISTINCT doc_id) FROM assertions").fetchone()[0] == 7
    con.close()


def test_an_outage_still_fails_the_run_without_committing(tmp_path):
    class Down(ScriptedExtractor):
        def extract(self, documents):
            raise ExtractorUnavailable("LLM server down")

    store = Store(tmp_path / "store")
    with pytest.raises(ExtractorUnavailable):
        process_days(store, [D1], sources=[_corpus(tmp_path)], extractor=Down())
    con = store.connect()
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    con.close()


def test_a_5_mb_abstract_is_quarantined_and_the_night_goes_on(tmp_path):
    """Through the real CLI and the real spaCy extractor: before, spaCy's max_length failed
    every document of the batch, and every rerun."""
    from tests.scripted import write_records

    src = write_records(tmp_path / "in.jsonl", [
        {"doc_id": "doi:big", "title": "Huge", "published": "2024-03-01",
         "abstract": "Dropout improves robustness. " * 180_000},  # ~5.2 MB
        {"doc_id": "doi:ok", "title": "Fine", "published": "2024-03-01",
         "abstract": "Dropout improves robustness on ImageNet."},
    ])
    env = dict(os.environ, LITKG_HOME=str(tmp_path / "store"))
    proc = subprocess.run(
        [sys.executable, "-m", "litkg.cli", "run", "--date", "2024-03-01", "--source", str(src),
         "--summary-format", "json"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["documents"] == 1 and summary["quarantined"] == 1
    assert summary["assertions"] >= 1
    store = Store(tmp_path / "store")
    con = store.connect()
    [(source_file, line, doc_id, reason)] = con.execute(
        "SELECT source_file, line, doc_id, reason FROM quarantine").fetchall()
    con.close()
    assert (source_file, line, doc_id) == (str(src), 1, "doi:big")
    assert reason == ("text too long: 5,220,003 characters of title and abstract "
                      "(limit 100,000)")


def test_an_extractor_that_raises_on_every_document_fails_the_run(tmp_path):
    class Broken(ScriptedExtractor):
        def extract(self, documents):
            raise ValueError("bad model output")

    store = Store(tmp_path / "store")
    with pytest.raises(ValueError, match="bad model output"):
        process_days(store, [D1], sources=[_corpus(tmp_path)], extractor=Broken())
    con = store.connect()
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    con.close()


def test_a_lone_document_that_crashes_the_extractor_is_recorded_not_fatal(tmp_path):
    src = write_docs(tmp_path / "in.jsonl", [("d:bad", D1, "crash | improves | B |  | 0.5")])
    store = Store(tmp_path / "store")
    summary = process_days(store, [D1], sources=[src], extractor=Crashing())
    assert summary.days == [D1] and summary.extraction_failures == 1
    assert [r[0] for r in _rows(store)] == ["d:bad"]


def test_a_document_stored_between_prepare_and_commit_is_left_to_the_next_run(tmp_path):
    """Before: another process's document, stored while a run extracted its day, was never
    extracted (the day was committed, later runs skipped it)."""
    from litkg.pipeline import DEFERRED_REASON, commit_run, extract_day, ingest_only, prepare

    store = Store(tmp_path / "store")
    first = write_docs(tmp_path / "a.jsonl", [("d:1", D1, abstract(claim("A", "improves", "B")))])
    plan = prepare(store, [D1], sources=[first])
    extractions = [extract_day(day, docs, ScriptedExtractor(), None)
                   for day, docs in sorted(plan.documents.items())]
    late = write_docs(tmp_path / "b.jsonl", [("d:late", D1, abstract(claim("C", "improves", "D")))])
    ingest_only(store, [late])  # another process, between prepare and commit
    summary = commit_run(store, plan, extractions, extractor_key="scripted:1")
    assert summary.days == [D1] and summary.deferred_documents == 1
    assert "left to the next run" in summary.to_markdown()
    assert [(r[0], r[1], r[2], r[3]) for r in _rows(store)] == [
        ("d:late", D1, DEFERRED_REASON, 0)]

    summary = process_days(store, [D2], extractor=ScriptedExtractor())  # the next night
    assert summary.retried_days == [D1] and _rows(store) == []
    con = store.connect()
    docs = {r[0] for r in con.execute("SELECT DISTINCT doc_id FROM assertions").fetchall()}
    con.close()
    assert docs == {"d:1", "d:late"}
