"""The bad-input matrix (issue 12, item 5): one batch holding every kind of bad input beside good
records. Each bad one gives a quarantine row naming its file, record and reason; every good
record is stored and extracted; the run commits its day. Plus the two input quirks of item 4: a
UTF-8 byte order mark costs nothing, and same-day revisions are reported."""

from __future__ import annotations

import codecs
import gzip
import json
import shutil
import time
from datetime import date
from pathlib import Path

import pytest

from litkg.pipeline import process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs, write_records
from tests.test_sources_pubmed import _article, _doc

DAY = date(2024, 3, 1)
FIXTURES = Path(__file__).parent / "fixtures" / "sources"
TINY_FILES = 10_000


def _text(i: int | str) -> str:
    return abstract(claim(f"Method{i}", "improves", "accuracy"))


def _line(doc_id: str, text: str | None = None, **extra) -> str:
    return json.dumps({"doc_id": doc_id, "title": "t", "abstract": text or _text(doc_id),
                       "published": DAY.isoformat(), **extra})


def _write_matrix(d: Path) -> dict[str, tuple[int, str]]:
    """Writes the inputs; returns {file name: (record position, reason fragment)} for every
    record that must be quarantined. Good records have doc ids starting with "ok:"."""
    d.mkdir()
    bad: dict[str, tuple[int, str]] = {}
    (d / "invalid_json.jsonl").write_text(
        _line("ok:json1") + "\n" + '{"doc_id": "doi:broken", "title": \n' + _line("ok:json2")
        + "\n", encoding="utf-8")
    bad["invalid_json.jsonl"] = (2, "not JSON")
    (d / "bad_date.jsonl").write_text(
        _line("ok:date1") + "\n" + _line("doi:baddate", published="2024-13-45") + "\n",
        encoding="utf-8")
    bad["bad_date.jsonl"] = (2, "published is not an ISO date: '2024-13-45'")
    (d / "nul.jsonl").write_bytes(
        (_line("ok:nul1") + "\n").encode() + _line("doi:nul").encode().replace(b"Method", b"Me\x00")
        + b"\n" + (_line("ok:nul2") + "\n").encode())
    bad["nul.jsonl"] = (2, "not JSON: Invalid control character")
    (d / "invalid_utf8.jsonl").write_bytes(
        _line("doi:latin1").encode().replace(b"Method", b"M\xe9thod") + b"\n"
        + (_line("ok:utf8") + "\n").encode())
    bad["invalid_utf8.jsonl"] = (1, "invalid UTF-8 at byte")
    (d / "crlf.jsonl").write_bytes(
        (_line("ok:crlf1") + "\r\n" + _line("ok:crlf2") + "\r\n").encode())
    (d / "bom.jsonl").write_bytes(
        codecs.BOM_UTF8 + (_line("ok:bom1") + "\n" + _line("ok:bom2") + "\n").encode())
    (d / "oversize.jsonl").write_text(
        _line("doi:huge", _text("huge") + " word" * 40_000) + "\n" + _line("ok:small") + "\n",
        encoding="utf-8")
    bad["oversize.jsonl"] = (1, "text too long")
    body = "".join(_line(f"ok:gz{i}") + "\n" for i in range(400)).encode()
    data = gzip.compress(body)
    (d / "truncated.jsonl.gz").write_bytes(data[: len(data) * 3 // 4])
    bad["truncated.jsonl.gz"] = (-1, "file could not be read to the end")  # -1: any position
    shutil.copy(FIXTURES / "pubmed_xxe.xml", d / "xxe.xml")
    bad["xxe.xml"] = (-1, "XXE")
    shutil.copy(FIXTURES / "pubmed_billion_laughs.xml", d / "billion_laughs.xml")
    bad["billion_laughs.xml"] = (-1, "entit")
    (d / "pubmed_ok.xml").write_text(
        _doc(_article(5001, abstract=_text("pm"), entrez=(2024, 3, 1))), encoding="utf-8")
    tiny = d / "tiny"
    tiny.mkdir()
    for i in range(TINY_FILES):
        (tiny / f"{i:05d}.jsonl").write_text(_line(f"ok:tiny{i}") + "\n", encoding="utf-8")
    return bad


def test_every_bad_input_is_quarantined_and_the_batch_goes_on(tmp_path):
    t0 = time.perf_counter()
    bad = _write_matrix(tmp_path / "in")
    store = Store(tmp_path / "store")
    summary = process_days(store, [DAY], sources=[tmp_path / "in"],
                           extractor=ScriptedExtractor())
    assert summary.days == [DAY] and summary.extraction_failures == 0
    # the file-level failures are reported (exit 3 on the CLI), and only those
    assert sorted(Path(f).name for f in summary.failed_files) == [
        "billion_laughs.xml", "truncated.jsonl.gz", "xxe.xml"]
    con = store.connect()
    rows = con.execute("SELECT source_file, line, doc_id, reason FROM quarantine").fetchall()
    by_file: dict[str, list[tuple]] = {}
    for source_file, line, doc_id, reason in rows:
        by_file.setdefault(Path(source_file).name, []).append((line, doc_id, reason))
    assert sorted(by_file) == sorted(bad), by_file
    for name, (line, fragment) in bad.items():
        [(got_line, _, reason)] = by_file[name]
        assert fragment in reason, (name, reason)
        assert line == -1 or got_line == line, (name, got_line, reason)
    assert by_file["oversize.jsonl"][0][1] == "doi:huge"
    assert "root:" not in repr(rows) and "lollol" not in repr(rows)
    stored = {r[0] for r in con.execute("SELECT doc_id FROM documents").fetchall()}
    extracted = {r[0] for r in con.execute("SELECT DISTINCT doc_id FROM assertions").fetchall()}
    con.close()
    expected = {"ok:json1", "ok:json2", "ok:date1", "ok:nul1", "ok:nul2", "ok:utf8", "ok:crlf1",
                "ok:crlf2", "ok:bom1", "ok:bom2", "ok:small", "pmid:5001"}
    expected |= {f"ok:tiny{i}" for i in range(TINY_FILES)}
    assert expected <= stored and not {d for d in stored if not d.startswith(("ok:", "pmid:"))}
    gz = {d for d in stored if d.startswith("ok:gz")}
    assert 0 < len(gz) < 400  # what the truncated gzip held before the cut is kept
    assert stored == extracted  # every stored record was extracted
    assert time.perf_counter() - t0 < 240


def test_a_bom_costs_no_record(tmp_path):
    """Before: the first record of a JSON-lines file starting with a BOM was quarantined."""
    path = tmp_path / "bom.jsonl"
    path.write_bytes(codecs.BOM_UTF8 + (_line("doi:1") + "\n" + _line("doi:2") + "\n").encode())
    store = Store(tmp_path / "store")
    summary = process_days(store, [DAY], sources=[path], extractor=ScriptedExtractor())
    assert summary.documents == 2 and summary.quarantined == 0


def test_same_day_revisions_are_reported_in_the_summary(tmp_path):
    first = write_docs(tmp_path / "a.jsonl", [
        ("doi:1", DAY, _text("one")), ("doi:2", DAY, _text("two"))])
    store = Store(tmp_path / "store")
    summary = process_days(store, [DAY], sources=[first], extractor=ScriptedExtractor())
    assert summary.same_day_revisions == []
    # the same doc_id with new text on the same day (and a new record on the same day)
    second = write_records(tmp_path / "b.jsonl", [
        {"doc_id": "doi:1", "title": "t", "abstract": _text("one, revised"),
         "published": DAY.isoformat()},
        {"doc_id": "doi:3", "title": "t", "abstract": _text("three"),
         "published": DAY.isoformat()}])
    summary = process_days(store, [DAY], sources=[second], extractor=ScriptedExtractor())
    assert summary.same_day_revisions == [{"day": DAY, "doc_id": "doi:1", "versions": 2}]
    assert summary.to_dict()["same_day_revisions"] == [
        {"day": "2024-03-01", "doc_id": "doi:1", "versions": 2}]
    md = summary.to_markdown()
    assert "## Same-day revisions" in md and "| 2024-03-01 | doi:1 | 2 |" in md


@pytest.mark.parametrize("name", ["xxe.xml", "billion_laughs.xml"])
def test_hostile_xml_alone_does_not_stop_a_run(tmp_path, name):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(FIXTURES / ("pubmed_" + name), d / name)
    write_docs(d / "good.jsonl", [("doi:1", DAY, _text("x"))])
    store = Store(tmp_path / "store")
    summary = process_days(store, [DAY], sources=[d], extractor=ScriptedExtractor())
    assert summary.documents == 1 and summary.days == [DAY] and summary.quarantined == 1
