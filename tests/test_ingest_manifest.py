"""The input-file manifest (`source_files`), dispatch by content, and the exit codes of
`litkg ingest` / `run` / `backfill`."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkg import cli
from litkg.ingest import ingest_files
from litkg.pipeline import ingest_only
from litkg.sources import detect_format, iter_file
from litkg.sources.records import Rejected, SourceRecord
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim
from tests.test_ingest_dedup import ax_file, ax_record, day, edge, jsonl_file, pm_article, pm_file
from tests.test_ingest_dedup import run as run_days

runner = CliRunner()


def doc(doc_id: str, n: int, *claims: str) -> dict:
    return {"doc_id": doc_id, "title": "t", "published": day(n).isoformat(),
            "abstract": abstract(*(claims or (claim(doc_id.split(":")[1], "improves", "B"),)))}


def manifest(store: Store) -> dict[str, dict]:
    table = store.connect().execute("SELECT * FROM source_files").to_arrow_table()
    return {Path(r["path"]).name: r for r in table.to_pylist()}


# -- re-scanning a directory ---------------------------------------------------------------------
def test_rescan_reads_only_new_or_changed_files_in_file_order(tmp_path):
    src = tmp_path / "updates"
    jsonl_file(src / "a.jsonl", doc("doi:a1", 1))
    pm_file(src / "b.xml", pm_article(11, abstract(claim("C", "improves", "D")), entrez=day(2)))
    store = Store(tmp_path / "store")
    first = ingest_only(store, [src])
    assert (first["files_read"], first["files_skipped"], first["documents"]) == (2, 0, 2)
    assert ingest_only(store, [src])["files_read"] == 0

    jsonl_file(src / "c.jsonl", doc("doi:c1", 3))  # a new daily file
    jsonl_file(src / "a.jsonl", doc("doi:a1", 1), doc("doi:a2", 1))  # a changed file
    before = manifest(store)["a.jsonl"]
    with store.writer() as tx:
        report = ingest_files(tx, [src])
        tx.commit()
    assert [Path(p).name for p in report.files_read] == ["a.jsonl", "c.jsonl"]
    assert [Path(p).name for p in report.files_skipped] == ["b.xml"]
    assert report.new_documents == 2
    after = manifest(store)["a.jsonl"]
    assert after["sha256"] != before["sha256"] and after["records"] == 2
    assert after["first_ingested_at"] == before["first_ingested_at"]
    assert after["last_ingested_at"] > before["last_ingested_at"]

    # touched but unchanged: hashed again, not read; the new mtime is remembered
    b = src / "b.xml"
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 5_000_000_000))
    assert ingest_only(store, [src])["files_read"] == 0
    assert manifest(store)["b.xml"]["mtime"].timestamp() == pytest.approx(
        b.stat().st_mtime_ns / 1e9, abs=1e-5)
    assert ingest_only(store, [src], force=True)["files_read"] == 3
    docs = store.connect().execute("SELECT count(*) FROM documents").fetchone()[0]
    assert docs == 4


def test_run_rereads_an_unchanged_file_only_for_days_not_ingested_yet(tmp_path):
    src = jsonl_file(tmp_path / "in.jsonl", doc("doi:1", 1), doc("doi:2", 2), doc("doi:3", 3))
    store = Store(tmp_path / "store")
    assert run_days(store, [src], [day(1)]).files == {"read": 1, "skipped": 0}
    again = run_days(store, [src], [day(1)])
    assert again.files == {"read": 0, "skipped": 1} and again.skipped_days == [day(1)]
    assert run_days(store, [src], [day(2)]).files == {"read": 1, "skipped": 0}
    assert run_days(store, [src], [day(5)]).files == {"read": 0, "skipped": 1}  # no records
    row = manifest(store)["in.jsonl"]
    assert row["days"] == [day(1), day(2), day(3)]
    assert row["ingested_days"] == [day(1), day(2)]
    assert row["reader"] == "jsonl" and row["records"] == 3 and row["error"] is None


def test_documents_ingested_after_a_day_was_committed_are_processed(tmp_path):
    store = Store(tmp_path / "store")
    run_days(store, [jsonl_file(tmp_path / "a.jsonl", doc("doi:1", 1), doc("doi:2", 2))],
             [day(1), day(2)])
    ingest_only(store, [jsonl_file(tmp_path / "late.jsonl",
                                   doc("doi:9", 2, claim("Late", "improves", "E")))])
    summary = run_days(store, [], [day(1), day(2)])  # no sources: only what is stored
    assert summary.skipped_days == [day(1)] and summary.days == [day(2)]
    assert edge(store, "late", "improves", "e", day(2))["status"] == "active"


# -- dispatch and positions ----------------------------------------------------------------------
def test_dispatch_sniffs_arxiv_snapshots_in_json_lines_files(tmp_path):
    snap = ax_file(tmp_path / "snapshot.jsonl", ax_record("2403.00001", "x", created=day(1)))
    gz = tmp_path / "snapshot.json.gz"
    gz.write_bytes(gzip.compress(snap.read_bytes()))
    plain = jsonl_file(tmp_path / "docs.json", doc("doi:1", 1))
    generic = jsonl_file(tmp_path / "ids.jsonl", {"id": "2403.00001", "abstract": "not arXiv"})
    assert [detect_format(p) for p in (snap, gz, plain, generic)] == [
        "arxiv", "arxiv", "jsonl", "jsonl"]
    (rec,) = list(iter_file(gz))
    assert isinstance(rec, SourceRecord) and rec.doc_id == "arxiv:2403.00001" and rec.line == 1
    xml = pm_file(tmp_path / "noext", pm_article(5, "x", entrez=day(1)))
    assert detect_format(xml) == "pubmed"


def test_file_level_rejects_are_line_0_or_where_reading_stopped(tmp_path):
    (missing,) = list(iter_file(tmp_path / "nope.jsonl"))
    assert (missing.line, missing.file_level) == (0, True)
    (missing_xml,) = list(iter_file(tmp_path / "nope.xml.gz"))
    assert (missing_xml.line, missing_xml.file_level) == (0, True)
    lines = "".join(json.dumps(doc(f"doi:{i}", 1)) + "\n" for i in range(3000)).encode()
    cut = gzip.compress(lines)
    trunc = tmp_path / "cut.jsonl.gz"
    trunc.write_bytes(cut[: len(cut) // 2])
    items = list(iter_file(trunc))
    recs = [i for i in items if isinstance(i, SourceRecord)]
    assert isinstance(items[-1], Rejected) and items[-1].file_level
    assert items[-1].line == len(recs) + 1
    bad_line = jsonl_file(tmp_path / "bad.jsonl", doc("doi:1", 1))
    bad_line.write_text(bad_line.read_text() + "{oops\n")
    rej = [i for i in iter_file(bad_line) if isinstance(i, Rejected)]
    assert [(r.line, r.file_level) for r in rej] == [(2, False)]


# -- exit codes ----------------------------------------------------------------------------------
@pytest.fixture
def scripted_cli(monkeypatch):
    monkeypatch.setattr(cli, "_extractor", lambda *args, **kwargs: ScriptedExtractor())


def test_ingest_exit_codes(tmp_path):
    home = str(tmp_path / "store")
    good = jsonl_file(tmp_path / "in" / "good.jsonl", doc("doi:1", 1))
    res = runner.invoke(cli.app, ["ingest", str(good), "--home", home])
    assert res.exit_code == 0, res.output
    assert "1 file(s) read" in res.output

    bad = jsonl_file(tmp_path / "in" / "bad.jsonl", doc("doi:2", 1), {"title": "no id"})
    res = runner.invoke(cli.app, ["ingest", str(tmp_path / "in"), "--home", home])
    assert res.exit_code == 0  # a quarantined record is reported, not an error
    res = runner.invoke(cli.app, ["ingest", str(bad), "--home", home, "--strict", "--force"])
    assert res.exit_code == 4

    articles = [pm_article(20 + i, f"claim {i} " * 30, entrez=day(1)) for i in range(200)]
    xml = pm_file(tmp_path / "cut" / "p.xml", *articles).read_bytes()
    packed = gzip.compress(xml)
    cut = tmp_path / "cut" / "p.xml.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    (tmp_path / "cut" / "p.xml").unlink()
    res = runner.invoke(
        cli.app, ["ingest", str(cut), str(tmp_path / "missing.xml"), "--home", home, "--json"])
    assert res.exit_code == 3
    counts = json.loads(res.stdout)
    assert counts["files_read"] == 1  # the missing file is failed, not read
    assert {Path(p).name for p in counts["failed_files"]} == {"p.xml.gz", "missing.xml"}
    assert counts["documents"] > 0  # what came before the cut is stored
    row = manifest(Store(home))["p.xml.gz"]
    assert "truncated" in row["error"]
    res = runner.invoke(cli.app, ["stats", "--home", home, "--json"])
    stats = json.loads(res.stdout)
    assert {Path(f["path"]).name for f in stats["source_files"]} == {
        "good.jsonl", "bad.jsonl", "p.xml.gz"}
    assert stats["papers"]["papers"] == stats["rows"]["documents"]


def test_backfill_exit_codes_are_makefile_safe(tmp_path, scripted_cli):
    src = jsonl_file(tmp_path / "in" / "docs.jsonl", doc("doi:1", 1), {"doc_id": "doi:2"})
    home = str(tmp_path / "store")
    args = ["backfill", "--start", "2024-03-01", "--end", "2024-03-02", "--source", str(src),
            "--home", home, "--summary-format", "json"]
    res = runner.invoke(cli.app, args)
    assert res.exit_code == 0, res.output  # like `make demo` on data/sample's malformed file
    assert json.loads(res.stdout)["quarantined"] == 1
    res = runner.invoke(cli.app, [*args, "--strict", "--force"])
    assert res.exit_code == 4
    res = runner.invoke(cli.app, ["run", "--date", "2024-03-02", "--source",
                                  str(tmp_path / "gone.jsonl"), "--home", home])
    assert res.exit_code == 3
    res = runner.invoke(cli.app, [*args, "--pubmed-date", "tomorrow"])
    assert res.exit_code == 1


def test_reader_settings_are_part_of_a_files_identity(tmp_path):
    src = ax_file(tmp_path / "ax.json",
                  ax_record("2403.00001", abstract(claim("A", "improves", "B")), created=day(1)),
                  ax_record("2403.00002", abstract(claim("C", "improves", "D")), created=day(1),
                            cats="math.CO"))
    home = str(tmp_path / "store")
    res = runner.invoke(cli.app, ["ingest", str(src), "--home", home, "--category", "cs",
                                  "--json"])
    assert json.loads(res.stdout)["documents"] == 1
    res = runner.invoke(cli.app, ["ingest", str(src), "--home", home, "--json"])
    counts = json.loads(res.stdout)
    assert counts["files_read"] == 1 and counts["new_versions"] == 1
    assert manifest(Store(home))["ax.json"]["reader"] == "arxiv(date=v1;categories=*)"
