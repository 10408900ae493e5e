"""How the flows run: settings from the environment with per-run overrides, the task runner
that extracts, and parameter defaults read from the environment.

Environment (the worker's, or a deployment's `job_variables.env`):

| variable | default | meaning |
|---|---|---|
| `LITKG_HOME` | `./data/store` | the store |
| `LITKG_SOURCE` | none | input paths, `os.pathsep`-separated |
| `LITKG_EXTRACTOR`, `LITKG_VOCABULARY` | `spacy`, `ml` | extractor name; vocabulary |
| `LITKG_TIMEZONE` | `UTC` | the nightly run's "yesterday" is computed in this zone |
| `LITKG_EXTRACT_CONCURRENCY` | 4 | extraction tasks in flight per run |
| `LITKG_DOCS_PER_TASK` | 100 | documents per extraction task |
| `LITKG_EXTRACT_RETRIES` | 3 | retries of a task failing with a transient error |
| `LITKG_RETRY_DELAY_S` | 2 | first retry delay; doubles each retry, ±50 % jitter |
| `LITKG_LOCK_TIMEOUT_S` | 1800 | how long a run waits for another writer of the store |
| `LITKG_TASK_RUNNER` | `threads` | `threads` or `dask` |
| `LITKG_THREADS` | extract concurrency | thread pool size (`threads`) |
| `LITKG_DASK_ADDRESS` | none | an existing Dask scheduler (`tcp://host:8786`); implies `dask` |
| `LITKG_DASK_WORKERS`, `LITKG_DASK_THREADS` | 2, 2 | local Dask cluster started per run otherwise |
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

_PLACEHOLDER = re.compile(r"^\s*\{\{\s*\$?[\w.\-\[\]]+\s*\}\}\s*$")
log = logging.getLogger("litkg.flows")


def is_placeholder(value: Any) -> bool:
    """True for a `{{ $VAR }}` left in place: `prefect deploy` keeps it when VAR is unset."""
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


def from_env(value: Any, variable: str, default: Any = None) -> Any:
    """A parameter's value; when not given (None, "" or an unresolved placeholder), the
    environment variable `variable` of this run, else `default`."""
    if is_placeholder(value):
        log.warning("parameter %r was not resolved at deploy time; reading $%s", value, variable)
        value = None
    if value is None or value == "":
        value = os.environ.get(variable) or default
    return value


def source_paths(source: str | list[str] | None) -> list[str]:
    """Input paths from a parameter (a list, or one `os.pathsep`-separated string) or
    `$LITKG_SOURCE`; none means: process what the store already holds."""
    if isinstance(source, list):
        source = [s for s in source if s and not is_placeholder(s)] or None
    value = from_env(source, "LITKG_SOURCE")
    if not value:
        return []
    if isinstance(value, str):
        return [p for p in value.split(os.pathsep) if p]
    return list(value)


def previous_day(now: datetime, timezone: str) -> date:
    """The calendar day before `now` as seen in `timezone` (the nightly run's target)."""
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


@dataclass(frozen=True)
class RunSettings:
    """Knobs of one run; each from its parameter if given, else the environment, else here."""

    extract_concurrency: int = 4  # LITKG_EXTRACT_CONCURRENCY
    docs_per_task: int = 100  # LITKG_DOCS_PER_TASK
    retries: int = 3  # LITKG_EXTRACT_RETRIES
    retry_delay_s: float = 2.0  # LITKG_RETRY_DELAY_S
    lock_timeout_s: float = 1800.0  # LITKG_LOCK_TIMEOUT_S

    @classmethod
    def load(cls, **overrides: Any) -> RunSettings:
        values: dict[str, Any] = {}
        for f in fields(cls):
            given = overrides.get(f.name)
            kind = int if f.type in ("int", int) else float
            if given is None:
                given = os.environ.get(f"LITKG_{f.name.upper()}")
            values[f.name] = f.default if given in (None, "") else kind(given)
        settings = cls(**values)
        if settings.extract_concurrency < 1 or settings.docs_per_task < 1:
            raise ValueError("extract_concurrency and docs_per_task must be at least 1")
        return settings


def extraction_task_runner() -> TaskRunner:
    """The task runner extraction tasks are submitted to, chosen by the environment."""
    address = os.environ.get("LITKG_DASK_ADDRESS")
    kind = os.environ.get("LITKG_TASK_RUNNER") or ("dask" if address else "threads")
    if kind == "threads":
        threads = os.environ.get("LITKG_THREADS") or RunSettings.load().extract_concurrency
        return ThreadPoolTaskRunner(max_workers=int(threads))
    if kind == "dask":
        from prefect_dask import DaskTaskRunner  # the `dask` extra

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": int(os.environ.get("LITKG_DASK_WORKERS") or 2),
            "threads_per_worker": int(os.environ.get("LITKG_DASK_THREADS") or 2),
            "dashboard_address": None,
        })
    raise ValueError(f"LITKG_TASK_RUNNER must be threads or dask, not {kind!r}")
