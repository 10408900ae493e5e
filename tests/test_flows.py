"""The Prefect flows (flows/), run in-process against Prefect's test harness.

Extraction is scripted (tests/scripted.py) and counted, except where spaCy is named; each
flow's store is compared with the library's (`process_days`, no Prefect) on the same input.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pytest
import yaml
from litkg.flows import config, extraction
from litkg.flows.pipeline import backfill, nightly, process_day, process_days_flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.testing.utilities import prefect_test_harness

from litkg.pipeline import days_between, process_days
from litkg.store import Store, StoreLocked
from tests.scripted import ScriptedExtractor, abstract, claim, write_docs
from tests.storecompare import differences

REPO = Path(__file__).resolve().parents[1]
DAYS = days_between(date(2024, 1, 1), date(2024, 1, 4))


@pytest.fixture(scope="module", autouse=True)
def harness():
    # no heartbeat thread: it costs each flow run ~1 s at exit (deployments keep it)
    with prefect_test_harness(server_startup_timeout=90), temporary_settings(
        {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    ):
        yield


class Counting:
    """ScriptedExtractor that counts calls, documents and calls in flight; can be made to fail
    (`fail(call_number, documents)` returns an exception to raise) or slow (`delay`)."""

    def __init__(self, delay: float = 0.0, fail=None) -> None:
        self.inner = ScriptedExtractor()
        self.name, self.version = self.inner.name, self.inner.version
        self.delay, self.fail = delay, fail
        self.lock = threading.Lock()
        self.calls = self.documents = self.in_flight = self.max_in_flight = 0

    def config_key(self) -> str:
        return self.inner.config_key()

    def extract(self, documents: pa.Table):
        with self.lock:
            self.calls += 1
            call = self.calls
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if self.fail and (exc := self.fail(call, documents)):
                raise exc
            with self.lock:
                self.documents += documents.num_rows
            return self.inner.extract(documents)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def extractor(monkeypatch):
    """Install a Counting extractor as what every flow task builds; returns a setter."""
    current = {"x": Counting()}
    monkeypatch.setattr(extraction, "build_extractor", lambda *args: current["x"])
    monkeypatch.setenv("LITKG_RETRY_DELAY_S", "0.01")

    def use(x: Counting) -> Counting:
        current["x"] = x
        return x

    use.current = current  # type: ignore[attr-defined]
    return use


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Five documents a day over DAYS, with reinforced and contradicting claims."""
    docs = []
    for n, day in enumerate(DAYS):
        for i in range(5):
            claims = [claim(f"method {i % 3}", "outperforms", f"baseline {n % 2}", "dataset=X",
                            round(0.5 + 0.05 * i + 0.01 * n, 2))]  # unique text per document
            if i == 4:
                claims.append(claim(f"baseline {n % 2}", "outperforms", "method 1", "dataset=X",
                                    0.9))
            docs.append((f"doi:{n}.{i}", day, abstract(*claims)))
    return write_docs(tmp_path / "in" / "docs.jsonl", docs)


def library_store(tmp_path: Path, source: Path, days: list[date]) -> Store:
    store = Store(tmp_path / "library")
    process_days(store, days, sources=[source], extractor=ScriptedExtractor())
    return store


def artifacts_of(state) -> list:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))


def committed_days(store: Store) -> list[date]:
    con = store.connect()
    try:
        return [r[0] for r in con.execute("SELECT day FROM snapshots ORDER BY day").fetchall()]
    finally:
        con.close()


# -- one run ---------------------------------------------------------------------------------
def test_flow_run_stores_what_the_library_stores_and_publishes_its_summary(
    tmp_path, corpus, extractor
):
    store = Store(tmp_path / "flow")
    state = process_days_flow(DAYS, source=[str(corpus)], home=str(store.home),
                              docs_per_task=2, extract_concurrency=3, return_state=True)
    result = state.result()
    assert differences(store, library_store(tmp_path, corpus, DAYS)) == {}
    assert result["days"] == [d.isoformat() for d in DAYS]
    assert (result["documents"], result["assertions"]) == (20, 24)
    assert result["changes"]["added"] > 0 and result["changes"].get("contested", 0) > 0
    assert set(result["stage_seconds"]) >= {"ingest", "extract", "construct", "snapshot"}
    (artifact,) = artifacts_of(state)
    assert artifact.key == "litkg-run" and artifact.type == "markdown"
    assert "| 20 | 24 |" in artifact.data
    for section in ("Most reinforced edges", "Newly contested edges", "Wall time per stage"):
        assert section in artifact.data


