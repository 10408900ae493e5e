"""Prefect flows: thin orchestration over the library functions in `litkg.pipeline`.

- `process_days_flow`: prepare (ingest) -> extract (tasks mapped over days, run concurrently,
  retried with exponential backoff and jitter, tagged for a concurrency limit) -> commit
  (store, construct, snapshot) -> a Markdown artifact with the run's summary.
- `nightly`: the day before "now" in the deployment's timezone, unless a date is given.
- `backfill`: a date range, in chunks of days; each chunk is committed, so a rerun after a
  crash skips the committed chunks and finishes the rest.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from litkg.extractors import make_extractor
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from litkg.extraction_cache import ExtractionCache
from litkg.pipeline import (
    DayExtraction,
    RunSummary,
    commit_run,
    days_between,
    extract_day,
    prepare,
)
from litkg.store import Store

EXTRACT_TAG = "litkg-extract"  # `prefect concurrency-limit create litkg-extract N` caps it


def _sources(source: list[str] | None) -> list[str]:
    if source:
        return list(source)
    env = os.environ.get("LITKG_SOURCE", "")
    return [p for p in env.split(os.pathsep) if p]


@task(
    name="extract-day",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    tags=[EXTRACT_TAG],
)
def extract_day_task(
    day: date, docs, home: str | None, extractor: str, vocabulary: str  # noqa: ANN001
) -> DayExtraction:
    """Extract one day's documents (cache first); no store writes, so safe in parallel."""
    store = Store(home)
    ex = make_extractor(extractor, vocabulary=vocabulary)
    result = extract_day(day, docs, ex, ExtractionCache(store.cache_dir / "extract"))
    get_run_logger().info(
        "%s: %d documents, %d assertions (%d from cache)",
        day, docs.num_rows, result.assertions.num_rows, result.cached,
    )
    return result


def run_days(
    days: list[date],
    source: list[str] | None,
    home: str | None,
    extractor: str,
    vocabulary: str,
    force: bool,
) -> RunSummary:
    """Prepare, extract concurrently, commit: one committed unit of work."""
    logger = get_run_logger()
    store = Store(home)
    plan = prepare(store, days, sources=_sources(source), force=force, lock_timeout=0)
    logger.info("%d day(s) to process, %d already committed", len(plan.documents),
                len(plan.skipped))
    work = sorted(plan.documents.items())
    futures = extract_day_task.map(
        [d for d, _ in work], [docs for _, docs in work], unmapped(home), unmapped(extractor),
        unmapped(vocabulary),
    )
    extractions = [f.result() for f in futures]
    ex_key = make_extractor(extractor, vocabulary=vocabulary).config_key()
    summary = commit_run(store, plan, extractions, extractor_key=ex_key, vocabulary=vocabulary)
    return summary


def _publish(summary: RunSummary, key: str) -> dict:
    create_markdown_artifact(markdown=summary.to_markdown(), key=key,
                             description="litkg run summary")
    return summary.to_dict()


@flow(name="litkg-process-days", task_runner=ThreadPoolTaskRunner(max_workers=4))
def process_days_flow(
    days: list[date],
    source: list[str] | None = None,
    home: str | None = None,
    extractor: str = "spacy",
    vocabulary: str = "ml",
    force: bool = False,
) -> dict:
    """Process the given days as one committed unit."""
    summary = run_days(days, source, home, extractor, vocabulary, force)
    return _publish(summary, "litkg-run")


@flow(name="litkg-nightly", task_runner=ThreadPoolTaskRunner(max_workers=4))
def nightly(
    day: date | None = None,
    source: list[str] | None = None,
    home: str | None = None,
    timezone: str = "UTC",
    extractor: str = "spacy",
    vocabulary: str = "ml",
) -> dict:
    """Process yesterday (in `timezone`), or `day` if given."""
    target = day or (datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1))
    summary = run_days([target], source, home, extractor, vocabulary, force=False)
    return _publish(summary, "litkg-nightly")


@flow(name="litkg-backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))
def backfill(
    start: date,
    end: date,
    source: list[str] | None = None,
    home: str | None = None,
    force: bool = False,
    chunk_days: int = 31,
    extractor: str = "spacy",
    vocabulary: str = "ml",
) -> dict:
    """Process [start, end] in committed chunks; rerunning resumes where it stopped."""
    days = days_between(start, end)
    total = RunSummary(run_id="backfill")
    for i in range(0, len(days), max(1, chunk_days)):
        chunk = days[i : i + chunk_days]
        summary = run_days(chunk, source, home, extractor, vocabulary, force)
        total.days += summary.days
        total.skipped_days += summary.skipped_days
        total.documents += summary.documents
        total.assertions += summary.assertions
        total.quarantined = max(total.quarantined, summary.quarantined)
        for k, v in summary.changes.items():
            total.changes[k] = total.changes.get(k, 0) + v
        for k, v in summary.stage_seconds.items():
            total.add_time(k, v)
        total.top_reinforced = summary.top_reinforced or total.top_reinforced
        total.newly_contested += summary.newly_contested
        total.run_id = summary.run_id
        total.wall_s += summary.wall_s
    return _publish(total, "litkg-backfill")
