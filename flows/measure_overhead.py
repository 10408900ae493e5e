"""Prefect's overhead per day: a flow's wall time minus the library time inside it.

    .venv/bin/python -m litkg.flows.measure_overhead --start 2024-03-01 --end 2024-03-10

For each day, one `process_day` flow run (what a nightly run does) on a fresh store: overhead =
the call's wall time - the run's library time (the RunSummary's stages: ingest, extract, store,
construct, snapshot; the extract stage is the wall time of its tasks, so this slightly
under-counts). The same days through `litkg.pipeline.process_days` without Prefect are timed
too, and compared day by day. Then one `backfill` over the range (one flow run, a commit per day).
Without PREFECT_API_URL a temporary local server is started (its start-up is not counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="litkg-overhead-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from litkg.flows.pipeline import backfill, process_day  # noqa: E402

from litkg.pipeline import days_between, process_days  # noqa: E402
from litkg.store import Store  # noqa: E402


def library_seconds(result: dict) -> float:
    return sum(result["stage_seconds"].values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 1))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2024, 3, 10))
    ap.add_argument("--source", default=str(Path(__file__).resolve().parents[1] / "data/sample"))
    args = ap.parse_args()
    days = days_between(args.start, args.end)
    root = Path(tempfile.mkdtemp(prefix="litkg-overhead-stores-"))

    from litkg.extractors.spacy_rules import SpacyRuleExtractor

    extractor = SpacyRuleExtractor()
    process_day(days[0], source=args.source, home=str(root / "warm-up"))  # server, model

    lib = []
    for day in days:
        t0 = time.perf_counter()
        process_days(Store(root / "library"), [day], sources=[args.source], extractor=extractor)
        lib.append(time.perf_counter() - t0)

    walls, inside, overheads = [], [], []
    for day in days:
        t0 = time.perf_counter()
        result = process_day(day, source=args.source, home=str(root / "flow"))
        wall = time.perf_counter() - t0
        walls.append(wall)
        inside.append(library_seconds(result))
        overheads.append(wall - library_seconds(result))

    t0 = time.perf_counter()
    result = backfill(days[0], days[-1], source=args.source, home=str(root / "backfill"),
                      chunk_days=1)
    bf_wall = time.perf_counter() - t0
    bf_overhead = bf_wall - library_seconds(result)

    def ms(xs: list[float]) -> str:
        return f"median {statistics.median(xs) * 1000:.0f} ms (min {min(xs) * 1000:.0f}, " \
               f"max {max(xs) * 1000:.0f})"

    print(f"{len(days)} days, {args.start}..{args.end}")
    print(f"library process_days, one day per call: {ms(lib)}")
    print(f"process_day flow, wall per day:          {ms(walls)}")
    print(f"  library time inside the flow:          {ms(inside)}")
    print(f"  Prefect overhead (wall - library):     {ms(overheads)}")
    print(f"  flow wall - library run wall, same day: "
          f"{ms([w - x for w, x in zip(walls, lib, strict=True)])}")
    print(f"backfill flow, {len(days)} daily commits: wall {bf_wall:.2f} s, library "
          f"{library_seconds(result):.2f} s, overhead {bf_overhead:.2f} s "
          f"({bf_overhead / len(days) * 1000:.0f} ms per day)")


if __name__ == "__main__":
    main()
