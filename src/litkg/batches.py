"""The write side for Python pipelines: `litkg.run` (one nightly batch) and `litkg.backfill`
(a date range). Both call `pipeline.process_days`, the function behind `litkg run`/`backfill`
on the command line, and return its `RunSummary` (`.to_dict()`, `.to_markdown()`). A range
longer than `chunk_days` is committed in chunks (`process_range`), as the Prefect backfill does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

from litkg.extractors.base import Extractor
from litkg.pipeline import RunSummary, days_between, process_days
from litkg.sources import DEFAULT_OPTIONS, SourceOptions
from litkg.store import Store

#: Days per commit of a long backfill: what a run holds in memory (the documents and
#: assertions of its days) and what a crash can cost (the extraction cache keeps the rest).
CHUNK_DAYS = 31

Day = date | str


def _day(value: Day, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or an ISO date string, got {value!r}") from None


def _extractor(extractor: str | Extractor, vocabulary: str, store: Store) -> Extractor:
    if not isinstance(extractor, str):
        return extractor
    from litkg.extractors import make_extractor

    options = {"cache_dir": store.cache_dir / "llm"} if extractor == "llm" else {}
    return make_extractor(extractor, vocabulary=vocabulary, **options)


def backfill(start: Day, end: Day, *, sources: Iterable[str | Path] = (),
             home: str | Path | None = None, extractor: str | Extractor = "spacy",
             vocabulary: str = "ml", force: bool = False,
             source_options: SourceOptions | None = None,
             chunk_days: int = CHUNK_DAYS) -> RunSummary:
    """Ingest `sources` and process every day in [start, end] into the store at `home`
    (default: $LITKG_HOME or ./data/store), committing every `chunk_days` days. Committed days
    are skipped unless `force` or they got new documents. `extractor`: "spacy", "llm" or an
    `Extractor` instance."""
    store = Store(home)
    return process_range(store, days_between(_day(start, "start"), _day(end, "end")),
                         sources=list(sources), extractor=_extractor(extractor, vocabulary, store),
                         vocabulary=vocabulary, force=force, source_options=source_options,
                         chunk_days=chunk_days)


def run(day: Day | None = None, *, sources: Iterable[str | Path] = (),
        home: str | Path | None = None, extractor: str | Extractor = "spacy",
        vocabulary: str = "ml", force: bool = False,
        source_options: SourceOptions | None = None) -> RunSummary:
    """Process one nightly batch: `day` (default: yesterday), as `litkg run --date`."""
    d = _day(day, "day") if day is not None else date.today() - timedelta(days=1)
    return backfill(d, d, sources=sources, home=home, extractor=extractor,
                    vocabulary=vocabulary, force=force, source_options=source_options)


def process_range(
    store: Store,
    days: list[date],
    *,
    sources: Iterable[str | Path] = (),
    extractor: Extractor,
    vocabulary: str = "ml",
    force: bool = False,
    chunk_days: int = CHUNK_DAYS,
    on_day: Callable[[date, str], None] | None = None,
    lock_timeout: float = 0,
    source_options: SourceOptions | None = None,
) -> RunSummary:
    """`process_days` over `days` in committed chunks of `chunk_days` (0: one commit).

    One commit holds its days' documents and assertions in memory until it is written, so a
    backfill of years in one commit runs out of memory. The sources are read once for the
    whole range first (a chunk asking for its own days would read again every file that spans
    the range); each chunk then processes its days from the store. Failed extractions are
    retried by the first chunk only (each retry counts an attempt). Returns one summary."""
    days = sorted(set(days))
    sources = list(sources)
    kwargs = {"extractor": extractor, "vocabulary": vocabulary, "force": force,
              "on_day": on_day, "lock_timeout": lock_timeout}
    if chunk_days <= 0 or len(days) <= chunk_days:
        return process_days(store, days, sources=sources, source_options=source_options,
                            **kwargs)
    from litkg.ingest import ingest_files

    t0 = time.perf_counter()
    report = None
    if sources:
        with store.writer(timeout=lock_timeout) as tx:
            report = ingest_files(tx, sources, start=days[0], end=days[-1], days=set(days),
                                  force=force, options=source_options or DEFAULT_OPTIONS)
            if report.changed:
                tx.commit(catalog=False)
    ingest_s = time.perf_counter() - t0
    summaries = [process_days(store, days[i:i + chunk_days], retry_failed=i == 0, **kwargs)
                 for i in range(0, len(days), chunk_days)]
    total = combine(summaries, uuid.uuid4().hex)
    if report is not None:
        total.files = {"read": len(report.files_read), "skipped": len(report.files_skipped)}
        total.failed_files = dict(report.failed_files)
        total.quarantined = max(total.quarantined, report.quarantined)
        total.add_time("ingest", ingest_s)
    total.wall_s = time.perf_counter() - t0
    return total


def combine(summaries: list[RunSummary], run_id: str) -> RunSummary:
    """One report for a run made of several commits (a backfill's chunks)."""
    total = RunSummary(run_id=run_id)
    for s in summaries:
        total.days += s.days
        total.skipped_days += s.skipped_days
        total.documents += s.documents
        total.assertions += s.assertions
        total.quarantined = max(total.quarantined, s.quarantined)
        total.extraction_failures += s.extraction_failures
        total.rejected_assertions += s.rejected_assertions
        total.cached_documents += s.cached_documents
        for k, v in s.changes.items():
            total.changes[k] = total.changes.get(k, 0) + v
        for k, v in s.files.items():  # input files read / skipped, and failed (ingest manifest)
            total.files[k] = total.files.get(k, 0) + v
        total.failed_files.update(s.failed_files)
        total.same_day_revisions += s.same_day_revisions
        total.retried_days += s.retried_days
        total.deferred_documents += s.deferred_documents
        for k, v in s.stage_seconds.items():
            total.add_time(k, v)
        total.top_reinforced = s.top_reinforced or total.top_reinforced
        total.newly_contested += s.newly_contested
        total.wall_s += s.wall_s
    modes = dict.fromkeys(s.construct_mode for s in summaries if s.construct_mode)
    total.construct_mode = "+".join(modes)
    return total
