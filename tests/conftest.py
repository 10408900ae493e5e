"""Shared fixtures. Prefect is pointed at a private home with telemetry off before import."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="litkg-prefect-")
# Always private: xdist workers inherit the controller's environment, and two workers sharing
# one Prefect home would share its database.
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402

from litkg.pipeline import days_between, process_days  # noqa: E402
from litkg.store import Store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def spacy_extractor():
    from litkg.extractors.spacy_rules import SpacyRuleExtractor

    return SpacyRuleExtractor()


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, spacy_extractor) -> Store:
    """The bundled sample corpus, backfilled over March 2024 with the embedded extractor."""
    from datetime import date

    store = Store(tmp_path_factory.mktemp("sample") / "store")
    process_days(
        store,
        days_between(date(2024, 3, 1), date(2024, 3, 31)),
        sources=[SAMPLE],
        extractor=spacy_extractor,
    )
    return store


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory, spacy_extractor) -> Path:
    """The store `litkg demo` builds (the March 2024 backfill of the sample corpus, then the
    nightly run of 2024-04-01), through the Python API; shared by the view and browser tests."""
    import litkg
    from litkg import demo

    home = tmp_path_factory.mktemp("demo") / "store"
    litkg.backfill(demo.BACKFILL_START, demo.BACKFILL_END, sources=[demo.sample_dir()],
                   home=home, extractor=spacy_extractor)
    litkg.run(demo.NIGHTLY, sources=[demo.sample_dir()], home=home, extractor=spacy_extractor)
    return home


def pytest_collection_modifyitems(config, items):
    """For `make test`, which spreads the tests over two processes (pytest-xdist, loadgroup):
    the tests of a file that shares a module fixture (a Prefect server, a built store) stay in
    one process, so the fixture starts once; other tests go one by one to whichever process is
    free. Files holding a `slow` test go first, so no long test runs alone at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    for item in items:
        defs = item._fixtureinfo.name2fixturedefs.values()
        if any(d.scope in ("module", "class", "package") for ds in defs for d in ds):
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    items.sort(key=lambda item: item.path not in slow_files)  # stable: file order kept
