"""The command line, run as a user runs it (a real process, a real store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripted import write_docs

LITKG = [sys.executable, "-m", "litkg.cli"]


def litkg(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, LITKG_HOME=str(home), COLUMNS="200")
    proc = subprocess.run([*LITKG, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"litkg {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from datetime import date

    d = tmp_path_factory.mktemp("cli")
    (d / "in").mkdir()
    write_docs(
        d / "in" / "a.jsonl",
        [
            ("doi:1", date(2024, 3, 1), "Dropout improves robustness. We study image models."),
            ("doi:2", date(2024, 3, 2), "Dropout improves robustness on ImageNet."),
            ("doi:3", date(2024, 3, 3), "Weight decay degrades calibration."),
        ],
    )
    (d / "in" / "bad.jsonl").write_text('{"doc_id": "doi:9", "title": "x"\n', encoding="utf-8")
    return d


def test_backfill_then_query_then_stats(corpus):
    home = corpus / "store"
    out = litkg(
        "backfill",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-03",
        "--source",
        str(corpus / "in"),
        "--summary-format",
        "json",
        home=home,
    )
    summary = json.loads(out.stdout)
    assert summary["days"] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert summary["documents"] == 3 and summary["quarantined"] == 1
    csv = litkg(
        "query", "--format", "csv", "select day, documents from snapshots order by day", home=home
    ).stdout.splitlines()
    assert csv[0] == "day,documents" and csv[-1] == "2024-03-03,3"
    rows = litkg(
        "query",
        "--format",
        "json",
        "select subject, relation, object from edges_as_of(DATE '2024-03-03')",
        home=home,
    ).stdout.splitlines()
    assert {"subject": "dropout", "relation": "improves", "object": "robustness"} in [
        json.loads(r) for r in rows
    ]
    stats = json.loads(litkg("stats", "--json", home=home).stdout)
    assert stats["rows"]["quarantine"] == 1 and stats["rows"]["snapshots"] == 3
    again = json.loads(
        litkg(
            "backfill",
            "--start",
            "2024-03-01",
            "--end",
            "2024-03-03",
            "--source",
            str(corpus / "in"),
            "--summary-format",
            "json",
            home=home,
        ).stdout
    )
    assert again["days"] == [] and len(again["skipped_days"]) == 3  # resumes: nothing to redo


def test_run_processes_one_day(corpus, tmp_path):
    out = litkg(
        "run",
        "--date",
        "2024-03-02",
        "--source",
        str(corpus / "in"),
        "--summary-format",
        "json",
        home=tmp_path / "s",
    )
    assert json.loads(out.stdout)["days"] == ["2024-03-02"]


def test_query_to_parquet(corpus, tmp_path):
    home = tmp_path / "s"
    litkg("run", "--date", "2024-03-01", "--source", str(corpus / "in"), home=home)
    target = tmp_path / "edges.parquet"
    litkg("query", "--format", "parquet", "--output", str(target), "select * from edges", home=home)
    import pyarrow.parquet as pq

    assert pq.read_table(target).num_rows >= 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "select 1"], "no litkg store"),
        (["backfill", "--start", "2024-03-05", "--end", "2024-03-01"], "before --start"),
        (["run", "--date", "yesterday-ish"], "ISO date"),
        (["run", "--date", "2024-03-01", "--extractor", "nope"], "unknown extractor"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(tmp_path, args, message):
    proc = litkg(*args, home=tmp_path / "none", check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_sql_is_a_clear_error(corpus, tmp_path):
    home = tmp_path / "s"
    litkg("run", "--date", "2024-03-01", "--source", str(corpus / "in"), home=home)
    proc = litkg("query", "select * from no_such_table", home=home, check=False)
    assert proc.returncode == 1 and "no_such_table" in proc.stderr


@pytest.mark.parametrize("command", ["run", "backfill", "ingest", "query", "stats", "check-gold"])
def test_every_command_has_help(command, tmp_path):
    assert "Usage" in litkg(command, "--help", home=tmp_path).stdout

