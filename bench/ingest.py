"""Benchmark: `litkg ingest` of one file whose records span many batch days.

A PubMed baseline file holds ~30,000 citations over thousands of entrez days; a store's
ingestion must cost the records, not records x days. Generates JSON lines of `--docs`
documents spread over `--days` consecutive days, ingests them into a fresh store (in-process,
`ingest_files` as `litkg ingest` calls it), then once more with `--force` (every record read
again, nothing new: the merge path), and as the baseline the same documents all on one day.
Prints seconds, documents/s and the ratio many days / one day (1.0 = the days cost nothing).

    .venv/bin/python bench/ingest.py                  # 36,000 documents over 18,000 days
    .venv/bin/python bench/ingest.py --docs 8000 --days 4000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from litkg.ingest import ingest_files  # noqa: E402
from litkg.store import Store  # noqa: E402


def write_docs(path: Path, docs: int, days: int) -> Path:
    first = date(1975, 1, 1)
    with path.open("w", encoding="utf-8") as f:
        for i in range(docs):
            day = first + timedelta(days=i * days // docs)
            f.write(json.dumps({
                "doc_id": f"pmid:{i}", "title": f"Study {i}", "published": day.isoformat(),
                "abstract": f"We apply method {i % 97} to task {i % 89} on dataset {i % 83}.",
            }) + "\n")
    return path


def ingest(home: Path, source: Path, docs: int, new: int, force: bool = False) -> float:
    store = Store(home)
    t0 = time.perf_counter()
    with store.writer() as tx:
        report = ingest_files(tx, [source], force=force)
        tx.commit()
    seconds = time.perf_counter() - t0
    assert report.documents == docs and report.new_documents == new, report.to_dict()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=36_000)
    ap.add_argument("--days", type=int, default=18_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="litkg-bench-ingest-") as tmp:
        root = Path(tmp)
        many = write_docs(root / "many.jsonl", args.docs, args.days)
        one = write_docs(root / "one.jsonl", args.docs, 1)
        first = ingest(root / "store-many", many, args.docs, args.docs)
        again = ingest(root / "store-many", many, args.docs, 0, force=True)
        base = ingest(root / "store-one", one, args.docs, args.docs)
    print(f"documents {args.docs:,} over {args.days:,} days")
    print(f"ingest, a fresh store      {first:8.2f} s  ({args.docs / first:,.0f} documents/s)")
    print(f"ingest again (--force)     {again:8.2f} s  ({args.docs / again:,.0f} documents/s)")
    print(f"baseline: all on one day   {base:8.2f} s  ({args.docs / base:,.0f} documents/s)")
    print(f"ratio many days / one day  {first / base:8.2f}x")


if __name__ == "__main__":
    main()