def test_spacy_extraction_in_parallel_chunks_equals_the_library_run(tmp_path):
    day = date(2024, 3, 5)
    store = Store(tmp_path / "flow")
    result = process_day(day, source=str(REPO / "data" / "sample"), home=str(store.home),
                         docs_per_task=2, extract_concurrency=4)
    reference = Store(tmp_path / "library")
    from litkg.extractors.spacy_rules import SpacyRuleExtractor

    process_days(reference, [day], sources=[REPO / "data" / "sample"],
                 extractor=SpacyRuleExtractor())
    assert result["documents"] == 7 and result["assertions"] > 0
    assert differences(store, reference) == {}


def test_llm_extraction_in_chunks_stores_what_the_library_stores(tmp_path, monkeypatch):
    """Over real HTTP to the scripted OpenAI-compatible server: the per-document audit tables
    (llm_usage, llm_rejections) of the chunks are merged back too."""
    from litkg.extractors import make_extractor
    from llm_server import ScriptedServer, pattern_responder

    days = [date(2024, 3, 1), date(2024, 3, 2)]
    src = write_docs(tmp_path / "in.jsonl", [
        (f"doi:{i}", days[i % 2], f"FooNet{i} outperforms BarNet on ImageNet. It is fast.")
        for i in range(5)
    ])
    with ScriptedServer(responder=pattern_responder) as server:
        for k, v in {"LITKG_LLM_URL": server.url, "LITKG_LLM_MODEL": "scripted-model",
                     "LITKG_LLM_K0": "4", "LITKG_LLM_K_MAX": "8"}.items():
            monkeypatch.setenv(k, v)
        store = Store(tmp_path / "flow")
        result = process_days_flow(days, source=str(src), home=str(store.home),
                                   extractor="llm", docs_per_task=1, extract_concurrency=3)
        reference = Store(tmp_path / "library")
        process_days(reference, days, sources=[src], extractor=make_extractor(
            "llm", cache_dir=reference.cache_dir / "llm"))
    assert result["assertions"] == 5
    assert differences(store, reference) == {}
    con = store.connect()
    assert con.execute("SELECT count(*) FROM llm_usage WHERE NOT cached").fetchone()[0] == 5
    samples = sorted(str(p) for p in (store.cache_dir / "llm").rglob("*.parquet"))
    keys = duckdb.connect().execute(  # the run's store's sample cache: 5 documents' streams
        "SELECT count(DISTINCT key) FROM read_parquet(?)", [samples]).fetchone()[0]
    assert keys == 5


def test_extraction_runs_over_chunks_of_documents_with_at_most_n_in_flight(
    tmp_path, corpus, extractor
):
    slow = extractor(Counting(delay=0.3))
    process_day(DAYS[0], source=str(corpus), home=str(tmp_path / "s"), docs_per_task=1,
                extract_concurrency=2)
    assert slow.calls == 5 and slow.documents == 5
    assert slow.max_in_flight == 2


def test_transient_errors_are_retried_with_backoff_and_others_fail_the_run_at_once(
    tmp_path, corpus, extractor
):
    flaky = extractor(Counting(fail=lambda n, docs: ConnectionError("refused") if n <= 2
                               else None))
    result = process_day(DAYS[0], source=str(corpus), home=str(tmp_path / "a"))
    assert result["documents"] == 5 and flaky.calls == 3  # two failures, then success

    broken = extractor(Counting(fail=lambda n, docs: ValueError("bad model output")))
    with pytest.raises(ValueError, match="bad model output"):
        process_day(DAYS[0], source=str(corpus), home=str(tmp_path / "b"))
    # not transient: no retry. The batch of 5 is halved down to single documents to find the
    # one at fault (9 calls); as every document fails alone, the extractor is: the run fails
    assert broken.calls == 9
    assert not Store(tmp_path / "b").connect().execute("SELECT * FROM snapshots").fetchall()


def test_transient_errors_are_recognised_by_type():
    assert extraction.is_transient(ConnectionRefusedError())
    assert extraction.is_transient(TimeoutError())
    assert extraction.is_transient(httpx.ConnectError("refused"))
    assert extraction.is_transient(httpx.ReadTimeout("slow"))
    request = httpx.Request("POST", "http://gpu:8000/v1/chat/completions")
    for status, transient in ((503, True), (429, True), (400, False), (404, False)):
        error = httpx.HTTPStatusError("x", request=request,
                                      response=httpx.Response(status, request=request))
        assert extraction.is_transient(error) is transient
    assert not extraction.is_transient(ValueError("bad"))
    assert not extraction.is_transient(KeyError("x"))


