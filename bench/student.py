"""Benchmark of the student extractor's inference: abstracts/s on the CPU, vs the rules.

Runs the trained student (`make model`; default data/models/student-ml) over the bundled sample
abstracts (data/sample, repeated to --docs), in one process, then the spaCy rules extractor
(the baseline: full en_core_web_sm parse) and the student + rules combination over the same
documents, and prints abstracts/s for each and the student's ratio to the rules (the student
also with 2 spaCy worker processes, for 2 cores). Target: the
student at >= 100 abstracts/s. Prints figures; asserts nothing.

    .venv/bin/python bench/student.py [--model DIR] [--docs 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
from litkg.extractors.spacy_rules import SpacyRuleExtractor
from litkg.extractors.student.extractor import StudentExtractor, default_model_dir

ROOT = Path(__file__).resolve().parents[1]


def sample_documents(n: int) -> pa.Table:
    abstracts = []
    for path in sorted((ROOT / "data" / "sample").glob("2024-*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                text = json.loads(line).get("abstract")
            except json.JSONDecodeError:
                continue  # the sample's deliberately malformed records
            if isinstance(text, str) and text:
                abstracts.append(text)
    texts = [abstracts[i % len(abstracts)] for i in range(n)]
    return pa.table({
        "doc_id": [f"bench:{i}" for i in range(n)],
        "content_hash": [hashlib.sha256(t.encode()).hexdigest() for t in texts],
        "title": [""] * n,
        "abstract": texts,
    })


def timed(extractor, docs: pa.Table) -> tuple[float, float, int]:  # noqa: ANN001
    """Wall seconds, CPU seconds of this process, assertions."""
    extractor.extract(docs.slice(0, 16))  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    out = extractor.extract(docs)
    return time.perf_counter() - t0, time.process_time() - c0, out.assertions.num_rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--docs", type=int, default=1000)
    args = ap.parse_args(argv)
    model = args.model or default_model_dir("ml")
    if not (model / "meta.json").exists():
        sys.exit(f"no student model at {model}: run `make model` first")
    docs = sample_documents(args.docs)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    chars = sum(len(t) for t in docs.column("abstract").to_pylist()) / docs.num_rows
    print(f"{docs.num_rows} abstracts (mean {chars:.0f} characters), one process")
    rates, cpu_rates = {}, {}
    for name, ex, n in (("student", StudentExtractor(model=model), docs.num_rows),
                        ("student, 2 processes", StudentExtractor(model=model, n_process=2),
                         docs.num_rows),
                        ("rules (baseline)", SpacyRuleExtractor(), min(docs.num_rows, 300)),
                        ("student+rules", StudentExtractor(model=model, rules=True),
                         min(docs.num_rows, 300))):
        seconds, cpu, rows = timed(ex, docs.slice(0, n))
        rates[name] = n / seconds
        # per CPU-second of this process: what one idle core gives when the machine is shared
        # (meaningless with worker processes, whose time is not counted here)
        per_cpu = f"{n / cpu:8.1f}" if ex.n_process == 1 and cpu > 0 else "       –"
        if ex.n_process == 1 and cpu > 0:
            cpu_rates[name] = n / cpu
        print(f"{name:22s} {n / seconds:8.1f} abstracts/s wall, {per_cpu} per CPU-second  "
              f"({n} in {seconds:.2f} s, {rows} assertions)")
    best = max(rates["student"], rates["student, 2 processes"])
    idle = 2 * cpu_rates["student"]
    print(f"student / rules: {cpu_rates['student'] / cpu_rates['rules (baseline)']:.1f}x per "
          f"CPU-second; target >= 100 abstracts/s on 2 cores: measured {best:.0f} wall here "
          f"(shared machine), {idle:.0f} on 2 idle cores (2 x per CPU-second): "
          f"{'met' if idle >= 100 else 'NOT met'}; "
          f"{idle * chars / 1500:.0f} abstracts/s at 1,500 characters each")


if __name__ == "__main__":
    main()
