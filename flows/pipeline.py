"""Prefect flows: thin orchestration over the library steps of `litkg.pipeline`.

    prepare (ingest, list the days to do)          store lock, committed at once
      -> extract: tasks over chunks of documents    no lock; bounded, retried, cached
      -> commit_run: store, construct, snapshot     store lock, one atomic commit
      -> Markdown artifact with the run's summary

- `process_day` / `process_days_flow`: those steps for one day / a list of days.
- `nightly`: the day before the run's scheduled time in the deployment's timezone.
- `backfill`: a date range in chunks of days, each chunk committed; a rerun after a crash or a
  cancellation skips the committed days and finishes the rest; `force=True` recomputes (from
  the extraction cache). Only one chunk is ever constructed at a time.

One writer at a time: the store's file lock. A run that finds the store locked waits up to
`lock_timeout` seconds (logging who holds it), then fails with `StoreLocked`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from litkg.flows import extraction
from litkg.flows.config import (
    RunSettings,
    extraction_task_runner,
    from_env,
    previous_day,
    source_paths,
)
from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from litkg.batches import combine
from litkg.pipeline import RunSummary, commit_run, days_between, prepare
from litkg.store import Store, StoreLocked

T = TypeVar("T")


def waiting_for_lock(step: Callable[..., T], *args: Any, lock_timeout: float,
                     **kwargs: Any) -> T:
    """Run a store-writing library step; if another process writes the store, say so and wait
    up to `lock_timeout` seconds before failing with a clear `StoreLocked`."""
    try:
        return step(*args, lock_timeout=0, **kwargs)
    except StoreLocked as exc:
        if lock_timeout <= 0:
            raise
        get_run_logger().warning("%s: waiting up to %.0f s", exc, lock_timeout)
        t0 = time.monotonic()
        try:
            return step(*args, lock_timeout=lock_timeout, **kwargs)
        except StoreLocked as again:
            raise StoreLocked(
                f"{again} (waited {time.monotonic() - t0:.0f} s; raise lock_timeout or "
                "LITKG_LOCK_TIMEOUT_S to wait longer)"
            ) from again


def run_days(
    days: list[date],
    *,
    source: str | list[str] | None,
    home: str | None,
    extractor: str | None,
    vocabulary: str | None,
    force: bool,
    settings: RunSettings,
) -> RunSummary:
    """Prepare, extract (concurrently), commit: one committed unit of work."""
    t0 = time.perf_counter()
    logger = get_run_logger()
    store = Store(from_env(home, "LITKG_HOME"))
    extractor = from_env(extractor, "LITKG_EXTRACTOR", "spacy")
    vocabulary = from_env(vocabulary, "LITKG_VOCABULARY", "ml")
    plan = waiting_for_lock(prepare, store, days, sources=source_paths(source), force=force,
                            lock_timeout=settings.lock_timeout_s)
    logger.info("%s: %d day(s) to process, %d already committed (store %s)",
                _span(days), len(plan.documents), len(plan.skipped), store.home)
    # built here first: a bad name fails before any task, and the model loads once
    key = (extraction.build_extractor(extractor, vocabulary, str(store.home)).config_key()
           if plan.documents else "")
    t_extract = time.perf_counter()
    extractions = extraction.extract_plan(plan, home=str(store.home), extractor=extractor,
                                          vocabulary=vocabulary, settings=settings)
    t_extract = time.perf_counter() - t_extract
    summary = waiting_for_lock(commit_run, store, plan, extractions, extractor_key=key,
                               vocabulary=vocabulary, lock_timeout=settings.lock_timeout_s)
    if extractions:  # tasks overlap: report the stage's wall time, not the sum of the tasks'
        summary.stage_seconds["extract"] = round(t_extract, 4)
    summary.wall_s = time.perf_counter() - t0
    logger.info("%s: %d documents (%d from cache), %d assertions, changes %s, %.2f s",
                _span(days), summary.documents, summary.cached_documents, summary.assertions,
                summary.changes, summary.wall_s)
    return summary


def publish(summary: RunSummary, key: str) -> dict:
    """The run's Markdown artifact; returns the summary as a dict (the flow's result)."""
    create_markdown_artifact(markdown=summary.to_markdown(), key=key,
                             description="litkg run summary")
    return summary.to_dict()


def run_settings(extract_concurrency: int | None, docs_per_task: int | None,
                 lock_timeout: float | None) -> RunSettings:
    """This run's settings (parameters, else environment), logged with the task runner."""
    settings = RunSettings.load(extract_concurrency=extract_concurrency,
                                docs_per_task=docs_per_task, lock_timeout_s=lock_timeout)
    context = FlowRunContext.get()
    runner = type(context.task_runner).__name__ if context else "?"
    get_run_logger().info(
        "extraction on %s: at most %d tasks in flight, %d documents per task, %d retries; "
        "waits up to %.0f s for the store lock", runner, settings.extract_concurrency,
        settings.docs_per_task, settings.retries, settings.lock_timeout_s)
    return settings


def _span(days: list[date]) -> str:
    return f"{days[0]}..{days[-1]}" if len(days) > 1 else str(days[0]) if days else "-"


