"""One more day through the same commit path as `litkg run` (ingest a JSONL file, extract,
construct, snapshot, commit), on a store built by bench/construct.py: in-process, as a CLI
process (start-up included), and a late day dated ten years back; then the as-recorded query.

The day's abstracts are claims in the scripted format of tests/scripted.py (the extractor that
reads them back costs nothing), about the same Zipf-popular entities as the generated stream.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from litkg.pipeline import process_days  # noqa: E402
from litkg.store import Store  # noqa: E402
from tests.scripted import ScriptedExtractor, abstract, claim, write_records  # noqa: E402


class BenchExtractor(ScriptedExtractor):
    """The scripted extractor, skipping the generated stream's placeholder abstracts (a day
    re-extracted late holds some)."""

    def extract(self, documents):  # noqa: ANN001, ANN201 - a pyarrow Table in and out
        import pyarrow.compute as pc

        keep = pc.match_substring(documents.column("abstract"), " | ")
        return super().extract(documents.filter(keep))


EXTRACTOR = "bench.nightly:BenchExtractor"
RELATIONS = ["used-for", "part-of", "compare", "outperforms", "improves", "degrades"]


def day_file(path: Path, day: date, assertions: int, entities: int, seed: int) -> Path:
    rng = random.Random(seed)

    def entity() -> str:
        return f"entity {int(math.exp(rng.random() * math.log(entities)))}"

    records = []
    for i in range(max(1, assertions // 3)):
        claims = []
        while len(claims) < 3:
            s, o = entity(), entity()
            if s != o:
                ctx = f"dataset={rng.randrange(45)}" if rng.random() < 0.3 else ""
                claims.append(claim(s, rng.choice(RELATIONS), o, ctx,
                                    round(0.3 + 0.65 * rng.random(), 3)))
        records.append({"doc_id": f"doi:10.9/{day}-{seed}-{i}", "title": "t",
                        "published": day, "abstract": abstract(*claims)})
    return write_records(path, records)


def in_process(store: Store, day: date, source: Path) -> dict[str, float | str]:
    t0 = time.perf_counter()
    summary = process_days(store, [day], sources=[source], extractor=BenchExtractor())
    return {"wall_s": time.perf_counter() - t0, "mode": summary.construct_mode,
            "construct_s": summary.stage_seconds.get("construct", 0.0),
            "snapshot_s": summary.stage_seconds.get("snapshot", 0.0)}


def as_cli(store: Store, day: date, source: Path) -> float:
    litkg = Path(sys.executable).with_name("litkg")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    subprocess.run([str(litkg), "run", "--home", str(store.home), "--date", str(day),
                    "--source", str(source), "--extractor", EXTRACTOR],
                   check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def as_recorded(store: Store, day: date) -> float:
    con = store.connect()
    try:
        run = con.execute("SELECT run_id FROM runs ORDER BY commit_no LIMIT 1").fetchone()[0]
        t0 = time.perf_counter()
        con.execute("SELECT count(*) FROM edges_as_recorded(?, ?)", [run, day]).fetchone()
        return time.perf_counter() - t0
    finally:
        con.close()
