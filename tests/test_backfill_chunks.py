"""A long backfill commits in chunks (what one commit holds in memory stays a chunk's) and gives
the same store as one commit; its sources are read once for the whole range."""

from __future__ import annotations

from datetime import date, timedelta

from typer.testing import CliRunner

from litkg.batches import process_range
from litkg.cli import app
from litkg.pipeline import days_between, process_days
from litkg.store import Store
from tests.scripted import ScriptedExtractor, abstract, claim, write_records
from tests.storecompare import differences

FIRST = date(2024, 1, 1)


def stream(tmp_path):
    """70 days: a claim reinforced every other day, a contradiction on day 40, a paper revised
    on day 50 (so later chunks change what earlier ones committed)."""
    records = [
        {"doc_id": f"pmid:{i}", "title": "t", "published": FIRST + timedelta(days=i),
         "abstract": abstract(claim("A", "improves", "B", "", 0.4),
                              claim(f"M{i % 5}", "outperforms", "B", "dataset=X", 0.6))}
        for i in range(0, 70, 2)
    ]
    records += [
        {"doc_id": "pmid:40", "title": "t", "published": FIRST + timedelta(days=40),
         "abstract": abstract(claim("A", "degrades", "B", "", 0.9))},
        {"doc_id": "pmid:2", "title": "t", "published": FIRST + timedelta(days=50),
         "revised": FIRST + timedelta(days=50),
         "abstract": abstract(claim("A", "improves", "C", "", 0.7))},
    ]
    return write_records(tmp_path / "in.jsonl", records)


def test_a_backfill_in_chunks_equals_one_commit(tmp_path):
    src = stream(tmp_path)
    days = days_between(FIRST, FIRST + timedelta(days=69))
    chunked, whole = Store(tmp_path / "chunked"), Store(tmp_path / "whole")
    summary = process_range(chunked, days, sources=[src], extractor=ScriptedExtractor(),
                            chunk_days=31)
    process_days(whole, days, sources=[src], extractor=ScriptedExtractor())
    assert differences(chunked, whole) == {}
    con = chunked.connect()
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 3  # 31 + 31 + 8 days
    read = con.execute("SELECT count(*) FROM source_files").fetchone()[0]
    con.close()
    assert read == 1 and summary.files == {"read": 1, "skipped": 0}
    assert len(summary.days) == 70 and summary.documents == 37
    assert summary.construct_mode == "rebuild+incremental"


def test_the_cli_backfill_commits_every_chunk_days(tmp_path):
    src = stream(tmp_path)

    def backfill(home, chunk_days: int):
        out = CliRunner().invoke(app, [
            "backfill", "--start", "2024-01-01", "--end", "2024-03-10", "--source", str(src),
            "--home", str(home), "--extractor", "tests.scripted:ScriptedExtractor",
            "--summary-format", "json", "--chunk-days", str(chunk_days)])
        assert out.exit_code == 0, out.output
        con = Store(home).connect()
        commits = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        con.close()
        return commits

    assert backfill(tmp_path / "store", 20) == 4  # 20 + 20 + 20 + 10 days
    assert backfill(tmp_path / "store", 0) == 4  # nothing new: every day skipped
    assert backfill(tmp_path / "one", 0) == 1
    assert differences(Store(tmp_path / "store"), Store(tmp_path / "one")) == {}
