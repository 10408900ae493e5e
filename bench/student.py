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


def timed(extractor, docs: pa.Table) -> tuple[float, int]:  # noqa: ANN001
    extractor.extract(docs.slice(0, 16))  # warm up
    t0 = time.perf_counter()
    out = extractor.extract(docs)
    return time.perf_counter() - t0, out.assertions.num_rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--docs", type=int, default=1000)
    args = ap.parse_args(argv)
    model = args.model or default_model_dir("ml")
    if not (model / "meta.json").exists():
        sys.exit(f"no student model at {model}: run `make model` first")
    docs = sample_documents(args.docs)
    chars = sum(len(t) for t in docs.column("abstract").to_pylist()) / docs.num_rows
    print(f"{docs.num_rows} abstracts (mean {chars:.0f} characters), one process")
    rates = {}
    for name, ex, n in (("student", StudentExtractor(model=model), docs.num_rows),
                        ("student, 2 processes", StudentExtractor(model=model, n_process=2),
                         docs.num_rows),
                        ("rules (baseline)", SpacyRuleExtractor(), min(docs.num_rows, 300)),
                        ("student+rules", StudentExtractor(model=model, rules=True),
                         min(docs.num_rows, 300))):
        seconds, rows = timed(ex, docs.slice(0, n))
        rates[name] = n / seconds
        print(f"{name:22s} {n / seconds:8.1f} abstracts/s  ({n} in {seconds:.2f} s, "
              f"{rows} assertions)")
    best = max(rates["student"], rates["student, 2 processes"])
    print(f"student / rules: {rates['student'] / rates['rules (baseline)']:.1f}x (one process); "
          f"target >= 100 abstracts/s on 2 cores: {'met' if best >= 100 else 'NOT met'} "
          f"({best:.0f})")


if __name__ == "__main__":
    main()
