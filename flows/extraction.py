"""The extraction step as Prefect tasks: chunks of one day's documents, at most N in flight per
run, retried with exponential backoff and jitter when the error is transient.

Each task calls `litkg.pipeline.extract_day` on its chunk (the extraction cache first, so a
retried, resumed or forced run never pays the extractor twice for a document); its results are
merged back into one `DayExtraction` per day for `commit_run`.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
from litkg.extractors import make_extractor
from litkg.extractors.base import empty_assertions
from litkg.flows.config import RunSettings
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.tasks import exponential_backoff

from litkg.extraction_cache import ExtractionCache
from litkg.pipeline import DayExtraction, WorkPlan, extract_day
from litkg.store import Store

#: Tag of every extraction task: `prefect concurrency-limit create litkg-extract N` caps them
#: across all runs (a shared GPU server); `extract_concurrency` caps them within one run.
EXTRACT_TAG = "litkg-extract"

#: Exceptions worth retrying, by module root and class name anywhere in the MRO (so that
#: httpx/openai/distributed need not be imported to recognise theirs).
TRANSIENT = {
    "httpx.TransportError", "httpx.TimeoutException",
    "openai.APIConnectionError", "openai.APITimeoutError", "openai.RateLimitError",
    "openai.InternalServerError",
    "distributed.CommClosedError", "tornado.StreamClosedError",
}


#: HTTP statuses worth retrying (timeout, too early, too many requests, server errors).
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


def is_transient(exc: BaseException) -> bool:
    """A connection, timeout or overload error: retrying later may succeed."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    names = {f"{c.__module__.split('.')[0]}.{c.__name__}" for c in type(exc).__mro__}
    if names & TRANSIENT:
        return True
    # an HTTP error carrying its status (httpx.HTTPStatusError, openai.APIStatusError)
    status = getattr(exc, "status_code", None) or getattr(
        getattr(exc, "response", None), "status_code", None)
    return status in TRANSIENT_STATUS


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn` of the extraction task: retry transient errors only."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            exc = state.result(raise_on_failure=False)
        except Exception as error:  # noqa: BLE001 - whatever it is, it explains the failure
            exc = error
    return isinstance(exc, BaseException) and is_transient(exc)


_building = threading.Lock()


def build_extractor(name: str, vocabulary: str, home: str | None = None) -> Any:
    """The extractor a task uses. Its model is cached per process; the lock makes concurrent
    tasks wait for the first load instead of each loading it. The LLM extractor's response
    cache goes under the run's store (`home`), not `$LITKG_HOME`, unless
    `LITKG_LLM_CACHE_DIR` says otherwise."""
    options: dict[str, Any] = {}
    if name == "llm" and home and not os.environ.get("LITKG_LLM_CACHE_DIR"):
        options["cache_dir"] = Store(home).cache_dir / "llm"
    with _building:
        return make_extractor(name, vocabulary=vocabulary, **options)


@task(
    name="extract-chunk",
    tags=[EXTRACT_TAG],
    cache_policy=NO_CACHE,  # the content-addressed extraction cache does this job
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_if_transient,
    task_run_name="extract-{day}",
)
def extract_chunk(day: date, docs: pa.Table, home: str, extractor: str,
                  vocabulary: str) -> DayExtraction:
    """Extract a chunk of one day's documents, cache first; no store writes (parallel-safe)."""
    ex = build_extractor(extractor, vocabulary, home)
    return extract_day(day, docs, ex, ExtractionCache(Store(home).cache_dir / "extract"))


def chunks(docs: pa.Table, size: int) -> list[pa.Table]:
    return [docs.slice(i, size) for i in range(0, docs.num_rows, size)]


def in_flight_at_most(futures_of: Any, jobs: list[tuple], limit: int) -> Iterator[
        tuple[tuple, PrefectFuture]]:
    """Submit `jobs` through `futures_of(job)` keeping at most `limit` unfinished; yield each
    (job, future) as it finishes. Works with any task runner (threads, Dask)."""
    queue = iter(jobs)
    pending: dict[PrefectFuture, tuple] = {}

    def fill() -> None:
        while len(pending) < limit and (job := next(queue, None)) is not None:
            pending[futures_of(job)] = job

    fill()
    while pending:
        done = next(as_completed(list(pending)))
        yield pending.pop(done), done
        fill()


def merge_day(day: date, docs: pa.Table, parts: list[DayExtraction]) -> DayExtraction:
    """One day's extraction from the extractions of its chunks (documents: the whole day's)."""
    if not parts:
        return DayExtraction(day, docs, empty_assertions(), [], {}, 0, 0.0)
    first = parts[0].assertions.schema
    extras: dict[str, list[pa.Table]] = defaultdict(list)
    for p in parts:
        for name, table in p.extras.items():
            extras[name].append(table)
    return DayExtraction(
        day=day,
        documents=docs,
        assertions=pa.concat_tables([p.assertions.cast(first) for p in parts]),
        failures=[f for p in parts for f in p.failures],
        extras={
            n: pa.concat_tables([t.cast(ts[0].schema) for t in ts]) for n, ts in extras.items()
        },
        cached=sum(p.cached for p in parts),
        seconds=sum(p.seconds for p in parts),
    )


def extract_plan(plan: WorkPlan, *, home: str, extractor: str, vocabulary: str,
                 settings: RunSettings) -> list[DayExtraction]:
    """Extract every day of `plan`: tasks over chunks of documents, bounded, merged by day.

    A chunk that still fails after its retries fails the run (earlier commits stay; chunks
    already extracted are in the cache for the rerun)."""
    extract = extract_chunk.with_options(
        retries=settings.retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=settings.retry_delay_s),
    )
    jobs = [
        (day, chunk)
        for day, docs in sorted(plan.documents.items())
        for chunk in chunks(docs, settings.docs_per_task)
    ]
    parts: dict[date, list[DayExtraction]] = defaultdict(list)
    for (day, _), future in in_flight_at_most(
        lambda job: extract.submit(job[0], job[1], home, extractor, vocabulary),
        jobs, settings.extract_concurrency,
    ):
        parts[day].append(future.result())
    return [merge_day(day, docs, parts[day]) for day, docs in sorted(plan.documents.items())]