def _run_id() -> str:
    return str(flow_run.id or "local")


@flow(name="litkg-process-days", task_runner=extraction_task_runner())
def process_days_flow(
    days: list[date],
    source: str | list[str] | None = None,
    home: str | None = None,
    extractor: str | None = None,
    vocabulary: str | None = None,
    force: bool = False,
    extract_concurrency: int | None = None,
    docs_per_task: int | None = None,
    lock_timeout: float | None = None,
) -> dict:
    """Process the given days as one committed unit; publishes `litkg-run`."""
    settings = run_settings(extract_concurrency, docs_per_task, lock_timeout)
    summary = run_days(sorted(set(days)), source=source, home=home, extractor=extractor,
                       vocabulary=vocabulary, force=force, settings=settings)
    return publish(summary, "litkg-run")


@flow(name="litkg-process-day", task_runner=extraction_task_runner())
def process_day(
    day: date,
    source: str | list[str] | None = None,
    home: str | None = None,
    extractor: str | None = None,
    vocabulary: str | None = None,
    force: bool = False,
    extract_concurrency: int | None = None,
    docs_per_task: int | None = None,
    lock_timeout: float | None = None,
) -> dict:
    """Ingest, extract, construct and snapshot one day; publishes `litkg-run`."""
    settings = run_settings(extract_concurrency, docs_per_task, lock_timeout)
    summary = run_days([day], source=source, home=home, extractor=extractor,
                       vocabulary=vocabulary, force=force, settings=settings)
    return publish(summary, "litkg-run")


@flow(name="litkg-nightly", task_runner=extraction_task_runner())
def nightly(
    day: date | None = None,
    source: str | list[str] | None = None,
    home: str | None = None,
    timezone: str | None = None,
    extractor: str | None = None,
    vocabulary: str | None = None,
    extract_concurrency: int | None = None,
    docs_per_task: int | None = None,
    lock_timeout: float | None = None,
) -> dict:
    """Process `day`, by default the day before the run's scheduled time in `timezone`
    (a run that starts late still processes the day it was scheduled for)."""
    tz = from_env(timezone, "LITKG_TIMEZONE", "UTC")
    target = day or previous_day(flow_run.scheduled_start_time, tz)
    get_run_logger().info("nightly run for %s (timezone %s)", target, tz)
    settings = run_settings(extract_concurrency, docs_per_task, lock_timeout)
    summary = run_days([target], source=source, home=home, extractor=extractor,
                       vocabulary=vocabulary, force=False, settings=settings)
    return publish(summary, "litkg-nightly")


@flow(name="litkg-backfill", task_runner=extraction_task_runner(),
      flow_run_name="backfill-{start}-{end}")
def backfill(
    start: date,
    end: date,
    force: bool = False,
    source: str | list[str] | None = None,
    home: str | None = None,
    chunk_days: int = 31,
    extractor: str | None = None,
    vocabulary: str | None = None,
    extract_concurrency: int | None = None,
    docs_per_task: int | None = None,
    lock_timeout: float | None = None,
) -> dict:
    """Process [start, end] in committed chunks of `chunk_days`; rerunning resumes where it
    stopped; `force` recomputes every day. Publishes `litkg-backfill` and a progress bar."""
    t0 = time.perf_counter()
    settings = run_settings(extract_concurrency, docs_per_task, lock_timeout)
    days = days_between(start, end)
    step = max(1, chunk_days)
    groups = [days[i : i + step] for i in range(0, len(days), step)]
    progress = create_progress_artifact(0.0, key="litkg-backfill-progress",
                                        description=f"days {start}..{end} committed")
    summaries = []
    for n, group in enumerate(groups, 1):
        summaries.append(run_days(group, source=source, home=home, extractor=extractor,
                                  vocabulary=vocabulary, force=force, settings=settings))
        update_progress_artifact(progress, 100.0 * n / len(groups))
    total = combine(summaries, _run_id())
    total.wall_s = time.perf_counter() - t0
    return publish(total, "litkg-backfill")


@flow(name="litkg-verify")
def verify(home: str | None = None) -> dict:
    """Rebuild the graph in a scratch area and compare each derived table's checksum with the
    live store (read-only, no lock). The run fails when a table differs: the incremental commit
    then disagrees with its specification, and `litkg rebuild` repairs the store."""
    from litkg.rebuild import verify as verify_store

    store = Store(from_env(home, "LITKG_HOME"))
    checks = verify_store(store)
    lines = ["| table | live rows | rebuilt rows | same |", "|---|---|---|---|"]
    lines += [f"| {c.table} | {c.live_rows} | {c.rebuilt_rows} | {'yes' if c.ok else 'NO'} |"
              for c in checks]
    create_markdown_artifact("\n".join(lines), key="litkg-verify",
                             description=f"verify {store.home}")
    bad = [c.table for c in checks if not c.ok]
    if bad:
        raise RuntimeError(f"store {store.home} differs from a rebuild in {', '.join(bad)}; "
                           "run `litkg rebuild`")
    return {c.table: c.live_rows for c in checks}
