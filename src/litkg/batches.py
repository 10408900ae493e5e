"""The write side for Python pipelines: `litkg.run` (one nightly batch) and `litkg.backfill`
(a date range). Both call `pipeline.process_days`, the function behind `litkg run`/`backfill`
on the command line, and return its `RunSummary` (`.to_dict()`, `.to_markdown()`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

from litkg.extractors.base import Extractor
from litkg.pipeline import RunSummary, days_between, process_days
from litkg.sources import SourceOptions
from litkg.store import Store

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
             source_options: SourceOptions | None = None) -> RunSummary:
    """Ingest `sources` and process every day in [start, end] into the store at `home`
    (default: $LITKG_HOME or ./data/store). Committed days are skipped unless `force` or they
    got new documents. `extractor`: "spacy", "llm" or an `Extractor` instance."""
    store = Store(home)
    return process_days(store, days_between(_day(start, "start"), _day(end, "end")),
                        sources=list(sources), extractor=_extractor(extractor, vocabulary, store),
                        vocabulary=vocabulary, force=force, source_options=source_options)


def run(day: Day | None = None, *, sources: Iterable[str | Path] = (),
        home: str | Path | None = None, extractor: str | Extractor = "spacy",
        vocabulary: str = "ml", force: bool = False,
        source_options: SourceOptions | None = None) -> RunSummary:
    """Process one nightly batch: `day` (default: yesterday), as `litkg run --date`."""
    d = _day(day, "day") if day is not None else date.today() - timedelta(days=1)
    return backfill(d, d, sources=sources, home=home, extractor=extractor,
                    vocabulary=vocabulary, force=force, source_options=source_options)
