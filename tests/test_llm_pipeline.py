"""`litkg backfill --extractor llm` end to end: the CLI, over real HTTP, against the scripted
OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

from llm_server import ScriptedServer, pattern_responder

from tests.scripted import write_docs


def test_backfill_with_the_llm_extractor(tmp_path):
    src = write_docs(tmp_path / "in.jsonl", [
        ("doi:1", date(2024, 3, 1), "FooNet outperforms BarNet on ImageNet. It is fast."),
        ("doi:2", date(2024, 3, 2), "FooNet outperforms BarNet on ImageNet. We study it."),
    ])
    with ScriptedServer(responder=pattern_responder) as server:
        env = dict(os.environ, LITKG_HOME=str(tmp_path / "store"), LITKG_LLM_URL=server.url,
                   LITKG_LLM_MODEL="scripted-model", LITKG_LLM_K0="4", LITKG_LLM_K_MAX="8")
        run = subprocess.run(
            [sys.executable, "-m", "litkg.cli", "backfill", "--start", "2024-03-01", "--end",
             "2024-03-02", "--source", str(src), "--extractor", "llm", "--summary-format",
             "json"], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["assertions"] == 2
        assert server.completions  # it really went over HTTP
        query = subprocess.run(
            [sys.executable, "-m", "litkg.cli", "query", "--format", "json",
             "select subject, relation, object, context, support, status "
             "from edges_as_of(DATE '2024-03-02')"],
            env=env, capture_output=True, text=True, timeout=60)
        edges = [json.loads(line) for line in query.stdout.splitlines()]
        assert edges == [{"subject": "foonet", "relation": "outperforms", "object": "barnet",
                          "context": "dataset=imagenet", "support": 2, "status": "active"}]
        usage = subprocess.run(
            [sys.executable, "-m", "litkg.cli", "stats", "--json"], env=env,
            capture_output=True, text=True, timeout=60)
        assert json.loads(usage.stdout)["llm_tokens"]["documents"] == 2
