"""Kill a real backfill at random moments and check what it leaves: the crash campaign.

Each round starts `litkg backfill` over the sample corpus (data/sample: a month of abstracts
and a malformed file, the default CPU extractor) in a fresh store, SIGKILLs it after a random
delay within the length of an uninterrupted run, then checks that

- the store opens at its last commit (every file it names exists, every table reads):
  otherwise it counts as **corrupt**;
- the same backfill run again exits 0: otherwise **not resumable**;
- the result equals the uninterrupted run, table by table (tests/storecompare.py):
  otherwise **different**.

    .venv/bin/python bench/crash.py [--kills 50] [--seed 7]

Prints the counts (the target is 0, 0, 0) and exits 1 if any is not 0. Asserts nothing else.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from litkg.demo import BACKFILL_END, BACKFILL_START  # noqa: E402
from litkg.store import Store  # noqa: E402
from tests.storecompare import differences, snapshot  # noqa: E402

LITKG = Path(sys.executable).with_name("litkg")


def backfill(home: Path) -> subprocess.Popen:
    sources = [a for p in sorted((REPO / "data" / "sample").glob("*.jsonl"))
               for a in ("--source", str(p))]
    return subprocess.Popen(
        [str(LITKG), "backfill", "--home", str(home), "--start", str(BACKFILL_START),
         "--end", str(BACKFILL_END), *sources],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def opens(store: Store) -> str | None:
    """None when the store opens at its last commit, else why not."""
    if not store.exists():
        return None  # killed before the first commit: an empty store is a good state
    try:
        missing = [f for f in store.manifest().all_files() if not (store.home / f).exists()]
        if missing:
            return f"{len(missing)} file(s) named by the manifest are missing"
        snapshot(store)
    except Exception as exc:  # noqa: BLE001 - any failure to read is what we count
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="litkg-crash-"))
    try:
        reference = Store(work / "reference")
        t0 = time.perf_counter()
        done = backfill(reference.home)
        _, err = done.communicate()
        length = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"the uninterrupted backfill failed: {err.strip()}")
        print(f"uninterrupted backfill: {length:.1f} s; {args.kills} kills at random moments",
              flush=True)
        counts = {"corrupt": 0, "not resumable": 0, "different": 0, "finished before the kill": 0}
        killed, i = 0, 0
        while killed < args.kills and i < 2 * args.kills:  # a run that ends first is no kill
            i += 1
            store = Store(work / f"kill{i}")
            delay = rng.uniform(0.02, 0.9) * length
            proc = backfill(store.home)
            time.sleep(delay)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed += 1
            else:
                counts["finished before the kill"] += 1
            proc.communicate()
            why = opens(store)
            at = store.manifest().commit if store.exists() else 0
            verdict = "ok"
            if why:
                counts["corrupt"] += 1
                verdict = f"corrupt ({why})"
            rerun = backfill(store.home)
            _, err = rerun.communicate()
            if rerun.returncode != 0:
                counts["not resumable"] += 1
                verdict = f"not resumable ({err.strip().splitlines()[-1:]})"
            elif differences(store, reference):
                counts["different"] += 1
                verdict = f"different: {differences(store, reference)}"
            print(f"round {i:3d}, kill at {delay:5.1f} s (left at commit {at}): {verdict}",
                  flush=True)
            shutil.rmtree(store.home, ignore_errors=True)
        print(f"\n{killed} kills in {i} rounds\n\n| outcome | rounds |\n|---|---|")
        for name, n in counts.items():
            print(f"| {name} | {n} |")
        if counts["corrupt"] or counts["not resumable"] or counts["different"]:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
