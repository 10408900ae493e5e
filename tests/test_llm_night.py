"""A night with the LLM extractor, over real HTTP against the scripted loopback server: the
preflight, an outage, document-specific failures and their retry, the accounting of a partial
cache hit, pinned generation fields and a policy change that reuses every sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from litkg.extractors.base import ExtractorUnavailable
from litkg.extractors.llm import LLMExtractor
from litkg.extractors.llm.cache import SampleStore
from litkg.extractors.llm.client import LLMConfigError, LLMUnavailable
from llm_server import (
    Reply,
    ScriptedServer,
    abstract_of,
    answer,
    documents,
    pattern_responder,
    triple,
    with_counts,
)

from litkg.pipeline import failed_extraction_days, process_days
from litkg.store import Store
from tests.scripted import write_docs

pytestmark = pytest.mark.timeout(120)

DAY = date(2024, 3, 1)
TEXTS = [
    "AlphaNet outperforms BetaNet on SetOne. We discuss it.",
    "GammaNet outperforms DeltaNet on SetTwo. It is simple.",
    "EpsilonNet outperforms ZetaNet on SetThree. More work is needed.",
]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(responder=pattern_responder) as s:
        yield s


def make(server: ScriptedServer, cache: Path, **kw: Any) -> LLMExtractor:
    settings: dict[str, Any] = {
        "urls": [server.url], "model": "scripted-model", "cache_dir": cache,
        "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 10.0, "max_retries": 2,
        "k0": 4, "k_step": 2, "k_max": 8,
    }
    settings.update(kw)
    return LLMExtractor(env={}, **settings)


def requests_for(server: ScriptedServer, text: str) -> int:
    return sum(abstract_of(r.body) == text for r in server.completions())


# -- preflight ---------------------------------------------------------------------------


def test_preflight_records_the_served_model(server: ScriptedServer, tmp_path: Path) -> None:
    result = make(server, tmp_path).extract(documents(TEXTS[0]))
    paths = [r.path for r in server.requests]
    assert paths[:2] == ["/health", "/v1/models"]  # before the first completion
    (usage,) = result.extras["llm_usage"].to_pylist()
    assert usage["served_root"] == "/weights/scripted-model"
    assert usage["max_model_len"] == 32768


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "models_status", 401),
         "HTTP 401 on /models, the API key was refused"),
        (lambda s: setattr(s, "models", [{"id": "other"}]),
         "model 'scripted-model' is not served by"),
        (lambda s: setattr(s, "models_status", 404), "HTTP 404"),
        (lambda s: s.models[0].update(max_model_len=1200), "does not fit 'scripted-model'"),
    ],
    ids=["401", "unknown-model", "404", "context-length"],
)
def test_preflight_failure_stops_before_any_completion(
    server: ScriptedServer, tmp_path: Path, setup: Any, message: str
) -> None:
    setup(server)
    with pytest.raises(LLMConfigError, match=message) as info:
        make(server, tmp_path).extract(documents(*TEXTS))
    assert "\n" not in str(info.value)
    assert server.completions() == []


def test_unhealthy_server_is_an_outage_not_a_config_error(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.health_status = 503
    with pytest.raises(LLMUnavailable, match="unhealthy"):
        make(server, tmp_path).extract(documents(TEXTS[0]))


def test_a_401_mid_run_stops_the_run_instead_of_quarantining(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.push(Reply(status=401))
    with pytest.raises(LLMConfigError, match="401"):
        make(server, tmp_path, concurrency=1).extract(documents(*TEXTS))


def test_cli_exits_with_one_line_on_a_wrong_key(server: ScriptedServer, tmp_path: Path) -> None:
    server.models_status = 401
    src = write_docs(tmp_path / "in.jsonl", [("d:1", DAY, TEXTS[0])])
    env = dict(os.environ, LITKG_HOME=str(tmp_path / "store"), LITKG_LLM_URL=server.url,
               LITKG_LLM_MODEL="scripted-model", LITKG_LLM_API_KEY="wrong", COLUMNS="400")
    run = subprocess.run(
        [sys.executable, "-m", "litkg.cli", "run", "--date", DAY.isoformat(), "--source",
         str(src), "--extractor", "llm"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "401" in lines[0], run.stderr


# -- outage and document-specific failures ------------------------------------------------


def test_an_outage_mid_run_commits_nothing_and_the_rerun_commits_every_document(
    server: ScriptedServer, tmp_path: Path
) -> None:
    src = write_docs(tmp_path / "in.jsonl", [(f"d:{i}", DAY, t) for i, t in enumerate(TEXTS)])
    store = Store(tmp_path / "store")
    cache = tmp_path / "llm"
    served = 0

    def then_down(body: Mapping[str, Any]) -> Reply:
        nonlocal served
        served += 1
        if served == 2:  # the server goes away after answering the first document
            threading.Thread(target=server.stop).start()
            return Reply(status=503)
        return pattern_responder(body)

    server.responder = then_down
    with pytest.raises(ExtractorUnavailable, match="LLM server down"):
        process_days(store, [DAY], sources=[src],
                     extractor=make(server, cache, concurrency=1, k0=8, k_max=8))
    con = store.connect()
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    con.close()
    assert len(SampleStore(cache)) == 8  # the samples paid for before the outage are kept
    first = next(t for t in TEXTS if requests_for(server, t) == 1)

    server.responder = pattern_responder
    server.start()  # back, same port
    before = requests_for(server, first)
    summary = process_days(store, [DAY], extractor=make(server, cache, concurrency=1, k0=8,
                                                         k_max=8))
    assert summary.days == [DAY] and summary.extraction_failures == 0
    assert requests_for(server, first) == before  # its samples came from the cache
    subjects = {r[0] for r in store.connect().execute(
        "SELECT subject FROM assertions").fetchall()}
    assert subjects == {"AlphaNet", "GammaNet", "EpsilonNet"}


def test_consecutive_transport_failures_mean_an_outage(
    server: ScriptedServer, tmp_path: Path
) -> None:
    server.responder = lambda body: Reply(status=503)  # /health still says 200
    with pytest.raises(LLMUnavailable, match="in a row"):
        make(server, tmp_path, outage_after=3, max_retries=5).extract(documents(TEXTS[0]))


def test_document_failures_are_quarantined_per_document_and_retried(
    server: ScriptedServer, tmp_path: Path
) -> None:
    src = write_docs(tmp_path / "in.jsonl", [(f"d:{i}", DAY, t) for i, t in enumerate(TEXTS)])
    store = Store(tmp_path / "store")
    too_long = {TEXTS[1], TEXTS[2]}

    def context_limit(body: Mapping[str, Any]) -> Reply:
        if abstract_of(body) in too_long:
            return Reply(status=400, raw_body='{"error": {"message": "This model\'s maximum '
                         'context length is 2048 tokens. However, you requested 2300 tokens"}}')
        return pattern_responder(body)

    server.responder = context_limit
    summary = process_days(store, [DAY], sources=[src], extractor=make(server, tmp_path / "c"))
    assert summary.days == [DAY] and summary.extraction_failures == 2
    con = store.connect()
    rows = con.execute("SELECT doc_id, reason FROM quarantine ORDER BY doc_id").fetchall()
    assert [r[0] for r in rows] == ["d:1", "d:2"]  # one row each, not one per reason
    assert all("context length" in r[1] for r in rows)
    assert failed_extraction_days(con) == {DAY}
    con.close()  # a process keeps one catalog instance per file while a connection is open
    env = dict(os.environ, LITKG_HOME=str(store.home), LITKG_LLM_URL=server.url,
               LITKG_LLM_MODEL="scripted-model", LITKG_LLM_K0="4", LITKG_LLM_K_MAX="8")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "litkg.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["failed_extractions"] == {"documents": 2, "days": 1}

    too_long.clear()  # e.g. the server restarted with a longer context
    retry = cli("retry-failed", "-x", "llm", "--summary-format", "json")
    assert retry.returncode == 0, retry.stderr
    summary = json.loads(retry.stdout)
    assert summary["days"] == [DAY.isoformat()] and summary["extraction_failures"] == 0
    assert summary["cached_documents"] == 1  # the document that had succeeded
    con = store.connect()
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert failed_extraction_days(con) == set()
    assert con.execute("SELECT count(DISTINCT doc_id) FROM assertions").fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM llm_usage").fetchone()[0] == 3


def test_a_partial_cache_hit_keeps_the_usage_rows_of_the_other_documents(
    server: ScriptedServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    first = write_docs(tmp_path / "a.jsonl", [("d:0", DAY, TEXTS[0]), ("d:1", DAY, TEXTS[1])])
    process_days(store, [DAY], sources=[first], extractor=make(server, tmp_path / "c"))
    later = write_docs(tmp_path / "b.jsonl", [("d:2", DAY, TEXTS[2])])  # a late arrival
    summary = process_days(store, [DAY], sources=[later], extractor=make(server, tmp_path / "c"))
    assert summary.cached_documents == 2
    con = store.connect()
    usage = con.execute("SELECT doc_id, cached FROM llm_usage ORDER BY doc_id").fetchall()
    assert usage == [("d:0", False), ("d:1", False), ("d:2", False)]


# -- generation and policy ------------------------------------------------------------------


def test_every_sampling_field_is_sent_explicitly(server: ScriptedServer, tmp_path: Path) -> None:
    make(server, tmp_path, seed=7).extract(documents(TEXTS[0]))
    body = server.completions()[0].body
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                                 "presence_penalty", "frequency_penalty", "max_tokens", "seed")
            } == {"temperature": 0.7, "top_p": 1.0, "top_k": -1, "min_p": 0.0,
                  "repetition_penalty": 1.0, "presence_penalty": 0.0,
                  "frequency_penalty": 0.0, "max_tokens": 1024, "seed": 7}
    assert body["stop"] == ["\n\n\n"]  # whitespace guard
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["triples"]["maxItems"] == 30


def test_a_policy_change_reuses_every_sample(server: ScriptedServer, tmp_path: Path) -> None:
    a = triple("AlphaNet", "outperforms", "BetaNet", [("dataset", "SetOne")])
    server.push(Reply(contents=with_counts(8, {"a": 5}, {"a": a})))
    docs = documents(TEXTS[0])
    strict = make(server, tmp_path, k0=8, k_max=8, threshold=0.7).extract(docs)
    assert strict.assertions.num_rows == 0  # 5/8 < 0.7
    sent = len(server.completions())
    for policy in ({"threshold": 0.5}, {"threshold": 0.5, "cap": 0.6}, {"z": 0.3, "k0": 4},
                   {"k0": 2, "k_step": 2, "k_max": 6}):
        other = make(server, tmp_path, **{"k0": 8, "k_max": 8, **policy})
        assert other.config_key() != make(server, tmp_path, k0=8, k_max=8).config_key()
        other.extract(docs)
        assert len(server.completions()) == sent, policy  # zero new requests
    lenient = make(server, tmp_path, k0=8, k_max=8, threshold=0.5, cap=0.6).extract(docs)
    (row,) = lenient.assertions.to_pylist()
    assert row["confidence"] == 0.6
    (usage,) = lenient.extras["llm_usage"].to_pylist()
    assert usage["cached"] and usage["requests"] == 0 and usage["samples"] == 8


def test_a_larger_budget_requests_only_the_samples_beyond_the_cache(
    server: ScriptedServer, tmp_path: Path
) -> None:
    docs = documents(TEXTS[0])
    make(server, tmp_path, k0=4, k_max=4).extract(docs)
    server.push(Reply(contents=[answer()]))
    make(server, tmp_path, k0=6, k_max=6).extract(docs)
    assert [r.body["n"] for r in server.completions()] == [4, 2]


# -- grounding ------------------------------------------------------------------------------


def test_a_negated_claim_is_dropped_and_a_hedged_one_down_weighted(
    server: ScriptedServer, tmp_path: Path
) -> None:
    negated = "AlphaNet does not outperform BetaNet on SetOne. We analyse why."
    hedged = "GammaNet may outperform DeltaNet on SetTwo. We analyse why."

    def model(body: Mapping[str, Any]) -> Reply:
        text = abstract_of(body)
        s, o, d = ("AlphaNet", "BetaNet", "SetOne") if text == negated else (
            "GammaNet", "DeltaNet", "SetTwo")
        return Reply(contents=[answer(triple(s, "outperforms", o, [("dataset", d)]))])

    server.responder = model
    result = make(server, tmp_path).extract(documents(negated, hedged))
    (row,) = result.assertions.to_pylist()
    assert row["subject"] == "GammaNet" and row["confidence"] == pytest.approx(0.95 * 0.5)
    reasons = {(r["subject"], r["reason"]) for r in result.extras["llm_rejections"].to_pylist()}
    assert reasons == {("AlphaNet", "negated"), ("GammaNet", "hedged")}
    dropped = make(server, tmp_path, hedge_weight=0.0).extract(documents(hedged))
    assert dropped.assertions.num_rows == 0


def test_an_outage_is_retried_by_prefect_and_a_config_error_is_not() -> None:
    from litkg.flows.extraction import is_transient

    assert is_transient(LLMUnavailable("LLM server down"))
    assert not is_transient(LLMConfigError("HTTP 401"))
