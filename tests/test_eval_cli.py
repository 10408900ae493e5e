"""Smoke test: `litkg eval` / `litkg convert` on slices of the real dev splits (../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from litkg.cli import app

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SCIERC_DEV = SHARED / "scierc" / "dev.json"
BIORED_DEV = SHARED / "biored" / "Dev.PubTator"

pytestmark = pytest.mark.skipif(
    not (SCIERC_DEV.exists() and BIORED_DEV.exists()),
    reason=f"the SciERC / BioRED dev splits are not under {SHARED}",
)
runner = CliRunner()


def _ok(result):  # noqa: ANN001, ANN202
    assert result.exit_code == 0, result.output
    return result


def test_eval_json_on_a_slice_of_scierc_dev():
    out = _ok(runner.invoke(app, ["eval", "scierc", str(SCIERC_DEV), "--limit", "4", "--json"]))
    result = json.loads(out.stdout)
    assert result["dataset"] == "scierc" and result["vocabulary"] == "ml"
    assert result["corpus"]["documents"] == 4
    for mode in ("strict", "relaxed"):
        micro = result["relations"][mode]["typed"]["micro"]
        assert 0 <= micro["tp"] <= min(micro["pred"], micro["gold"])
        assert sum(v["gold"] for v in result["relations"][mode]["typed"]["per_label"].values()) \
            == result["corpus"]["relations"]
    strict, relaxed = (result["relations"][m]["typed"]["micro"]["tp"] for m in ("strict",
                                                                               "relaxed"))
    assert strict <= relaxed
    assert result["resolution"]["resolver_on_gold_mentions"]["within_document"]["items"] \
        == result["corpus"]["mentions"]
    assert [b["support"] for b in result["graph"]["by_support"]] == ["1", "2", ">=3", "all"]
    assert result["mapping"]["used-for"] == "USED-FOR"


def test_eval_markdown_append_on_both_datasets(tmp_path):
    md = tmp_path / "quality.md"
    _ok(runner.invoke(app, ["eval", "scierc", str(SCIERC_DEV), "--limit", "3",
                            "--markdown", str(md)]))
    _ok(runner.invoke(app, ["eval", "biored", str(BIORED_DEV), "--limit", "3",
                            "--markdown", str(md), "--append"]))
    text = md.read_text(encoding="utf-8")
    assert text.count("# litkg quality report") == 1
    assert "## SciERC dev.json" in text and "## BioRED Dev.PubTator" in text
    assert "| strict | typed |" in text and "Edges by support" in text


def test_convert_scierc_and_backfill_a_stream(tmp_path):
    out = tmp_path / "scierc.jsonl"
    _ok(runner.invoke(app, ["convert", "scierc", str(SCIERC_DEV), str(out), "--limit", "8"]))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 8 and all(r["doc_id"].startswith("scierc:") for r in records)
    days = sorted(r["published"] for r in records)
    home = tmp_path / "store"
    _ok(runner.invoke(app, ["backfill", "--start", days[0], "--end", days[-1], "--source",
                            str(out), "--home", str(home), "--summary-format", "json"]))
    stats = json.loads(_ok(runner.invoke(app, ["stats", "--home", str(home), "--json"])).stdout)
    assert stats["rows"]["documents"] == 8
    assert str(stats["latest_snapshot"]["day"]) == days[-1]