# -- backfills --------------------------------------------------------------------------------
def test_backfill_rerun_after_a_failure_skips_committed_days_and_matches_an_uninterrupted_run(
    tmp_path, corpus, extractor
):
    store = Store(tmp_path / "flow")
    third_day = {f"doi:2.{i}" for i in range(5)}
    extractor(Counting(fail=lambda n, docs: RuntimeError("crash") if third_day
                       & set(docs.column("doc_id").to_pylist()) else None))
    with pytest.raises(RuntimeError, match="crash"):
        backfill(DAYS[0], DAYS[-1], source=str(corpus), home=str(store.home), chunk_days=2)
    assert committed_days(store) == DAYS[:2]  # the first chunk was committed

    again = extractor(Counting())
    result = backfill(DAYS[0], DAYS[-1], source=str(corpus), home=str(store.home),
                      chunk_days=2)
    assert result["skipped_days"] == [d.isoformat() for d in DAYS[:2]]
    assert result["days"] == [d.isoformat() for d in DAYS[2:]]
    # day 3 is extracted again; day 4 too unless its task finished (and was cached) before
    # the failure stopped the first run
    assert again.documents >= 5
    assert again.documents + result["cached_documents"] == 10
    assert differences(store, library_store(tmp_path, corpus, DAYS)) == {}


def test_forced_backfill_recomputes_from_the_cache_without_calling_the_extractor(
    tmp_path, corpus, extractor
):
    store = Store(tmp_path / "flow")
    first = extractor(Counting())
    backfill(DAYS[0], DAYS[-1], source=str(corpus), home=str(store.home), chunk_days=2)
    assert first.documents == 20

    forced = extractor(Counting())
    result = backfill(DAYS[0], DAYS[-1], source=str(corpus), home=str(store.home),
                      chunk_days=2, force=True)
    assert forced.calls == 0
    assert result["days"] == [d.isoformat() for d in DAYS] and result["skipped_days"] == []
    assert result["cached_documents"] == 20
    assert differences(store, library_store(tmp_path, corpus, DAYS)) == {}


def test_backfill_publishes_one_summary_for_all_its_chunks_and_a_progress_bar(
    tmp_path, corpus, extractor
):
    state = backfill(DAYS[0], DAYS[-1], source=str(corpus), home=str(tmp_path / "s"),
                     chunk_days=3, return_state=True)
    result = state.result()
    assert (result["documents"], result["assertions"]) == (20, 24)
    by_key = {a.key: a for a in artifacts_of(state)}
    assert set(by_key) == {"litkg-backfill", "litkg-backfill-progress"}
    assert "| 20 | 24 |" in by_key["litkg-backfill"].data
    assert by_key["litkg-backfill-progress"].data == 100.0


# -- one writer at a time ---------------------------------------------------------------------
def test_a_run_finding_the_store_locked_fails_clearly_or_waits_for_it(
    tmp_path, corpus, extractor
):
    store = Store(tmp_path / "flow")
    with store.writer():
        with pytest.raises(StoreLocked, match=r"is being written by pid \d+.*waited \d+ s"):
            process_day(DAYS[0], source=str(corpus), home=str(store.home), lock_timeout=0.5)
        with pytest.raises(StoreLocked, match="is being written by pid"):
            process_day(DAYS[0], source=str(corpus), home=str(store.home), lock_timeout=0)

    held = threading.Event()

    def hold_for_a_while() -> None:
        with store.writer():
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold_for_a_while)
    holder.start()
    held.wait(10)
    t0 = time.monotonic()
    result = process_day(DAYS[0], source=str(corpus), home=str(store.home), lock_timeout=30)
    assert time.monotonic() - t0 >= 1.0
    assert result["days"] == [DAYS[0].isoformat()]
    holder.join()


