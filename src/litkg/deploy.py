"""Prefect deployments from an installed litkg (`litkg deploy`), no checkout needed.

The checkout way is `prefect deploy --all` with prefect.yaml, whose entrypoints are files
(`flows/pipeline.py:nightly`) found from the repository. An installed package has no such
files on a path the worker knows, so these deployments name module entrypoints
(`litkg.flows.pipeline.nightly`) that the worker imports from its environment; paths are made
absolute because a process worker runs each flow in a temporary directory.

`DEPLOYMENTS` and prefect.yaml describe the same deployments (tests/test_deploy.py checks that
they agree): change both together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_POOL = "litkg-process"
DEFAULT_TIMEZONE = "Europe/Berlin"
FLOWS_MODULE = "litkg.flows.pipeline"
#: Library logs go into each run's Prefect logs.
JOB_ENV = {"PREFECT_LOGGING_EXTRA_LOGGERS": "litkg"}


@dataclass(frozen=True)
class Spec:
    """One deployment: its flow in `litkg.flows.pipeline`, schedule and parameters."""

    name: str
    flow: str
    description: str
    cron: str | None = None
    scheduled_in_timezone: bool = False  # gets a `timezone` parameter (its "yesterday")
    store_only: bool = False  # reads only the store: no sources, extractor or vocabulary


DEPLOYMENTS: tuple[Spec, ...] = (
    Spec(
        name="litkg-nightly",
        flow="nightly",
        description="Process yesterday's abstracts (in the schedule's timezone) every night "
        "at 02:00.",
        cron="0 2 * * *",
        scheduled_in_timezone=True,
    ),
    Spec(
        name="litkg-backfill",
        flow="backfill",
        description="Process a date range (start, end) in committed chunks; rerun the same "
        "range to resume after a crash, force=true to recompute.",
    ),
    Spec(
        name="litkg-verify",
        flow="verify",
        description="Every Sunday at 04:00: rebuild in a scratch area and compare per-table "
        "checksums with the live store; the run fails if they differ.",
        cron="0 4 * * 0",
        store_only=True,
    ),
)


@dataclass(frozen=True)
class Settings:
    """What a user chooses at deploy time; None leaves it to the worker's environment."""

    pool: str = DEFAULT_POOL
    home: Path | None = None
    sources: tuple[str, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    cron: str | None = None  # overrides the nightly schedule
    extractor: str | None = None
    vocabulary: str | None = None

    def parameters(self, spec: Spec) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.home is not None:
            params["home"] = str(self.home.expanduser().resolve())
        if spec.store_only:
            return params
        if self.sources:  # globs stay globs, anchored where `litkg deploy` ran
            params["source"] = [_absolute(s) for s in self.sources]
        if self.extractor:
            params["extractor"] = self.extractor
        if self.vocabulary:
            params["vocabulary"] = (_absolute(self.vocabulary)
                                    if self.vocabulary.endswith((".yaml", ".yml"))
                                    else self.vocabulary)
        if spec.scheduled_in_timezone:
            params["timezone"] = self.timezone
        return params


def _absolute(path: str) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else Path.cwd() / p)


def build(settings: Settings) -> list[Any]:
    """The deployments as Prefect `RunnerDeployment`s (nothing is sent to a server)."""
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from litkg import __version__
    from litkg.flows import pipeline

    out = []
    for spec in DEPLOYMENTS:
        # --cron reschedules the nightly run; other schedules keep theirs
        cron = (settings.cron or spec.cron) if spec.scheduled_in_timezone else spec.cron
        out.append(RunnerDeployment.from_flow(
            getattr(pipeline, spec.flow),
            name=spec.name,
            description=spec.description,
            schedules=[Cron(cron, timezone=settings.timezone)] if cron else None,
            parameters=settings.parameters(spec),
            version=__version__,
            work_pool_name=settings.pool,
            job_variables={"env": dict(JOB_ENV)},
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return out


def api_url() -> str | None:
    """The Prefect server deployments go to; None when only a temporary one would start."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def ensure_pool(name: str) -> bool:
    """Create the work pool as a `process` pool unless it exists; True if it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=name, type=ProcessWorker.type,
                base_job_template=ProcessWorker.get_default_base_job_template()))
            return True


def apply(built: list[Any]) -> dict[str, str]:
    """Create or update the deployments `build` made on the server; their ids by name."""
    return {d.name: str(d.apply()) for d in built}