def test_two_backfills_at_once_over_overlapping_days_end_with_one_correct_store(
    tmp_path, corpus, extractor
):
    extractor(Counting(delay=0.05))
    store = Store(tmp_path / "flow")
    results, errors = {}, []

    def run(name: str, start: date, end: date) -> None:
        try:
            results[name] = backfill(start, end, source=str(corpus), home=str(store.home),
                                     chunk_days=1, lock_timeout=60)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=("a", DAYS[0], DAYS[2])),
               threading.Thread(target=run, args=("b", DAYS[1], DAYS[3]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    done = set(results["a"]["days"]) | set(results["b"]["days"])
    assert done == {d.isoformat() for d in DAYS}
    assert differences(store, library_store(tmp_path, corpus, DAYS)) == {}


# -- nightly ----------------------------------------------------------------------------------
def test_previous_day_is_yesterday_in_the_given_timezone():
    late_utc = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Berlin
    assert config.previous_day(late_utc, "UTC") == date(2024, 2, 29)
    assert config.previous_day(late_utc, "Europe/Berlin") == date(2024, 3, 1)
    assert config.previous_day(datetime(2024, 3, 2, 3, 0, tzinfo=UTC),
                               "America/New_York") == date(2024, 2, 29)


def test_nightly_processes_the_day_before_its_scheduled_time(tmp_path, extractor):
    before = datetime.now(UTC).date() - timedelta(days=1)
    src = write_docs(tmp_path / "in.jsonl", [
        ("doi:y", before, abstract(claim("A", "improves", "B"))),
        ("doi:t", before + timedelta(days=1), abstract(claim("A", "degrades", "B"))),
    ])
    result = nightly(source=str(src), home=str(tmp_path / "s"), timezone="UTC")
    after = datetime.now(UTC).date() - timedelta(days=1)
    assert result["days"] in ([before.isoformat()], [after.isoformat()])
    explicit = nightly(day=date(2024, 1, 2), source=str(src), home=str(tmp_path / "s"))
    assert explicit["days"] == ["2024-01-02"] and explicit["documents"] == 0


# -- configuration ----------------------------------------------------------------------------
def test_parameters_not_given_or_left_unresolved_by_deploy_are_read_from_the_environment(
    monkeypatch,
):
    monkeypatch.setenv("LITKG_HOME", "/env/home")
    monkeypatch.setenv("LITKG_SOURCE", "/a:/b")
    assert config.from_env("{{ $LITKG_HOME }}", "LITKG_HOME") == "/env/home"
    assert config.from_env(None, "LITKG_HOME") == "/env/home"
    assert config.from_env("/given", "LITKG_HOME") == "/given"
    assert config.source_paths("{{ $LITKG_SOURCE }}") == ["/a", "/b"]
    assert config.source_paths(["{{ $LITKG_SOURCE }}"]) == ["/a", "/b"]
    assert config.source_paths("/x:/y") == ["/x", "/y"]
    assert config.source_paths(["/x"]) == ["/x"]
    monkeypatch.delenv("LITKG_SOURCE")
    assert config.source_paths("{{ $LITKG_SOURCE }}") == []
    assert config.from_env("{{ $LITKG_EXTRACTOR }}", "LITKG_EXTRACTOR", "spacy") == "spacy"


def test_run_settings_come_from_parameters_then_environment_then_defaults(monkeypatch):
    assert config.RunSettings.load() == config.RunSettings()
    monkeypatch.setenv("LITKG_EXTRACT_CONCURRENCY", "8")
    monkeypatch.setenv("LITKG_LOCK_TIMEOUT_S", "5")
    s = config.RunSettings.load(extract_concurrency=2, docs_per_task=None)
    assert (s.extract_concurrency, s.docs_per_task, s.lock_timeout_s) == (2, 100, 5.0)
    with pytest.raises(ValueError):
        config.RunSettings.load(docs_per_task=0)


def test_extraction_task_runner_is_chosen_by_the_environment(monkeypatch):
    runner = config.extraction_task_runner()
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 4
    monkeypatch.setenv("LITKG_THREADS", "7")
    assert config.extraction_task_runner()._max_workers == 7

    from prefect_dask import DaskTaskRunner

    monkeypatch.setenv("LITKG_TASK_RUNNER", "dask")
    local = config.extraction_task_runner()
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs == {"n_workers": 2, "threads_per_worker": 2,
                                    "dashboard_address": None}
    monkeypatch.delenv("LITKG_TASK_RUNNER")
    monkeypatch.setenv("LITKG_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    remote = config.extraction_task_runner()
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    monkeypatch.setenv("LITKG_TASK_RUNNER", "ray")
    with pytest.raises(ValueError, match="threads or dask"):
        config.extraction_task_runner()


def test_prefect_yaml_declares_the_nightly_schedule_and_the_backfill_on_a_process_pool():
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"litkg-nightly", "litkg-backfill", "litkg-verify"}
    night, back = deployments["litkg-nightly"], deployments["litkg-backfill"]
    (schedule,) = night["schedules"]
    assert schedule["cron"] == "0 2 * * *"
    assert schedule["timezone"] == night["parameters"]["timezone"]
    assert "schedules" not in back
    assert night["work_pool"]["name"] == back["work_pool"]["name"] == "litkg-process"
    for d in (night, back):
        path, name = d["entrypoint"].split(":")
        assert (REPO / path).exists() and name in {"nightly", "backfill"}
        assert d["parameters"]["home"] == "{{ $LITKG_HOME }}"
    assert deployments["litkg-verify"]["entrypoint"] == "flows/pipeline.py:verify"
    assert "pull" not in spec  # prefect deploy records the deploying directory
